import { describe, expect, it } from 'vitest'
import type { AnyRecord, BridgeState, OrderRecord } from '../src/lib/protocol'
import { MAX_JOURNAL, MAX_OPPORTUNITIES, applyRecord, emptyModel, reduceModel } from '../src/lib/reducer'
import type { DashboardModel } from '../src/lib/reducer'
import { HELLO, fixtureIterations, fixtureState } from './helpers'

function withState(state: BridgeState = fixtureState()): DashboardModel {
  return reduceModel(emptyModel, { type: 'state', state })
}

function order(over: Partial<OrderRecord>): OrderRecord {
  return {
    kind: 'order', v: 1, client_order_id: 'kal-x', order_id: 'paper-1', mode: 'paper', ticker: 'KXTEST-1', outcome: 'yes',
    action: 'buy', price: '0.4000', count: '10.00', status: 'resting', filled_count: '0.00', avg_fill_price: null,
    fees: '0.0000', latency_ms: '10.000', slippage_pct: '0.0000', strategy: 'spread', opportunity_id: 'opp-x', ts: '2026-11-25T15:00:00Z',
    ...over,
  }
}

describe('reduceModel', () => {
  it('keeps hello and replaces the whole state on a state message', () => {
    let m = reduceModel(emptyModel, { type: 'hello', hello: HELLO })
    m = reduceModel(m, { type: 'state', state: fixtureState() })
    expect(m.hello?.server).toBe('kalashi-test 0.0.0')
    expect(m.state?.loop.iteration).toBe(31)
    const other = fixtureState()
    other.loop.iteration = 99
    m = reduceModel(m, { type: 'state', state: other })
    expect(m.state?.loop.iteration).toBe(99)
    expect(m.recordsSinceState).toBe(0)
  })

  it('remembers rejections and denials before any state arrives, newest first', () => {
    let m = reduceModel(emptyModel, { type: 'record', record: { kind: 'rejected', v: 1, ref: 'a', stage: 'correlate', reason: 'r1' } })
    m = reduceModel(m, { type: 'record', record: { kind: 'denied', v: 1, ref: 'b', reason: 'r2' } })
    expect(m.state).toBeNull()
    expect(m.decisions.map((d) => d.reason)).toEqual(['r2', 'r1'])
  })

  it('plays a fixture iteration into the state the way the bridge would', () => {
    const [first] = fixtureIterations()
    let m = withState()
    for (const record of first!) m = reduceModel(m, { type: 'record', record })
    const s = m.state!
    expect(s.loop.iteration).toBe(32)
    expect(s.trading_state).toBe('ACTIVE')
    expect(s.account.equity).toBe('1016.2500')
    expect(s.equity_curve.at(-1)).toEqual({ ts: '2026-11-25T14:05:20Z', equity: '1016.2500' })
    expect(s.equity_curve).toHaveLength(32)
    expect(s.journal[0]!.kind).toBe('fill')
    expect(s.journal[1]!.kind).toBe('order')
    expect(s.health.find((h) => h.name === 'market-data')?.latency_ms).toBe('12')
    expect(m.lastIteration?.n).toBe(32)
    expect(m.decisions[0]?.kind).toBe('rejected')
    expect(m.recordsSinceState).toBe(first!.length)
  })
})

describe('applyRecord', () => {
  it('takes trading state, halt reason, equity and cash from an iteration record', () => {
    const s = applyRecord(fixtureState(), {
      kind: 'iteration', v: 1, n: 40, started: '2026-11-25T15:00:00Z', duration_ms: '12.5', markets: 1, opportunities: 0,
      candidates: 0, orders: 0, state: 'HALTED', state_reason: 'daily loss limit $50 reached', equity: '950.0000', cash: '940.0000',
    })
    expect(s.loop.iteration).toBe(40)
    expect(s.trading_state).toBe('HALTED')
    expect(s.halt_reason).toBe('daily loss limit $50 reached')
    expect(s.account.equity).toBe('950.0000')
    expect(s.account.balance).toBe('940.0000')
    const back = applyRecord(s, { kind: 'iteration', v: 1, n: 41, started: '2026-11-25T15:00:10Z', state: 'ACTIVE', state_reason: '' })
    expect(back.halt_reason).toBeNull()
    expect(back.account.equity).toBe('950.0000')
  })

  it('does not add an equity point twice for the same iteration', () => {
    const rec = { kind: 'iteration', v: 1, n: 40, started: '2026-11-25T15:00:00Z', state: 'ACTIVE', equity: '1.0000' }
    const once = applyRecord(fixtureState(), rec)
    const twice = applyRecord(once, rec)
    expect(twice.equity_curve).toHaveLength(once.equity_curve.length)
  })

  it('ignores an iteration record with an unknown trading state', () => {
    const s = applyRecord(fixtureState(), { kind: 'iteration', v: 1, n: 32, started: 'x', state: 'PANIC' })
    expect(s.trading_state).toBe('ACTIVE')
  })

  it('takes metrics into the account and recommendations', () => {
    const m = { ...fixtureState().metrics!, realized_pnl: '-3.5000', unrealized_pnl: '1.0000', equity: '997.5000', recommendations: [] }
    const s = applyRecord(fixtureState(), m)
    expect(s.metrics?.realized_pnl).toBe('-3.5000')
    expect(s.account.realized_pnl).toBe('-3.5000')
    expect(s.account.unrealized_pnl).toBe('1.0000')
    expect(s.account.equity).toBe('997.5000')
    expect(s.recommendations).toEqual([])
  })

  it('tracks resting orders: add, partly fill, fill away, cancel', () => {
    let s = fixtureState()
    const before = s.open_orders.length
    s = applyRecord(s, order({ client_order_id: 'kal-new', count: '10.00', filled_count: '2.50' }))
    expect(s.open_orders).toHaveLength(before + 1)
    expect(s.open_orders.at(-1)).toMatchObject({ client_order_id: 'kal-new', remaining: '7.50', placed_wall: '2026-11-25T15:00:00Z', created: '' })
    s = applyRecord(s, { kind: 'fill', v: 1, client_order_id: 'kal-new', order_id: 'paper-1', ticker: 'KXTEST-1', outcome: 'yes', action: 'buy', price: '0.4000', count: '5.00', fee: '0.0100', is_taker: false, ts: 'x' })
    expect(s.open_orders.at(-1)?.remaining).toBe('2.50')
    s = applyRecord(s, { kind: 'fill', v: 1, client_order_id: 'kal-new', order_id: 'paper-1', ticker: 'KXTEST-1', outcome: 'yes', action: 'buy', price: '0.4000', count: '2.50', fee: '0.0100', is_taker: false, ts: 'y' })
    expect(s.open_orders.find((o) => o.client_order_id === 'kal-new')).toBeUndefined()
    const resting = s.open_orders[0]!.client_order_id
    s = applyRecord(s, order({ client_order_id: resting, status: 'canceled' }))
    expect(s.open_orders.find((o) => o.client_order_id === resting)).toBeUndefined()
    expect(s.journal.slice(0, 4).map((e) => e.kind)).toEqual(['order', 'fill', 'fill', 'order'])
  })

  it('uses remaining_count when the order record carries it', () => {
    const s = applyRecord(fixtureState(), order({ client_order_id: 'kal-r', remaining_count: '4.00' }))
    expect(s.open_orders.at(-1)?.remaining).toBe('4.00')
  })

  it('keeps the journal to its limit, newest first', () => {
    let s = fixtureState()
    for (let i = 0; i < MAX_JOURNAL + 5; i++) s = applyRecord(s, order({ client_order_id: `kal-${i}`, status: 'executed' }))
    expect(s.journal).toHaveLength(MAX_JOURNAL)
    expect(s.journal[0]!.client_order_id).toBe(`kal-${MAX_JOURNAL + 4}`)
  })

  it('ranks opportunities by exact score, replacing by id, at most 20', () => {
    let s = fixtureState()
    const base = s.opportunities[0]!
    s = applyRecord(s, { ...base, id: 'best', score: '0.116290' })
    expect(s.opportunities[0]!.id).toBe('best')
    s = applyRecord(s, { ...base, id: 'best', score: '0.000001' })
    expect(s.opportunities.filter((o) => o.id === 'best')).toHaveLength(1)
    expect(s.opportunities.at(-1)!.id).toBe('best')
    for (let i = 0; i < 30; i++) s = applyRecord(s, { ...base, id: `o${i}`, score: `0.${String(i).padStart(2, '0')}` })
    expect(s.opportunities).toHaveLength(MAX_OPPORTUNITIES)
    expect(s.opportunities[0]!.id).toBe('o29')
  })

  it('replaces an opportunity with its candidate record', () => {
    const s0 = fixtureState()
    const o = s0.opportunities[1]!
    const s = applyRecord(s0, { ...o, kind: 'candidate', size: '5.00', stake: '1.0000', group: 'economy' })
    const c = s.opportunities.find((x) => x.id === o.id)!
    expect(c.kind).toBe('candidate')
    expect(s.opportunities).toHaveLength(s0.opportunities.length)
  })

  it('updates or adds a health check by name', () => {
    let s = applyRecord(fixtureState(), { kind: 'health', v: 1, name: 'broker', status: 'failed', detail: 'timeout', latency_ms: null })
    expect(s.health.find((h) => h.name === 'broker')).toEqual({ name: 'broker', status: 'failed', detail: 'timeout', latency_ms: null })
    s = applyRecord(s, { kind: 'health', v: 1, name: 'ws-feed', status: 'degraded', detail: 'lagging', latency_ms: '250' })
    expect(s.health.at(-1)!.name).toBe('ws-feed')
  })

  it('passes unknown kinds through without change', () => {
    const s = fixtureState()
    for (const kind of ['market', 'stats', 'something-new']) expect(applyRecord(s, { kind, v: 1 } as AnyRecord)).toBe(s)
  })
})

describe('last iteration', () => {
  it('comes from the state on connect and from iteration records after', () => {
    let m = withState()
    expect(m.lastIteration?.n).toBe(31)
    m = reduceModel(m, { type: 'record', record: { kind: 'iteration', v: 1, n: 32, started: 'x', state: 'ACTIVE' } })
    expect(m.lastIteration?.n).toBe(32)
    const older = fixtureState()
    delete older.last_iteration
    m = reduceModel(m, { type: 'state', state: older })
    expect(m.lastIteration?.n).toBe(32)
  })
})
