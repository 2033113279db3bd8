import { beforeEach, describe, expect, it } from 'vitest'
import { defaultWsUrl, loadConfig } from '../src/lib/config'
import { TOKEN_KEY, adoptTokenFromUrl, readToken, writeToken } from '../src/lib/token'

const loc = (over: Partial<{ protocol: string; hostname: string; search: string }> = {}) => ({
  protocol: 'http:',
  hostname: '127.0.0.1',
  search: '',
  ...over,
})

function fetchReturning(status: number, body: unknown): typeof fetch {
  return (async () => new Response(JSON.stringify(body), { status })) as typeof fetch
}

describe('config', () => {
  it('defaults to the page host on port 8766', () => {
    expect(defaultWsUrl(loc())).toBe('ws://127.0.0.1:8766/')
    expect(defaultWsUrl(loc({ hostname: 'localhost' }))).toBe('ws://localhost:8766/')
    expect(defaultWsUrl(loc({ protocol: 'https:', hostname: '::1' }))).toBe('wss://[::1]:8766/')
    expect(defaultWsUrl(loc({ hostname: '' }))).toBe('ws://127.0.0.1:8766/')
  })

  it('reads ws_url and read_only from config.json', async () => {
    const c = await loadConfig(loc(), fetchReturning(200, { ws_url: 'ws://127.0.0.1:9999/', read_only: true }))
    expect(c).toEqual({ wsUrl: 'ws://127.0.0.1:9999/', readOnly: true })
  })

  it('falls back to the default when config.json is missing, broken or partial', async () => {
    expect(await loadConfig(loc(), fetchReturning(404, {}))).toEqual({ wsUrl: 'ws://127.0.0.1:8766/', readOnly: false })
    const throwing = (async () => {
      throw new TypeError('network')
    }) as typeof fetch
    expect(await loadConfig(loc(), throwing)).toEqual({ wsUrl: 'ws://127.0.0.1:8766/', readOnly: false })
    expect(await loadConfig(loc(), fetchReturning(200, { read_only: 'yes' }))).toEqual({ wsUrl: 'ws://127.0.0.1:8766/', readOnly: false })
  })

  it('lets ?ws= override the bridge URL', async () => {
    const c = await loadConfig(loc({ search: '?ws=ws%3A%2F%2F127.0.0.1%3A4000%2F' }), fetchReturning(200, { ws_url: 'ws://x/' }))
    expect(c.wsUrl).toBe('ws://127.0.0.1:4000/')
  })
})

describe('token', () => {
  beforeEach(() => {
    window.sessionStorage.clear()
    window.history.replaceState(null, '', '/')
  })

  it('takes ?token= into sessionStorage and removes it from the address bar', () => {
    window.history.replaceState(null, '', '/?token=abc&ws=x#/journal')
    adoptTokenFromUrl()
    expect(readToken()).toBe('abc')
    expect(window.sessionStorage.getItem(TOKEN_KEY)).toBe('abc')
    expect(window.location.search).toBe('?ws=x')
    expect(window.location.hash).toBe('#/journal')
  })

  it('stores and forgets the token', () => {
    expect(readToken()).toBeNull()
    writeToken('t1')
    expect(readToken()).toBe('t1')
    writeToken('')
    expect(readToken()).toBeNull()
  })
})
