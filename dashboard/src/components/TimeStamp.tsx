// A time that says which clock it is on (lib/time): "14:03:27 wall", "2026-01-01 12:17:40 sim".

import { DASH } from '../lib/decimal'
import { CLOCK_WORDS, formatWhen, timeMs } from '../lib/time'
import type { ClockKind } from '../lib/time'

export interface TimeStampProps {
  ts: unknown
  clock: ClockKind
  /** "today" for choosing time of day vs date and time (tests pin it). */
  today?: number
  testId?: string
}

export function TimeStamp({ ts, clock, today, testId }: TimeStampProps) {
  const t = typeof ts === 'number' ? ts : timeMs(ts)
  if (t === null) return <span data-testid={testId}>{DASH}</span>
  const iso = new Date(t).toISOString()
  return (
    <time className="ts" dateTime={iso} data-clock={clock} data-testid={testId} title={`${iso} — ${CLOCK_WORDS[clock]}`}>
      {formatWhen(t, today)} <span className="ts__clock">{clock}</span>
    </time>
  )
}
