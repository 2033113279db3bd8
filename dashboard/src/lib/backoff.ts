// Exponential backoff with jitter for reconnecting to the bridge.
//
// Jitter spreads reconnects from several open tabs after a bridge restart. The random source is
// injectable so tests see exact delays.

export interface BackoffOptions {
  /** First delay, in ms. */
  initialMs?: number
  /** Longest delay, in ms. */
  maxMs?: number
  /** Growth per failed attempt. */
  factor?: number
  /** Fraction of the delay that may be shaved off at random (0 = none). */
  jitter?: number
  /** Uniform [0, 1) source; Math.random by default. */
  random?: () => number
}

export class Backoff {
  readonly initialMs: number
  readonly maxMs: number
  readonly factor: number
  readonly jitter: number
  private readonly random: () => number
  private failures = 0

  constructor({ initialMs = 500, maxMs = 30_000, factor = 2, jitter = 0.2, random = Math.random }: BackoffOptions = {}) {
    if (initialMs <= 0 || maxMs < initialMs || factor < 1 || jitter < 0 || jitter >= 1) {
      throw new RangeError('backoff needs 0 < initialMs <= maxMs, factor >= 1 and 0 <= jitter < 1')
    }
    this.initialMs = initialMs
    this.maxMs = maxMs
    this.factor = factor
    this.jitter = jitter
    this.random = random
  }

  /** How many delays have been handed out since the last reset. */
  get attempt(): number {
    return this.failures
  }

  /** The delay before the next attempt, in whole ms; each call counts one more failure. */
  next(): number {
    const base = Math.min(this.maxMs, this.initialMs * this.factor ** this.failures)
    this.failures += 1
    return Math.round(base * (1 - this.jitter * this.random()))
  }

  /** Start again from the first delay (after a successful connection). */
  reset(): void {
    this.failures = 0
  }
}
