import { act, cleanup, fireEvent, render, screen, within } from '@testing-library/react'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { App, routeOf } from '../src/App'
import { accessFrom, controlBlock } from '../src/cards/LoopCard'
import { Backoff } from '../src/lib/backoff'
import type { BridgeClientOptions } from '../src/lib/connection'
import { TOKEN_KEY } from '../src/lib/token'
import { THEME_KEY, ThemeProvider } from '../src/theme/ThemeContext'
import { FakeSocket, FakeTimers, HELLO, fixtureIterations, fixtureState } from './helpers'

const CONFIG = { wsUrl: 'ws://127.0.0.1:8766/', readOnly: false }

function setup(options: Partial<BridgeClientOptions> = {}) {
  const timers = new FakeTimers()
  const clientOptions: Partial<BridgeClientOptions> = {
    createSocket: (url) => new FakeSocket(url),
    timers,
    now: () => timers.now,
    heartbeatMs: 0,
    backoff: new Backoff({ initialMs: 1000, jitter: 0 }),
    ...options,
  }
  const view = render(
    <ThemeProvider>
      <App config={CONFIG} clientOptions={clientOptions} />
    </ThemeProvider>,
  )
  return { view, timers, socket: () => FakeSocket.last() }
}

function connect(hello: object = HELLO) {
  const s = FakeSocket.last()
  act(() => {
    s.open()
    s.receive(hello)
    s.receive({ type: 'state', state: fixtureState() })
  })
  return s
}

const text = (id: string) => screen.getByTestId(id).textContent
const button = (id: string) => screen.getByTestId(id) as HTMLButtonElement

beforeEach(() => {
  FakeSocket.reset()
  window.sessionStorage.clear()
  window.localStorage.clear()
  window.location.hash = ''
})
afterEach(cleanup)

describe('App', () => {
  it('shows dashes and "connecting" until the bridge answers, then the real numbers', () => {
    setup()
    expect(text('connection-status')).toBe('connecting')
    expect(text('equity')).toBe('—')
    expect(screen.getByTestId('connection-banner').textContent).toContain('Connecting to the bridge at ws://127.0.0.1:8766/')
    connect()
    expect(text('connection-status')).toBe('live')
    expect(screen.queryByTestId('connection-banner')).toBeNull()
    expect(text('equity')).toBe('$1,015.00')
    expect(text('iteration')).toBe('31')
    expect(text('loop-status')).toBe('running')
    expect(text('trading-state')).toBe('ACTIVE')
    expect(text('profile')).toBe('default')
  })

  it('moves with live records', () => {
    setup()
    const s = connect()
    act(() => {
      for (const record of fixtureIterations()[0]!) s.receive({ type: 'record', record })
    })
    expect(text('iteration')).toBe('32')
    expect(text('equity')).toBe('$1,016.25')
    expect(text('iteration-duration')).toBe('180 ms')
  })

  it('disables controls with a reason until a token is entered, then sends it with the command', () => {
    setup()
    const s = connect()
    expect(button('btn-pause').disabled).toBe(true)
    expect(button('btn-pause').title).toBe('Enter the control token to send commands.')
    expect(text('controls-blocked')).toBe('Enter the control token to send commands.')
    fireEvent.change(screen.getByTestId('token-input'), { target: { value: 'sekrit' } })
    fireEvent.click(screen.getByTestId('btn-save-token'))
    expect(window.sessionStorage.getItem(TOKEN_KEY)).toBe('sekrit')
    expect(button('btn-pause').disabled).toBe(false)
    expect(button('btn-start').disabled).toBe(true)
    expect(button('btn-start').title).toBe('The loop is already running.')
    fireEvent.click(button('btn-pause'))
    expect(s.commands()).toEqual([{ id: 1, cmd: 'pause', args: {}, token: 'sekrit' }])
  })

  it('shows the ack and the new state, and an error as a toast', async () => {
    window.sessionStorage.setItem(TOKEN_KEY, 'sekrit')
    setup()
    const s = connect()
    fireEvent.click(button('btn-pause'))
    const paused = fixtureState()
    paused.loop.status = 'paused'
    await act(async () => {
      s.receive({ type: 'ack', id: 1, ok: true, result: { status: 'paused' } })
      s.receive({ type: 'state', state: paused })
    })
    expect(text('loop-status')).toBe('paused')
    expect(screen.getAllByTestId('toast').map((t) => t.textContent)).toEqual([expect.stringContaining('Pause: done')])
    fireEvent.click(button('btn-stop'))
    await act(async () => {
      s.receive({ type: 'error', id: 2, code: 'unauthorized', message: 'the control token is wrong' })
    })
    const toasts = screen.getAllByTestId('toast')
    expect(toasts.at(-1)!.getAttribute('data-tone')).toBe('negative')
    expect(toasts.at(-1)!.textContent).toContain('the control token is wrong')
  })

  it('asks for a reason before halting', () => {
    window.sessionStorage.setItem(TOKEN_KEY, 'sekrit')
    setup()
    const s = connect()
    fireEvent.click(button('btn-halt'))
    const dialog = screen.getByTestId('dialog-halt')
    expect((within(dialog).getByTestId('btn-halt-confirm') as HTMLButtonElement).disabled).toBe(true)
    fireEvent.change(within(dialog).getByTestId('halt-reason-input'), { target: { value: 'Fed surprise' } })
    fireEvent.click(within(dialog).getByTestId('btn-halt-confirm'))
    expect(screen.queryByTestId('dialog-halt')).toBeNull()
    expect(s.commands()).toEqual([{ id: 1, cmd: 'halt', args: { reason: 'Fed surprise' }, token: 'sekrit' }])
  })

  it('asks for confirmation before flattening, and sends nothing on cancel', () => {
    window.sessionStorage.setItem(TOKEN_KEY, 'sekrit')
    setup()
    const s = connect()
    fireEvent.click(button('btn-flatten'))
    expect(screen.getByTestId('dialog-flatten').textContent).toContain('close all 3 open positions')
    fireEvent.click(within(screen.getByTestId('dialog-flatten')).getByText('Cancel'))
    expect(s.commands()).toEqual([])
    fireEvent.click(button('btn-flatten'))
    fireEvent.click(screen.getByTestId('btn-flatten-confirm'))
    expect(s.commands()).toEqual([{ id: 1, cmd: 'flatten', args: {}, token: 'sekrit' }])
  })

  it('offers to clear a halt when starting a halted loop', () => {
    window.sessionStorage.setItem(TOKEN_KEY, 'sekrit')
    setup()
    const s = connect()
    const halted = fixtureState()
    halted.trading_state = 'HALTED'
    halted.halt_reason = 'manual: news'
    halted.loop.status = 'stopped'
    act(() => s.receive({ type: 'state', state: halted }))
    fireEvent.click(button('btn-start'))
    expect(screen.getByTestId('dialog-resume').textContent).toContain('manual: news')
    fireEvent.click(screen.getByTestId('btn-start-clear-halt'))
    expect(s.commands()).toEqual([{ id: 1, cmd: 'start', args: { clear_halt: true }, token: 'sekrit' }])
  })

  it('needs no token when the bridge says so, and none at all when read-only', () => {
    setup()
    connect({ ...HELLO, token_required: false })
    expect(button('btn-pause').disabled).toBe(false)
    expect(screen.queryByTestId('token-input')).toBeNull()
    cleanup()
    FakeSocket.reset()
    setup()
    connect({ ...HELLO, read_only: true })
    expect(button('btn-pause').disabled).toBe(true)
    expect(text('controls-blocked')).toContain('read-only')
  })

  it('shows a lost connection plainly, keeps the last numbers, and reconnects', () => {
    window.sessionStorage.setItem(TOKEN_KEY, 'sekrit')
    const { timers } = setup()
    const s = connect()
    const lostAt = Date.parse('2026-11-25T14:03:27Z')
    timers.advance(lostAt)
    act(() => s.drop(1006))
    expect(text('connection-status')).toBe('disconnected')
    const banner = screen.getByTestId('connection-banner').textContent
    expect(banner).toContain('Disconnected from the bridge at ws://127.0.0.1:8766/ since ')
    expect(banner).toContain('Reconnecting in 1 s (attempt 1).')
    // since when, on which clock: this computer's wall clock
    const since = screen.getByTestId('down-since')
    expect(since.getAttribute('datetime')).toBe('2026-11-25T14:03:27.000Z')
    expect(since.getAttribute('data-clock')).toBe('wall')
    expect(since.textContent).toMatch(/^2026-11-25 \d\d:03:27 wall$/)
    expect(banner).toContain('not updating')
    expect(text('equity')).toBe('$1,015.00')
    expect(button('btn-pause').disabled).toBe(true)
    expect(screen.getByTestId('main-view').className).toContain('bento--stale')
    expect(screen.getByTestId('mascot').getAttribute('data-mood')).toBe('offline')
    act(() => timers.advance(1000))
    expect(FakeSocket.created).toHaveLength(2)
    connect()
    expect(text('connection-status')).toBe('live')
    expect(button('btn-pause').disabled).toBe(false)
  })

  it('retries at once from the banner', () => {
    setup()
    const s = connect()
    act(() => s.drop())
    fireEvent.click(screen.getByTestId('btn-reconnect'))
    expect(FakeSocket.created).toHaveLength(2)
  })

  it('shows the journal view with filters', () => {
    setup()
    connect()
    act(() => {
      window.location.hash = '#/journal'
      window.dispatchEvent(new HashChangeEvent('hashchange'))
    })
    const rows = () => within(screen.getByTestId('journal-table')).getAllByRole('row').slice(1)
    expect(rows()).toHaveLength(10)
    fireEvent.change(screen.getByTestId('filter-ticker'), { target: { value: 'kxpres' } })
    expect(rows()).toHaveLength(3)
    fireEvent.change(screen.getByTestId('filter-ticker'), { target: { value: '' } })
    fireEvent.change(screen.getByTestId('filter-strategy'), { target: { value: 'value' } })
    // value orders and the fills of those orders (fills take the strategy of their order)
    expect(rows()).toHaveLength(6)
    fireEvent.change(screen.getByTestId('filter-kind'), { target: { value: 'fill' } })
    expect(rows().every((r) => r.getAttribute('data-kind') === 'fill')).toBe(true)
  })

  it('shows the style guide in both themes and remembers the theme choice', () => {
    setup()
    act(() => {
      window.location.hash = '#/style'
      window.dispatchEvent(new HashChangeEvent('hashchange'))
    })
    expect(screen.getByTestId('style-guide-light')).toBeTruthy()
    expect(screen.getByTestId('style-guide-dark')).toBeTruthy()
    for (const mood of ['happy', 'watchful', 'alarmed', 'sleeping', 'offline']) expect(screen.getAllByTestId(`mascot-${mood}`)).toHaveLength(2)
    const before = document.documentElement.dataset.theme
    fireEvent.click(screen.getByTestId('btn-theme'))
    const after = document.documentElement.dataset.theme
    expect(after).not.toBe(before)
    expect(window.localStorage.getItem(THEME_KEY)).toBe(after)
  })
})

describe('routing and access', () => {
  it('maps hashes to views', () => {
    expect(routeOf('')).toBe('main')
    expect(routeOf('#/journal')).toBe('journal')
    expect(routeOf('#journal')).toBe('journal')
    expect(routeOf('#/style')).toBe('style')
    expect(routeOf('#/nope')).toBe('main')
  })

  it('explains the first reason commands cannot be sent', () => {
    expect(controlBlock(accessFrom(null, false, true, 't'))).toMatch(/Not connected/)
    expect(controlBlock(accessFrom(HELLO, true, true, 't'))).toMatch(/read-only/)
    expect(controlBlock(accessFrom(HELLO, false, true, null))).toMatch(/token/)
    expect(controlBlock(accessFrom({ ...HELLO, token_required: false }, false, true, null))).toBeNull()
    expect(controlBlock(accessFrom(HELLO, false, true, 't'))).toBeNull()
  })
})
