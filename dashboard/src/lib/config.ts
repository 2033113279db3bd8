// Where the bridge is and whether it takes commands: learned from config.json, which the Python
// HTTP server writes next to index.html. `?ws=` in the page URL overrides it (development).

export interface PageConfig {
  wsUrl: string
  readOnly: boolean
}

export interface PageLocation {
  protocol: string
  hostname: string
  search: string
}

export const DEFAULT_WS_PORT = 8766

/** The bridge URL when config.json says nothing: same host as the page, port 8766. */
export function defaultWsUrl(loc: PageLocation): string {
  const scheme = loc.protocol === 'https:' ? 'wss' : 'ws'
  const host = loc.hostname || '127.0.0.1'
  const bracketed = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host
  return `${scheme}://${bracketed}:${DEFAULT_WS_PORT}/`
}

/** Read config.json (relative to the page) and the URL overrides; never throws. */
export async function loadConfig(
  loc: PageLocation = window.location,
  fetchFn: typeof fetch = (input, init) => fetch(input, init),
): Promise<PageConfig> {
  let wsUrl = defaultWsUrl(loc)
  let readOnly = false
  try {
    const res = await fetchFn('config.json', { cache: 'no-store' })
    if (res.ok) {
      const body: unknown = await res.json()
      if (body && typeof body === 'object') {
        const b = body as { ws_url?: unknown; read_only?: unknown }
        if (typeof b.ws_url === 'string' && b.ws_url) wsUrl = b.ws_url
        if (typeof b.read_only === 'boolean') readOnly = b.read_only
      }
    }
  } catch {
    // No config.json (Vite dev server, a file:// page): the default URL is the right guess.
  }
  const override = new URLSearchParams(loc.search).get('ws')
  if (override) wsUrl = override
  return { wsUrl, readOnly }
}
