import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Backoff } from '../src/lib/backoff'
import { BridgeClient } from '../src/lib/connection'
import type { ConnectionInfo } from '../src/lib/connection'
import type { ServerMessage } from '../src/lib/protocol'
import { FakeSocket, FakeTimers, HELLO, fixtureState } from './helpers'

function client({ heartbeatMs = 0, token = 'tok' as string | null } = {}) {
  const timers = new FakeTimers()
  const messages: ServerMessage[] = []
  const statuses: ConnectionInfo[] = []
  const c = new BridgeClient({
    url: 'ws://127.0.0.1:8766/',
    onMessage: (m) => messages.push(m),
    onStatus: (s) => statuses.push(s),
    getToken: () => token,
    createSocket: (url) => new FakeSocket(url),
    backoff: new Backoff({ initialMs: 500, maxMs: 4000, jitter: 0 }),
    timers,
    now: () => timers.now,
    heartbeatMs,
    heartbeatTimeoutMs: 1000,
    commandQuietMs: 1000,
  })
  return { c, timers, messages, statuses }
}

beforeEach(() => FakeSocket.reset())

describe('BridgeClient', () => {
  it('connects, hands over messages, and reports itself open', () => {
    const { c, messages } = client()
    c.start()
    expect(c.connection.status).toBe('connecting')
    const s = FakeSocket.last()
    expect(s.url).toBe('ws://127.0.0.1:8766/')
    s.open()
    s.receive(HELLO)
    s.receive({ type: 'state', state: fixtureState() })
    expect(c.connection.status).toBe('open')
    expect(messages.map((m) => m.type)).toEqual(['hello', 'state'])
    expect(c.connection.lastMessageAt).toBe(0)
  })

  it('drops frames that are not protocol messages', () => {
    const { c, messages } = client()
    c.start()
    const s = FakeSocket.last()
    s.open()
    s.receive('not json')
    s.receive({ type: 'mystery' })
    s.receive([1, 2])
    expect(messages).toEqual([])
  })

  it('reconnects with growing delays and resets them after a hello', () => {
    const { c, timers } = client()
    c.start()
    FakeSocket.last().drop()
    expect(c.connection).toMatchObject({ status: 'reconnecting', attempt: 1, retryAt: 500, lastError: 'connection closed (code 1006)' })
    timers.advance(499)
    expect(FakeSocket.created).toHaveLength(1)
    timers.advance(1)
    expect(FakeSocket.created).toHaveLength(2)
    FakeSocket.last().drop()
    expect(timers.pending()).toEqual([1000])
    timers.advance(1000)
    FakeSocket.last().drop()
    expect(timers.pending()).toEqual([2000])
    timers.advance(2000)
    const s = FakeSocket.last()
    s.open()
    expect(c.connection.status).toBe('open')
    s.receive(HELLO)
    expect(c.connection.attempt).toBe(0)
    s.drop()
    expect(timers.pending()).toEqual([500])
  })

  it('does not forget failures for an open socket that never says hello', () => {
    const { c, timers } = client()
    c.start()
    FakeSocket.last().drop()
    timers.advance(500)
    FakeSocket.last().open()
    FakeSocket.last().drop()
    expect(timers.pending()).toEqual([1000])
  })

  it('retries at once on request', () => {
    const { c, timers } = client()
    c.start()
    FakeSocket.last().drop()
    c.retryNow()
    expect(FakeSocket.created).toHaveLength(2)
    expect(timers.pending()).toEqual([])
  })

  it('fails pending commands when the connection drops', async () => {
    const { c } = client()
    c.start()
    const s = FakeSocket.last()
    s.open()
    s.receive(HELLO)
    const p = c.commands.send('pause')
    expect(s.commands()).toEqual([{ id: 1, cmd: 'pause', args: {}, token: 'tok' }])
    s.drop()
    await expect(p).resolves.toMatchObject({ ok: false, code: 'disconnected' })
  })

  it('routes acks to the command and keeps them from the message handler', async () => {
    const { c, messages } = client()
    c.start()
    const s = FakeSocket.last()
    s.open()
    const p = c.commands.send('stop')
    s.receive({ type: 'ack', id: 1, ok: true, result: { status: 'stopped' } })
    await expect(p).resolves.toMatchObject({ ok: true, result: { status: 'stopped' } })
    s.receive({ type: 'error', id: null, code: 'bad_message', message: 'huh' })
    expect(messages.map((m) => m.type)).toEqual(['error'])
  })

  it('reconnects when the heartbeat goes unanswered', async () => {
    const { c, timers } = client({ heartbeatMs: 15_000 })
    c.start()
    const s = FakeSocket.last()
    s.open()
    s.receive(HELLO)
    timers.advance(15_000)
    expect(s.commands()).toEqual([{ id: 1, cmd: 'get_state', args: {} }])
    s.receive({ type: 'ack', id: 1, ok: true, result: {} })
    await Promise.resolve()
    await Promise.resolve()
    timers.advance(15_000)
    expect(s.commands()).toHaveLength(2)
    timers.advance(1000)
    await Promise.resolve()
    await Promise.resolve()
    expect(s.closedByClient?.code).toBe(4000)
    expect(c.connection.status).toBe('reconnecting')
    expect(c.connection.lastError).toMatch(/heartbeat/)
  })

  it('keeps a bridge busy with a long command: its progress is proof of life while the heartbeat waits', async () => {
    const { c, timers } = client({ heartbeatMs: 15_000 })
    c.start()
    const s = FakeSocket.last()
    s.open()
    s.receive(HELLO)
    const flatten = c.commands.send('flatten')
    timers.advance(15_000) // the heartbeat's get_state queues behind the flatten on the bridge
    expect(s.commands().map((m) => m.cmd)).toEqual(['flatten', 'get_state'])
    for (let i = 0; i < 30; i++) {
      timers.advance(500)
      s.receive({ type: 'progress', id: 1, ref: 'c1', cmd: 'flatten', status: 'running', elapsed_ms: 15_500 + i * 500, message: 'closing', done: i, total: 72 })
    }
    expect(c.connection.status).toBe('open') // 15 s without a get_state answer, but never silent
    s.receive({ type: 'ack', id: 1, ref: 'c1', ok: true, result: { closed: [], left_open: {} } })
    await expect(flatten).resolves.toMatchObject({ ok: true, ref: 'c1' })
    timers.advance(1000) // now truly silent: the heartbeat gives up
    await Promise.resolve()
    expect(c.connection.status).toBe('reconnecting')
    expect(c.connection.lastError).toMatch(/heartbeat/)
  })

  it('says since when it is disconnected, across failed retries', () => {
    const { c, timers } = client()
    timers.advance(5_000)
    c.start()
    FakeSocket.last().open()
    timers.advance(2_000)
    FakeSocket.last().drop()
    expect(c.connection.downSince).toBe(7_000)
    timers.advance(500)
    FakeSocket.last().drop() // the retry fails too: still down since the first loss
    expect(c.connection.downSince).toBe(7_000)
    timers.advance(1000)
    FakeSocket.last().open()
    expect(c.connection.downSince).toBeNull()
  })

  it('stops for good', () => {
    const { c, timers } = client()
    c.start()
    const s = FakeSocket.last()
    s.open()
    c.stop()
    expect(s.closedByClient?.code).toBe(1000)
    expect(c.connection.status).toBe('stopped')
    timers.advance(60_000)
    expect(FakeSocket.created).toHaveLength(1)
  })
})

describe('BridgeClient against the mock bridge over loopback', () => {
  type Mock = Awaited<ReturnType<typeof import('../scripts/mock-bridge.mjs').startMockBridge>>
  let bridge: Mock | null = null
  let live: BridgeClient | null = null

  afterEach(async () => {
    live?.stop()
    live = null
    await bridge?.close()
    bridge = null
  })

  /** Connect a real client; `next(type)` waits (bounded) for the next message of that type. */
  async function connect(token: string | null, options: { token?: string | null } = {}) {
    const { startMockBridge } = await import('../scripts/mock-bridge.mjs')
    const { WebSocket } = await import('ws')
    bridge = await startMockBridge({ port: 0, token: options.token === undefined ? 'sekrit' : options.token })
    const inbox: ServerMessage[] = []
    const waiters: { type: string; resolve: (m: ServerMessage) => void }[] = []
    const c = new BridgeClient({
      url: bridge.url,
      onMessage: (m) => {
        const w = waiters.findIndex((x) => x.type === m.type)
        if (w >= 0) waiters.splice(w, 1)[0]!.resolve(m)
        else inbox.push(m)
      },
      onStatus: () => undefined,
      getToken: () => token,
      createSocket: (url) => new WebSocket(url) as never,
      backoff: new Backoff({ initialMs: 10, maxMs: 20, jitter: 0 }),
      heartbeatMs: 0,
    })
    live = c
    const next = (type: ServerMessage['type']) => {
      const i = inbox.findIndex((m) => m.type === type)
      if (i >= 0) return Promise.resolve(inbox.splice(i, 1)[0]!)
      return new Promise<ServerMessage>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no ${type} message within 3 s`)), 3000)
        waiters.push({ type, resolve: (m) => (clearTimeout(t), resolve(m)) })
      })
    }
    c.start()
    return { c, next }
  }

  it('gets hello and state, sends commands with the token, and matches their answers', async () => {
    const { c, next } = await connect('sekrit')
    expect(await next('hello')).toMatchObject({ type: 'hello', protocol: 1, token_required: true })
    expect(await next('state')).toMatchObject({ state: { loop: { status: 'running', iteration: 31 } } })
    expect(await c.commands.send('pause')).toMatchObject({ ok: true, result: { status: 'paused' } })
    expect(await next('state')).toMatchObject({ state: { loop: { status: 'paused' } } })
    expect(await c.commands.send('pause')).toMatchObject({ ok: false, code: 'refused' })
    expect(await c.commands.send('halt', {})).toMatchObject({ ok: false, code: 'invalid_args' })
  })

  it('refuses control commands without the right token but answers get_state', async () => {
    const { c, next } = await connect('wrong')
    await next('state')
    expect(await c.commands.send('stop')).toMatchObject({ ok: false, code: 'unauthorized' })
    expect(await c.commands.send('get_state')).toMatchObject({ ok: true, result: {} })
    expect(await next('state')).toMatchObject({ type: 'state' })
  })

  it('streams records for an iteration, then the new state', async () => {
    const { next } = await connect(null)
    await next('state')
    bridge!.step()
    expect(await next('record')).toMatchObject({ record: { kind: 'opportunity' } })
    expect(await next('state')).toMatchObject({ state: { loop: { iteration: 32 }, account: { equity: '1016.2500' } } })
  })

  it('comes back by itself after the bridge drops the connection', async () => {
    const { c, next } = await connect(null)
    await next('hello')
    await next('state')
    bridge!.dropClients()
    expect(await next('hello')).toMatchObject({ type: 'hello' })
    expect(c.connection.attempt).toBe(0)
  })
})
