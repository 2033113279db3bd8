// Kali, the dashboard's mascot: a small round creature whose face says how the loop is doing
// at a glance — happy while trading normally, watchful when reducing or degraded, alarmed when
// halted or failing, asleep when the loop is paused or stopped, unplugged when the bridge is gone.

import type { BridgeState } from '../lib/protocol'

export type Mood = 'happy' | 'watchful' | 'alarmed' | 'sleeping' | 'offline'

export const MOOD_WORDS: Record<Mood, string> = {
  happy: 'all good — trading normally',
  watchful: 'watchful — reducing risk or a check is degraded',
  alarmed: 'alarmed — trading halted or a check failed',
  sleeping: 'asleep — the loop is not running',
  offline: 'unplugged — no live data from the bridge',
}

/** The mood that follows the trading state, the health checks and the connection. */
export function moodFor(state: BridgeState | null, connected: boolean): Mood {
  if (!connected || !state) return 'offline'
  const health = state.health ?? []
  if (state.trading_state === 'HALTED' || health.some((h) => h.status === 'failed')) return 'alarmed'
  if (state.trading_state === 'REDUCING' || health.some((h) => h.status === 'degraded')) return 'watchful'
  if (state.loop?.status !== 'running') return 'sleeping'
  return 'happy'
}

function Eyes({ mood }: { mood: Mood }) {
  switch (mood) {
    case 'happy':
      return (
        <g className="mascot__eyes">
          <path d="M22 30 q4 -5 8 0" />
          <path d="M34 30 q4 -5 8 0" />
        </g>
      )
    case 'sleeping':
      return (
        <g className="mascot__eyes">
          <path d="M22 29 q4 4 8 0" />
          <path d="M34 29 q4 4 8 0" />
        </g>
      )
    case 'offline':
      return (
        <g className="mascot__eyes">
          <path d="M23 26 l6 6 M29 26 l-6 6" />
          <path d="M35 26 l6 6 M41 26 l-6 6" />
        </g>
      )
    case 'alarmed':
      return (
        <g className="mascot__eyes mascot__eyes--filled">
          <circle cx="26" cy="29" r="4.2" />
          <circle cx="38" cy="29" r="4.2" />
          <circle className="mascot__glint" cx="27.3" cy="27.6" r="1.3" />
          <circle className="mascot__glint" cx="39.3" cy="27.6" r="1.3" />
        </g>
      )
    case 'watchful':
      return (
        <g className="mascot__eyes mascot__eyes--filled">
          <circle cx="26" cy="30" r="3" />
          <circle cx="38" cy="30" r="3" />
          <path className="mascot__brow" d="M21 24 l9 1.5 M43 24 l-9 1.5" />
        </g>
      )
  }
}

function Mouth({ mood }: { mood: Mood }) {
  switch (mood) {
    case 'happy':
      return <path className="mascot__mouth" d="M26 38 q6 6 12 0" />
    case 'watchful':
      return <path className="mascot__mouth" d="M27 40 h10" />
    case 'alarmed':
      return <ellipse className="mascot__mouth mascot__mouth--open" cx="32" cy="41" rx="3.2" ry="4" />
    case 'sleeping':
      return <path className="mascot__mouth" d="M29 40 q3 2 6 0" />
    case 'offline':
      return <path className="mascot__mouth" d="M26 42 q6 -5 12 0" />
  }
}

/** The mascot as an SVG image with an accessible name that says its mood. */
export function Mascot({ mood, size = 56, testId = 'mascot' }: { mood: Mood; size?: number; testId?: string }) {
  return (
    <svg
      className={`mascot mascot--${mood}`}
      viewBox="0 0 64 64"
      width={size}
      height={size}
      role="img"
      aria-label={`Mascot: ${MOOD_WORDS[mood]}`}
      data-testid={testId}
      data-mood={mood}
    >
      <title>{MOOD_WORDS[mood]}</title>
      <path className="mascot__ear" d="M14 20 L12 6 L24 14 Z" />
      <path className="mascot__ear" d="M50 20 L52 6 L40 14 Z" />
      <circle className="mascot__body" cx="32" cy="34" r="22" />
      <ellipse className="mascot__belly" cx="32" cy="44" rx="11" ry="7" />
      <Eyes mood={mood} />
      <Mouth mood={mood} />
      {mood === 'happy' ? (
        <g className="mascot__cheeks">
          <circle cx="19" cy="37" r="3" />
          <circle cx="45" cy="37" r="3" />
        </g>
      ) : null}
      {mood === 'alarmed' ? <path className="mascot__drop" d="M50 22 q3 5 0 7 q-3 -2 0 -7 z" /> : null}
      {mood === 'sleeping' ? (
        <text className="mascot__zzz" x="46" y="16">
          z
        </text>
      ) : null}
      {mood === 'offline' ? <path className="mascot__plug" d="M56 50 h6 M58 47 v-3 M60 47 v-3" /> : null}
    </svg>
  )
}
