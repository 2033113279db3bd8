// A table that fits its card at any width: sortable by column, paged past `pageSize` rows, with
// a totals row over all rows. The card is a CSS size container (app.css `.data-table-box`):
// optional columns drop out when it is narrow, and below a phone's width every row stacks into
// label/value pairs (each cell carries its column's label), so nothing is cut off or scrolls
// sideways. The sort and page logic are pure functions (tested on their own).

import { useMemo, useState } from 'react'
import type { ReactNode } from 'react'
import { compareDecimal } from '../lib/decimal'
import { timeMs } from '../lib/time'
import { Button } from './Button'

export type SortKind = 'decimal' | 'text' | 'time'
export type SortDir = 'asc' | 'desc'

export interface Column<T> {
  key: string
  label: string
  cell: (row: T) => ReactNode
  /** The value rows sort by (a decimal string, a text, an ISO time); no sorting without it. */
  sortValue?: (row: T) => unknown
  sortKind?: SortKind
  numeric?: boolean
  /** `optional` columns drop out when the card is narrow (their values stay in the row's tooltip). */
  priority?: 'essential' | 'optional'
  /** The footer cell: a total over all rows (not only the page shown). */
  total?: (rows: T[]) => ReactNode
  /** The row header (first column): its cell is a <th scope="row">. */
  rowHeader?: boolean
}

export interface SortState {
  key: string
  dir: SortDir
}

/** Compare two sort values of a kind; unknown values sort last in either direction. */
export function compareValues(a: unknown, b: unknown, kind: SortKind): number {
  if (kind === 'decimal') return compareDecimal(a, b)
  if (kind === 'time') {
    const x = timeMs(a)
    const y = timeMs(b)
    if (x === null || y === null) return (x === null ? 0 : 1) - (y === null ? 0 : 1)
    return x - y
  }
  return String(a ?? '').localeCompare(String(b ?? ''), undefined, { numeric: true, sensitivity: 'base' })
}

function known(v: unknown): boolean {
  return v !== null && v !== undefined && v !== ''
}

/** Rows sorted by a column (stable; rows without a value last). */
export function sortRows<T>(rows: T[], columns: Column<T>[], sort: SortState | null): T[] {
  const col = sort ? columns.find((c) => c.key === sort.key) : undefined
  if (!col?.sortValue || !sort) return rows
  const value = col.sortValue
  const kind = col.sortKind ?? 'text'
  const sign = sort.dir === 'asc' ? 1 : -1
  return rows
    .map((row, i) => ({ row, i, v: value(row) }))
    .sort((a, b) => {
      const ka = known(a.v)
      const kb = known(b.v)
      if (ka !== kb) return ka ? -1 : 1
      return (ka ? sign * compareValues(a.v, b.v, kind) : 0) || a.i - b.i
    })
    .map((x) => x.row)
}

/** The rows of page `page` (0-based, clamped), and the page count. */
export function pageOf<T>(rows: T[], page: number, size: number): { rows: T[]; page: number; pages: number; first: number } {
  const pages = Math.max(1, Math.ceil(rows.length / size))
  const p = Math.min(Math.max(0, page), pages - 1)
  return { rows: rows.slice(p * size, p * size + size), page: p, pages, first: p * size }
}

export interface DataTableProps<T> {
  rows: T[]
  columns: Column<T>[]
  rowKey: (row: T) => string
  /** The sort the table starts with (the list's one clock, for most). */
  initialSort?: SortState
  pageSize?: number
  testId: string
  /** Names the table for screen readers. */
  caption: string
  rowTitle?: (row: T) => string | undefined
}

export function DataTable<T>({ rows, columns, rowKey, initialSort, pageSize = 50, testId, caption, rowTitle }: DataTableProps<T>) {
  const [sort, setSort] = useState<SortState | null>(initialSort ?? null)
  const [page, setPage] = useState(0)
  const sorted = useMemo(() => sortRows(rows, columns, sort), [rows, columns, sort])
  const shown = pageOf(sorted, page, pageSize)
  const hasTotals = columns.some((c) => c.total)
  const sortable = columns.filter((c) => c.sortValue)

  const sortBy = (key: string) => {
    const col = columns.find((c) => c.key === key)
    // numbers and times start largest / newest first; text A to Z
    const first: SortDir = col?.sortKind === 'text' || !col?.sortKind ? 'asc' : 'desc'
    setSort((s) => (s?.key === key ? { key, dir: s.dir === 'asc' ? 'desc' : 'asc' } : { key, dir: first }))
    setPage(0)
  }
  const cls = (c: Column<T>) => [c.numeric ? 'num-col' : '', c.priority === 'optional' ? 'col-optional' : ''].filter(Boolean).join(' ') || undefined

  return (
    <div className="data-table-box">
      <div className="data-table__sortbar">
        <label>
          Sort by{' '}
          <select
            data-testid={`${testId}-sort`}
            value={sort ? `${sort.key}:${sort.dir}` : ''}
            onChange={(e) => {
              const [key, dir] = e.target.value.split(':')
              setSort(key ? { key, dir: dir as SortDir } : null)
              setPage(0)
            }}
          >
            {sortable.flatMap((c) =>
              (['asc', 'desc'] as const).map((d) => (
                <option key={`${c.key}:${d}`} value={`${c.key}:${d}`}>
                  {c.label} {d === 'asc' ? '↑' : '↓'}
                </option>
              )),
            )}
          </select>
        </label>
      </div>
      <table className="table data-table" data-testid={testId}>
        <caption className="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            {columns.map((c) => {
              const active = sort?.key === c.key
              return (
                <th key={c.key} scope="col" className={cls(c)} aria-sort={active ? (sort?.dir === 'asc' ? 'ascending' : 'descending') : undefined}>
                  {c.sortValue ? (
                    <button type="button" className="th-sort" onClick={() => sortBy(c.key)} data-testid={`${testId}-sort-${c.key}`}>
                      {c.label}
                      <span className="th-sort__mark" aria-hidden="true">
                        {active ? (sort?.dir === 'asc' ? '▲' : '▼') : '↕'}
                      </span>
                    </button>
                  ) : (
                    c.label
                  )}
                </th>
              )
            })}
          </tr>
        </thead>
        <tbody>
          {shown.rows.map((row) => (
            <tr key={rowKey(row)} title={rowTitle?.(row)}>
              {columns.map((c) =>
                c.rowHeader ? (
                  <th key={c.key} scope="row" className={cls(c)} data-label={c.label}>
                    {c.cell(row)}
                  </th>
                ) : (
                  <td key={c.key} className={cls(c)} data-label={c.label}>
                    {c.cell(row)}
                  </td>
                ),
              )}
            </tr>
          ))}
        </tbody>
        {hasTotals ? (
          <tfoot data-testid={`${testId}-totals`}>
            <tr>
              {columns.map((c, i) =>
                i === 0 ? (
                  <th key={c.key} scope="row" className={cls(c)} data-label="">
                    Total ({rows.length})
                  </th>
                ) : (
                  <td key={c.key} className={cls(c)} data-label={c.total ? c.label : ''}>
                    {c.total ? c.total(rows) : null}
                  </td>
                ),
              )}
            </tr>
          </tfoot>
        ) : null}
      </table>
      {shown.pages > 1 ? (
        <nav className="pager" aria-label={`${caption} pages`}>
          <Button variant="ghost" testId={`${testId}-prev`} disabled={shown.page === 0} onClick={() => setPage(shown.page - 1)}>
            ‹ Prev
          </Button>
          <span data-testid={`${testId}-range`}>
            {shown.first + 1}–{shown.first + shown.rows.length} of {rows.length}
          </span>
          <Button variant="ghost" testId={`${testId}-next`} disabled={shown.page >= shown.pages - 1} onClick={() => setPage(shown.page + 1)}>
            Next ›
          </Button>
        </nav>
      ) : null}
    </div>
  )
}
