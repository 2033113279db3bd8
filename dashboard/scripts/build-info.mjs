#!/usr/bin/env node
// Write (or with --check, verify) kalashi_cli/bridge/static/build-info.json: a sha256 digest of
// the dashboard sources the build is made from, plus a hash of every shipped file.
//
// tests/bridge/test_dashboard_build.py recomputes the same digest in Python, so a source change
// without `npm run build` fails the test suite. The recipe (keep the two in step):
//   * sources: every regular file under dashboard/src/ and dashboard/public/ (recursively), plus
//     dashboard/index.html, package.json, package-lock.json, vite.config.ts and tsconfig*.json;
//   * each named by its path relative to dashboard/ with "/" separators; sorted by UTF-8 bytes;
//   * content normalised: every CRLF becomes LF (a Windows checkout hashes the same);
//   * file hash = sha256(normalised content), lower-case hex;
//   * source_digest = sha256 over the concatenation, in order, of `${path}\0${file hash}\n`.
// Outputs (every file under static/ except build-info.json) are hashed the same way.
// No timestamps: two builds of the same sources write the same file.

import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

const DASHBOARD = resolve(dirname(fileURLToPath(import.meta.url)), '..')
export const STATIC_DIR = resolve(DASHBOARD, '..', 'kalashi_cli', 'bridge', 'static')
export const BUILD_INFO = 'build-info.json'
const SOURCE_DIRS = ['src', 'public']
const ROOT_FILES = ['index.html', 'package.json', 'package-lock.json', 'vite.config.ts']
const ROOT_PATTERN = /^tsconfig.*\.json$/

function walk(dir) {
  if (!existsSync(dir)) return []
  const out = []
  for (const name of readdirSync(dir)) {
    const full = join(dir, name)
    const st = statSync(full)
    if (st.isDirectory()) out.push(...walk(full))
    else if (st.isFile()) out.push(full)
  }
  return out
}

function posix(root, full) {
  return relative(root, full).split(sep).join('/')
}

function byUtf8(a, b) {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
}

/** sha256 hex of a file's content with CRLF normalised to LF. */
export function fileHash(full) {
  const raw = readFileSync(full)
  const text = raw.toString('latin1').replaceAll('\r\n', '\n')
  return createHash('sha256').update(Buffer.from(text, 'latin1')).digest('hex')
}

/** The list [{path, sha256}] of the files under `root` that `paths` names, in digest order. */
function hashed(root, paths) {
  return paths.sort(byUtf8).map((path) => ({ path, sha256: fileHash(join(root, path)) }))
}

/** The sources the build is made from, relative to dashboard/. */
export function sourceFiles(root = DASHBOARD) {
  const paths = []
  for (const d of SOURCE_DIRS) paths.push(...walk(join(root, d)).map((f) => posix(root, f)))
  for (const f of ROOT_FILES) if (existsSync(join(root, f))) paths.push(f)
  for (const f of readdirSync(root)) if (ROOT_PATTERN.test(f) && statSync(join(root, f)).isFile()) paths.push(f)
  return hashed(root, paths)
}

/** The shipped files, relative to static/, without build-info.json itself. */
export function outputFiles(dir = STATIC_DIR) {
  const paths = walk(dir)
    .map((f) => posix(dir, f))
    .filter((p) => p !== BUILD_INFO)
  return hashed(dir, paths)
}

/** Fold a file list into one digest. */
export function digestOf(files) {
  const h = createHash('sha256')
  for (const { path, sha256 } of files) h.update(`${path}\0${sha256}\n`, 'utf8')
  return h.digest('hex')
}

function lockedVersion(lock, name) {
  return lock.packages?.[`node_modules/${name}`]?.version ?? null
}

/** The build-info.json document for the current sources and outputs. */
export function buildInfo(root = DASHBOARD, dir = STATIC_DIR) {
  const sources = sourceFiles(root)
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'))
  return {
    schema: 1,
    algorithm: 'sha256',
    normalisation: 'CRLF->LF',
    recipe: 'sha256 over "<path>\\0<sha256 of CRLF->LF content>\\n" for each file, sorted by UTF-8 path',
    source_digest: digestOf(sources),
    sources,
    outputs: outputFiles(dir),
    built_with: Object.fromEntries(['vite', 'react', 'react-dom', 'typescript'].map((n) => [n, lockedVersion(lock, n)])),
  }
}

function main(argv) {
  const info = buildInfo()
  const target = join(STATIC_DIR, BUILD_INFO)
  if (argv.includes('--check')) {
    if (!existsSync(target)) {
      console.error(`build-info: ${target} is missing — run \`npm run build\` in dashboard/`)
      return 1
    }
    const shipped = JSON.parse(readFileSync(target, 'utf8'))
    const problems = []
    if (shipped.source_digest !== info.source_digest) {
      const before = new Map((shipped.sources ?? []).map((f) => [f.path, f.sha256]))
      const now = new Map(info.sources.map((f) => [f.path, f.sha256]))
      const changed = [...new Set([...before.keys(), ...now.keys()])].filter((p) => before.get(p) !== now.get(p)).sort(byUtf8)
      problems.push(`sources changed since the last build: ${changed.join(', ') || '(recipe changed)'}`)
    }
    if (JSON.stringify(shipped.outputs) !== JSON.stringify(info.outputs)) problems.push('shipped files differ from what the last build wrote')
    if (problems.length) {
      for (const p of problems) console.error(`build-info: ${p} — run \`npm run build\` in dashboard/`)
      return 1
    }
    console.error(`build-info: shipped build is current (${info.source_digest.slice(0, 12)})`)
    return 0
  }
  writeFileSync(target, `${JSON.stringify(info, null, 2)}\n`)
  console.error(`build-info: wrote ${posix(resolve(DASHBOARD, '..'), target)} (${info.source_digest.slice(0, 12)}, ${info.sources.length} sources, ${info.outputs.length} outputs)`)
  return 0
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exit(main(process.argv.slice(2)))
}
