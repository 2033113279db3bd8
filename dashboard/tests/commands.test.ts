import { describe, expect, it } from 'vitest'
import { CommandSender, isControlCommand } from '../src/lib/commands'
import type { CommandEvent, CommandOutcome } from '../src/lib/commands'
import { FakeTimers } from './helpers'

function sender(token: string | null = 'sekrit', open = true) {
  const frames: string[] = []
  const timers = new FakeTimers()
  const events: CommandEvent[] = []
  const s = new CommandSender({
    write: (t) => (open ? (frames.push(t), true) : false),
    getToken: () => token,
    quietMs: 10_000,
    timers,
    onEvent: (e) => events.push(e),
  })
  return { s, frames, timers, events, sent: () => frames.map((f) => JSON.parse(f)) }
}

const progress = (id: number, done: number) =>
  ({ type: 'progress', id, ref: 'c7', cmd: 'flatten', status: 'running', elapsed_ms: done * 100, message: `KXT-${done}: closed`, done, total: 72 }) as const

describe('CommandSender', () => {
  it('numbers commands and attaches the token to control commands', () => {
    const { s, sent } = sender('sekrit')
    void s.send('pause')
    void s.send('halt', { reason: 'news' })
    expect(sent()).toEqual([
      { id: 1, cmd: 'pause', args: {}, token: 'sekrit' },
      { id: 2, cmd: 'halt', args: { reason: 'news' }, token: 'sekrit' },
    ])
  })

  it('never sends the token with get_state, and omits it when there is none', () => {
    const { s, sent } = sender('sekrit')
    void s.send('get_state')
    expect(sent()[0]).toEqual({ id: 1, cmd: 'get_state', args: {} })
    const other = sender(null)
    void other.s.send('start')
    expect(other.sent()[0]).toEqual({ id: 1, cmd: 'start', args: {} })
    expect(isControlCommand('flatten')).toBe(true)
    expect(isControlCommand('get_state')).toBe(false)
  })

  it('matches acks and errors to their command by id, in any order', async () => {
    const { s } = sender()
    const a = s.send('pause')
    const b = s.send('set_profile', { name: 'aggressive' })
    expect(s.inFlight).toBe(2)
    expect(s.handle({ type: 'error', id: 2, code: 'invalid_args', message: 'no such profile' })).toBe(true)
    expect(s.handle({ type: 'ack', id: 1, ok: true, result: { status: 'paused' } })).toBe(true)
    await expect(a).resolves.toEqual({ ok: true, id: 1, cmd: 'pause', ref: undefined, result: { status: 'paused' } })
    await expect(b).resolves.toEqual({ ok: false, id: 2, cmd: 'set_profile', ref: undefined, code: 'invalid_args', message: 'no such profile' })
    expect(s.inFlight).toBe(0)
  })

  it('ignores answers it did not ask for', () => {
    const { s } = sender()
    void s.send('pause')
    expect(s.handle({ type: 'ack', id: 7, ok: true, result: {} })).toBe(false)
    expect(s.handle({ type: 'error', id: null, code: 'bad_message', message: 'x' })).toBe(false)
    expect(s.inFlight).toBe(1)
  })

  it('never throws a slow command away: after 10 s of silence it is only marked quiet, and the late answer is taken', async () => {
    // the reported case: a flatten that ran for minutes, closed 53 positions and left 19 open
    const { s, timers, events } = sender()
    let outcome: CommandOutcome | null = null
    void s.send('flatten').then((o) => (outcome = o))
    timers.advance(10_000)
    await Promise.resolve()
    expect(outcome).toBeNull()
    expect(s.inFlight).toBe(1)
    expect(events.map((e) => e.type)).toEqual(['sent', 'quiet'])
    timers.advance(110_000)
    const left = Object.fromEntries(Array.from({ length: 19 }, (_, i) => [`KXT-${53 + i}`, 'no bid within the 5.0% slippage bound']))
    expect(s.handle({ type: 'ack', id: 1, ref: 'c7', ok: true, result: { canceled_orders: 3, closing_orders: 53, closed: [], left_open: left } })).toBe(true)
    await Promise.resolve()
    expect(outcome).toMatchObject({ ok: true, ref: 'c7', result: { left_open: left } })
    expect(events.at(-1)).toMatchObject({ type: 'answer', outcome: { ok: true, ref: 'c7' } })
  })

  it('hands progress to the page and starts the quiet clock again with each message', () => {
    const { s, timers, events } = sender()
    void s.send('flatten')
    timers.advance(9_000)
    expect(s.handle(progress(1, 1))).toBe(true)
    timers.advance(9_000)
    expect(s.handle(progress(1, 2))).toBe(true)
    timers.advance(9_999)
    expect(events.map((e) => e.type)).toEqual(['sent', 'progress', 'progress'])
    timers.advance(1)
    expect(events.at(-1)).toMatchObject({ type: 'quiet', id: 1, quietMs: 10_000 })
    expect(s.handle(progress(2, 1))).toBe(false) // progress for a command we did not send
  })

  it('puts no quiet clock on get_state and tells the page nothing of it', () => {
    const { s, timers, events } = sender()
    void s.send('get_state')
    timers.advance(60_000)
    expect(events).toEqual([])
    expect(timers.pending()).toEqual([])
  })

  it('fails at once when the socket is not open, and fails pending commands on disconnect', async () => {
    const closed = sender('t', false)
    await expect(closed.s.send('start')).resolves.toMatchObject({ ok: false, code: 'not_connected' })
    const { s, timers } = sender()
    const p = s.send('flatten')
    s.failAll()
    await expect(p).resolves.toMatchObject({ ok: false, code: 'disconnected', cmd: 'flatten' })
    expect(timers.pending()).toEqual([])
  })
})
