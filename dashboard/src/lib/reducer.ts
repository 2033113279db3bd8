// The page's model of the bridge: the last full State plus the records that arrived since.
//
// A full `state` message replaces everything the server owns. Records between two states are
// applied here so the page moves as the loop moves; the server sends a fresh state after every
// iteration and every command, which corrects anything a record alone cannot tell (marks,
// positions, exposure). Pure functions: the same messages always give the same model.

import { compareDecimal, parseDecimal, signOf, subtractDecimal } from './decimal'
import type {
  AnyRecord,
  BridgeState,
  DecisionRecord,
  FillRecord,
  HealthCheck,
  HelloMessage,
  IterationRecord,
  MetricsRecord,
  OpportunityRecord,
  OrderRecord,
  TradingState,
} from './protocol'

export const MAX_OPPORTUNITIES = 20
export const MAX_JOURNAL = 200
export const MAX_EQUITY_POINTS = 2000
export const MAX_DECISIONS = 50

export interface DashboardModel {
  hello: HelloMessage | null
  state: BridgeState | null
  /** The latest iteration record (duration, market count) — not part of State. */
  lastIteration: IterationRecord | null
  /** Recent rejected/denied records, newest first: why nothing traded. */
  decisions: DecisionRecord[]
  /** Records seen since the last full state (for the "live" counter). */
  recordsSinceState: number
}

export const emptyModel: DashboardModel = {
  hello: null,
  state: null,
  lastIteration: null,
  decisions: [],
  recordsSinceState: 0,
}

export type ModelAction =
  | { type: 'hello'; hello: HelloMessage }
  | { type: 'state'; state: BridgeState }
  | { type: 'record'; record: AnyRecord }

const TRADING_STATES: readonly TradingState[] = ['ACTIVE', 'REDUCING', 'HALTED']

/** Fold one bridge message into the model. */
export function reduceModel(model: DashboardModel, action: ModelAction): DashboardModel {
  switch (action.type) {
    case 'hello':
      return { ...model, hello: action.hello }
    case 'state':
      return {
        ...model,
        state: action.state,
        lastIteration: action.state.last_iteration ?? model.lastIteration,
        recordsSinceState: 0,
      }
    case 'record':
      return applyRecordToModel(model, action.record)
  }
}

function applyRecordToModel(model: DashboardModel, rec: AnyRecord): DashboardModel {
  let { lastIteration, decisions } = model
  if (rec.kind === 'iteration') lastIteration = rec as IterationRecord
  if (rec.kind === 'rejected' || rec.kind === 'denied') {
    decisions = [rec as DecisionRecord, ...decisions].slice(0, MAX_DECISIONS)
  }
  const state = model.state ? applyRecord(model.state, rec) : null
  return { ...model, state, lastIteration, decisions, recordsSinceState: model.recordsSinceState + 1 }
}

/** Apply one loop record to a State; unknown kinds leave it unchanged. */
export function applyRecord(state: BridgeState, rec: AnyRecord): BridgeState {
  switch (rec.kind) {
    case 'iteration':
      return applyIteration(state, rec as IterationRecord)
    case 'metrics':
      return applyMetrics(state, rec as MetricsRecord)
    case 'order':
      return applyOrder(state, rec as OrderRecord)
    case 'fill':
      return applyFill(state, rec as FillRecord)
    case 'opportunity':
    case 'candidate':
      return applyOpportunity(state, rec as OpportunityRecord)
    case 'health':
      return applyHealth(state, rec as unknown as HealthCheck)
    default:
      return state
  }
}

function applyIteration(state: BridgeState, rec: IterationRecord): BridgeState {
  const trading_state = TRADING_STATES.includes(rec.state) ? rec.state : state.trading_state
  const iteration = Number.isInteger(rec.n) ? rec.n : state.loop.iteration
  // The iteration record says why the gate is not ACTIVE (state_reason) and, in kalashi's
  // engine, carries the equity and cash after the iteration: one point of the equity curve.
  const reason = typeof rec.state_reason === 'string' && rec.state_reason ? rec.state_reason : null
  const halt_reason = trading_state === 'ACTIVE' ? null : (reason ?? state.halt_reason)
  let { account, equity_curve } = state
  if (parseDecimal(rec.equity)) {
    account = { ...account, equity: rec.equity as string }
    const last = equity_curve[equity_curve.length - 1]
    if (typeof rec.started === 'string' && (!last || last.ts !== rec.started)) {
      equity_curve = [...equity_curve, { ts: rec.started, equity: rec.equity as string }].slice(-MAX_EQUITY_POINTS)
    }
  }
  if (parseDecimal(rec.cash)) account = { ...account, balance: rec.cash as string }
  return { ...state, trading_state, halt_reason, account, equity_curve, loop: { ...state.loop, iteration } }
}

function applyMetrics(state: BridgeState, rec: MetricsRecord): BridgeState {
  const account = {
    ...state.account,
    equity: rec.equity ?? state.account.equity,
    realized_pnl: rec.realized_pnl ?? state.account.realized_pnl,
    unrealized_pnl: rec.unrealized_pnl ?? state.account.unrealized_pnl,
  }
  const recommendations = Array.isArray(rec.recommendations) ? rec.recommendations : state.recommendations
  return { ...state, metrics: rec, account, recommendations }
}

function remainingOf(rec: OrderRecord): string {
  const given = rec.remaining_count
  if (typeof given === 'string') return given
  return subtractDecimal(rec.count, rec.filled_count ?? '0') ?? rec.count
}

function applyOrder(state: BridgeState, rec: OrderRecord): BridgeState {
  const journal = [rec, ...state.journal].slice(0, MAX_JOURNAL)
  const others = state.open_orders.filter((o) => o.client_order_id !== rec.client_order_id)
  const previous = state.open_orders.find((o) => o.client_order_id === rec.client_order_id)
  const open_orders =
    rec.status === 'resting'
      ? [
          ...others,
          {
            client_order_id: rec.client_order_id,
            order_id: rec.order_id,
            ticker: rec.ticker,
            outcome: rec.outcome,
            action: rec.action,
            price: rec.price,
            count: rec.count,
            remaining: remainingOf(rec),
            status: rec.status,
            // the broker's creation time (the source's clock) comes with the next state; the
            // record says when it was journaled (the wall clock)
            created: previous?.created ?? '',
            placed_wall: previous?.placed_wall ?? (typeof rec.wall_ts === 'string' ? rec.wall_ts : typeof rec.ts === 'string' ? rec.ts : null),
          },
        ]
      : others
  return { ...state, journal, open_orders }
}

function applyFill(state: BridgeState, rec: FillRecord): BridgeState {
  const journal = [rec, ...state.journal].slice(0, MAX_JOURNAL)
  const open_orders = state.open_orders.flatMap((o) => {
    if (o.client_order_id !== rec.client_order_id) return [o]
    const remaining = subtractDecimal(o.remaining, rec.count)
    if (remaining === null) return [o]
    return signOf(remaining) === 1 ? [{ ...o, remaining }] : []
  })
  return { ...state, journal, open_orders }
}

function applyOpportunity(state: BridgeState, rec: OpportunityRecord): BridgeState {
  const merged = [rec, ...state.opportunities.filter((o) => o.id !== rec.id)]
  // Stable sort by score, best first; a tie keeps the newer record first.
  merged.sort((a, b) => compareDecimal(b.score, a.score))
  return { ...state, opportunities: merged.slice(0, MAX_OPPORTUNITIES) }
}

function applyHealth(state: BridgeState, rec: HealthCheck): BridgeState {
  const check: HealthCheck = { name: rec.name, status: rec.status, detail: rec.detail ?? '', latency_ms: rec.latency_ms ?? null }
  const exists = state.health.some((h) => h.name === check.name)
  const health = exists ? state.health.map((h) => (h.name === check.name ? check : h)) : [...state.health, check]
  return { ...state, health }
}
