// A hand-drawn SVG line chart of the equity curve. Floats are used only for pixel positions;
// the labels are the exact decimal strings from the bridge.

import { compareDecimal, formatMoney, toPlotNumber } from '../lib/decimal'
import { TimeStamp } from './TimeStamp'

export interface EquityPoint {
  ts: string
  equity: string
}

const W = 600
const H = 180
const PAD = { top: 12, right: 8, bottom: 22, left: 8 }

/** The SVG path of the curve and its filled area, in a W×H box. */
export function equityPaths(points: EquityPoint[]): { line: string; area: string } | null {
  const ys = points.map((p) => toPlotNumber(p.equity))
  const valid = ys.filter((y): y is number => y !== null)
  if (valid.length < 2) return null
  const min = Math.min(...valid)
  const max = Math.max(...valid)
  const span = max - min || 1
  const innerW = W - PAD.left - PAD.right
  const innerH = H - PAD.top - PAD.bottom
  const coords: [number, number][] = []
  ys.forEach((y, i) => {
    if (y === null) return
    const x = PAD.left + (innerW * i) / (points.length - 1)
    const py = PAD.top + innerH - ((y - min) / span) * innerH
    coords.push([x, py])
  })
  const line = coords.map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${x.toFixed(1)},${y.toFixed(1)}`).join(' ')
  const first = coords[0]!
  const last = coords[coords.length - 1]!
  const base = (H - PAD.bottom).toFixed(1)
  const area = `${line} L${last[0].toFixed(1)},${base} L${first[0].toFixed(1)},${base} Z`
  return { line, area }
}

export function EquityChart({ points, loading = false }: { points: EquityPoint[]; loading?: boolean }) {
  const paths = equityPaths(points)
  if (!paths) {
    return (
      <div className="chart-empty" data-testid="equity-chart-empty" data-loading={loading ? 'true' : undefined}>
        {loading ? 'Waiting for the first state from the bridge…' : 'The equity curve appears after two iterations.'}
      </div>
    )
  }
  let lo = points[0]!
  let hi = points[0]!
  for (const p of points) {
    if (compareDecimal(p.equity, lo.equity) < 0) lo = p
    if (compareDecimal(p.equity, hi.equity) > 0) hi = p
  }
  const first = points[0]!
  const last = points[points.length - 1]!
  const trend = compareDecimal(last.equity, first.equity)
  const tone = trend > 0 ? 'positive' : trend < 0 ? 'negative' : 'neutral'
  const label = `Equity from ${formatMoney(first.equity)} to ${formatMoney(last.equity)} over ${points.length} points; low ${formatMoney(lo.equity)}, high ${formatMoney(hi.equity)}`
  return (
    <figure className={`equity-chart equity-chart--${tone}`} data-testid="equity-chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={label} preserveAspectRatio="none">
        <defs>
          <linearGradient id="equity-fill" x1="0" x2="0" y1="0" y2="1">
            <stop offset="0%" className="equity-chart__stop-top" />
            <stop offset="100%" className="equity-chart__stop-bottom" />
          </linearGradient>
        </defs>
        <line className="equity-chart__axis" x1={PAD.left} x2={W - PAD.right} y1={H - PAD.bottom} y2={H - PAD.bottom} />
        <path className="equity-chart__area" d={paths.area} fill="url(#equity-fill)" />
        <path className="equity-chart__line" d={paths.line} vectorEffect="non-scaling-stroke" />
      </svg>
      <figcaption className="equity-chart__labels">
        <TimeStamp ts={first.ts} clock="wall" />
        <span>
          low <strong data-testid="equity-low">{formatMoney(lo.equity)}</strong> · high{' '}
          <strong data-testid="equity-high">{formatMoney(hi.equity)}</strong>
        </span>
        <TimeStamp ts={last.ts} clock="wall" />
      </figcaption>
    </figure>
  )
}
