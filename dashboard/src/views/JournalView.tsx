// The trade journal: orders and fills, newest first, from state.journal plus live records.

import { useMemo, useState } from 'react'
import { Badge } from '../components/Badge'
import { GlassCard } from '../components/GlassCard'
import { Num } from '../components/Stat'
import type { FillRecord, OrderRecord } from '../lib/protocol'
import { Loading } from '../components/Loading'
import { TimeStamp } from '../components/TimeStamp'
import type { ClockKind } from '../lib/time'

type Entry = OrderRecord | FillRecord

export interface JournalFilter {
  ticker: string
  strategy: string
  kind: '' | 'order' | 'fill'
}

/** The strategy of an entry: its own, or (for a fill) that of the order it fills. */
export function strategyOf(e: Entry, byOrder: Map<string, string>): string {
  if (typeof e.strategy === 'string' && e.strategy) return e.strategy
  return byOrder.get(e.client_order_id) ?? ''
}

/** Entries that match the filter: ticker is a case-insensitive substring, strategy exact. */
export function filterJournal(entries: Entry[], f: JournalFilter): Entry[] {
  const byOrder = new Map<string, string>()
  for (const e of entries) if (e.kind === 'order' && e.strategy) byOrder.set(e.client_order_id, e.strategy)
  const needle = f.ticker.trim().toLowerCase()
  return entries.filter(
    (e) =>
      (!f.kind || e.kind === f.kind) &&
      (!needle || e.ticker.toLowerCase().includes(needle)) &&
      (!f.strategy || strategyOf(e, byOrder) === f.strategy),
  )
}

/** When an entry was journaled, on the wall clock: an order's ts is that time already; a fill's ts is the market's. */
export function wallTimeOf(e: Entry): string | null {
  if (typeof e.wall_ts === 'string' && e.wall_ts) return e.wall_ts
  return e.kind === 'order' && typeof e.ts === 'string' ? e.ts : null
}

/**
 * The journal, newest first, in the order it was journaled — the wall clock's order (the bridge
 * sends it so and live records arrive so). Each row shows when it was journaled (wall clock) and,
 * for a fill, when it happened in the market (the source's clock: the sim's on the sim).
 */
export function JournalView({ journal, market = 'exchange', loading = false }: { journal: Entry[]; market?: ClockKind; loading?: boolean }) {
  const [filter, setFilter] = useState<JournalFilter>({ ticker: '', strategy: '', kind: '' })
  const byOrder = useMemo(() => {
    const m = new Map<string, string>()
    for (const e of journal) if (e.kind === 'order' && e.strategy) m.set(e.client_order_id, e.strategy)
    return m
  }, [journal])
  const strategies = useMemo(() => [...new Set(journal.map((e) => strategyOf(e, byOrder)).filter(Boolean))].sort(), [journal, byOrder])
  const rows = filterJournal(journal, filter)
  return (
    <GlassCard title="Trade journal" span="full" testId="journal-view" aside={<Badge>{`${rows.length} of ${journal.length}`}</Badge>}>
      <form className="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <label>
          Ticker
          <input data-testid="filter-ticker" value={filter.ticker} onChange={(e) => setFilter({ ...filter, ticker: e.target.value })} placeholder="any" />
        </label>
        <label>
          Strategy
          <select data-testid="filter-strategy" value={filter.strategy} onChange={(e) => setFilter({ ...filter, strategy: e.target.value })}>
            <option value="">all</option>
            {strategies.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label>
          Kind
          <select data-testid="filter-kind" value={filter.kind} onChange={(e) => setFilter({ ...filter, kind: e.target.value as JournalFilter['kind'] })}>
            <option value="">orders and fills</option>
            <option value="order">orders</option>
            <option value="fill">fills</option>
          </select>
        </label>
      </form>
      {loading ? (
        <Loading testId="journal-loading" />
      ) : rows.length === 0 ? (
        <p className="empty">{journal.length ? 'Nothing matches the filter.' : 'No orders or fills yet.'}</p>
      ) : (
        <div className="table-wrap">
          <table className="table" data-testid="journal-table">
            <thead>
              <tr>
                <th scope="col">Journaled</th>
                <th scope="col">Market time</th>
                <th scope="col">Kind</th>
                <th scope="col">Market</th>
                <th scope="col">Side</th>
                <th scope="col" className="num-col">Limit</th>
                <th scope="col" className="num-col">Filled at</th>
                <th scope="col" className="num-col">Contracts</th>
                <th scope="col">Status</th>
                <th scope="col" className="num-col">Fees</th>
                <th scope="col">Strategy</th>
                <th scope="col" className="num-col">Latency</th>
                <th scope="col" className="num-col">Slippage</th>
                <th scope="col">Client order id</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((e, i) => (
                <tr key={`${e.kind}:${e.client_order_id}:${i}`} data-kind={e.kind}>
                  <td>
                    <TimeStamp ts={wallTimeOf(e)} clock="wall" />
                  </td>
                  <td>{e.kind === 'fill' ? <TimeStamp ts={e.ts} clock={market} /> : '—'}</td>
                  <td>
                    <Badge tone={e.kind === 'fill' ? 'positive' : 'info'}>{e.kind}</Badge>
                  </td>
                  <th scope="row">{e.ticker}</th>
                  <td>
                    {e.action} {e.outcome?.toUpperCase()}
                  </td>
                  <td className="num-col">{e.kind === 'order' ? <Num kind="price" value={e.price} /> : '—'}</td>
                  <td className="num-col">
                    <Num kind="price" value={e.kind === 'order' ? e.avg_fill_price : e.price} />
                  </td>
                  <td className="num-col">
                    {e.kind === 'order' ? (
                      <>
                        <Num kind="count" value={e.filled_count} /> / <Num kind="count" value={e.count} />
                      </>
                    ) : (
                      <Num kind="count" value={e.count} />
                    )}
                  </td>
                  <td>{e.kind === 'order' ? e.status : e.is_taker ? 'taker' : 'maker'}</td>
                  <td className="num-col">
                    <Num kind="money" value={e.kind === 'order' ? e.fees : e.fee} places={4} />
                  </td>
                  <td>{strategyOf(e, byOrder) || '—'}</td>
                  <td className="num-col">{e.kind === 'order' ? <Num kind="number" value={e.latency_ms} places={1} unit=" ms" /> : '—'}</td>
                  <td className="num-col">{e.kind === 'order' ? <Num kind="share" field="slippage_pct" value={e.slippage_pct} places={3} /> : '—'}</td>
                  <td className="mono">{e.client_order_id}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </GlassCard>
  )
}
