import { Badge } from '../components/Badge'
import { GlassCard } from '../components/GlassCard'
import { Num } from '../components/Stat'
import type { BridgeState } from '../lib/protocol'

/** Open positions with marks and unrealized P&L. */
export function PositionsCard({ state }: { state: BridgeState | null }) {
  const positions = state?.positions ?? []
  return (
    <GlassCard title="Positions" span="half" testId="card-positions" aside={<Badge>{positions.length}</Badge>}>
      {positions.length === 0 ? (
        <p className="empty">No open positions.</p>
      ) : (
        <div className="table-wrap">
          <table className="table" data-testid="positions-table">
            <thead>
              <tr>
                <th scope="col">Market</th>
                <th scope="col">Side</th>
                <th scope="col" className="num-col">Contracts</th>
                <th scope="col" className="num-col">Avg price</th>
                <th scope="col" className="num-col">Mark</th>
                <th scope="col" className="num-col">Unrealized</th>
                <th scope="col">Group</th>
              </tr>
            </thead>
            <tbody>
              {positions.map((p) => (
                <tr key={`${p.ticker}:${p.outcome}`}>
                  <th scope="row" title={p.title}>
                    {p.ticker}
                  </th>
                  <td>
                    <Badge tone={p.outcome === 'yes' ? 'positive' : 'negative'}>{p.outcome.toUpperCase()}</Badge>
                  </td>
                  <td className="num-col"><Num kind="count" value={p.count} /></td>
                  <td className="num-col"><Num kind="price" value={p.avg_price} /></td>
                  <td className="num-col"><Num kind="price" value={p.mark} /></td>
                  <td className="num-col"><Num kind="money" value={p.unrealized_pnl} signed /></td>
                  <td>{p.group || '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </GlassCard>
  )
}
