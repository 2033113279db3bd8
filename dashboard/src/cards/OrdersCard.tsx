import { useMemo } from 'react'
import { Badge } from '../components/Badge'
import { DataTable } from '../components/DataTable'
import type { Column } from '../components/DataTable'
import { GlassCard } from '../components/GlassCard'
import { Loading } from '../components/Loading'
import { Num } from '../components/Stat'
import { Ticker } from '../components/Ticker'
import { TimeStamp } from '../components/TimeStamp'
import { multiplyDecimal, sumDecimals } from '../lib/decimal'
import type { BridgeState, OpenOrder } from '../lib/protocol'
import { sourceClock } from '../lib/time'
import type { ClockKind } from '../lib/time'

/** What a resting order still commits at its limit: price × remaining contracts. */
export function restingValue(o: OpenOrder): string | null {
  return multiplyDecimal(o.price, o.remaining)
}

function sumOf(values: unknown[], kind: 'money' | 'count', testId: string) {
  const { sum, unknown } = sumDecimals(values)
  return (
    <span>
      <Num kind={kind} value={sum} testId={testId} />
      {unknown ? <span className="total__note"> ({unknown} unknown)</span> : null}
    </span>
  )
}

/** The columns; times are labelled with their clock, and the list sorts by the wall clock. */
export function orderColumns(market: ClockKind): Column<OpenOrder>[] {
  return [
    { key: 'ticker', label: 'Market', rowHeader: true, cell: (o) => <Ticker ticker={o.ticker} />, sortValue: (o) => o.ticker, sortKind: 'text' },
    {
      key: 'side',
      label: 'Side',
      cell: (o) => (
        <>
          {o.action} <Badge tone={o.outcome === 'yes' ? 'positive' : 'negative'}>{o.outcome.toUpperCase()}</Badge>
        </>
      ),
      sortValue: (o) => `${o.action} ${o.outcome}`,
      sortKind: 'text',
    },
    { key: 'price', label: 'Limit', numeric: true, cell: (o) => <Num kind="price" value={o.price} />, sortValue: (o) => o.price, sortKind: 'decimal' },
    {
      key: 'remaining',
      label: 'Remaining',
      numeric: true,
      cell: (o) => (
        <>
          <Num kind="count" value={o.remaining} /> / <Num kind="count" value={o.count} />
        </>
      ),
      sortValue: (o) => o.remaining,
      sortKind: 'decimal',
      total: (rows) => sumOf(rows.map((o) => o.remaining), 'count', 'orders-total-remaining'),
    },
    {
      key: 'value',
      label: 'At limit',
      numeric: true,
      priority: 'optional',
      cell: (o) => <Num kind="money" value={restingValue(o)} />,
      sortValue: restingValue,
      sortKind: 'decimal',
      total: (rows) => sumOf(rows.map(restingValue), 'money', 'orders-total-value'),
    },
    { key: 'status', label: 'Status', priority: 'optional', cell: (o) => o.status, sortValue: (o) => o.status, sortKind: 'text' },
    {
      key: 'placed_wall',
      label: 'Placed',
      cell: (o) => <TimeStamp ts={o.placed_wall} clock="wall" />,
      sortValue: (o) => o.placed_wall,
      sortKind: 'time',
    },
    {
      key: 'created',
      label: 'Market time',
      priority: 'optional',
      cell: (o) => <TimeStamp ts={o.created} clock={market} />,
      sortValue: (o) => o.created,
      sortKind: 'time',
    },
  ]
}

/** Resting orders and how much of each is still working: sortable, paged past 50, with totals. */
export function OrdersCard({ state }: { state: BridgeState | null }) {
  const orders = useMemo(() => state?.open_orders ?? [], [state?.open_orders])
  const market = sourceClock(state)
  const columns = useMemo(() => orderColumns(market), [market])
  return (
    <GlassCard title="Open orders" span="half" testId="card-orders" aside={state ? <Badge>{orders.length}</Badge> : null}>
      {!state ? (
        <Loading testId="orders-loading" />
      ) : orders.length === 0 ? (
        <p className="empty">No resting orders.</p>
      ) : (
        <DataTable
          rows={orders}
          columns={columns}
          rowKey={(o) => o.client_order_id}
          rowTitle={(o) => `client order id ${o.client_order_id}`}
          initialSort={{ key: 'placed_wall', dir: 'desc' }}
          testId="open-orders-table"
          caption="Resting orders"
        />
      )}
    </GlassCard>
  )
}
