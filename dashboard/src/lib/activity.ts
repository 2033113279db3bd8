// The page's list of control commands: what this page sent and what the bridge says it did.
//
// Two sources, one list keyed by the bridge's `ref`: the events of the commands this page sent
// (sent → progress… → answer, or lost when the connection dropped), and the bridge's command log
// in every state (`state.commands`), which also holds commands sent by other pages and the
// results of commands whose answer this page never got. So a result is never thrown away: a late
// ack is taken, and one that missed its connection arrives with the next state.

import type { CommandEvent } from './commands'
import { formatMoney } from './decimal'
import type { CommandLogEntry, CommandName, CommandProgress } from './protocol'

export type ActivityStatus = 'sending' | 'queued' | 'running' | 'done' | 'failed' | 'lost'

export interface Activity {
  /** Stable for the life of the entry: `local:<id>` for this page's, the ref for others'. */
  key: string
  ref: string | null
  /** The id this page gave it (null when another page sent it). */
  id: number | null
  cmd: CommandName
  args: Record<string, unknown>
  status: ActivityStatus
  /** No progress and no answer for a while: still waiting, and said so. */
  quietMs: number | null
  /** When the bridge accepted it (its wall clock, ISO), once known. */
  started: string | null
  /** When this page sent it (this computer's clock, ms). */
  sentAt: number | null
  elapsedMs: number | null
  progress: CommandProgress | null
  result: Record<string, unknown> | null
  error: string | null
  mine: boolean
}

export const MAX_ACTIVITY = 20

export type ActivityAction = { type: 'event'; event: CommandEvent; at: number } | { type: 'log'; entries: CommandLogEntry[] }

const FINAL: ReadonlySet<ActivityStatus> = new Set(['done', 'failed'])

export function isFinal(a: Activity): boolean {
  return FINAL.has(a.status)
}

function sortKey(a: Activity): number {
  const t = a.started ? Date.parse(a.started) : NaN
  return Number.isNaN(t) ? (a.sentAt ?? 0) : t
}

/** Newest first, by when the bridge accepted each command (wall clock), else when it was sent. */
function ordered(list: Activity[]): Activity[] {
  return [...list].sort((x, y) => sortKey(y) - sortKey(x)).slice(0, MAX_ACTIVITY)
}

function patchById(list: Activity[], id: number, patch: (a: Activity) => Activity): Activity[] {
  return list.map((a) => (a.mine && a.id === id ? patch(a) : a))
}

/** Fold one command event or one command log into the list. */
export function reduceActivity(list: Activity[], action: ActivityAction): Activity[] {
  if (action.type === 'log') return mergeLog(list, action.entries)
  const e = action.event
  switch (e.type) {
    case 'sent':
      return ordered([
        {
          key: `local:${e.id}`,
          ref: null,
          id: e.id,
          cmd: e.cmd,
          args: e.args,
          status: 'sending',
          quietMs: null,
          started: null,
          sentAt: action.at,
          elapsedMs: null,
          progress: null,
          result: null,
          error: null,
          mine: true,
        },
        // a new connection numbers its commands from 1 again: an old entry with this id is not this one
        ...list.map((a) => (a.mine && a.id === e.id ? { ...a, id: null } : a)),
      ])
    case 'progress': {
      const m = e.msg
      const progress: CommandProgress = { message: m.message, done: m.done, total: m.total, detail: m.detail }
      return patchById(list, e.id, (a) => ({ ...a, ref: m.ref, status: m.status, quietMs: null, elapsedMs: m.elapsed_ms, progress }))
    }
    case 'quiet':
      return patchById(list, e.id, (a) => (isFinal(a) ? a : { ...a, quietMs: e.quietMs }))
    case 'answer': {
      const o = e.outcome
      return patchById(list, o.id, (a) => ({
        ...a,
        ref: o.ref ?? a.ref,
        quietMs: null,
        status: o.ok ? 'done' : o.code === 'disconnected' ? 'lost' : 'failed',
        result: o.ok ? o.result : a.result,
        error: o.ok ? null : o.message,
      }))
    }
  }
}

function mergeLog(list: Activity[], entries: CommandLogEntry[]): Activity[] {
  const byRef = new Map(list.filter((a) => a.ref).map((a) => [a.ref as string, a]))
  const seen = new Set<string>()
  const out = list.map((a) => {
    const entry = a.ref ? entries.find((x) => x.ref === a.ref) : undefined
    if (!entry) return a
    seen.add(entry.ref)
    // what this page heard itself is as good as the log once final; otherwise the log is newer
    const status: ActivityStatus = isFinal(a) ? a.status : entry.status
    return {
      ...a,
      started: entry.started,
      status,
      quietMs: FINAL.has(status) ? null : a.quietMs,
      elapsedMs: isFinal(a) && a.elapsedMs !== null ? Math.max(a.elapsedMs, entry.elapsed_ms) : entry.elapsed_ms,
      progress: entry.progress ?? a.progress,
      result: a.result ?? entry.result,
      error: status === 'failed' ? (a.status === 'failed' ? a.error : entry.error) : null,
    }
  })
  for (const entry of entries) {
    if (seen.has(entry.ref) || byRef.has(entry.ref)) continue
    out.push({
      key: entry.ref,
      ref: entry.ref,
      id: null,
      cmd: entry.cmd,
      args: entry.args ?? {},
      status: entry.status,
      quietMs: null,
      started: entry.started,
      sentAt: null,
      elapsedMs: entry.elapsed_ms,
      progress: entry.progress,
      result: entry.result,
      error: entry.error,
      mine: false,
    })
  }
  return ordered(out)
}

/** This page's commands that were lost with the connection and now have their result from the log. */
export function settledByLog(before: Activity[], after: Activity[]): Activity[] {
  const was = new Map(before.map((a) => [a.key, a]))
  return after.filter((a) => a.mine && isFinal(a) && was.get(a.key)?.status === 'lost')
}

function count(n: unknown, one: string, many = `${one}s`): string {
  const k = typeof n === 'number' ? n : Number(n ?? 0)
  return `${k} ${k === 1 ? one : many}`
}

/** Tickers a flatten left open, with why (ticker → reason). */
export function leftOpen(result: Record<string, unknown> | null): [string, string][] {
  const left = result?.left_open
  if (!left || typeof left !== 'object' || Array.isArray(left)) return []
  return Object.entries(left as Record<string, unknown>).map(([t, why]) => [t, String(why)])
}

/** A command's result in words (the toast and the command list say the same). */
export function describeResult(cmd: CommandName, result: Record<string, unknown> | null): string {
  if (!result) return ''
  switch (cmd) {
    case 'start':
    case 'pause':
    case 'stop':
      return `loop ${String(result.status ?? '?')}${result.trading_state ? `, trading ${String(result.trading_state)}` : ''}`
    case 'halt': {
      const parts = [`trading HALTED, ${count(result.canceled_orders, 'resting order')} cancelled`]
      if (typeof result.remaining_resting === 'number' && result.remaining_resting > 0) parts.push(`${result.remaining_resting} still resting`)
      if (typeof result.resting_orders === 'number') parts.push(`${count(result.resting_orders, 'resting order')} left with the run-loop`)
      if (result.error) parts.push(String(result.error))
      return parts.join('; ')
    }
    case 'flatten': {
      const closed = Array.isArray(result.closed) ? result.closed.length : 0
      const left = leftOpen(result).length
      const parts = [`${count(result.canceled_orders, 'resting order')} cancelled`, `${count(closed, 'position')} closed`]
      parts.push(left ? `${left} left open` : 'none left open')
      if (typeof result.realized_pnl === 'string') parts.push(`realized ${formatMoney(result.realized_pnl, { signed: true })}`)
      return parts.join(', ')
    }
    case 'set_profile':
      return `profile ${String(result.profile ?? '?')}`
    default:
      return Object.entries(result)
        .map(([k, v]) => `${k.replace(/_/g, ' ')}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
        .join(', ')
  }
}
