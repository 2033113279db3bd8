import { GlassCard } from '../components/GlassCard'
import { Loading } from '../components/Loading'
import { Mascot, MOOD_WORDS, moodFor } from '../components/Mascot'
import { Num } from '../components/Stat'
import { StatusPill, healthTone } from '../components/StatusPill'
import type { BridgeState } from '../lib/protocol'
import { TimeStamp } from '../components/TimeStamp'
import { sourceClock } from '../lib/time'

/** The health checks of the bridge, the loop and its data sources. */
export function HealthCard({ state, connected }: { state: BridgeState | null; connected: boolean }) {
  const checks = state?.health ?? []
  const mood = moodFor(state, connected)
  return (
    <GlassCard title="System health" testId="card-health">
      <div className="health-head">
        <Mascot mood={mood} size={64} />
        <div>
          <div className="health-head__mood">{MOOD_WORDS[mood]}</div>
          <div className="health-head__updated">
            state updated <TimeStamp ts={state?.updated} clock="wall" testId="updated" />
          </div>
          {state?.clock ? (
            <div className="health-head__updated" data-testid="clocks">
              market clock <TimeStamp ts={state.clock.source_now} clock={sourceClock(state)} testId="source-now" /> · wall clock{' '}
              <TimeStamp ts={state.clock.wall_now} clock="wall" testId="wall-now" />
            </div>
          ) : null}
        </div>
      </div>
      {!state ? (
        <Loading testId="health-loading" />
      ) : checks.length === 0 ? (
        <p className="empty">No health checks reported.</p>
      ) : (
        <ul className="health-list" data-testid="health-list">
          {checks.map((h) => (
            <li key={h.name}>
              <StatusPill label={h.status} tone={healthTone(h.status)} testId={`health-${h.name}`} />
              <span className="health-list__name">{h.name}</span>
              <span className="health-list__detail">{h.detail}</span>
              <Num kind="number" value={h.latency_ms} places={0} unit=" ms" />
            </li>
          ))}
        </ul>
      )}
    </GlassCard>
  )
}
