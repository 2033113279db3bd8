// Says plainly when the numbers on the page stop being live, and when the next try is.

import { useEffect, useState } from 'react'
import type { ConnectionInfo } from '../lib/connection'
import { Button } from './Button'
import { TimeStamp } from './TimeStamp'

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

/** How long ago, in words: "12 s", "3 min", "2 h 5 min". */
export function durationWords(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000))
  if (s < 60) return `${s} s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m} min`
  return `${Math.floor(m / 60)} h ${m % 60} min`
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
    text = `Reconnecting ${when} (attempt ${info.attempt}).`
  }
  const down = info.status === 'reconnecting' && info.downSince !== null ? info.downSince : null
  return (
    <div className={`connection-banner connection-banner--${info.status}`} role="alert" data-testid="connection-banner">
      <div>
        {info.status === 'reconnecting' ? (
          <strong>
            Disconnected from the bridge at {info.url}
            {down !== null ? (
              <>
                {' '}
                since <TimeStamp ts={down} clock="wall" testId="down-since" /> ({durationWords(now() - down)})
              </>
            ) : null}
            .{' '}
          </strong>
        ) : null}
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
