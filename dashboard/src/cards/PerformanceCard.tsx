import { GlassCard } from '../components/GlassCard'
import { Num, Stat } from '../components/Stat'
import type { BridgeState } from '../lib/protocol'

/** The 1-minute markout of a strategy's `markouts` object, when it has one. */
function markout1m(markouts: unknown): unknown {
  return markouts && typeof markouts === 'object' ? (markouts as Record<string, unknown>)['1m'] : null
}

/** Win rate, P&L (realized, unrealized, fees, markouts), drawdown, streaks and Sharpe/Sortino from the metrics record. */
export function PerformanceCard({ state }: { state: BridgeState | null }) {
  const m = state?.metrics ?? null
  const perStrategy = m?.per_strategy && typeof m.per_strategy === 'object' ? Object.entries(m.per_strategy) : []
  return (
    <GlassCard title="Performance" testId="card-performance">
      <div className="stat-grid">
        {/* no round trip closed yet: there is no win rate, not a rate of 0 % */}
        <Stat label="Win rate" kind="share" field="win_rate" value={m && m.trades > 0 ? m.win_rate : null} testId="win-rate" hint={m && m.trades === 0 ? 'no round trips closed yet' : undefined} />
        <Stat label="Trades" kind="int" value={m?.trades} testId="trades" />
        <Stat label="Realized P&L" kind="money" value={state?.account.realized_pnl} signed testId="realized-pnl" />
        <Stat label="Unrealized P&L" kind="money" value={state?.account.unrealized_pnl} signed testId="unrealized-pnl" />
        <Stat label="Max drawdown" kind="share" field="max_drawdown_pct" value={m?.max_drawdown_pct} testId="max-drawdown" />
        <div className="stat">
          <div className="stat__label">Wins / losses</div>
          <div className="stat__value">
            <Num kind="int" value={m?.wins} testId="wins" /> / <Num kind="int" value={m?.losses} testId="losses" />
          </div>
        </div>
        <Stat label="Win streak" kind="int" value={m?.consecutive_wins} testId="win-streak" />
        <Stat label="Loss streak" kind="int" value={m?.consecutive_losses} testId="loss-streak" />
        <Stat label="Sharpe" kind="number" places={2} value={m?.performance?.sharpe} testId="sharpe" hint="of per-iteration equity changes, not annualised" />
        <Stat label="Sortino" kind="number" places={2} value={m?.performance?.sortino} testId="sortino" hint="of per-iteration equity changes, not annualised" />
      </div>
      {perStrategy.length ? (
        <table className="table table--compact" data-testid="per-strategy">
          <thead>
            <tr>
              <th scope="col">Strategy</th>
              <th scope="col" className="num-col">Trades</th>
              <th scope="col" className="num-col">Win rate</th>
              <th scope="col" className="num-col">Realized</th>
            </tr>
          </thead>
          <tbody>
            {perStrategy.map(([name, s]) => (
              <tr key={name}>
                <th scope="row">{name}</th>
                <td className="num-col"><Num kind="int" value={s?.trades} /></td>
                <td className="num-col"><Num kind="share" field="win_rate" value={Number(s?.trades) > 0 ? s?.win_rate : null} /></td>
                <td className="num-col"><Num kind="money" value={s?.pnl ?? s?.realized_pnl} signed /></td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {perStrategy.length ? (
        /* a second narrow table rather than a wide one: the card must fit a phone */
        <table className="table table--compact" data-testid="per-strategy-pnl">
          <thead>
            <tr>
              <th scope="col">Strategy</th>
              <th scope="col" className="num-col">Unrealized</th>
              <th scope="col" className="num-col">Fees</th>
              <th scope="col" className="num-col" title="1 minute: the mid a minute after each fill less its price, per contract, signed in the fill's favour (negative: adverse selection)">Markout</th>
            </tr>
          </thead>
          <tbody>
            {perStrategy.map(([name, s]) => (
              <tr key={name}>
                <th scope="row">{name}</th>
                <td className="num-col"><Num kind="money" value={s?.unrealized_pnl} signed /></td>
                <td className="num-col"><Num kind="money" value={s?.fees} /></td>
                <td className="num-col"><Num kind="money" places={3} value={markout1m(s?.markouts)} signed /></td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </GlassCard>
  )
}
