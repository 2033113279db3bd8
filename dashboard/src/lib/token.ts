// The control token: typed by the user or passed once as ?token= in the page URL, then kept in
// sessionStorage (gone when the tab closes) and removed from the address bar so it is not
// bookmarked, shared or left in history.

export const TOKEN_KEY = 'kalashi.bridge.token'

function storage(): Storage | null {
  try {
    return window.sessionStorage
  } catch {
    return null
  }
}

/** Take ?token= from the URL into sessionStorage and strip it from the address bar. */
export function adoptTokenFromUrl(): void {
  const url = new URL(window.location.href)
  const token = url.searchParams.get('token')
  if (token === null) return
  if (token) storage()?.setItem(TOKEN_KEY, token)
  url.searchParams.delete('token')
  window.history.replaceState(window.history.state, '', url.toString())
}

/** The stored token, or null. */
export function readToken(): string | null {
  return storage()?.getItem(TOKEN_KEY) || null
}

/** Store (or, with an empty string, forget) the token. */
export function writeToken(token: string): void {
  const s = storage()
  if (!s) return
  if (token) s.setItem(TOKEN_KEY, token)
  else s.removeItem(TOKEN_KEY)
}
