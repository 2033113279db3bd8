import type { Tone } from './Badge'

/** A status with a coloured dot: loop status, trading state, health, connection. */
export function StatusPill({ label, tone, testId, pulse = false, title }: { label: string; tone: Tone; testId?: string; pulse?: boolean; title?: string }) {
  return (
    <span className={`status-pill status-pill--${tone}`} title={title}>
      <span className={`status-pill__dot${pulse ? ' status-pill__dot--pulse' : ''}`} aria-hidden="true" />
      <span data-testid={testId}>{label}</span>
    </span>
  )
}

export function loopTone(status: string | undefined): Tone {
  return status === 'running' ? 'positive' : status === 'paused' ? 'warning' : 'neutral'
}

export function tradingTone(state: string | undefined): Tone {
  return state === 'ACTIVE' ? 'positive' : state === 'REDUCING' ? 'warning' : state === 'HALTED' ? 'negative' : 'neutral'
}

export function healthTone(status: string | undefined): Tone {
  return status === 'ok' ? 'positive' : status === 'degraded' ? 'warning' : status === 'failed' ? 'negative' : 'neutral'
}
