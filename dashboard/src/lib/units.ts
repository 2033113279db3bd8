// Percents and ratios: ONE rule for every such field in the protocol and on the page
// (docs/bridge-protocol.md §2 "Percents and ratios"). Every share the page shows is formatted by
// formatShare(field, value), which reads the unit from the field's name:
//
//   * `pct` as a word of the name (max_drawdown_pct, slippage_pct, cap_pct, pct_of_equity) — a
//     percent already multiplied by 100: "12.5" is 12.5 %;
//   * `rate`, `ratio` or `fraction` as the last word (win_rate, fill_rate, hit_rate,
//     kelly_fraction), and confidence, liquidity, p — a ratio 0..1: "0.125" is 12.5 %;
//   * the one exception, held here and nowhere else: `edge_pct` of opportunity and candidate
//     records is a ratio (edge ÷ all-in cost per basket), because docs/records.md defines it so and
//     the record contract does not change for the page. "0.7778" is 77.78 %.

import { DASH, formatPercent, formatRate } from './decimal'

export type ShareUnit = 'percent' | 'ratio'

/** Names that say `pct` but carry a ratio (the record contract's, docs/records.md "Units"). */
export const RATIO_NAMED_PCT: ReadonlySet<string> = new Set(['edge_pct'])

const RATIO_NAMES: ReadonlySet<string> = new Set(['confidence', 'liquidity', 'p'])

/** The unit of a field by its name (a dotted path uses its last part); null when it is no share. */
export function shareUnit(field: string): ShareUnit | null {
  const name = field.split('.').pop() ?? field
  if (RATIO_NAMED_PCT.has(name)) return 'ratio'
  if (/(^|_)pct(_|$)/.test(name)) return 'percent'
  if (/(^|_)(rate|ratio|fraction)$/.test(name) || RATIO_NAMES.has(name)) return 'ratio'
  return null
}

export interface ShareFormat {
  places?: number
  signed?: boolean
}

/** Format a percent or ratio field as a percent, by the one rule above; "—" when unknown. */
export function formatShare(field: string, value: unknown, { places = 2, signed = false }: ShareFormat = {}): string {
  switch (shareUnit(field)) {
    case 'percent':
      return formatPercent(value, { places, signed })
    case 'ratio':
      return formatRate(value, { places, signed })
    case null:
      return DASH
  }
}
