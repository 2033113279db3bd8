import { describe, expect, it } from 'vitest'
import { CommandSender, isControlCommand } from '../src/lib/commands'
import { FakeTimers } from './helpers'

function sender(token: string | null = 'sekrit', open = true) {
  const frames: string[] = []
  const timers = new FakeTimers()
  const s = new CommandSender({ write: (t) => (open ? (frames.push(t), true) : false), getToken: () => token, timeoutMs: 5000, timers })
  return { s, frames, timers, sent: () => frames.map((f) => JSON.parse(f)) }
}

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
    await expect(a).resolves.toEqual({ ok: true, id: 1, cmd: 'pause', result: { status: 'paused' } })
    await expect(b).resolves.toEqual({ ok: false, id: 2, cmd: 'set_profile', code: 'invalid_args', message: 'no such profile' })
    expect(s.inFlight).toBe(0)
  })

  it('ignores answers it did not ask for', () => {
    const { s } = sender()
    void s.send('pause')
    expect(s.handle({ type: 'ack', id: 7, ok: true, result: {} })).toBe(false)
    expect(s.handle({ type: 'error', id: null, code: 'bad_message', message: 'x' })).toBe(false)
    expect(s.inFlight).toBe(1)
  })

  it('times out a command the bridge never answers, and ignores a late answer', async () => {
    const { s, timers } = sender()
    const p = s.send('stop')
    timers.advance(4999)
    expect(s.inFlight).toBe(1)
    timers.advance(1)
    await expect(p).resolves.toMatchObject({ ok: false, code: 'timeout', cmd: 'stop' })
    expect(s.handle({ type: 'ack', id: 1, ok: true, result: {} })).toBe(false)
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
