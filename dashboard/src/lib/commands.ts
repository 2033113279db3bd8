// Sending commands to the bridge and matching each answer to its command by id.
//
// No answer is ever thrown away. A command the bridge is slow to answer (a flatten closing 72
// positions) reports `progress` while it runs; when neither progress nor an answer has come for
// `quietMs`, the command is only marked quiet, and its answer is still taken whenever it comes.
// A command resolves with its ack or error, or with `disconnected` when the connection drops —
// the bridge then still has its result in `state.commands` (see lib/activity.ts).

import { CONTROL_COMMANDS } from './protocol'
import type { AckMessage, CommandMessage, CommandName, ErrorCode, ErrorMessage, ProgressMessage } from './protocol'

/** Local failures that never reached (or never came back from) the server. */
export type LocalErrorCode = 'disconnected' | 'not_connected'

export type CommandOutcome =
  | { ok: true; id: number; cmd: CommandName; ref?: string; result: Record<string, unknown> }
  | { ok: false; id: number; cmd: CommandName; ref?: string; code: ErrorCode | LocalErrorCode; message: string }

/** What happens to a command between sending and its answer (for the page's command list). */
export type CommandEvent =
  | { type: 'sent'; id: number; cmd: CommandName; args: Record<string, unknown> }
  | { type: 'progress'; id: number; msg: ProgressMessage }
  | { type: 'quiet'; id: number; cmd: CommandName; quietMs: number }
  | { type: 'answer'; outcome: CommandOutcome }

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

export const realTimers: Timers = {
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (h) => globalThis.clearTimeout(h as ReturnType<typeof setTimeout>),
}

export interface CommandSenderOptions {
  /** Write one text frame; false when the socket is not open. */
  write: (text: string) => boolean
  /** The control token the user entered, if any. */
  getToken: () => string | null
  /** Mark a command quiet after this long without progress or an answer (it still waits). */
  quietMs?: number
  timers?: Timers
  /** Hears every step of every command. */
  onEvent?: (event: CommandEvent) => void
}

interface Pending {
  cmd: CommandName
  resolve: (o: CommandOutcome) => void
  timer: unknown
}

/** True for commands that change the loop and so carry the control token. */
export function isControlCommand(cmd: CommandName): boolean {
  return CONTROL_COMMANDS.includes(cmd)
}

export class CommandSender {
  private nextId = 1
  private readonly pending = new Map<number, Pending>()
  private readonly write: (text: string) => boolean
  private readonly getToken: () => string | null
  private readonly quietMs: number
  private readonly timers: Timers
  private readonly onEvent: (event: CommandEvent) => void

  constructor({ write, getToken, quietMs = 10_000, timers = realTimers, onEvent = () => undefined }: CommandSenderOptions) {
    this.write = write
    this.getToken = getToken
    this.quietMs = quietMs
    this.timers = timers
    this.onEvent = onEvent
  }

  /** Commands sent and not yet answered. */
  get inFlight(): number {
    return this.pending.size
  }

  /** Whether command `id` is still waiting for its answer. */
  isPending(id: number): boolean {
    return this.pending.has(id)
  }

  /** Send a command; resolves with the server's ack or error, however late (never rejects). */
  send(cmd: CommandName, args: Record<string, unknown> = {}): Promise<CommandOutcome> {
    const id = this.nextId++
    const msg: CommandMessage = { id, cmd, args }
    const token = this.getToken()
    // get_state needs no token; never hand the token to a command that does not need it.
    if (isControlCommand(cmd) && token) msg.token = token
    return new Promise<CommandOutcome>((resolve) => {
      if (!this.write(JSON.stringify(msg))) {
        resolve({ ok: false, id, cmd, code: 'not_connected', message: 'not connected to the bridge' })
        return
      }
      this.pending.set(id, { cmd, resolve, timer: null })
      if (isControlCommand(cmd)) {
        this.onEvent({ type: 'sent', id, cmd, args })
        this.armQuiet(id)
      }
    })
  }

  private armQuiet(id: number): void {
    const p = this.pending.get(id)
    if (!p) return
    if (p.timer !== null) this.timers.clearTimeout(p.timer)
    p.timer = this.timers.setTimeout(() => {
      p.timer = null
      if (this.pending.get(id) === p) this.onEvent({ type: 'quiet', id, cmd: p.cmd, quietMs: this.quietMs })
    }, this.quietMs)
  }

  /** Take a progress message, ack or error meant for one of our commands; false when it is not. */
  handle(msg: AckMessage | ErrorMessage | ProgressMessage): boolean {
    if (typeof msg.id !== 'number') return false
    const p = this.pending.get(msg.id)
    if (!p) return false
    if (msg.type === 'progress') {
      this.onEvent({ type: 'progress', id: msg.id, msg })
      this.armQuiet(msg.id) // it spoke: the quiet clock starts again
      return true
    }
    this.pending.delete(msg.id)
    if (p.timer !== null) this.timers.clearTimeout(p.timer)
    const ref = typeof msg.ref === 'string' ? msg.ref : undefined
    const outcome: CommandOutcome =
      msg.type === 'ack'
        ? { ok: true, id: msg.id, cmd: p.cmd, ref, result: msg.result ?? {} }
        : { ok: false, id: msg.id, cmd: p.cmd, ref, code: msg.code, message: msg.message }
    if (isControlCommand(p.cmd)) this.onEvent({ type: 'answer', outcome })
    p.resolve(outcome)
    return true
  }

  /** Give up waiting on every unanswered command, e.g. when the socket closes. */
  failAll(message = 'the connection to the bridge was lost before it answered'): void {
    const pending = [...this.pending]
    this.pending.clear()
    for (const [id, p] of pending) {
      if (p.timer !== null) this.timers.clearTimeout(p.timer)
      const outcome: CommandOutcome = { ok: false, id, cmd: p.cmd, code: 'disconnected', message }
      if (isControlCommand(p.cmd)) this.onEvent({ type: 'answer', outcome })
      p.resolve(outcome)
    }
  }
}
