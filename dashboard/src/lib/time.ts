// Times, and which clock each is on. Two clocks run through kalashi: the WALL clock (real time:
// when the bridge journaled an order, built a state, accepted a command; this computer's clock
// for the page's own events) and the SOURCE clock (the market's time: the sim's simulated clock,
// a replay's recorded time, or the exchange's clock — fills, the broker's order times). On the sim
// they are hours or days apart, so every time the page shows carries its clock's name
// (components/TimeStamp) and every list sorts by one clock (docs/bridge-protocol.md §2 "Times").

import { DASH } from './decimal'
import type { BridgeState } from './protocol'

export type ClockKind = 'wall' | 'sim' | 'replay' | 'exchange'

export const CLOCK_WORDS: Record<ClockKind, string> = {
  wall: 'wall clock (real time)',
  sim: 'the simulated market’s clock',
  replay: 'the recording’s clock',
  exchange: 'the exchange’s clock',
}

/** The clock the state's market times (fills, broker order times) are on. */
export function sourceClock(state: BridgeState | null): ClockKind {
  const kind = state?.clock?.source
  if (kind === 'sim' || kind === 'replay' || kind === 'exchange') return kind
  const source = state?.loop?.source ?? ''
  return source.startsWith('sim') ? 'sim' : source.startsWith('replay') ? 'replay' : 'exchange'
}

/** Milliseconds of an ISO time, or null. */
export function timeMs(ts: unknown): number | null {
  if (typeof ts !== 'string' || !ts) return null
  const t = Date.parse(ts)
  return Number.isNaN(t) ? null : t
}

const pad = (n: number) => String(n).padStart(2, '0')

/** An ISO timestamp (or ms) as local time of day ("14:03:27"); "—" when absent or unreadable. */
export function formatTime(ts: unknown): string {
  const t = typeof ts === 'number' ? ts : timeMs(ts)
  if (t === null) return typeof ts === 'string' && ts ? ts : DASH
  const d = new Date(t)
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
}

/** An ISO timestamp (or ms) as local date and time ("2026-11-25 14:03:27"). */
export function formatDateTime(ts: unknown): string {
  const t = typeof ts === 'number' ? ts : timeMs(ts)
  if (t === null) return typeof ts === 'string' && ts ? ts : DASH
  const d = new Date(t)
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${formatTime(t)}`
}

/** Time of day when `ts` falls on `today`'s date (local), else date and time. */
export function formatWhen(ts: unknown, today: number = Date.now()): string {
  const t = typeof ts === 'number' ? ts : timeMs(ts)
  if (t === null) return formatTime(ts)
  const a = new Date(t)
  const b = new Date(today)
  const same = a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate()
  return same ? formatTime(t) : formatDateTime(t)
}
