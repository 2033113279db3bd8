import { Badge } from '../components/Badge'
import { GlassCard } from '../components/GlassCard'
import { Num } from '../components/Stat'
import type { BridgeState } from '../lib/protocol'
import { formatTime } from '../lib/time'

/** Resting orders and how much of each is still working. */
export function OrdersCard({ state }: { state: BridgeState | null }) {
  const orders = state?.open_orders ?? []
  return (
    <GlassCard title="Open orders" span="half" testId="card-orders" aside={<Badge>{orders.length}</Badge>}>
      {orders.length === 0 ? (
        <p className="empty">No resting orders.</p>
      ) : (
        <div className="table-wrap">
          <table className="table" data-testid="open-orders-table">
            <thead>
              <tr>
                <th scope="col">Market</th>
                <th scope="col">Side</th>
                <th scope="col" className="num-col">Price</th>
                <th scope="col" className="num-col">Remaining</th>
                <th scope="col">Status</th>
                <th scope="col">Placed</th>
              </tr>
            </thead>
            <tbody>
              {orders.map((o) => (
                <tr key={o.client_order_id} title={`client order id ${o.client_order_id}`}>
                  <th scope="row">{o.ticker}</th>
                  <td>
                    {o.action} <Badge tone={o.outcome === 'yes' ? 'positive' : 'negative'}>{o.outcome.toUpperCase()}</Badge>
                  </td>
                  <td className="num-col"><Num kind="price" value={o.price} /></td>
                  <td className="num-col">
                    <Num kind="count" value={o.remaining} /> / <Num kind="count" value={o.count} />
                  </td>
                  <td>{o.status}</td>
                  <td>{formatTime(o.created)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </GlassCard>
  )
}
