// Every component, in both themes side by side. The values here are specimens that show how
// each format looks; they are labelled as such and never appear on the dashboard itself.

import { Badge } from '../components/Badge'
import type { Tone } from '../components/Badge'
import { Button } from '../components/Button'
import { ConnectionBanner } from '../components/ConnectionBanner'
import { EquityChart } from '../components/EquityChart'
import { GlassCard } from '../components/GlassCard'
import { Mascot } from '../components/Mascot'
import type { Mood } from '../components/Mascot'
import { Num, Stat } from '../components/Stat'
import { StatusPill } from '../components/StatusPill'
import { Toasts } from '../components/Toasts'
import { useTheme } from '../theme/ThemeContext'
import type { Theme } from '../theme/ThemeContext'

const TONES: Tone[] = ['neutral', 'positive', 'negative', 'warning', 'info', 'accent']
const MOODS: Mood[] = ['happy', 'watchful', 'alarmed', 'sleeping', 'offline']
const SPECIMEN_CURVE = [
  { ts: '2026-01-01T00:00:00Z', equity: '1000.0000' },
  { ts: '2026-01-01T00:00:10Z', equity: '1004.2500' },
  { ts: '2026-01-01T00:00:20Z', equity: '1001.1000' },
  { ts: '2026-01-01T00:00:30Z', equity: '1009.8750' },
]
const noop = () => undefined

function Specimens() {
  return (
    <div className="style-guide__stack">
      <GlassCard title="Glass card" aside={<Badge tone="accent">aside</Badge>}>
        <p>A frosted panel with a title; the bento grid is made of these.</p>
      </GlassCard>
      <GlassCard title="Buttons">
        <div className="controls">
          <Button variant="primary">Primary</Button>
          <Button>Secondary</Button>
          <Button variant="danger">Danger</Button>
          <Button variant="ghost">Ghost</Button>
          <Button disabled disabledReason="Shown as the tooltip and description.">
            Disabled
          </Button>
        </div>
      </GlassCard>
      <GlassCard title="Badges and status pills">
        <div className="controls">
          {TONES.map((t) => (
            <Badge key={t} tone={t}>
              {t}
            </Badge>
          ))}
        </div>
        <div className="controls">
          <StatusPill label="running" tone="positive" pulse />
          <StatusPill label="paused" tone="warning" />
          <StatusPill label="HALTED" tone="negative" />
          <StatusPill label="stopped" tone="neutral" />
        </div>
      </GlassCard>
      <GlassCard title="Numbers (specimen values)">
        <Stat label="money 1234.5678" kind="money" value="1234.5678" big />
        <div className="stat-grid">
          <Stat label="signed -0.5" kind="money" value="-0.5" signed />
          <Stat label="price 0.4550" kind="price" value="0.4550" />
          <Stat label="count 10.00" kind="count" value="10.00" />
          <Stat label="max_drawdown_pct 12.5" kind="share" field="max_drawdown_pct" value="12.5" />
          <Stat label="win_rate 0.5500" kind="share" field="win_rate" value="0.5500" />
          <Stat label="unknown" kind="money" value={null} />
        </div>
        <p>
          Inline: <Num kind="money" value="42.1" signed /> and <Num kind="money" value="-3.07" signed />
        </p>
      </GlassCard>
      <GlassCard title="Mascot moods">
        <div className="controls">
          {MOODS.map((m) => (
            <figure key={m} className="mascot-specimen">
              <Mascot mood={m} testId={`mascot-${m}`} />
              <figcaption>{m}</figcaption>
            </figure>
          ))}
        </div>
      </GlassCard>
      <GlassCard title="Equity chart (specimen curve)">
        <EquityChart points={SPECIMEN_CURVE} />
      </GlassCard>
      <GlassCard title="Connection banner">
        <ConnectionBanner
          info={{ status: 'reconnecting', url: 'ws://127.0.0.1:8766/', attempt: 3, retryAt: null, lastMessageAt: null, lastError: 'connection closed (code 1006)', downSince: Date.parse('2026-11-25T14:03:27Z') }}
          hasData
          onRetry={noop}
        />
      </GlassCard>
      <GlassCard title="Toasts">
        <Toasts
          inline
          toasts={[
            { id: 1, tone: 'positive', title: 'Pause: done', message: 'status: paused' },
            { id: 2, tone: 'negative', title: 'Halt: unauthorized', message: 'the control token is wrong' },
          ]}
          onDismiss={noop}
        />
      </GlassCard>
    </div>
  )
}

function Panel({ theme }: { theme: Theme }) {
  return (
    <section className="style-guide__panel" data-theme={theme} aria-label={`${theme} theme`} data-testid={`style-guide-${theme}`}>
      <h2>{theme} theme</h2>
      <Specimens />
    </section>
  )
}

export function StyleGuideView() {
  const { theme, chosen, toggle } = useTheme()
  return (
    <div className="style-guide" data-testid="style-guide">
      <div className="style-guide__intro glass-card">
        <h2>Style guide</h2>
        <p>
          The dashboard's components, in both themes. Page theme: <strong>{theme}</strong> ({chosen ? 'your choice, remembered' : 'following the system'}).{' '}
          <Button onClick={toggle} testId="btn-theme-specimen">
            Switch page theme
          </Button>
        </p>
      </div>
      <div className="style-guide__panels">
        <Panel theme="light" />
        <Panel theme="dark" />
      </div>
    </div>
  )
}
