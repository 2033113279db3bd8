import { cleanup, render, screen, within } from '@testing-library/react'
import { afterEach, describe, expect, it } from 'vitest'
import { EquityCard } from '../src/cards/EquityCard'
import { ExecutionCard } from '../src/cards/ExecutionCard'
import { HealthCard } from '../src/cards/HealthCard'
import { InsightsCard } from '../src/cards/InsightsCard'
import { LoopCard } from '../src/cards/LoopCard'
import { OpportunitiesCard } from '../src/cards/OpportunitiesCard'
import { OrdersCard } from '../src/cards/OrdersCard'
import { PerformanceCard } from '../src/cards/PerformanceCard'
import { PositionsCard } from '../src/cards/PositionsCard'
import { RiskCard } from '../src/cards/RiskCard'
import { Mascot, moodFor } from '../src/components/Mascot'
import { equityPaths } from '../src/components/EquityChart'
import type { IterationRecord } from '../src/lib/protocol'
import { fixtureIterations, fixtureState } from './helpers'

afterEach(cleanup)

const text = (id: string) => screen.getByTestId(id).textContent

describe('EquityCard', () => {
  it('shows equity, cash and change since start exactly as the bridge sent them', () => {
    render(<EquityCard state={fixtureState()} />)
    expect(text('equity')).toBe('$1,015.00')
    expect(text('balance')).toBe('$991.24')
    expect(screen.getByTestId('balance').getAttribute('data-raw')).toBe('991.2350')
    expect(text('equity-change')).toBe('+$15.00')
    expect(screen.getByTestId('equity-change').className).toContain('num--positive')
    expect(text('starting-balance')).toBe('$1,000.00')
    expect(text('equity-marked')).toBe('$23.77') // open positions at their marks; the rest is settled
    expect(text('mode')).toBe('paper')
    expect(text('equity-low')).toBe('$998.50')
    expect(text('equity-high')).toBe('$1,015.00')
  })

  it('shows dashes and no chart before any state arrives', () => {
    render(<EquityCard state={null} />)
    expect(text('equity')).toBe('—')
    expect(text('balance')).toBe('—')
    expect(screen.getByTestId('equity-chart-empty')).toBeTruthy()
  })

  it('draws one path point per equity point', () => {
    const paths = equityPaths(fixtureState().equity_curve)!
    expect(paths.line.split(' ').filter((p) => /^[ML]/.test(p))).toHaveLength(31)
    expect(equityPaths([{ ts: 'a', equity: '1.00' }])).toBeNull()
  })
})

describe('LoopCard', () => {
  it('keeps a long source on one line inside the card, the whole value in its tooltip', () => {
    const state = fixtureState()
    const source = 'sim:seed=0,markets=100000,step=1000000,fees=quadratic,books=deep'
    state.loop = { ...state.loop, source }
    const access = { connected: true, readOnly: false, tokenRequired: false, token: null }
    render(<LoopCard state={state} access={access} send={async () => null} setToken={() => {}} />)
    const shown = screen.getByTestId('source')
    expect(shown.textContent).toBe(source)
    expect(shown.getAttribute('title')).toBe(source)
    const stat = shown.closest('.stat')!
    expect(stat.className).toContain('stat--text') // nowrap + ellipsis (app.css)
    expect(stat.className).toContain('stat--wide') // a whole row of the stat grid
    expect(screen.getByTestId('iteration').closest('.stat')!.className).toBe('stat')
  })
})

describe('PerformanceCard', () => {
  it('shows win rate, P&L with sign colour, drawdown, streaks and per-strategy rows', () => {
    render(<PerformanceCard state={fixtureState()} />)
    expect(text('win-rate')).toBe('61.11%')
    expect(text('trades')).toBe('18')
    expect(text('wins')).toBe('11')
    expect(text('losses')).toBe('7')
    expect(text('realized-pnl')).toBe('+$14.24')
    expect(text('unrealized-pnl')).toBe('+$0.76')
    expect(text('max-drawdown')).toBe('1.82%')
    expect(text('win-streak')).toBe('3')
    expect(text('loss-streak')).toBe('0')
    const rows = within(screen.getByTestId('per-strategy')).getAllByRole('row')
    expect(rows.map((r) => r.textContent)).toContain('arbitrage6100.00%+$6.12')
    // unrealized, fees and the 1-minute markout per contract (issue 14)
    const pnl = within(screen.getByTestId('per-strategy-pnl')).getAllByRole('row').map((r) => r.textContent)
    expect(pnl).toContain('arbitrage$0.00$1.92+$0.019')
    expect(pnl).toContain('spread$0.00$0.21-$0.012')
    expect(pnl).toContain('value+$0.76$0.87+$0.004')
    expect(text('sharpe')).toBe('0.12')
    expect(text('sortino')).toBe('0.23')
  })

  it('colours a loss red from the string sign', () => {
    const s = fixtureState()
    s.account.realized_pnl = '-0.0040'
    render(<PerformanceCard state={s} />)
    expect(text('realized-pnl')).toBe('-$0.00')
    expect(screen.getByTestId('realized-pnl').className).toContain('num--negative')
  })
})

describe('RiskCard', () => {
  it('shows the trading state and every group against its cap', () => {
    render(<RiskCard state={fixtureState()} />)
    expect(text('trading-state')).toBe('ACTIVE')
    const items = within(screen.getByTestId('exposure-list')).getAllByRole('listitem')
    expect(items).toHaveLength(3)
    expect(items[0]!.textContent).toContain('election')
    expect(items[0]!.textContent).toContain('$16.70 · 1.65% of equity · cap 20.00%')
  })

  it('shows the halt reason and flags a group over its cap', () => {
    const s = fixtureState()
    s.trading_state = 'HALTED'
    s.halt_reason = 'daily loss limit reached'
    s.exposure[0]!.pct_of_equity = '25.00'
    render(<RiskCard state={s} />)
    expect(text('trading-state')).toBe('HALTED')
    expect(text('halt-reason')).toContain('daily loss limit reached')
    expect(screen.getByTestId('exposure-list').querySelector('.exposure--over')).toBeTruthy()
  })
})

describe('tables', () => {
  it('lists positions with prices in cents and signed unrealized P&L', () => {
    render(<PositionsCard state={fixtureState()} />)
    const rows = screen.getByTestId('positions-table').querySelectorAll('tbody tr')
    expect(rows).toHaveLength(3)
    // sorted by market; cost = average price × contracts
    expect(rows[0]!.textContent).toBe('KXBTC-26DEC31-T100000NO1062¢$6.2059¢-$0.30crypto')
    expect(rows[1]!.textContent).toContain('15.5')
    expect(text('positions-total-count')).toBe('50.5')
    expect(text('positions-total-unrealized')).toBe('+$0.76')
  })

  it('lists open orders with remaining of total', () => {
    render(<OrdersCard state={fixtureState()} />)
    const rows = screen.getByTestId('open-orders-table').querySelectorAll('tbody tr')
    expect(rows[0]!.textContent).toContain('KXCPI-26NOV-T3.0') // newest placed first
    expect(rows[0]!.textContent).toContain('12 / 20')
  })

  it('says so when there is nothing to list', () => {
    const s = fixtureState()
    s.positions = []
    s.open_orders = []
    render(
      <>
        <PositionsCard state={s} />
        <OrdersCard state={s} />
      </>,
    )
    expect(screen.getByText('No open positions.')).toBeTruthy()
    expect(screen.getByText('No resting orders.')).toBeTruthy()
  })
})

describe('OpportunitiesCard', () => {
  it('lists opportunities best first with edge, legs and reason', () => {
    render(<OpportunitiesCard state={fixtureState()} decisions={[{ kind: 'denied', v: 1, ref: 'c1', reason: 'per-event cap' }]} />)
    const items = within(screen.getByTestId('opportunities-list')).getAllByRole('listitem')
    expect(items).toHaveLength(4)
    expect(items[0]!.textContent).toContain('KXBTC-26DEC31')
    expect(items[0]!.textContent).toContain('edge +$0.4307 (7.10%)')
    expect(items[0]!.textContent).toContain('buy NO KXBTC-26DEC31-T100000 @ 59¢ × 10')
    expect(items[0]!.textContent).toContain('Forecast P(yes) 35%')
    expect(screen.getByTestId('decisions').textContent).toContain('per-event cap')
  })
})

describe('ExecutionCard, InsightsCard and HealthCard', () => {
  it('shows execution quality from metrics and the last iteration', () => {
    const last = fixtureIterations()[0]!.find((r) => r.kind === 'iteration') as IterationRecord
    render(<ExecutionCard state={fixtureState()} lastIteration={last} />)
    expect(text('avg-latency')).toBe('42.5 ms')
    expect(text('avg-slippage')).toBe('0.120%')
    expect(text('fill-rate')).toBe('84.00%')
    expect(text('cache-hit-rate')).toBe('93.00%')
    expect(text('api-calls')).toBe('412')
    expect(text('calls-per-iteration')).toBe('13.3')
    expect(text('iteration-duration')).toBe('180 ms')
    expect(text('iteration-markets')).toBe('148')
  })

  it('shows each recommendation with the numbers behind it (shares by the one rule of lib/units)', () => {
    render(<InsightsCard state={fixtureState()} />)
    const items = within(screen.getByTestId('insights-list')).getAllByRole('listitem')
    expect(items).toHaveLength(2)
    expect(items[0]!.textContent).toContain('spread fill rate40.00%')
    expect(items[0]!.textContent).toContain('spread orders5')
  })

  it('shows health checks and a mascot that follows them', () => {
    const s = fixtureState()
    render(<HealthCard state={s} connected />)
    expect(text('health-market-data')).toBe('ok')
    expect(screen.getByTestId('mascot').getAttribute('data-mood')).toBe('happy')
    cleanup()
    s.health[1]!.status = 'failed'
    render(<HealthCard state={s} connected />)
    expect(screen.getByTestId('mascot').getAttribute('data-mood')).toBe('alarmed')
  })
})

describe('Mascot', () => {
  it('follows connection, trading state, health and loop status, worst first', () => {
    const s = fixtureState()
    expect(moodFor(s, false)).toBe('offline')
    expect(moodFor(null, true)).toBe('offline')
    expect(moodFor(s, true)).toBe('happy')
    s.loop.status = 'paused'
    expect(moodFor(s, true)).toBe('sleeping')
    s.trading_state = 'REDUCING'
    expect(moodFor(s, true)).toBe('watchful')
    s.trading_state = 'HALTED'
    expect(moodFor(s, true)).toBe('alarmed')
  })

  it('names its mood for screen readers', () => {
    render(<Mascot mood="sleeping" />)
    expect(screen.getByRole('img').getAttribute('aria-label')).toBe('Mascot: asleep — the loop is not running')
  })
})
