#!/usr/bin/env node
// End-to-end smoke test of the SHIPPED build (kalashi_cli/bridge/static/) in a real browser:
// the mock bridge serves the page, config.json and the WebSocket; headless Chromium loads it,
// checks live numbers, sends a command with the token, survives a dropped connection, and
// writes screenshots to ../test-artifacts/dashboard/.
//
//   npm run smoke            (needs Debian's chromium: apt-get install -y chromium)
//   CHROMIUM=/path/to/chrome npm run smoke
//
// Playwright-core drives the system Chromium (with a fresh temporary profile of its own); it
// never downloads a browser.

import { mkdirSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'
import { startMockBridge } from './mock-bridge.mjs'

const HERE = dirname(fileURLToPath(import.meta.url))
const STATIC = resolve(HERE, '..', '..', 'kalashi_cli', 'bridge', 'static')
const OUT = resolve(HERE, '..', '..', 'test-artifacts', 'dashboard')
const TOKEN = 'smoke-token'
const STEP_MS = 10_000

function check(cond, what) {
  if (!cond) throw new Error(`smoke: ${what}`)
  console.error(`  ok  ${what}`)
}

async function main() {
  mkdirSync(OUT, { recursive: true })
  const bridge = await startMockBridge({ port: 0, httpPort: 0, staticDir: STATIC, token: TOKEN })
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  })
  try {
    const page = await browser.newPage({ viewport: { width: 1440, height: 1300 }, colorScheme: 'light' })
    const errors = []
    page.on('pageerror', (e) => errors.push(String(e)))
    const text = (id) => page.getByTestId(id).first().textContent({ timeout: STEP_MS })
    const waitText = (id, want) =>
      page.waitForFunction(([i, w]) => document.querySelector(`[data-testid="${i}"]`)?.textContent === w, [id, want], { timeout: STEP_MS })

    await page.goto(`${bridge.httpUrl}?token=${TOKEN}`)
    await waitText('connection-status', 'live')
    check((await text('equity')) === '$1,015.00', 'equity from the bridge state')
    check((await text('iteration')) === '31', 'iteration from the bridge state')
    check(!page.url().includes('token='), 'token removed from the address bar')
    await page.screenshot({ path: join(OUT, 'main-light.png'), fullPage: true })

    bridge.step()
    await waitText('iteration', '32')
    check((await text('equity')) === '$1,016.25', 'equity follows live records')

    await page.getByTestId('btn-pause').click()
    await waitText('loop-status', 'paused')
    check(true, 'pause command acknowledged and state updated')

    bridge.dropClients()
    await waitText('connection-status', 'disconnected')
    check((await page.getByTestId('connection-banner').textContent()).includes('Reconnecting'), 'lost connection shown')
    await page.screenshot({ path: join(OUT, 'disconnected.png') })
    await waitText('connection-status', 'live')
    check(true, 'reconnected by itself')

    await page.getByTestId('btn-theme').click()
    await page.screenshot({ path: join(OUT, 'main-dark.png'), fullPage: true })
    await page.goto(`${bridge.httpUrl}#/journal`)
    await waitText('connection-status', 'live')
    await page.screenshot({ path: join(OUT, 'journal.png'), fullPage: true })
    await page.goto(`${bridge.httpUrl}#/style`)
    await page.getByTestId('style-guide-dark').waitFor({ timeout: STEP_MS })
    await page.screenshot({ path: join(OUT, 'style-guide.png'), fullPage: true })
    check(errors.length === 0, `no page errors${errors.length ? `: ${errors.join('; ')}` : ''}`)
    console.error(`smoke: passed; screenshots in ${OUT}`)
  } finally {
    await browser.close()
    await bridge.close()
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e)
  process.exit(1)
})
