// Exact display of kalashi's decimal strings ("0.4500", "10.00", "-12.345600").
//
// Money, prices and counts never pass through parseFloat on their way to the screen: a float
// turns "0.1 + 0.2" into 0.30000000000000004 and rounds 1.005 down. Values are parsed into a
// BigInt of digits and a scale, rounded half away from zero in that form, and printed back.
// Only chart geometry (toPlotNumber) converts to a float, because pixels need one.

/** A decimal as sign, digits and scale: value = (neg ? -1 : 1) * digits / 10^scale. */
export interface Dec {
  readonly neg: boolean
  readonly digits: bigint
  readonly scale: number
}

/** What the page shows for a value it does not know. */
export const DASH = '—'

const DECIMAL_RE = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/

/** Parse a decimal string (or a JSON number) exactly; null when absent or not a number. */
export function parseDecimal(value: unknown): Dec | null {
  let text: string
  if (typeof value === 'string') text = value.trim()
  else if (typeof value === 'number' && Number.isFinite(value)) text = String(value)
  else if (typeof value === 'bigint') text = value.toString()
  else return null
  const m = DECIMAL_RE.exec(text)
  if (!m) return null
  const [, sign, whole = '', frac = '', exp] = m
  if (whole === '' && frac === '') return null
  let digits = BigInt((whole + frac) || '0')
  let scale = frac.length - (exp ? Number(exp) : 0)
  if (scale < 0) {
    digits *= 10n ** BigInt(-scale)
    scale = 0
  }
  return { neg: sign === '-' && digits !== 0n, digits, scale }
}

/** -1, 0 or 1 for the exact value of a decimal string; null when unknown. */
export function signOf(value: unknown): -1 | 0 | 1 | null {
  const d = parseDecimal(value)
  if (!d) return null
  if (d.digits === 0n) return 0
  return d.neg ? -1 : 1
}

/** Round to `places` decimals, halves away from zero (how a trader rounds cents). */
export function roundDec(d: Dec, places: number): Dec {
  if (d.scale <= places) {
    return { neg: d.neg, digits: d.digits * 10n ** BigInt(places - d.scale), scale: places }
  }
  const div = 10n ** BigInt(d.scale - places)
  let q = d.digits / div
  const r = d.digits % div
  if (r * 2n >= div) q += 1n
  return { neg: d.neg, digits: q, scale: places }
}

/** Move the decimal point: shift(d, 2) multiplies by 100 exactly. */
export function shiftDec(d: Dec, places: number): Dec {
  if (places <= d.scale) return { ...d, scale: d.scale - places }
  return { ...d, digits: d.digits * 10n ** BigInt(places - d.scale), scale: 0 }
}

function splitDigits(d: Dec): [string, string] {
  const s = d.digits.toString().padStart(d.scale + 1, '0')
  return [s.slice(0, s.length - d.scale), s.slice(s.length - d.scale)]
}

function groupThousands(whole: string): string {
  return whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',')
}

interface PlainOptions {
  places?: number
  trim?: boolean
  group?: boolean
}

/** Print the magnitude of a decimal without sign: fixed places, optional trimming and grouping. */
function magnitude(d: Dec, { places, trim = false, group = true }: PlainOptions): string {
  const r = places === undefined ? d : roundDec(d, places)
  let [whole, frac] = splitDigits(r)
  if (trim) frac = frac.replace(/0+$/, '')
  if (group) whole = groupThousands(whole)
  return frac ? `${whole}.${frac}` : whole
}

function signPrefix(d: Dec, signed: boolean): string {
  if (d.digits === 0n) return ''
  if (d.neg) return '-'
  return signed ? '+' : ''
}

export interface FormatOptions {
  /** Decimal places to round to (exactly). */
  places?: number
  /** Show "+" on positive values (P&L). */
  signed?: boolean
}

/** Format a money string in dollars: "1234.5678" -> "$1,234.57"; "-0.5" -> "-$0.50". */
export function formatMoney(value: unknown, { places = 2, signed = false }: FormatOptions = {}): string {
  const d = parseDecimal(value)
  if (!d) return DASH
  return `${signPrefix(d, signed)}$${magnitude(d, { places })}`
}

/** Format a price (dollars per contract) in cents, as Kalshi quotes: "0.4500" -> "45¢", "0.4550" -> "45.5¢". */
export function formatPrice(value: unknown): string {
  const d = parseDecimal(value)
  if (!d) return DASH
  return `${signPrefix(d, false)}${magnitude(shiftDec(d, 2), { trim: true })}¢`
}

/** Format a price in dollars as given to four places: "0.45" -> "$0.4500". */
export function formatPriceDollars(value: unknown): string {
  const d = parseDecimal(value)
  if (!d) return DASH
  return `${signPrefix(d, false)}$${magnitude(d, { places: Math.max(4, d.scale), group: false })}`
}

/** Format a contract count, dropping trailing zeros: "10.00" -> "10", "2.50" -> "2.5". */
export function formatCount(value: unknown, { signed = false }: FormatOptions = {}): string {
  const d = parseDecimal(value)
  if (!d) return DASH
  return `${signPrefix(d, signed)}${magnitude(d, { trim: true })}`
}

/** Format a value that is already a percent: "12.5" -> "12.50%". */
export function formatPercent(value: unknown, { places = 2, signed = false }: FormatOptions = {}): string {
  const d = parseDecimal(value)
  if (!d) return DASH
  return `${signPrefix(d, signed)}${magnitude(d, { places })}%`
}

/** Format a fraction 0..1 as a percent: "0.5500" -> "55.0%". */
export function formatRate(value: unknown, { places = 1, signed = false }: FormatOptions = {}): string {
  const d = parseDecimal(value)
  if (!d) return DASH
  return `${signPrefix(d, signed)}${magnitude(shiftDec(d, 2), { places })}%`
}

/** Format a plain quantity (latency, ratio, score), rounded when `places` is given. */
export function formatNumber(value: unknown, { places, signed = false }: FormatOptions = {}): string {
  const d = parseDecimal(value)
  if (!d) return DASH
  return `${signPrefix(d, signed)}${magnitude(d, { places, trim: places === undefined })}`
}

/** Format an integer counter ("iteration 42"); non-integers are shown exactly. */
export function formatInt(value: unknown): string {
  const d = parseDecimal(value)
  if (!d) return DASH
  return `${signPrefix(d, false)}${magnitude(d, { trim: true })}`
}

/** Compare two decimal values exactly; unknown values sort first. */
export function compareDecimal(a: unknown, b: unknown): number {
  const x = parseDecimal(a)
  const y = parseDecimal(b)
  if (!x || !y) return (x ? 1 : 0) - (y ? 1 : 0)
  const scale = Math.max(x.scale, y.scale)
  const xv = toScaled(x, scale)
  const yv = toScaled(y, scale)
  return xv < yv ? -1 : xv > yv ? 1 : 0
}

/** Tone for colouring a signed value: from the exact string, never from a rounded float. */
export function toneOf(value: unknown): 'positive' | 'negative' | 'neutral' {
  const s = signOf(value)
  return s === 1 ? 'positive' : s === -1 ? 'negative' : 'neutral'
}

/** Convert to a float for chart geometry only (pixels), never for a number shown as text. */
export function toPlotNumber(value: unknown): number | null {
  const d = parseDecimal(value)
  if (!d) return null
  const [whole, frac] = splitDigits(d)
  const n = Number(`${d.neg ? '-' : ''}${whole}.${frac || '0'}`)
  return Number.isFinite(n) ? n : null
}

function toScaled(d: Dec, scale: number): bigint {
  return (d.neg ? -1n : 1n) * d.digits * 10n ** BigInt(scale - d.scale)
}

function fromScaled(v: bigint, scale: number): string {
  const neg = v < 0n
  const [whole, frac] = splitDigits({ neg, digits: neg ? -v : v, scale })
  return `${neg ? '-' : ''}${whole}${frac ? `.${frac}` : ''}`
}

/** Subtract exactly: "10.00" - "2.50" -> "7.50" (scale of the finer operand); null if either is unknown. */
export function subtractDecimal(a: unknown, b: unknown): string | null {
  const x = parseDecimal(a)
  const y = parseDecimal(b)
  if (!x || !y) return null
  const scale = Math.max(x.scale, y.scale)
  return fromScaled(toScaled(x, scale) - toScaled(y, scale), scale)
}

/** Add exactly: "1.50" + "-0.2500" -> "1.2500"; null if either is unknown. */
export function addDecimal(a: unknown, b: unknown): string | null {
  const x = parseDecimal(a)
  const y = parseDecimal(b)
  if (!x || !y) return null
  const scale = Math.max(x.scale, y.scale)
  return fromScaled(toScaled(x, scale) + toScaled(y, scale), scale)
}

/** Multiply exactly: "0.4200" × "12.00" -> "5.040000"; null if either is unknown. */
export function multiplyDecimal(a: unknown, b: unknown): string | null {
  const x = parseDecimal(a)
  const y = parseDecimal(b)
  if (!x || !y) return null
  return fromScaled(toScaled(x, x.scale) * toScaled(y, y.scale), x.scale + y.scale)
}

/** The exact sum of decimal strings; unknown values are skipped and counted. */
export function sumDecimals(values: unknown[]): { sum: string; unknown: number } {
  let sum = '0'
  let unknown = 0
  for (const v of values) {
    const next = addDecimal(sum, v)
    if (next === null) unknown += 1
    else sum = next
  }
  return { sum, unknown }
}
