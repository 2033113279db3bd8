// A labelled number. Values arrive as kalashi's decimal strings and are formatted exactly
// (lib/decimal); the tooltip shows the exact value as sent.

import {
  DASH,
  formatCount,
  formatInt,
  formatMoney,
  formatNumber,
  formatPrice,
  toneOf,
} from '../lib/decimal'
import { formatShare, shareUnit } from '../lib/units'

/** `share`: a percent or ratio field, formatted by the one rule of lib/units (needs `field`). */
export type StatKind = 'money' | 'price' | 'count' | 'share' | 'int' | 'number' | 'text'

export interface NumProps {
  value: unknown
  kind: StatKind
  /** Show "+" for gains and colour by sign. */
  signed?: boolean
  places?: number
  /** For kind `share`: the protocol field the value is (`win_rate`, `edge_pct` …), which decides its unit. */
  field?: string
  /** A unit after the number (" ms"). */
  unit?: string
  testId?: string
}

/** Format a value of the given kind exactly; "—" when unknown. */
export function formatValue(
  value: unknown,
  kind: StatKind,
  { signed = false, places, field = '' }: { signed?: boolean; places?: number; field?: string } = {},
): string {
  switch (kind) {
    case 'money':
      return formatMoney(value, { signed, places })
    case 'price':
      return formatPrice(value)
    case 'count':
      return formatCount(value, { signed })
    case 'share':
      return formatShare(field, value, { signed, places })
    case 'int':
      return formatInt(value)
    case 'number':
      return formatNumber(value, { signed, places })
    case 'text':
      return typeof value === 'string' && value ? value : DASH
  }
}

/** An inline number: exact formatting, sign colour for signed values. */
export function Num({ value, kind, signed = false, places, field, unit, testId }: NumProps) {
  const text = formatValue(value, kind, { signed, places, field })
  const tone = signed ? toneOf(value) : 'neutral'
  const raw = value === null || value === undefined ? undefined : String(value)
  const share = kind === 'share' && field ? { 'data-field': field, 'data-unit': shareUnit(field) ?? 'unknown' } : {}
  return (
    <span className={`num num--${tone}`} data-testid={testId} title={raw} data-raw={raw} {...share}>
      {text}
      {unit && text !== DASH ? <span className="num__unit">{unit}</span> : null}
    </span>
  )
}

export interface StatProps extends NumProps {
  label: string
  /** Larger figure for the headline number of a card. */
  big?: boolean
  /** Take a whole row of the stat grid (for long text such as a source description). */
  wide?: boolean
  hint?: string
}

/** A label above a number. Text values stay on one line, cut with an ellipsis; the whole value is the tooltip. */
export function Stat({ label, big = false, wide = false, hint, ...num }: StatProps) {
  const classes = ['stat', big ? 'stat--big' : '', wide ? 'stat--wide' : '', num.kind === 'text' ? 'stat--text' : '']
  return (
    <div className={classes.filter(Boolean).join(' ')}>
      <div className="stat__label" title={hint}>
        {label}
      </div>
      <div className="stat__value">
        <Num {...num} />
      </div>
    </div>
  )
}
