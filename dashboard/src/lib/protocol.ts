// Types for the bridge protocol, version 1 (docs/bridge-protocol.md is the contract;
// kalashi_cli/bridge/protocol/*.json are its JSON Schemas). Money, prices, counts, percents
// and rates are decimal strings; integer counters are JSON integers.

export const PROTOCOL_VERSION = 1

/** A decimal string such as "0.4500" (price), "10.00" (count) or "-12.3400" (money). */
export type DecimalString = string
/** A measurement that the server may send as a JSON number or a decimal string. */
export type Measure = number | string

export type Mode = 'paper' | 'demo' | 'live'
export type LoopStatus = 'running' | 'paused' | 'stopped'
export type TradingState = 'ACTIVE' | 'REDUCING' | 'HALTED'
export type HealthStatus = 'ok' | 'degraded' | 'failed'
export type Outcome = 'yes' | 'no'
export type Action = 'buy' | 'sell'

export interface Leg {
  ticker: string
  outcome: Outcome
  action: Action
  price: DecimalString
  count: DecimalString
}

interface RecordBase {
  kind: string
  v: number
  [field: string]: unknown
}

export interface OpportunityRecord extends RecordBase {
  kind: 'opportunity' | 'candidate'
  id: string
  strategy: string
  event_ticker: string
  legs: Leg[]
  edge: DecimalString
  edge_pct: DecimalString
  fees: DecimalString
  confidence: DecimalString
  liquidity: DecimalString
  score: DecimalString
  reason: string
}

export interface OrderRecord extends RecordBase {
  kind: 'order'
  client_order_id: string
  order_id: string
  mode: Mode
  ticker: string
  outcome: Outcome
  action: Action
  price: DecimalString
  count: DecimalString
  status: string
  filled_count: DecimalString
  avg_fill_price: DecimalString | null
  fees: DecimalString
  latency_ms: Measure
  slippage_pct: DecimalString
  strategy: string
  opportunity_id: string
  /** Wall clock: when the order's intent was journaled (or the bridge recorded it). */
  ts?: string
  /** Wall clock: when it was journaled (the same as ts for an order). */
  wall_ts?: string | null
}

export interface FillRecord extends RecordBase {
  kind: 'fill'
  order_id: string
  client_order_id: string
  ticker: string
  outcome: Outcome
  action: Action
  price: DecimalString
  count: DecimalString
  fee: DecimalString
  is_taker: boolean
  /** The source's clock: when the fill happened in the market (the sim's clock on the sim). */
  ts: string
  /** Wall clock: when it was journaled; null when the journal did not say. */
  wall_ts?: string | null
  strategy?: string
}

export interface Recommendation {
  title: string
  detail: string
  numbers: Record<string, Measure>
  severity?: 'info' | 'warn' | 'critical'
}

export interface MetricsRecord extends RecordBase {
  kind: 'metrics'
  trades: number
  wins: number
  losses: number
  win_rate: DecimalString | null
  realized_pnl: DecimalString
  unrealized_pnl: DecimalString
  equity: DecimalString
  max_drawdown_pct: DecimalString
  consecutive_wins: number
  consecutive_losses: number
  per_strategy: Record<string, Record<string, unknown>>
  /** Sharpe and Sortino of per-iteration equity changes, exposure-weighted return (issue 14). */
  performance?: { sharpe: DecimalString | null; sortino: DecimalString | null; exposure_weighted_return: DecimalString | null }
  execution: { avg_latency_ms: Measure | null; avg_slippage_pct: DecimalString | null; fill_rate: DecimalString | null }
  cache: { hit_rate: DecimalString | null }
  api: { calls: number; calls_per_iteration: Measure | null }
  recommendations: Recommendation[]
  ts?: string
}

export interface IterationRecord extends RecordBase {
  kind: 'iteration'
  n: number
  started: string
  duration_ms: Measure
  markets: number
  opportunities: number
  candidates: number
  orders: number
  state: TradingState
  /** Why the gate is REDUCING or HALTED ("" when ACTIVE). */
  state_reason?: string
  /** Equity and cash after the iteration (money strings). */
  equity?: DecimalString
  cash?: DecimalString
}

export interface HealthRecord extends RecordBase {
  kind: 'health'
  name: string
  status: HealthStatus
  detail: string
  latency_ms: Measure | null
}

export interface DecisionRecord extends RecordBase {
  kind: 'rejected' | 'denied'
  reason: string
}

export type AnyRecord = RecordBase

export interface Position {
  ticker: string
  title: string
  outcome: Outcome
  count: DecimalString
  avg_price: DecimalString
  mark: DecimalString | null
  unrealized_pnl: DecimalString | null
  group: string
}

export interface OpenOrder {
  client_order_id: string
  order_id: string
  ticker: string
  outcome: Outcome
  action: Action
  price: DecimalString
  count: DecimalString
  remaining: DecimalString
  status: string
  /** When the broker says it was created: the source's clock (the sim's on paper). */
  created: string
  /** When kalashi journaled it, just before sending: the wall clock (null when unknown). */
  placed_wall?: string | null
}

export interface Exposure {
  group: string
  exposure: DecimalString
  pct_of_equity: DecimalString
  cap_pct: DecimalString
}

export interface HealthCheck {
  name: string
  status: HealthStatus
  detail: string
  latency_ms: Measure | null
}

export interface Account {
  balance: DecimalString | null
  equity: DecimalString | null
  realized_pnl: DecimalString | null
  unrealized_pnl: DecimalString | null
  /** The part of equity valued at marks (a book, or a closed market's last mark); the rest is settled. */
  equity_marked?: DecimalString | null
  /** Cash and positions whose result is known. */
  equity_settled?: DecimalString | null
  starting_balance: DecimalString | null
}

export interface LoopInfo {
  status: LoopStatus
  iteration: number
  interval_s: Measure
  source: string
  profile: string
}

export interface BridgeState {
  mode: Mode
  loop: LoopInfo
  trading_state: TradingState
  halt_reason: string | null
  account: Account
  equity_curve: { ts: string; equity: DecimalString }[]
  metrics: MetricsRecord | null
  positions: Position[]
  open_orders: OpenOrder[]
  opportunities: OpportunityRecord[]
  exposure: Exposure[]
  health: HealthCheck[]
  journal: (OrderRecord | FillRecord)[]
  recommendations: Recommendation[]
  /** The latest iteration record (null before the first iteration). */
  last_iteration?: IterationRecord | null
  updated: string
  /** The bridge's recent control commands, newest first (results included, whoever sent them). */
  commands?: CommandLogEntry[]
  /** The profile names set_profile accepts. */
  profiles?: string[]
  /** The two clocks: the source's kind and time now, and the bridge's wall clock now. */
  clock?: { source: 'sim' | 'replay' | 'exchange'; source_now: string | null; wall_now: string }
}

export interface HelloMessage {
  type: 'hello'
  protocol: number
  server: string
  read_only: boolean
  token_required?: boolean
}
export interface StateMessage {
  type: 'state'
  state: BridgeState
}
export interface RecordMessage {
  type: 'record'
  record: AnyRecord
}
export interface AckMessage {
  type: 'ack'
  id: number
  /** The bridge's number for an accepted control command (also in progress and state.commands). */
  ref?: string
  ok: true
  result: Record<string, unknown>
}
export type ErrorCode = 'bad_message' | 'unknown_command' | 'unauthorized' | 'invalid_args' | 'refused'
export interface ErrorMessage {
  type: 'error'
  id: number | null
  ref?: string
  code: ErrorCode
  message: string
}
export type CommandStatus = 'queued' | 'running' | 'done' | 'failed'
/** Where a long command stands, sent to its sender until its ack or error. */
export interface ProgressMessage {
  type: 'progress'
  id: number
  ref: string
  cmd: CommandName
  status: 'queued' | 'running'
  elapsed_ms: number
  message: string
  done: number | null
  total: number | null
  detail?: Record<string, unknown>
}
export interface CommandProgress {
  message: string
  done: number | null
  total: number | null
  detail?: Record<string, unknown>
}
/** One entry of the bridge's command log (state.commands), newest first. */
export interface CommandLogEntry {
  ref: string
  cmd: CommandName
  args: Record<string, unknown>
  status: CommandStatus
  /** Wall clock (the bridge's), ISO 8601 UTC. */
  started: string
  finished: string | null
  elapsed_ms: number
  progress: CommandProgress | null
  result: Record<string, unknown> | null
  error: string | null
}
export type ServerMessage = HelloMessage | StateMessage | RecordMessage | AckMessage | ErrorMessage | ProgressMessage

export type CommandName = 'start' | 'pause' | 'stop' | 'halt' | 'flatten' | 'set_profile' | 'get_state'
export const CONTROL_COMMANDS: readonly CommandName[] = ['start', 'pause', 'stop', 'halt', 'flatten', 'set_profile']

export interface CommandMessage {
  id: number
  cmd: CommandName
  token?: string
  args: Record<string, unknown>
}

/** Narrow an incoming frame to a server message, or null when it is not one we understand. */
export function parseServerMessage(text: string): ServerMessage | null {
  let obj: unknown
  try {
    obj = JSON.parse(text)
  } catch {
    return null
  }
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) return null
  const m = obj as { type?: unknown }
  switch (m.type) {
    case 'hello':
    case 'state':
    case 'record':
    case 'ack':
    case 'error':
    case 'progress':
      return obj as ServerMessage
    default:
      return null
  }
}
