// Positions and Open orders: sort by column, page past 50 rows, totals over every row.

import { cleanup, fireEvent, render, screen } from '@testing-library/react'
import { afterEach, describe, expect, it } from 'vitest'
import { OrdersCard } from '../src/cards/OrdersCard'
import { POSITION_COLUMNS, PositionsCard } from '../src/cards/PositionsCard'
import { compareValues, pageOf, sortRows } from '../src/components/DataTable'
import type { OpenOrder, Position } from '../src/lib/protocol'
import { fixtureState } from './helpers'

afterEach(cleanup)

/** `n` positions with distinct, known numbers: position i holds i+1 contracts at (i % 90 + 5)¢. */
function manyPositions(n: number): Position[] {
  return Array.from({ length: n }, (_, i) => ({
    ticker: `KXMANY-26DEC31-B${String(i).padStart(3, '0')}`,
    title: `Many markets, number ${i}`,
    outcome: i % 3 === 0 ? 'no' : 'yes',
    count: `${i + 1}.00`,
    avg_price: `0.${String((i % 90) + 5).padStart(2, '0')}00`,
    mark: i % 10 === 9 ? null : `0.${String((i % 90) + 6).padStart(2, '0')}00`,
    unrealized_pnl: i % 10 === 9 ? null : `${((i + 1) / 100).toFixed(4)}`,
    group: ['election', 'crypto', 'economy'][i % 3]!,
  }))
}

const rowsOf = (id: string) => [...screen.getByTestId(id).querySelectorAll('tbody tr')]
const firstCells = (id: string) => rowsOf(id).map((r) => r.querySelector('th,td')!.textContent)

describe('sorting and paging, as pure functions', () => {
  it('compares decimals exactly, times by instant and text naturally; unknown values go last', () => {
    expect(compareValues('10.00', '9.50', 'decimal')).toBeGreaterThan(0)
    expect(compareValues('2026-01-01T12:00:00Z', '2026-01-01T11:00:00+00:00', 'time')).toBeGreaterThan(0)
    expect(compareValues('B10', 'B9', 'text')).toBeGreaterThan(0)
    const rows = manyPositions(12)
    const byMarkDesc = sortRows(rows, POSITION_COLUMNS, { key: 'mark', dir: 'desc' })
    expect(byMarkDesc.at(-1)!.mark).toBeNull() // unknown last, whichever the direction
    const byMarkAsc = sortRows(rows, POSITION_COLUMNS, { key: 'mark', dir: 'asc' })
    expect(byMarkAsc.at(-1)!.mark).toBeNull()
    expect(byMarkAsc[0]!.mark).toBe('0.0600')
  })

  it('pages in fifties and clamps a page that no longer exists', () => {
    const rows = Array.from({ length: 120 }, (_, i) => i)
    expect(pageOf(rows, 0, 50)).toMatchObject({ page: 0, pages: 3, first: 0 })
    expect(pageOf(rows, 2, 50).rows).toEqual(rows.slice(100))
    expect(pageOf(rows.slice(0, 40), 2, 50)).toMatchObject({ page: 0, pages: 1 })
  })
})

describe('the Positions table', () => {
  it('shows 50 rows a page, sorts by any column, and totals every row', () => {
    const state = fixtureState()
    state.positions = manyPositions(120)
    render(<PositionsCard state={state} />)
    expect(rowsOf('positions-table')).toHaveLength(50)
    expect(text('positions-table-range')).toBe('1–50 of 120')
    // totals are over all 120 rows, not the page: 1 + 2 + … + 120 contracts
    expect(text('positions-total-count')).toBe('7,260')
    expect(screen.getByTestId('positions-table-totals').textContent).toContain('Total (120)')
    expect(screen.getByTestId('positions-table-totals').textContent).toContain('(12 unpriced)')
    fireEvent.click(screen.getByTestId('positions-table-next'))
    expect(text('positions-table-range')).toBe('51–100 of 120')
    expect(firstCells('positions-table')[0]).toBe('KXMANY-26DEC31-B050')
    fireEvent.click(screen.getByTestId('positions-table-next'))
    expect(rowsOf('positions-table')).toHaveLength(20)
    expect((screen.getByTestId('positions-table-next') as HTMLButtonElement).disabled).toBe(true)
    // sort by contracts: largest first, back on page 1
    fireEvent.click(screen.getByTestId('positions-table-sort-count'))
    expect(text('positions-table-range')).toBe('1–50 of 120')
    expect(firstCells('positions-table').slice(0, 2)).toEqual(['KXMANY-26DEC31-B119', 'KXMANY-26DEC31-B118'])
    const th = screen.getByTestId('positions-table-sort-count').closest('th')!
    expect(th.getAttribute('aria-sort')).toBe('descending')
    fireEvent.click(screen.getByTestId('positions-table-sort-count'))
    expect(th.getAttribute('aria-sort')).toBe('ascending')
    expect(firstCells('positions-table')[0]).toBe('KXMANY-26DEC31-B000')
    // the stacked (phone) layout sorts from a menu: the same sort
    fireEvent.change(screen.getByTestId('positions-table-sort'), { target: { value: 'ticker:desc' } })
    expect(firstCells('positions-table')[0]).toBe('KXMANY-26DEC31-B119')
  })

  it('labels every cell with its column, for the stacked layout', () => {
    render(<PositionsCard state={fixtureState()} />)
    const cells = rowsOf('positions-table')[0]!.querySelectorAll('th,td')
    expect([...cells].map((c) => c.getAttribute('data-label'))).toEqual(['Market', 'Side', 'Contracts', 'Avg price', 'Cost', 'Mark', 'Unrealized', 'Group'])
    expect([...cells].filter((c) => c.classList.contains('col-optional')).map((c) => c.getAttribute('data-label'))).toEqual(['Avg price', 'Cost', 'Group'])
  })
})

const text = (id: string) => screen.getByTestId(id).textContent

describe('the Open orders table', () => {
  it('sorts by the wall clock, newest placed first, and totals what rests', () => {
    const state = fixtureState()
    state.open_orders = Array.from({ length: 60 }, (_, i): OpenOrder => ({
      client_order_id: `kal-${i}`,
      order_id: `paper-${i}`,
      ticker: `KXMANY-B${String(i).padStart(3, '0')}`,
      outcome: 'yes',
      action: 'buy',
      price: '0.5000',
      count: '10.00',
      remaining: '4.00',
      status: 'resting',
      // the market clock runs in the other direction: sorting by it would reverse the list
      created: new Date(Date.UTC(2026, 0, 1, 12) - i * 10_000).toISOString(),
      placed_wall: new Date(Date.UTC(2026, 10, 25, 14) + i * 10_000).toISOString(),
    }))
    render(<OrdersCard state={state} />)
    expect(firstCells('open-orders-table')[0]).toBe('KXMANY-B059')
    expect(text('open-orders-table-range')).toBe('1–50 of 60')
    expect(text('orders-total-remaining')).toBe('240')
    expect(text('orders-total-value')).toBe('$120.00')
    const clocks = [...rowsOf('open-orders-table')[0]!.querySelectorAll('time')].map((t) => t.getAttribute('data-clock'))
    expect(clocks).toEqual(['wall', 'sim'])
  })
})
