// Sending commands to the bridge and matching each answer to its command by id.

import { CONTROL_COMMANDS } from './protocol'
import type { AckMessage, CommandMessage, CommandName, ErrorCode, ErrorMessage } from './protocol'

/** Local failures that never reached (or never came back from) the server. */
export type LocalErrorCode = 'timeout' | 'disconnected' | 'not_connected'

export type CommandOutcome =
  | { ok: true; id: number; cmd: CommandName; result: Record<string, unknown> }
  | { ok: false; id: number; cmd: CommandName; code: ErrorCode | LocalErrorCode; message: string }

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
  timeoutMs?: number
  timers?: Timers
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
  private readonly timeoutMs: number
  private readonly timers: Timers

  constructor({ write, getToken, timeoutMs = 10_000, timers = realTimers }: CommandSenderOptions) {
    this.write = write
    this.getToken = getToken
    this.timeoutMs = timeoutMs
    this.timers = timers
  }

  /** Commands sent and not yet answered. */
  get inFlight(): number {
    return this.pending.size
  }

  /** Send a command; resolves with the server's ack or error (never rejects). */
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
      const timer = this.timers.setTimeout(() => {
        this.pending.delete(id)
        resolve({ ok: false, id, cmd, code: 'timeout', message: `no answer to ${cmd} within ${this.timeoutMs / 1000} s` })
      }, this.timeoutMs)
      this.pending.set(id, { cmd, resolve, timer })
    })
  }

  /** Settle the command an ack or error answers; false when it answers none of ours. */
  handle(msg: AckMessage | ErrorMessage): boolean {
    if (typeof msg.id !== 'number') return false
    const p = this.pending.get(msg.id)
    if (!p) return false
    this.pending.delete(msg.id)
    this.timers.clearTimeout(p.timer)
    if (msg.type === 'ack') {
      p.resolve({ ok: true, id: msg.id, cmd: p.cmd, result: msg.result ?? {} })
    } else {
      p.resolve({ ok: false, id: msg.id, cmd: p.cmd, code: msg.code, message: msg.message })
    }
    return true
  }

  /** Fail every unanswered command, e.g. when the socket closes. */
  failAll(message = 'connection to the bridge was lost before it answered'): void {
    for (const [id, p] of this.pending) {
      this.timers.clearTimeout(p.timer)
      p.resolve({ ok: false, id, cmd: p.cmd, code: 'disconnected', message })
    }
    this.pending.clear()
  }
}
