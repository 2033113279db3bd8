import { useMemo } from 'react'
import { Badge } from '../components/Badge'
import { DataTable } from '../components/DataTable'
import type { Column } from '../components/DataTable'
import { GlassCard } from '../components/GlassCard'
import { Loading } from '../components/Loading'
import { Num } from '../components/Stat'
import { Ticker } from '../components/Ticker'
import { multiplyDecimal, sumDecimals } from '../lib/decimal'
import type { BridgeState, Position } from '../lib/protocol'

/** What a position cost: the bridge's `cost` when it sends one, else average price × contracts. */
export function positionCost(p: Position): string | null {
  const given = (p as Position & { cost?: unknown }).cost
  return typeof given === 'string' ? given : multiplyDecimal(p.avg_price, p.count)
}

function Total({ values, kind, signed = false, testId }: { values: unknown[]; kind: 'money' | 'count'; signed?: boolean; testId: string }) {
  const { sum, unknown } = sumDecimals(values)
  return (
    <span title={unknown ? `${unknown} without a value are not in the total` : undefined}>
      <Num kind={kind} value={sum} signed={signed} testId={testId} />
      {unknown ? <span className="total__note"> ({unknown} unpriced)</span> : null}
    </span>
  )
}

export const POSITION_COLUMNS: Column<Position>[] = [
  { key: 'ticker', label: 'Market', rowHeader: true, cell: (p) => <Ticker ticker={p.ticker} />, sortValue: (p) => p.ticker, sortKind: 'text' },
  {
    key: 'outcome',
    label: 'Side',
    cell: (p) => <Badge tone={p.outcome === 'yes' ? 'positive' : 'negative'}>{p.outcome.toUpperCase()}</Badge>,
    sortValue: (p) => p.outcome,
    sortKind: 'text',
  },
  {
    key: 'count',
    label: 'Contracts',
    numeric: true,
    cell: (p) => <Num kind="count" value={p.count} />,
    sortValue: (p) => p.count,
    sortKind: 'decimal',
    total: (rows) => <Total kind="count" values={rows.map((p) => p.count)} testId="positions-total-count" />,
  },
  { key: 'avg_price', label: 'Avg price', numeric: true, priority: 'optional', cell: (p) => <Num kind="price" value={p.avg_price} />, sortValue: (p) => p.avg_price, sortKind: 'decimal' },
  {
    key: 'cost',
    label: 'Cost',
    numeric: true,
    priority: 'optional',
    cell: (p) => <Num kind="money" value={positionCost(p)} />,
    sortValue: positionCost,
    sortKind: 'decimal',
    total: (rows) => <Total kind="money" values={rows.map(positionCost)} testId="positions-total-cost" />,
  },
  { key: 'mark', label: 'Mark', numeric: true, cell: (p) => <Num kind="price" value={p.mark} />, sortValue: (p) => p.mark, sortKind: 'decimal' },
  {
    key: 'unrealized_pnl',
    label: 'Unrealized',
    numeric: true,
    cell: (p) => <Num kind="money" value={p.unrealized_pnl} signed />,
    sortValue: (p) => p.unrealized_pnl,
    sortKind: 'decimal',
    total: (rows) => <Total kind="money" signed values={rows.map((p) => p.unrealized_pnl)} testId="positions-total-unrealized" />,
  },
  { key: 'group', label: 'Group', priority: 'optional', cell: (p) => p.group || '—', sortValue: (p) => p.group, sortKind: 'text' },
]

/** Open positions with marks and unrealized P&L: sortable, paged past 50, with totals. */
export function PositionsCard({ state }: { state: BridgeState | null }) {
  const positions = useMemo(() => state?.positions ?? [], [state?.positions])
  return (
    <GlassCard title="Positions" span="half" testId="card-positions" aside={state ? <Badge>{positions.length}</Badge> : null}>
      {!state ? (
        <Loading testId="positions-loading" />
      ) : positions.length === 0 ? (
        <p className="empty">No open positions.</p>
      ) : (
        <DataTable
          rows={positions}
          columns={POSITION_COLUMNS}
          rowKey={(p) => `${p.ticker}:${p.outcome}`}
          rowTitle={(p) => (p.title ? `${p.ticker}: ${p.title}` : p.ticker)}
          initialSort={{ key: 'ticker', dir: 'asc' }}
          testId="positions-table"
          caption="Open positions"
        />
      )}
    </GlassCard>
  )
}
