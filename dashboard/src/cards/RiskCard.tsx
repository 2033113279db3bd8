import { GlassCard } from '../components/GlassCard'
import { Loading } from '../components/Loading'
import { Num } from '../components/Stat'
import { StatusPill, tradingTone } from '../components/StatusPill'
import { compareDecimal, toPlotNumber } from '../lib/decimal'
import type { BridgeState } from '../lib/protocol'

/** Trading state and exposure per correlation group against its cap. */
export function RiskCard({ state }: { state: BridgeState | null }) {
  const exposure = state?.exposure ?? []
  return (
    <GlassCard
      title="Risk & exposure"
      testId="card-risk"
      aside={<StatusPill label={state?.trading_state ?? '—'} tone={tradingTone(state?.trading_state)} testId="trading-state" />}
    >
      {state?.halt_reason ? (
        <p className="callout callout--negative" data-testid="halt-reason">
          Halted: {state.halt_reason}
        </p>
      ) : null}
      {!state ? (
        <Loading testId="exposure-loading" />
      ) : exposure.length === 0 ? (
        <p className="empty">No exposure: no open positions or resting orders.</p>
      ) : (
        <ul className="exposure-list" data-testid="exposure-list">
          {exposure.map((e) => {
            const over = compareDecimal(e.pct_of_equity, e.cap_pct) > 0
            const pct = toPlotNumber(e.pct_of_equity) ?? 0
            const cap = toPlotNumber(e.cap_pct) ?? 0
            const width = cap > 0 ? Math.min(100, (pct / cap) * 100) : 0
            return (
              <li key={e.group} className={over ? 'exposure exposure--over' : 'exposure'}>
                <div className="exposure__head">
                  <span className="exposure__group">{e.group}</span>
                  <span>
                    <Num kind="money" value={e.exposure} /> · <Num kind="share" field="pct_of_equity" value={e.pct_of_equity} /> of equity · cap{' '}
                    <Num kind="share" field="cap_pct" value={e.cap_pct} />
                  </span>
                </div>
                <div className="meter" role="meter" aria-label={`${e.group} exposure against its cap`} aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(width)}>
                  <div className="meter__fill" style={{ width: `${width}%` }} />
                </div>
              </li>
            )
          })}
        </ul>
      )}
    </GlassCard>
  )
}
