// Before the first state: "loading", not "nothing". No trades: no win rate. Every time says its clock.

import { act, cleanup, render, screen } from '@testing-library/react'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { App } from '../src/App'
import { PerformanceCard } from '../src/cards/PerformanceCard'
import { Backoff } from '../src/lib/backoff'
import { ThemeProvider } from '../src/theme/ThemeContext'
import { FakeSocket, FakeTimers, HELLO, fixtureIterations, fixtureState } from './helpers'

afterEach(cleanup)
beforeEach(() => {
  FakeSocket.reset()
  window.sessionStorage.clear()
  window.location.hash = ''
})

function setup() {
  const timers = new FakeTimers()
  render(
    <ThemeProvider>
      <App
        config={{ wsUrl: 'ws://127.0.0.1:8766/', readOnly: false }}
        clientOptions={{ createSocket: (url) => new FakeSocket(url), timers, now: () => timers.now, heartbeatMs: 0, backoff: new Backoff({ jitter: 0 }) }}
      />
    </ThemeProvider>,
  )
  return FakeSocket.last()
}

const NOTHING = ['No open positions.', 'No resting orders.', 'No exposure', 'No opportunities', 'No health checks', 'No recommendations', 'appears after two iterations']

describe('before the first state', () => {
  it('says it is waiting for the bridge, and never that there is nothing', () => {
    const s = setup()
    act(() => {
      s.open()
      s.receive(HELLO) // connected, but the state has not come yet
    })
    const page = document.body.textContent ?? ''
    for (const words of NOTHING) expect(page).not.toContain(words)
    for (const id of ['positions-loading', 'orders-loading', 'exposure-loading', 'opportunities-loading', 'health-loading', 'insights-loading']) {
      expect(screen.getByTestId(id).textContent).toBe('Waiting for the first state from the bridge…')
    }
    expect(screen.getByTestId('equity-chart-empty').getAttribute('data-loading')).toBe('true')
    act(() => s.receive({ type: 'state', state: { ...fixtureState(), positions: [], open_orders: [], exposure: [] } }))
    expect(document.querySelectorAll('[data-loading]')).toHaveLength(0)
    expect(screen.getByText('No open positions.')).toBeTruthy()
  })
})

describe('win rate', () => {
  it('is "—" while no round trip has closed, not 0.0 %', () => {
    const state = fixtureState()
    state.metrics = { ...state.metrics!, trades: 0, wins: 0, losses: 0, win_rate: '0', per_strategy: { value: { trades: 0, wins: 0, win_rate: '0', pnl: '0.0000' } } }
    render(<PerformanceCard state={state} />)
    expect(screen.getByTestId('win-rate').textContent).toBe('—')
    expect(screen.getByTestId('per-strategy').textContent).not.toContain('%')
    cleanup()
    render(<PerformanceCard state={fixtureState()} />)
    expect(screen.getByTestId('win-rate').textContent).toBe('61.11%')
  })
})

/** Text nodes that look like a time of day but are not inside a clock-labelled <time>. */
function unlabelledTimes(): string[] {
  const out: string[] = []
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT)
  for (let n = walk.nextNode(); n; n = walk.nextNode()) {
    const t = n.textContent ?? ''
    if (/\b\d\d:\d\d(:\d\d)?\b/.test(t) && !n.parentElement?.closest('time[data-clock]')) out.push(t)
  }
  return out
}

describe('times and their clocks', () => {
  it('labels every time shown with its clock; market times are the sim’s, journal times the wall’s', () => {
    const s = setup()
    act(() => {
      s.open()
      s.receive(HELLO)
      s.receive({ type: 'state', state: fixtureState() })
      for (const record of fixtureIterations()[0]!) s.receive({ type: 'record', record })
    })
    expect(unlabelledTimes()).toEqual([])
    const clocks = [...document.querySelectorAll('time')].map((t) => t.getAttribute('data-clock'))
    expect(clocks.length).toBeGreaterThan(5)
    expect(new Set(clocks)).toEqual(new Set(['wall', 'sim']))
    for (const t of document.querySelectorAll('time')) expect(t.textContent).toMatch(/ (wall|sim)$/)
    expect(screen.getByTestId('source-now').getAttribute('data-clock')).toBe('sim')
    expect(screen.getByTestId('updated').getAttribute('data-clock')).toBe('wall')

    act(() => {
      window.location.hash = '#/journal'
      window.dispatchEvent(new HashChangeEvent('hashchange'))
    })
    expect(unlabelledTimes()).toEqual([])
    const rows = [...screen.getByTestId('journal-table').querySelectorAll('tbody tr')]
    // one clock for the order of the list: when each entry was journaled, newest first
    const wall = rows.map((r) => Date.parse(r.querySelector('td time')!.getAttribute('datetime')!))
    expect(wall).toEqual([...wall].sort((a, b) => b - a))
    // a fill also says when it happened in the market, on the sim's clock (months before, here)
    const fill = rows.find((r) => r.getAttribute('data-kind') === 'fill')!
    const [journaled, market] = [...fill.querySelectorAll('time')]
    expect(journaled!.getAttribute('data-clock')).toBe('wall')
    expect(market!.getAttribute('data-clock')).toBe('sim')
    expect(market!.getAttribute('datetime')!.startsWith('2026-01-01')).toBe(true)
  })
})
