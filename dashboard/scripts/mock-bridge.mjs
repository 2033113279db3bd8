#!/usr/bin/env node
// A mock of `kalashi serve-bridge` for developing and testing the dashboard before (and apart
// from) the Python bridge. It speaks bridge protocol 1 (docs/bridge-protocol.md) and plays the
// fixture records in dashboard/fixtures/ — deterministic test data, never shown in production.
//
//   node scripts/mock-bridge.mjs [--port 8766] [--token SECRET] [--read-only]
//        [--interval-ms 2000] [--http-port 3002 --static ../kalashi_cli/bridge/static]
//
// Time in the records comes from the fixtures (shifted per replay cycle), never from the clock.

import { readFileSync, existsSync, statSync } from 'node:fs'
import { createServer } from 'node:http'
import { dirname, extname, join, normalize, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { WebSocketServer } from 'ws'

const HERE = dirname(fileURLToPath(import.meta.url))
export const DEFAULT_FIXTURES = resolve(HERE, '..', 'fixtures')
const CONTROL = new Set(['start', 'pause', 'stop', 'halt', 'flatten', 'set_profile'])
const COMMANDS = new Set([...CONTROL, 'get_state'])
const MAX_JOURNAL = 200
const MAX_OPPORTUNITIES = 20
const MAX_EQUITY_POINTS = 2000

function clone(x) {
  return JSON.parse(JSON.stringify(x))
}

function shiftTs(ts, seconds) {
  if (typeof ts !== 'string' || !seconds) return ts
  const t = Date.parse(ts)
  return Number.isNaN(t) ? ts : new Date(t + seconds * 1000).toISOString().replace('.000Z', 'Z')
}

function compareDecimal(a, b) {
  const parse = (s) => {
    const m = /^(-?)(\d*)(?:\.(\d*))?$/.exec(String(s))
    if (!m) return [0n, 0]
    const frac = m[3] ?? ''
    return [(m[1] ? -1n : 1n) * BigInt((m[2] || '0') + frac), frac.length]
  }
  const [x, xs] = parse(a)
  const [y, ys] = parse(b)
  const s = Math.max(xs, ys)
  const xv = x * 10n ** BigInt(s - xs)
  const yv = y * 10n ** BigInt(s - ys)
  return xv < yv ? -1 : xv > yv ? 1 : 0
}

function subtract(a, b) {
  const scale = Math.max((String(a).split('.')[1] ?? '').length, (String(b).split('.')[1] ?? '').length)
  const toInt = (s) => {
    const [w, f = ''] = String(s).replace('-', '').split('.')
    return (String(s).startsWith('-') ? -1n : 1n) * BigInt(w + f.padEnd(scale, '0'))
  }
  const v = toInt(a) - toInt(b)
  const neg = v < 0n
  const digits = (neg ? -v : v).toString().padStart(scale + 1, '0')
  const whole = digits.slice(0, digits.length - scale)
  const frac = digits.slice(digits.length - scale)
  return `${neg ? '-' : ''}${whole}${scale ? `.${frac}` : ''}`
}

/** Load the fixture state and the per-iteration record script. */
export function loadFixtures(dir = DEFAULT_FIXTURES) {
  const state = JSON.parse(readFileSync(join(dir, 'state-paper.json'), 'utf8'))
  const { iterations } = JSON.parse(readFileSync(join(dir, 'records.json'), 'utf8'))
  return { state, iterations }
}

/** The mock bridge's own model of the loop: the fixture state, moved by commands and records. */
export class MockLoop {
  constructor({ state, iterations }) {
    this.state = clone(state)
    this.iterations = iterations
    this.cursor = 0
    this.pendingOpportunities = []
  }

  /** The records of the next iteration (shifted by replay cycle), or [] when not running. */
  nextIteration() {
    if (this.state.loop.status !== 'running' || this.iterations.length === 0) return []
    const len = this.iterations.length
    const cycle = Math.floor(this.cursor / len)
    const batch = clone(this.iterations[this.cursor % len])
    this.cursor += 1
    const interval = Number(this.state.loop.interval_s) || 10
    const seconds = cycle * len * interval
    const halted = this.state.trading_state === 'HALTED'
    const out = []
    for (const rec of batch) {
      if (halted && (rec.kind === 'order' || rec.kind === 'fill')) continue
      if (cycle > 0) {
        for (const key of ['id', 'ref', 'client_order_id', 'order_id', 'fill_id', 'opportunity_id']) {
          if (typeof rec[key] === 'string' && rec[key]) rec[key] = `${rec[key]}~c${cycle}`
        }
        for (const key of ['ts', 'started']) rec[key] = shiftTs(rec[key], seconds)
        if (rec.kind === 'iteration') rec.n += cycle * len
      }
      if (rec.kind === 'iteration') {
        rec.state = this.state.trading_state
        rec.state_reason = this.state.halt_reason ?? ''
      }
      out.push(rec)
    }
    return out
  }

  /** Fold one record into the state, as the real bridge keeps its State current. */
  apply(rec) {
    const s = this.state
    switch (rec.kind) {
      case 'opportunity':
      case 'candidate':
        this.pendingOpportunities = [rec, ...this.pendingOpportunities.filter((o) => o.id !== rec.id)]
        break
      case 'order': {
        s.journal = [rec, ...s.journal].slice(0, MAX_JOURNAL)
        s.open_orders = s.open_orders.filter((o) => o.client_order_id !== rec.client_order_id)
        if (rec.status === 'resting') {
          s.open_orders.push({
            client_order_id: rec.client_order_id, order_id: rec.order_id, ticker: rec.ticker, outcome: rec.outcome,
            action: rec.action, price: rec.price, count: rec.count, remaining: subtract(rec.count, rec.filled_count),
            status: rec.status, created: rec.ts ?? s.updated,
          })
        }
        break
      }
      case 'fill':
        s.journal = [rec, ...s.journal].slice(0, MAX_JOURNAL)
        break
      case 'metrics':
        s.metrics = rec
        s.account = { ...s.account, equity: rec.equity, realized_pnl: rec.realized_pnl, unrealized_pnl: rec.unrealized_pnl }
        if (Array.isArray(rec.recommendations)) s.recommendations = rec.recommendations
        break
      case 'health': {
        const check = { name: rec.name, status: rec.status, detail: rec.detail, latency_ms: rec.latency_ms ?? null }
        const i = s.health.findIndex((h) => h.name === rec.name)
        if (i >= 0) s.health[i] = check
        else s.health.push(check)
        break
      }
      case 'iteration':
        s.loop.iteration = rec.n
        s.last_iteration = rec
        s.updated = rec.started
        if (rec.equity) {
          s.account = { ...s.account, equity: rec.equity, balance: rec.cash ?? s.account.balance }
          s.equity_curve = [...s.equity_curve, { ts: rec.started, equity: rec.equity }].slice(-MAX_EQUITY_POINTS)
        }
        if (this.pendingOpportunities.length) {
          s.opportunities = this.pendingOpportunities
            .sort((a, b) => compareDecimal(b.score, a.score))
            .slice(0, MAX_OPPORTUNITIES)
        }
        this.pendingOpportunities = []
        break
      default:
        break
    }
  }

  /** Carry out a control command; returns [ok, resultOrError]. */
  command(cmd, args) {
    const s = this.state
    switch (cmd) {
      case 'start': {
        const clear = args.clear_halt === true
        if (s.loop.status === 'running' && !(clear && s.trading_state === 'HALTED')) return [false, 'the loop is already running']
        s.loop.status = 'running'
        if (clear && s.trading_state === 'HALTED') {
          s.trading_state = 'ACTIVE'
          s.halt_reason = null
        }
        return [true, { status: 'running', trading_state: s.trading_state }]
      }
      case 'pause':
        if (s.loop.status !== 'running') return [false, `cannot pause a ${s.loop.status} loop`]
        s.loop.status = 'paused'
        return [true, { status: 'paused' }]
      case 'stop':
        if (s.loop.status === 'stopped') return [false, 'the loop is already stopped']
        s.loop.status = 'stopped'
        return [true, { status: 'stopped' }]
      case 'halt': {
        const canceled = s.open_orders.length
        s.trading_state = 'HALTED'
        s.halt_reason = args.reason
        s.open_orders = []
        return [true, { trading_state: 'HALTED', canceled_orders: canceled }]
      }
      case 'flatten': {
        const closed = s.positions.map((p) => p.ticker)
        const result = { canceled_orders: s.open_orders.length, closing_orders: s.positions.length, closed, left_open: {} }
        s.open_orders = []
        s.positions = []
        s.exposure = []
        return [true, result]
      }
      case 'set_profile':
        if (Array.isArray(s.profiles) && !s.profiles.includes(args.name)) return [false, `no profile named '${args.name}'`]
        s.loop.profile = args.name
        return [true, { profile: args.name }]
      default:
        return [false, `unknown command ${cmd}`]
    }
  }
}

const CONTENT_TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
}

function serveStatic(staticDir, configFor) {
  const root = resolve(staticDir)
  return createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)
    if (path === '/config.json') {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
      res.end(JSON.stringify(configFor()))
      return
    }
    const file = normalize(join(root, path === '/' ? 'index.html' : path))
    if (!(file === root || file.startsWith(root + sep)) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' })
      res.end('not found')
      return
    }
    res.writeHead(200, { 'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-cache' })
    res.end(readFileSync(file))
  })
}

/** Start the mock bridge; resolves once it listens. */
export async function startMockBridge({
  host = '127.0.0.1',
  port = 8766,
  token = null,
  readOnly = false,
  fixturesDir = DEFAULT_FIXTURES,
  intervalMs = 0,
  httpPort = null,
  staticDir = null,
  server = 'kalashi-mock 0.1.0',
} = {}) {
  const loop = new MockLoop(loadFixtures(fixturesDir))
  const wss = new WebSocketServer({ host, port })
  await new Promise((ok, fail) => {
    wss.once('listening', ok)
    wss.once('error', fail)
  })
  const wsPort = wss.address().port
  const url = `ws://${host}:${wsPort}/`
  const clients = new Set()

  const sendTo = (ws, msg) => {
    if (ws.readyState === 1) ws.send(JSON.stringify(msg))
  }
  const broadcast = (msg) => {
    for (const ws of clients) sendTo(ws, msg)
  }
  // the command log (docs/bridge-protocol.md §5): every accepted control command, newest first
  const log = []
  let nextRef = 1
  const stateMsg = () => ({ type: 'state', state: { ...loop.state, commands: [...log].reverse().slice(0, 20) } })
  const error = (ws, id, code, message) => sendTo(ws, { type: 'error', id, code, message })

  wss.on('connection', (ws) => {
    clients.add(ws)
    ws.on('close', () => clients.delete(ws))
    sendTo(ws, { type: 'hello', protocol: 1, server, read_only: readOnly, token_required: token !== null })
    sendTo(ws, stateMsg())
    ws.on('message', (data, isBinary) => {
      if (isBinary) return error(ws, null, 'bad_message', 'frames must be UTF-8 JSON text')
      let msg
      try {
        msg = JSON.parse(data.toString('utf8'))
      } catch {
        return error(ws, null, 'bad_message', 'not valid JSON')
      }
      if (!msg || typeof msg !== 'object' || Array.isArray(msg)) return error(ws, null, 'bad_message', 'a command must be a JSON object')
      const id = Number.isInteger(msg.id) && msg.id >= 0 ? msg.id : null
      if (id === null) return error(ws, null, 'bad_message', 'a command needs an integer id >= 0')
      if (typeof msg.cmd !== 'string') return error(ws, id, 'bad_message', 'a command needs a string cmd')
      if (!COMMANDS.has(msg.cmd)) return error(ws, id, 'unknown_command', `unknown command '${msg.cmd}'`)
      const args = msg.args ?? {}
      if (!args || typeof args !== 'object' || Array.isArray(args)) return error(ws, id, 'invalid_args', 'args must be an object')
      if (msg.cmd === 'get_state') {
        sendTo(ws, stateMsg())
        return sendTo(ws, { type: 'ack', id, ok: true, result: {} })
      }
      if (readOnly) return error(ws, id, 'refused', 'the bridge is read-only')
      if (token !== null && msg.token !== token) {
        return error(ws, id, 'unauthorized', msg.token ? 'the control token is wrong' : 'this command needs the control token')
      }
      if (msg.cmd === 'halt' && (typeof args.reason !== 'string' || !args.reason.trim())) {
        return error(ws, id, 'invalid_args', 'halt needs args.reason, a non-empty string')
      }
      if (msg.cmd === 'set_profile' && (typeof args.name !== 'string' || !args.name.trim())) {
        return error(ws, id, 'invalid_args', 'set_profile needs args.name, a non-empty string')
      }
      if (msg.cmd === 'start' && 'clear_halt' in args && typeof args.clear_halt !== 'boolean') {
        return error(ws, id, 'invalid_args', 'start args.clear_halt must be a boolean')
      }
      const started = Date.now()
      const entry = { ref: `c${nextRef++}`, cmd: msg.cmd, args, status: 'running', started: new Date(started).toISOString(), finished: null, elapsed_ms: 0, progress: null, result: null, error: null }
      log.push(entry)
      const progress = (message, done = null, total = null, detail = {}) => {
        entry.progress = { message, done, total, detail }
        entry.elapsed_ms = Date.now() - started
        sendTo(ws, { type: 'progress', id, ref: entry.ref, cmd: msg.cmd, status: 'running', elapsed_ms: entry.elapsed_ms, message, done, total, detail })
      }
      progress(`${msg.cmd} is running`)
      if (msg.cmd === 'flatten') {
        const tickers = loop.state.positions.map((p) => p.ticker)
        tickers.forEach((t, i) => progress(`${t}: closed`, i + 1, tickers.length, { step: 'close', ticker: t, closed: true }))
      }
      const [ok, result] = loop.command(msg.cmd, args)
      entry.finished = new Date().toISOString()
      entry.elapsed_ms = Date.now() - started
      if (!ok) {
        Object.assign(entry, { status: 'failed', error: result })
        sendTo(ws, { type: 'error', id, ref: entry.ref, code: 'refused', message: result })
      } else {
        Object.assign(entry, { status: 'done', result })
        sendTo(ws, { type: 'ack', id, ref: entry.ref, ok: true, result })
      }
      broadcast(stateMsg())
    })
  })

  /** Play one iteration: each record as it happens, then the new state. */
  const step = () => {
    const records = loop.nextIteration()
    for (const record of records) {
      loop.apply(record)
      broadcast({ type: 'record', record })
    }
    if (records.length) broadcast(stateMsg())
    return records.length
  }
  const timer = intervalMs > 0 ? setInterval(step, intervalMs) : null

  let http = null
  let httpUrl = null
  if (staticDir && httpPort !== null) {
    http = serveStatic(staticDir, () => ({ ws_url: url, read_only: readOnly }))
    await new Promise((ok, fail) => {
      http.once('error', fail)
      http.listen(httpPort, host, ok)
    })
    httpUrl = `http://${host}:${http.address().port}/`
  }

  return {
    url,
    port: wsPort,
    httpUrl,
    loop,
    step,
    clientCount: () => clients.size,
    /** Drop every client connection without stopping the server (tests of reconnecting). */
    dropClients: () => {
      for (const ws of clients) ws.terminate()
    },
    close: async () => {
      if (timer) clearInterval(timer)
      for (const ws of clients) ws.terminate()
      await new Promise((ok) => wss.close(() => ok()))
      if (http) await new Promise((ok) => http.close(() => ok()))
    },
  }
}

function parseArgs(argv) {
  const opts = { intervalMs: 2000 }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const next = () => {
      const v = argv[++i]
      if (v === undefined) throw new Error(`${a} needs a value`)
      return v
    }
    if (a === '--port') opts.port = Number(next())
    else if (a === '--host') opts.host = next()
    else if (a === '--token') opts.token = next()
    else if (a === '--read-only') opts.readOnly = true
    else if (a === '--interval-ms') opts.intervalMs = Number(next())
    else if (a === '--http-port') opts.httpPort = Number(next())
    else if (a === '--static') opts.staticDir = next()
    else if (a === '--fixtures') opts.fixturesDir = next()
    else if (a === '-h' || a === '--help') {
      console.log('usage: mock-bridge.mjs [--port 8766] [--host 127.0.0.1] [--token T] [--read-only] [--interval-ms 2000] [--http-port 3002 --static DIR] [--fixtures DIR]')
      process.exit(0)
    } else throw new Error(`unknown option ${a}`)
  }
  return opts
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  let opts
  try {
    opts = parseArgs(process.argv.slice(2))
  } catch (e) {
    console.error(`mock-bridge: ${e.message}`)
    process.exit(2)
  }
  const bridge = await startMockBridge(opts)
  console.error(`mock bridge (fixture data) on ${bridge.url}${bridge.httpUrl ? `, page on ${bridge.httpUrl}` : ''}`)
  const shutdown = () => void bridge.close().then(() => process.exit(0))
  process.on('SIGINT', shutdown)
  process.on('SIGTERM', shutdown)
}
