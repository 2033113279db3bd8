// The WebSocket connection to the bridge: connect, reconnect with backoff, heartbeat.
//
// The page must show clearly when its numbers stop being live. A closed socket is noticed at
// once; a silent one (half-open TCP, a wedged server) is caught by the heartbeat: a get_state
// every `heartbeatMs`, after which a bridge that says nothing at all for `heartbeatTimeoutMs`
// is given up on. A bridge busy with a long command answers the get_state late, but its
// progress messages show it is alive, so a long flatten never costs the connection.

import { Backoff } from './backoff'
import { CommandSender, realTimers } from './commands'
import type { CommandEvent, Timers } from './commands'
import { parseServerMessage } from './protocol'
import type { ServerMessage } from './protocol'

/** The part of the WebSocket API the client uses (browser WebSocket and the `ws` package both fit). */
export interface SocketLike {
  readonly readyState: number
  send(data: string): void
  close(code?: number, reason?: string): void
  onopen: ((ev: unknown) => void) | null
  onclose: ((ev: unknown) => void) | null
  onerror: ((ev: unknown) => void) | null
  onmessage: ((ev: { data: unknown }) => void) | null
}

const OPEN = 1

export type ConnectionStatus = 'connecting' | 'open' | 'reconnecting' | 'stopped'

export interface ConnectionInfo {
  status: ConnectionStatus
  url: string
  /** Failed attempts since the last good connection. */
  attempt: number
  /** Client-clock ms when the next attempt starts (reconnecting only). */
  retryAt: number | null
  /** Client-clock ms of the last message from the bridge. */
  lastMessageAt: number | null
  /** Why the last connection ended, in words. */
  lastError: string | null
  /** Client-clock ms when the connection was lost (reconnecting only): "disconnected since". */
  downSince: number | null
}

export interface BridgeClientOptions {
  url: string
  onMessage: (msg: ServerMessage) => void
  onStatus: (info: ConnectionInfo) => void
  getToken: () => string | null
  createSocket?: (url: string) => SocketLike
  backoff?: Backoff
  timers?: Timers
  now?: () => number
  /** Send get_state this often while open, to detect a silent bridge; 0 turns it off. */
  heartbeatMs?: number
  /** After a heartbeat, give up on a bridge that sends nothing at all for this long. */
  heartbeatTimeoutMs?: number
  /** Mark a command quiet after this long without progress or answer (it still waits). */
  commandQuietMs?: number
  /** Hears every step of every control command (sent, progress, quiet, answer). */
  onCommandEvent?: (event: CommandEvent) => void
}

export class BridgeClient {
  readonly commands: CommandSender
  private readonly opts: Required<Omit<BridgeClientOptions, 'backoff'>> & { backoff: Backoff }
  private socket: SocketLike | null = null
  private retryTimer: unknown = null
  private heartbeatTimer: unknown = null
  private silenceTimer: unknown = null
  private info: ConnectionInfo

  constructor(options: BridgeClientOptions) {
    this.opts = {
      createSocket: (url) => new WebSocket(url) as unknown as SocketLike,
      backoff: new Backoff(),
      timers: realTimers,
      now: () => Date.now(),
      heartbeatMs: 15_000,
      heartbeatTimeoutMs: 10_000,
      commandQuietMs: 10_000,
      onCommandEvent: () => undefined,
      ...options,
    }
    this.info = { status: 'stopped', url: options.url, attempt: 0, retryAt: null, lastMessageAt: null, lastError: null, downSince: null }
    this.commands = new CommandSender({
      write: (text) => this.write(text),
      getToken: options.getToken,
      quietMs: this.opts.commandQuietMs,
      timers: this.opts.timers,
      onEvent: (e) => this.opts.onCommandEvent(e),
    })
  }

  get connection(): ConnectionInfo {
    return this.info
  }

  /** Open the connection (and keep reopening it until stop()). */
  start(): void {
    if (this.info.status !== 'stopped') return
    this.update({ status: 'connecting', attempt: 0, retryAt: null })
    this.connect()
  }

  /** Close for good: no more reconnects. */
  stop(): void {
    this.clearTimers()
    this.update({ status: 'stopped', retryAt: null })
    const s = this.socket
    this.socket = null
    if (s) {
      detach(s)
      s.close(1000, 'page closed')
    }
    this.commands.failAll('the page closed the connection')
  }

  /** Skip the rest of the backoff delay and try now. */
  retryNow(): void {
    if (this.info.status !== 'reconnecting') return
    this.clearTimers()
    this.update({ retryAt: null })
    this.connect()
  }

  private write(text: string): boolean {
    if (!this.socket || this.socket.readyState !== OPEN) return false
    this.socket.send(text)
    return true
  }

  private connect(): void {
    let socket: SocketLike
    try {
      socket = this.opts.createSocket(this.info.url)
    } catch (e) {
      this.lost(`cannot open ${this.info.url}: ${e instanceof Error ? e.message : String(e)}`)
      return
    }
    this.socket = socket
    socket.onopen = () => {
      if (this.socket !== socket) return
      this.update({ status: 'open', retryAt: null, lastError: null, downSince: null })
      this.scheduleHeartbeat()
    }
    socket.onmessage = (ev) => {
      if (this.socket !== socket || typeof ev.data !== 'string') return
      this.update({ lastMessageAt: this.opts.now() })
      const msg = parseServerMessage(ev.data)
      if (!msg) return
      if (msg.type === 'hello') {
        // A hello proves this is the bridge, not any server on the port: only now is the
        // connection good enough to forget earlier failures.
        this.opts.backoff.reset()
        this.update({ attempt: 0 })
      }
      if ((msg.type === 'ack' || msg.type === 'error' || msg.type === 'progress') && this.commands.handle(msg)) return
      this.opts.onMessage(msg)
    }
    socket.onerror = () => {
      // The browser gives no detail here; the close event that follows does the work.
    }
    socket.onclose = (ev) => {
      if (this.socket !== socket) return
      const code = (ev as { code?: number } | null)?.code
      this.lost(code ? `connection closed (code ${code})` : 'connection closed')
    }
  }

  private lost(reason: string): void {
    if (this.socket) detach(this.socket)
    this.socket = null
    this.clearTimers()
    this.commands.failAll()
    if (this.info.status === 'stopped') return
    const delay = this.opts.backoff.next()
    const now = this.opts.now()
    this.update({
      status: 'reconnecting',
      attempt: this.opts.backoff.attempt,
      retryAt: now + delay,
      lastError: reason,
      // down since the first loss; failed retries do not move it
      downSince: this.info.status === 'reconnecting' && this.info.downSince !== null ? this.info.downSince : now,
    })
    this.retryTimer = this.opts.timers.setTimeout(() => {
      this.retryTimer = null
      this.update({ retryAt: null })
      this.connect()
    }, delay)
  }

  private scheduleHeartbeat(): void {
    if (this.opts.heartbeatMs <= 0) return
    this.heartbeatTimer = this.opts.timers.setTimeout(() => {
      this.heartbeatTimer = null
      const socket = this.socket
      const sentAt = this.opts.now()
      let answered = false
      void this.commands.send('get_state').then(() => {
        answered = true
        if (this.socket !== socket) return
        if (this.silenceTimer !== null) this.opts.timers.clearTimeout(this.silenceTimer)
        this.silenceTimer = null
        this.scheduleHeartbeat()
      })
      this.watchSilence(socket, sentAt, () => answered, this.opts.heartbeatTimeoutMs)
    }, this.opts.heartbeatMs)
  }

  /** Give up on the connection once the bridge has said nothing at all for the timeout since `since`. */
  private watchSilence(socket: SocketLike | null, since: number, answered: () => boolean, wait: number): void {
    this.silenceTimer = this.opts.timers.setTimeout(() => {
      this.silenceTimer = null
      if (this.socket !== socket || answered()) return
      const heard = Math.max(since, this.info.lastMessageAt ?? since)
      const silent = this.opts.now() - heard
      if (silent >= this.opts.heartbeatTimeoutMs) {
        socket?.close(4000, 'heartbeat timed out')
        this.lost('the bridge stopped answering (heartbeat timed out)')
        return
      }
      // it spoke meanwhile (a long command's progress): look again when the silence could reach the bound
      this.watchSilence(socket, since, answered, this.opts.heartbeatTimeoutMs - silent)
    }, wait)
  }

  private clearTimers(): void {
    if (this.retryTimer !== null) this.opts.timers.clearTimeout(this.retryTimer)
    if (this.heartbeatTimer !== null) this.opts.timers.clearTimeout(this.heartbeatTimer)
    if (this.silenceTimer !== null) this.opts.timers.clearTimeout(this.silenceTimer)
    this.retryTimer = null
    this.heartbeatTimer = null
    this.silenceTimer = null
  }

  private update(patch: Partial<ConnectionInfo>): void {
    this.info = { ...this.info, ...patch }
    this.opts.onStatus(this.info)
  }
}

function detach(s: SocketLike): void {
  s.onopen = null
  s.onclose = null
  s.onerror = null
  s.onmessage = null
}
