import { describe, expect, it } from 'vitest'
import {
  DASH,
  compareDecimal,
  formatCount,
  formatInt,
  formatMoney,
  formatNumber,
  formatPercent,
  formatPrice,
  formatPriceDollars,
  formatRate,
  parseDecimal,
  signOf,
  subtractDecimal,
  toPlotNumber,
  toneOf,
} from '../src/lib/decimal'

describe('parseDecimal', () => {
  it('keeps every digit of a decimal string', () => {
    expect(parseDecimal('0.4500')).toEqual({ neg: false, digits: 4500n, scale: 4 })
    expect(parseDecimal('-12.345678')).toEqual({ neg: true, digits: 12345678n, scale: 6 })
    expect(parseDecimal('123456789012345678901.25')?.digits).toBe(12345678901234567890125n)
  })

  it('reads JSON numbers and exponents exactly as printed', () => {
    expect(parseDecimal(42)).toEqual({ neg: false, digits: 42n, scale: 0 })
    expect(parseDecimal('1e3')).toEqual({ neg: false, digits: 1000n, scale: 0 })
    expect(parseDecimal('2.5e-3')).toEqual({ neg: false, digits: 25n, scale: 4 })
  })

  it('treats negative zero as zero and rejects what is not a number', () => {
    expect(parseDecimal('-0.0000')?.neg).toBe(false)
    for (const bad of [null, undefined, '', 'abc', '1.2.3', '--1', NaN, Infinity, {}, true]) expect(parseDecimal(bad)).toBeNull()
  })
})

describe('formatMoney', () => {
  it('rounds half away from zero on the exact value, never through a float', () => {
    // 1.005 as a float is 1.00499999999999989...; Number.prototype.toFixed gives "1.00".
    expect((1.005).toFixed(2)).toBe('1.00')
    expect(formatMoney('1.005')).toBe('$1.01')
    expect(formatMoney('-1.005')).toBe('-$1.01')
    expect(formatMoney('0.004999')).toBe('$0.00')
    expect(formatMoney('2.675')).toBe('$2.68')
  })

  it('groups thousands and keeps huge values exact', () => {
    expect(formatMoney('1234567.891')).toBe('$1,234,567.89')
    expect(formatMoney('98765432109876543210.12')).toBe('$98,765,432,109,876,543,210.12')
  })

  it('shows the sign from the string, with + only when asked', () => {
    expect(formatMoney('12.3', { signed: true })).toBe('+$12.30')
    expect(formatMoney('-0.5', { signed: true })).toBe('-$0.50')
    expect(formatMoney('0.0000', { signed: true })).toBe('$0.00')
    expect(formatMoney('-0.0000', { signed: true })).toBe('$0.00')
    expect(formatMoney('12.3')).toBe('$12.30')
  })

  it('can show more places for fees and edges', () => {
    expect(formatMoney('0.165', { places: 4 })).toBe('$0.1650')
    expect(formatMoney('0.123456', { places: 4 })).toBe('$0.1235')
  })

  it('shows a dash for unknown values', () => {
    expect(formatMoney(null)).toBe(DASH)
    expect(formatMoney(undefined)).toBe(DASH)
    expect(formatMoney('n/a')).toBe(DASH)
  })
})

describe('prices, counts, percents and rates', () => {
  it('shows prices in cents as Kalshi does, keeping sub-cent ticks', () => {
    expect(formatPrice('0.4500')).toBe('45¢')
    expect(formatPrice('0.4550')).toBe('45.5¢')
    expect(formatPrice('0.0010')).toBe('0.1¢')
    expect(formatPrice('1.0000')).toBe('100¢')
    expect(formatPrice('0.0000')).toBe('0¢')
    expect(formatPriceDollars('0.45')).toBe('$0.4500')
    expect(formatPriceDollars('0.123456')).toBe('$0.123456')
  })

  it('drops trailing zeros from counts but keeps fractional contracts', () => {
    expect(formatCount('10.00')).toBe('10')
    expect(formatCount('2.50')).toBe('2.5')
    expect(formatCount('1234.01')).toBe('1,234.01')
    expect(formatCount('-3.00', { signed: true })).toBe('-3')
  })

  it('formats percents (already ×100) and rates (fractions) exactly', () => {
    expect(formatPercent('12.5')).toBe('12.50%')
    expect(formatPercent('1.8200')).toBe('1.82%')
    expect(formatPercent('0.125', { places: 3 })).toBe('0.125%')
    expect(formatRate('0.5500')).toBe('55.0%')
    expect(formatRate('0.6111')).toBe('61.1%')
    expect(formatRate('0.00005', { places: 2 })).toBe('0.01%')
    expect(formatRate('1')).toBe('100.0%')
  })

  it('formats measurements as given or rounded, and integers as integers', () => {
    expect(formatNumber('42.512', { places: 1 })).toBe('42.5')
    expect(formatNumber(12)).toBe('12')
    expect(formatNumber('0.094402')).toBe('0.094402')
    expect(formatNumber('13.30')).toBe('13.3')
    expect(formatInt(31)).toBe('31')
    expect(formatInt(12345)).toBe('12,345')
    expect(formatInt(null)).toBe(DASH)
  })
})

describe('comparison, sign and arithmetic', () => {
  it('compares across scales exactly', () => {
    expect(compareDecimal('0.1', '0.10')).toBe(0)
    expect(compareDecimal('0.116289', '0.1152')).toBe(1)
    expect(compareDecimal('-1', '0.0001')).toBe(-1)
    expect(compareDecimal('100000000000000000000.01', '100000000000000000000.02')).toBe(-1)
    expect(compareDecimal(null, '1')).toBe(-1)
  })

  it('takes sign and tone from the string', () => {
    expect(signOf('-0.0001')).toBe(-1)
    expect(signOf('0.0000')).toBe(0)
    expect(signOf('-0')).toBe(0)
    expect(signOf('x')).toBeNull()
    expect(toneOf('-0.30')).toBe('negative')
    expect(toneOf('0.76')).toBe('positive')
    expect(toneOf(null)).toBe('neutral')
  })

  it('subtracts exactly at the finer scale', () => {
    expect(subtractDecimal('20.00', '8.00')).toBe('12.00')
    expect(subtractDecimal('0.3', '0.1')).toBe('0.2')
    expect(subtractDecimal('1015.0000', '1000')).toBe('15.0000')
    expect(subtractDecimal('1', '1.25')).toBe('-0.25')
    expect(subtractDecimal('1', null)).toBeNull()
  })

  it('converts to a float only for plotting', () => {
    expect(toPlotNumber('1015.0000')).toBe(1015)
    expect(toPlotNumber('-0.5')).toBe(-0.5)
    expect(toPlotNumber('')).toBeNull()
  })
})
