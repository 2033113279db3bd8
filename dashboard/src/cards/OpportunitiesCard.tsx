import { Badge } from '../components/Badge'
import type { Tone } from '../components/Badge'
import { GlassCard } from '../components/GlassCard'
import { Loading } from '../components/Loading'
import { Num } from '../components/Stat'
import { formatCount, formatPrice } from '../lib/decimal'
import type { BridgeState, DecisionRecord, OpportunityRecord } from '../lib/protocol'

const STRATEGY_TONE: Record<string, Tone> = { arbitrage: 'positive', spread: 'info', value: 'accent' }

function legText(o: OpportunityRecord): string {
  return (o.legs ?? [])
    .map((l) => `${l.action} ${l.outcome.toUpperCase()} ${l.ticker} @ ${formatPrice(l.price)} × ${formatCount(l.count)}`)
    .join('; ')
}

/** The best opportunities by score, each with its reason; and why recent ideas did not trade. */
export function OpportunitiesCard({ state, decisions = [] }: { state: BridgeState | null; decisions?: DecisionRecord[] }) {
  const opportunities = state?.opportunities ?? []
  return (
    <GlassCard title="Top opportunities" span="tall" testId="card-opportunities" aside={state ? <Badge>{opportunities.length}</Badge> : null}>
      {!state ? (
        <Loading testId="opportunities-loading" />
      ) : opportunities.length === 0 ? (
        <p className="empty">No opportunities in the latest scan.</p>
      ) : (
        <ol className="opportunity-list" data-testid="opportunities-list">
          {opportunities.map((o) => (
            <li key={o.id} className="opportunity">
              <div className="opportunity__head">
                <Badge tone={STRATEGY_TONE[o.strategy] ?? 'neutral'}>{o.strategy}</Badge>
                <span className="opportunity__event">{o.event_ticker}</span>
                {o.kind === 'candidate' ? <Badge tone="info" title="sized by the correlation stage">candidate</Badge> : null}
                <span className="opportunity__nums">
                  edge <Num kind="money" value={o.edge} signed places={4} /> (<Num kind="share" field="edge_pct" value={o.edge_pct} />) · score{' '}
                  <Num kind="number" value={o.score} places={4} />
                </span>
              </div>
              <div className="opportunity__legs">{legText(o)}</div>
              <div className="opportunity__reason">{o.reason}</div>
              <div className="opportunity__meta">
                fees <Num kind="money" value={o.fees} places={4} /> · confidence <Num kind="share" field="confidence" value={o.confidence} places={0} /> · liquidity{' '}
                <Num kind="share" field="liquidity" value={o.liquidity} places={0} />
                {o.kind === 'candidate' ? (
                  <>
                    {' '}
                    · size <Num kind="count" value={o.size} /> · stake <Num kind="money" value={o.stake} /> · group {String(o.group ?? '—')}
                  </>
                ) : null}
              </div>
            </li>
          ))}
        </ol>
      )}
      {decisions.length ? (
        <details className="decisions" data-testid="decisions">
          <summary>Why recent ideas did not trade ({decisions.length})</summary>
          <ul>
            {decisions.slice(0, 12).map((d, i) => (
              <li key={i}>
                <Badge tone={d.kind === 'denied' ? 'negative' : 'warning'}>{d.kind}</Badge>{' '}
                {typeof d.stage === 'string' ? <span className="decisions__stage">{d.stage}: </span> : null}
                {d.reason}
                {typeof d.ref === 'string' ? <span className="decisions__ref"> ({d.ref})</span> : null}
              </li>
            ))}
          </ul>
        </details>
      ) : null}
    </GlassCard>
  )
}
