// Says plainly when the numbers on the page stop being live, and when the next try is.

import { useEffect, useState } from 'react'
import type { ConnectionInfo } from '../lib/connection'
import { Button } from './Button'

export function connectionLabel(info: ConnectionInfo | null): string {
  if (!info) return 'loading'
  switch (info.status) {
    case 'open':
      return 'live'
    case 'connecting':
      return 'connecting'
    case 'reconnecting':
      return 'disconnected'
    case 'stopped':
      return 'closed'
  }
}

/** Seconds until `at` on the client clock, refreshed every second. */
function useCountdown(at: number | null, now: () => number): number | null {
  const [, tick] = useState(0)
  useEffect(() => {
    if (at === null) return
    const h = setInterval(() => tick((n) => n + 1), 1000)
    return () => clearInterval(h)
  }, [at])
  return at === null ? null : Math.max(0, Math.ceil((at - now()) / 1000))
}

export interface ConnectionBannerProps {
  info: ConnectionInfo | null
  hasData: boolean
  onRetry: () => void
  /** The clock retryAt is on (the bridge client's). */
  now?: () => number
}

/** Nothing while live; otherwise a banner that says what is wrong and when the next try is. */
export function ConnectionBanner({ info, hasData, onRetry, now = () => Date.now() }: ConnectionBannerProps) {
  const seconds = useCountdown(info?.status === 'reconnecting' ? info.retryAt : null, now)
  if (!info || info.status === 'open') return null
  let text: string
  if (info.status === 'connecting') text = `Connecting to the bridge at ${info.url}…`
  else if (info.status === 'stopped') text = 'Connection closed.'
  else {
    const when = info.retryAt === null ? 'now' : `in ${seconds ?? 0} s`
    text = `Disconnected from the bridge at ${info.url}. Reconnecting ${when} (attempt ${info.attempt}).`
  }
  return (
    <div className={`connection-banner connection-banner--${info.status}`} role="alert" data-testid="connection-banner">
      <div>
        <strong>{text}</strong>
        {info.lastError && info.status === 'reconnecting' ? <span className="connection-banner__why"> {info.lastError}.</span> : null}
        {hasData && info.status !== 'connecting' ? (
          <div className="connection-banner__stale">The numbers below are the last ones received and are not updating.</div>
        ) : null}
      </div>
      {info.status === 'reconnecting' ? (
        <Button variant="secondary" onClick={onRetry} testId="btn-reconnect">
          Retry now
        </Button>
      ) : null}
    </div>
  )
}
