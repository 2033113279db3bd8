// Long commands on the page: progress while they run, a late answer still shown with what stayed
// open and why, a result that missed its connection brought by the bridge's command log.

import { act, cleanup, fireEvent, render, screen, within } from '@testing-library/react'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { App } from '../src/App'
import { reduceActivity, describeResult } from '../src/lib/activity'
import type { Activity } from '../src/lib/activity'
import { Backoff } from '../src/lib/backoff'
import type { CommandLogEntry } from '../src/lib/protocol'
import { TOKEN_KEY } from '../src/lib/token'
import { ThemeProvider } from '../src/theme/ThemeContext'
import { FakeSocket, FakeTimers, HELLO, fixtureState } from './helpers'

const LEFT = Object.fromEntries(Array.from({ length: 19 }, (_, i) => [`KXT-${53 + i}`, 'no bid within the 5.0% slippage bound']))
const FLATTENED = { canceled_orders: 3, closing_orders: 53, closed: Array.from({ length: 53 }, (_, i) => `KXT-${i}`), left_open: LEFT }

function logEntry(patch: Partial<CommandLogEntry>): CommandLogEntry {
  return {
    ref: 'c1',
    cmd: 'flatten',
    args: {},
    status: 'running',
    started: '2026-11-25T14:00:00Z',
    finished: null,
    elapsed_ms: 1000,
    progress: null,
    result: null,
    error: null,
    ...patch,
  }
}

describe('reduceActivity', () => {
  it('follows a command from sent to its late answer', () => {
    let list: Activity[] = []
    list = reduceActivity(list, { type: 'event', at: 5, event: { type: 'sent', id: 1, cmd: 'flatten', args: {} } })
    expect(list[0]).toMatchObject({ key: 'local:1', status: 'sending', mine: true })
    list = reduceActivity(list, {
      type: 'event',
      at: 6,
      event: { type: 'progress', id: 1, msg: { type: 'progress', id: 1, ref: 'c1', cmd: 'flatten', status: 'running', elapsed_ms: 900, message: 'KXT-52: closed', done: 53, total: 72 } },
    })
    expect(list[0]).toMatchObject({ ref: 'c1', status: 'running', progress: { done: 53, total: 72 } })
    list = reduceActivity(list, { type: 'event', at: 7, event: { type: 'quiet', id: 1, cmd: 'flatten', quietMs: 10_000 } })
    expect(list[0]!.quietMs).toBe(10_000)
    list = reduceActivity(list, { type: 'event', at: 8, event: { type: 'answer', outcome: { ok: true, id: 1, cmd: 'flatten', ref: 'c1', result: FLATTENED } } })
    expect(list[0]).toMatchObject({ status: 'done', quietMs: null, result: FLATTENED })
    // the state after it repeats the log: nothing changes, nothing doubles
    list = reduceActivity(list, { type: 'log', entries: [logEntry({ status: 'done', result: FLATTENED, finished: '2026-11-25T14:02:00Z' })] })
    expect(list).toHaveLength(1)
    expect(describeResult('flatten', list[0]!.result)).toBe('3 resting orders cancelled, 53 positions closed, 19 left open')
  })

  it('lists commands other pages sent, from the log', () => {
    const list = reduceActivity([], { type: 'log', entries: [logEntry({ ref: 'c4', cmd: 'halt', args: { reason: 'ops' }, status: 'done', result: { trading_state: 'HALTED', canceled_orders: 2 } })] })
    expect(list).toEqual([expect.objectContaining({ key: 'c4', mine: false, status: 'done', cmd: 'halt' })])
  })
})

afterEach(cleanup)
beforeEach(() => {
  FakeSocket.reset()
  window.sessionStorage.clear()
  window.sessionStorage.setItem(TOKEN_KEY, 'sekrit')
  window.location.hash = ''
})

function setup() {
  const timers = new FakeTimers()
  render(
    <ThemeProvider>
      <App
        config={{ wsUrl: 'ws://127.0.0.1:8766/', readOnly: false }}
        clientOptions={{ createSocket: (url) => new FakeSocket(url), timers, now: () => timers.now, heartbeatMs: 0, backoff: new Backoff({ initialMs: 1000, jitter: 0 }) }}
      />
    </ThemeProvider>,
  )
  const s = FakeSocket.last()
  act(() => {
    s.open()
    s.receive(HELLO)
    s.receive({ type: 'state', state: { ...fixtureState(), profiles: ['aggressive', 'conservative', 'default'] } })
  })
  return { s, timers }
}

function flatten(s: FakeSocket) {
  fireEvent.click(screen.getByTestId('btn-flatten'))
  fireEvent.click(screen.getByTestId('btn-flatten-confirm'))
  expect(s.commands().at(-1)).toMatchObject({ cmd: 'flatten' })
  return s.commands().at(-1)!.id
}

const command = () => screen.getAllByTestId('command')[0]!

describe('a long flatten on the page', () => {
  it('shows its progress, waits past 10 s of silence, and shows the late answer with what stayed open and why', async () => {
    const { s, timers } = setup()
    const id = flatten(s)
    act(() => s.receive({ type: 'progress', id, ref: 'c1', cmd: 'flatten', status: 'running', elapsed_ms: 2000, message: 'KXT-52: closed', done: 53, total: 72 }))
    expect(command().getAttribute('data-status')).toBe('running')
    expect(within(command()).getByTestId('command-status').textContent).toBe('running 53/72')
    expect(within(command()).getByTestId('command-progress').textContent).toContain('KXT-52: closed')
    // while it runs only Halt may be sent (the bridge queues it behind the flatten)
    expect((screen.getByTestId('btn-pause') as HTMLButtonElement).disabled).toBe(true)
    expect((screen.getByTestId('btn-halt') as HTMLButtonElement).disabled).toBe(false)
    act(() => timers.advance(10_000))
    expect(within(command()).getByTestId('command-quiet').textContent).toContain('No word from the bridge for 10 s')
    expect(screen.queryByText(/timeout/i)).toBeNull()
    act(() => timers.advance(50_000))
    await act(async () => s.receive({ type: 'ack', id, ref: 'c1', ok: true, result: FLATTENED }))
    expect(command().getAttribute('data-status')).toBe('done')
    expect(within(command()).queryByTestId('command-quiet')).toBeNull()
    expect(within(command()).getByTestId('command-result').textContent).toBe('3 resting orders cancelled, 53 positions closed, 19 left open')
    const left = within(command()).getByTestId('left-open').querySelectorAll('li')
    expect(left).toHaveLength(19)
    expect(left[0]!.textContent).toBe('KXT-53 — no bid within the 5.0% slippage bound')
    const toast = screen.getAllByTestId('toast').at(-1)!
    expect(toast.textContent).toContain('Flatten: done')
    expect(toast.textContent).toContain('19 left open')
  })

  it('keeps a result that missed its connection: the bridge’s log brings it after the reconnect', async () => {
    const { s, timers } = setup()
    const id = flatten(s)
    act(() => s.receive({ type: 'progress', id, ref: 'c1', cmd: 'flatten', status: 'running', elapsed_ms: 500, message: 'closing 72 position(s)', done: 0, total: 72 }))
    await act(async () => s.drop(1006))
    expect(command().getAttribute('data-status')).toBe('lost')
    expect(screen.getAllByTestId('toast').at(-1)!.textContent).toContain('Flatten: no answer yet')
    act(() => timers.advance(1000))
    const again = FakeSocket.last()
    expect(again).not.toBe(s)
    act(() => {
      again.open()
      again.receive(HELLO)
      again.receive({ type: 'state', state: { ...fixtureState(), commands: [logEntry({ status: 'done', result: FLATTENED, finished: '2026-11-25T14:02:00Z', elapsed_ms: 120_000 })] } })
    })
    expect(screen.getAllByTestId('command')).toHaveLength(1)
    expect(command().getAttribute('data-status')).toBe('done')
    expect(within(command()).getAllByTestId('left-open')[0]!.querySelectorAll('li')).toHaveLength(19)
    expect(screen.getAllByTestId('toast').at(-1)!.textContent).toContain('Flatten (sent before the connection dropped): done')
  })
})

describe('switching profiles', () => {
  it('picks from the bridge’s list and asks before switching', () => {
    const { s } = setup()
    const select = screen.getByTestId('profile-select') as HTMLSelectElement
    expect([...select.options].map((o) => o.value)).toEqual(['aggressive', 'conservative', 'default'])
    expect(select.value).toBe('default')
    expect((screen.getByTestId('btn-set-profile') as HTMLButtonElement).disabled).toBe(true)
    fireEvent.change(select, { target: { value: 'conservative' } })
    fireEvent.click(screen.getByTestId('btn-set-profile'))
    const dialog = screen.getByTestId('dialog-profile')
    expect(dialog.textContent).toContain('from profile default to conservative')
    expect(s.commands()).toEqual([])
    fireEvent.click(within(dialog).getByText('Cancel'))
    expect(s.commands()).toEqual([])
    fireEvent.click(screen.getByTestId('btn-set-profile'))
    fireEvent.click(screen.getByTestId('btn-set-profile-confirm'))
    expect(s.commands()).toEqual([{ id: 1, cmd: 'set_profile', args: { name: 'conservative' }, token: 'sekrit' }])
  })
})
