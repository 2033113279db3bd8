// One rule for every percent and ratio (docs/bridge-protocol.md §2, src/lib/units.ts), checked
// against every field the protocol's schemas name and every share the page shows.

import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { act, cleanup, render } from '@testing-library/react'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { App } from '../src/App'
import { Backoff } from '../src/lib/backoff'
import { formatShare, shareUnit } from '../src/lib/units'
import { ThemeProvider } from '../src/theme/ThemeContext'
import { FakeSocket, FakeTimers, HELLO, fixtureIterations, fixtureState } from './helpers'

const ROOT = join(__dirname, '..', '..')
const SCHEMA_DIRS = [join(ROOT, 'kalashi_cli', 'bridge', 'protocol'), join(ROOT, 'kalashi_cli', 'schemas', 'records')]
/** Names that look like a share: the rule must say what each one is. */
const LOOKS_LIKE_SHARE = /(^|_)(pct|rate|ratio|fraction)(_|$)|^confidence$|^liquidity$|^p$/

function propertyNames(node: unknown, out: Set<string>): Set<string> {
  if (Array.isArray(node)) node.forEach((n) => propertyNames(n, out))
  else if (node && typeof node === 'object') {
    const obj = node as Record<string, unknown>
    if (obj.properties && typeof obj.properties === 'object') for (const k of Object.keys(obj.properties)) out.add(k)
    for (const v of Object.values(obj)) propertyNames(v, out)
  }
  return out
}

describe('the one rule for percents and ratios', () => {
  it('reads the unit from the name, with edge_pct the record contract’s ratio', () => {
    expect(shareUnit('max_drawdown_pct')).toBe('percent')
    expect(shareUnit('slippage_pct')).toBe('percent')
    expect(shareUnit('pct_of_equity')).toBe('percent')
    expect(shareUnit('cap_pct')).toBe('percent')
    expect(shareUnit('win_rate')).toBe('ratio')
    expect(shareUnit('execution.fill_rate')).toBe('ratio')
    expect(shareUnit('kelly_fraction')).toBe('ratio')
    expect(shareUnit('confidence')).toBe('ratio')
    expect(shareUnit('edge_pct')).toBe('ratio')
    expect(shareUnit('edge')).toBeNull()
    expect(shareUnit('rated')).toBeNull()
  })

  it('formats the reported edge_pct of 0.7778 as 77.78 %, not 0.78 %', () => {
    expect(formatShare('edge_pct', '0.7778')).toBe('77.78%')
    expect(formatShare('max_drawdown_pct', '18.80')).toBe('18.80%')
    expect(formatShare('win_rate', '0.6111')).toBe('61.11%')
    expect(formatShare('win_rate', null)).toBe('—')
  })

  it('covers every share-like field any protocol or record schema names', () => {
    const names = new Set<string>()
    for (const dir of SCHEMA_DIRS) {
      for (const f of readdirSync(dir).filter((n) => n.endsWith('.json'))) {
        propertyNames(JSON.parse(readFileSync(join(dir, f), 'utf8')), names)
      }
    }
    const shares = [...names].filter((n) => LOOKS_LIKE_SHARE.test(n)).sort()
    expect(shares).toEqual(expect.arrayContaining(['edge_pct', 'slippage_pct', 'max_drawdown_pct', 'win_rate', 'fill_rate']))
    // a name the rule cannot place would be shown in an unknown unit
    const unplaced = shares.filter((n) => shareUnit(n) === null)
    expect(unplaced).toEqual([])
  })
})

afterEach(cleanup)
beforeEach(() => {
  FakeSocket.reset()
  window.sessionStorage.clear()
  window.location.hash = ''
})

function renderLivePage() {
  const timers = new FakeTimers()
  render(
    <ThemeProvider>
      <App
        config={{ wsUrl: 'ws://127.0.0.1:8766/', readOnly: false }}
        clientOptions={{ createSocket: (url) => new FakeSocket(url), timers, now: () => timers.now, heartbeatMs: 0, backoff: new Backoff({ jitter: 0 }) }}
      />
    </ThemeProvider>,
  )
  const s = FakeSocket.last()
  act(() => {
    s.open()
    s.receive(HELLO)
    s.receive({ type: 'state', state: fixtureState() })
    // a candidate and a rejection too, so every card has something to show
    for (const record of fixtureIterations()[0]!) s.receive({ type: 'record', record })
  })
}

/** Every number on screen shown as a percent, with the field it claims to be. */
function sharesOnScreen(): { field: string | null; raw: string | null; text: string }[] {
  return [...document.querySelectorAll('.num')]
    .filter((el) => /%$/.test(el.textContent ?? ''))
    .map((el) => ({ field: el.getAttribute('data-field'), raw: el.getAttribute('data-raw'), text: el.textContent ?? '' }))
}

describe('every share the page shows', () => {
  it('is formatted by the one rule, from the field it is', () => {
    renderLivePage()
    const main = sharesOnScreen()
    act(() => {
      window.location.hash = '#/journal'
      window.dispatchEvent(new HashChangeEvent('hashchange'))
    })
    const shown = [...main, ...sharesOnScreen()]
    expect(shown.filter((s) => s.field === null)).toEqual([]) // no percent outside the rule
    for (const s of shown) {
      const places = s.text.includes('.') ? s.text.replace(/%$/, '').split('.')[1]!.length : 0
      expect(s.text, `${s.field} ${s.raw}`).toBe(formatShare(s.field!, s.raw, { places }))
    }
    const fields = new Set(shown.map((s) => s.field))
    for (const f of ['win_rate', 'max_drawdown_pct', 'avg_slippage_pct', 'fill_rate', 'hit_rate', 'pct_of_equity', 'cap_pct',
      'edge_pct', 'confidence', 'liquidity', 'slippage_pct']) {
      expect(fields, f).toContain(f)
    }
    // the fixture's value-strategy opportunity: edge $0.2452 on $3.4548 all-in is a ratio of 0.0710
    const edge = shown.find((s) => s.field === 'edge_pct' && s.raw === '0.0710')
    expect(edge?.text).toBe('7.10%')
  })
})
