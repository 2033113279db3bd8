// Test doubles: a socket the test drives by hand, timers the test advances, and the fixtures.

import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Timers } from '../src/lib/commands'
import type { SocketLike } from '../src/lib/connection'
import type { AnyRecord, BridgeState } from '../src/lib/protocol'

const FIXTURES = join(__dirname, '..', 'fixtures')

/** A fresh copy of the fixture state (tests may change it freely). */
export function fixtureState(): BridgeState {
  return JSON.parse(readFileSync(join(FIXTURES, 'state-paper.json'), 'utf8')) as BridgeState
}

/** The fixture records, one list per iteration. */
export function fixtureIterations(): AnyRecord[][] {
  return (JSON.parse(readFileSync(join(FIXTURES, 'records.json'), 'utf8')) as { iterations: AnyRecord[][] }).iterations
}

/** Timers that run only when the test advances them. */
export class FakeTimers implements Timers {
  now = 0
  private seq = 0
  private readonly queue = new Map<number, { at: number; fn: () => void }>()

  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq
    this.queue.set(id, { at: this.now + ms, fn })
    return id
  }

  clearTimeout(handle: unknown): void {
    this.queue.delete(handle as number)
  }

  /** Pending timer delays from now, soonest first. */
  pending(): number[] {
    return [...this.queue.values()].map((t) => t.at - this.now).sort((a, b) => a - b)
  }

  /** Move the clock forward, running every timer that falls due, in order. */
  advance(ms: number): void {
    const until = this.now + ms
    for (;;) {
      const due = [...this.queue.entries()].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0]
      if (!due) break
      this.queue.delete(due[0])
      this.now = due[1].at
      due[1].fn()
    }
    this.now = until
  }
}

/** A WebSocket stand-in: the test opens it, feeds it frames and closes it. */
export class FakeSocket implements SocketLike {
  static created: FakeSocket[] = []
  readyState = 0
  sent: string[] = []
  closedByClient: { code?: number; reason?: string } | null = null
  onopen: ((ev: unknown) => void) | null = null
  onclose: ((ev: unknown) => void) | null = null
  onerror: ((ev: unknown) => void) | null = null
  onmessage: ((ev: { data: unknown }) => void) | null = null

  constructor(readonly url: string) {
    FakeSocket.created.push(this)
  }

  static reset(): void {
    FakeSocket.created = []
  }

  static last(): FakeSocket {
    const s = FakeSocket.created[FakeSocket.created.length - 1]
    if (!s) throw new Error('no socket was created')
    return s
  }

  send(data: string): void {
    if (this.readyState !== 1) throw new Error('send on a socket that is not open')
    this.sent.push(data)
  }

  close(code?: number, reason?: string): void {
    this.closedByClient = { code, reason }
    this.readyState = 3
  }

  /** The server accepted the connection. */
  open(): void {
    this.readyState = 1
    this.onopen?.({})
  }

  /** A frame from the server. */
  receive(msg: unknown): void {
    this.onmessage?.({ data: typeof msg === 'string' ? msg : JSON.stringify(msg) })
  }

  /** The connection dropped (or never opened). */
  drop(code = 1006): void {
    this.readyState = 3
    this.onclose?.({ code })
  }

  /** Commands the page sent, parsed. */
  commands(): { id: number; cmd: string; token?: string; args: Record<string, unknown> }[] {
    return this.sent.map((s) => JSON.parse(s))
  }
}

export const HELLO = { type: 'hello', protocol: 1, server: 'kalashi-test 0.0.0', read_only: false, token_required: true } as const
