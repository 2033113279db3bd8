import { Badge } from '../components/Badge'
import { GlassCard } from '../components/GlassCard'
import { Loading } from '../components/Loading'
import { Num } from '../components/Stat'
import type { BridgeState } from '../lib/protocol'
import { shareUnit } from '../lib/units'

/** Recommendations from the metrics stage, each with the numbers it rests on: percents and ratios by
 * the protocol's one rule (lib/units), everything else exactly as sent. */
export function InsightsCard({ state }: { state: BridgeState | null }) {
  const recs = state?.recommendations ?? []
  return (
    <GlassCard title="AI insights" testId="card-insights" aside={state ? <Badge tone="accent">{recs.length}</Badge> : null}>
      {!state ? (
        <Loading testId="insights-loading" />
      ) : recs.length === 0 ? (
        <p className="empty">No recommendations yet.</p>
      ) : (
        <ul className="insights" data-testid="insights-list">
          {recs.map((r, i) => (
            <li key={`${r.title}:${i}`} className={`insight insight--${r.severity ?? 'info'}`}>
              <strong>{r.title}</strong>
              <p>{r.detail}</p>
              {r.numbers && Object.keys(r.numbers).length ? (
                <dl className="insight__numbers">
                  {Object.entries(r.numbers).map(([k, v]) => (
                    <div key={k}>
                      <dt>{k.replace(/_/g, ' ')}</dt>
                      <dd>{shareUnit(k) ? <Num kind="share" field={k} value={v} /> : <span className="num">{String(v)}</span>}</dd>
                    </div>
                  ))}
                </dl>
              ) : null}
            </li>
          ))}
        </ul>
      )}
    </GlassCard>
  )
}
