import { describe, expect, it } from 'vitest'
import { Backoff } from '../src/lib/backoff'

describe('Backoff', () => {
  it('doubles from the first delay up to the cap', () => {
    const b = new Backoff({ initialMs: 500, maxMs: 8000, jitter: 0 })
    expect(Array.from({ length: 7 }, () => b.next())).toEqual([500, 1000, 2000, 4000, 8000, 8000, 8000])
    expect(b.attempt).toBe(7)
  })

  it('starts over after a reset', () => {
    const b = new Backoff({ initialMs: 250, jitter: 0 })
    b.next()
    b.next()
    b.reset()
    expect(b.attempt).toBe(0)
    expect(b.next()).toBe(250)
  })

  it('shaves at most the jitter fraction, from the injected random source', () => {
    const rolls = [0, 0.5, 0.999]
    const b = new Backoff({ initialMs: 1000, factor: 1, jitter: 0.2, random: () => rolls.shift() ?? 0 })
    expect([b.next(), b.next(), b.next()]).toEqual([1000, 900, 800])
  })

  it('never goes below (1 - jitter) of the base or above the cap', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 30_000, jitter: 0.3, random: Math.random })
    for (let i = 0; i < 50; i++) {
      const base = Math.min(30_000, 100 * 2 ** i)
      const d = b.next()
      expect(d).toBeLessThanOrEqual(base)
      expect(d).toBeGreaterThanOrEqual(Math.floor(base * 0.7))
    }
  })

  it('refuses settings that would never back off', () => {
    expect(() => new Backoff({ initialMs: 0 })).toThrow(RangeError)
    expect(() => new Backoff({ initialMs: 10, maxMs: 5 })).toThrow(RangeError)
    expect(() => new Backoff({ jitter: 1 })).toThrow(RangeError)
  })
})
