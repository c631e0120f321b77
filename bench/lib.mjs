// Shared helpers of the benchmarks (bench/run.mjs, bench/fetch.mjs, bench/report.mjs) and the
// parity check (bench/parity.mjs). The generated records of fetch/report are in bench/records.mjs.
import { spawn, spawnSync, execFileSync } from 'node:child_process'
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { homedir, tmpdir, cpus, totalmem, availableParallelism, platform, release, arch, loadavg } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { createHash } from 'node:crypto'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { generate, GENERATOR_VERSION, SIZES, DEFAULT_SEED, DEFAULT_END } from './generate.mjs'

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
/**
 * Where the CLI under test lives (package.json, bin/, dist/cli.cjs): the project, or the copy
 * named by USAGE_LEDGER_BENCH_CLI_ROOT, which bench/scale.mjs sets so that every script it runs
 * measures one and the same build (snapshotCli), whatever rebuilds happen meanwhile.
 */
export const CLI_ROOT = process.env.USAGE_LEDGER_BENCH_CLI_ROOT
  ? resolve(process.env.USAGE_LEDGER_BENCH_CLI_ROOT)
  : ROOT
export const CLI = join(CLI_ROOT, 'bin', 'usage-ledger.js')
export const CCUSAGE_VERSION = '20.0.24'
/** Fixed device id for every bench run (DESIGN §3 override), so runs are comparable. */
export const DEVICE_ID = '0123456789abcdef0123456789abcdef'

/** `${XDG_CACHE_HOME:-~/.cache}/usage-ledger-bench` */
export function benchCacheDir() {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache')
  return join(base, 'usage-ledger-bench')
}

export function log(...args) {
  console.error(...args)
}

// ---------------------------------------------------------------------------------------------
// Start-up of a bench script (bench/fetch.mjs, bench/report.mjs).

/** A failed command or install: one clear line, not a stack (temp dirs are cleaned in finally blocks). */
export function exitOnUncaught(prefix = 'bench') {
  process.on('uncaughtException', (e) => {
    console.error(`${prefix}: ${e?.message ?? e}`)
    process.exit(1)
  })
}

/** Midnight UTC of `--end` (YYYY-MM-DD) in ms; exits 2 when it is not a date. */
export function parseEndDay(end) {
  const ms = Date.parse(`${end}T00:00:00.000Z`)
  if (!Number.isFinite(ms)) {
    console.error(`bad --end ${end} (YYYY-MM-DD)`)
    process.exit(2)
  }
  return ms
}

/** Exits 2 unless the CLI is built. */
export function requireBuild(hint = 'run `npm run build` first') {
  if (!existsSync(join(CLI_ROOT, 'dist', 'cli.cjs'))) {
    console.error(`${join(CLI_ROOT, 'dist', 'cli.cjs')} is missing: ${hint}`)
    process.exit(2)
  }
}

/** machineInfo(), logged (with a warning when the machine is busy). */
export function logMachine() {
  const machine = machineInfo()
  log(
    `machine: ${machine.cpu}, ${machine.nproc} CPUs, ${machine.memoryGB} GB, ${machine.platform}; node ${machine.node}, git ${machine.git}; measuring with ${machine.measure}`,
  )
  if (machine.loadavg1 > machine.nproc / 2)
    log(
      `warning: the machine is busy (load ${machine.loadavg1} on ${machine.nproc} CPUs); absolute numbers will be noisy, ratios less so`,
    )
  return machine
}

// ---------------------------------------------------------------------------------------------
// Running the CLI and git, not measured (bench/fetch.mjs, bench/report.mjs).

/**
 * process.env for the CLI and git: UTC, no colour, no terminal prompts, none of the CLI's
 * overrides (USAGE_LEDGER_*) nor git's (GIT_*), and none of the variables in `drop`.
 */
export function benchEnv(drop = []) {
  const env = { ...process.env, TZ: 'UTC', NO_COLOR: '1', GIT_TERMINAL_PROMPT: '0' }
  delete env.FORCE_COLOR
  delete env.USAGE_LEDGER_HOME
  delete env.USAGE_LEDGER_NOW
  delete env.USAGE_LEDGER_DEVICE_ID
  for (const k of drop) delete env[k]
  for (const k of Object.keys(env)) if (k.startsWith('GIT_') && k !== 'GIT_TERMINAL_PROMPT') delete env[k]
  return env
}

/** Runs a command (not measured) with `input` on stdin; resolves its stdout, throws with its stderr on failure. */
export function run(label, cmd, args, { env, input = '' } = {}) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'] })
    const out = []
    const err = []
    child.stdout.on('data', (b) => out.push(b))
    child.stderr.on('data', (b) => err.push(b))
    child.on('error', reject)
    child.on('close', (code) => {
      const stdout = Buffer.concat(out).toString('utf8')
      if (code !== 0)
        reject(
          new Error(
            `${label} failed (exit ${code}): ${cmd} ${args.join(' ')}\n${Buffer.concat(err).toString('utf8').trim().split('\n').slice(-15).join('\n')}`,
          ),
        )
      else resolvePromise(stdout)
    })
    child.stdin.on('error', () => {}) // a command that fails early closes its stdin
    child.stdin.end(input)
  })
}

/** `git(...args)` with `env`: its stdout, or throws with its stderr. */
export const gitWith =
  (env) =>
  (...args) => {
    const r = spawnSync('git', args, { env, encoding: 'utf8' })
    if (r.status !== 0) throw new Error(`git ${args.join(' ')} failed (exit ${r.status}): ${r.stderr.trim()}`)
    return r.stdout
  }

/**
 * Copies the CLI (package.json and what its `files` ship: bin/, dist/cli.cjs, data/prices.json,
 * …) into `dir` and returns the copy's bin: a bench runs the CLI from a copy taken at its start,
 * so a rebuild while it runs (`npm test` builds first) can neither break it nor mix versions.
 */
export function snapshotCli(dir) {
  const pkg = JSON.parse(readFileSync(join(CLI_ROOT, 'package.json'), 'utf8'))
  for (const f of ['package.json', ...pkg.files]) {
    mkdirSync(join(dir, f, '..'), { recursive: true })
    cpSync(join(CLI_ROOT, f), join(dir, f), { recursive: true })
  }
  return join(dir, 'bin', 'usage-ledger.js')
}

/** The first 12 hex digits of the sha256 of a CLI copy's dist/cli.cjs: which build it is. */
export function cliSha(cliBin) {
  return createHash('sha256')
    .update(readFileSync(join(dirname(cliBin), '..', 'dist', 'cli.cjs')))
    .digest('hex')
    .slice(0, 12)
}

// ---------------------------------------------------------------------------------------------
// The P4 ledger (1M records from 5 devices), built and cached by bench/report.mjs and reused by
// bench/fetch.mjs --ledger p4, bench/verify.mjs and bench/init.mjs.

/** `cp -a`: git object files are read-only and hooks executable; keep it exact (and fast). */
export function copyTree(from, to) {
  const r = spawnSync('cp', ['-a', from, to], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`cp -a ${from} ${to} failed: ${r.stderr.trim()}`)
}

/** A copied home still names the remote it was made with (config.json); point it at `remote`. */
export function pointHomeAt(home, remote) {
  const p = join(home, 'config.json')
  const c = JSON.parse(readFileSync(p, 'utf8'))
  c.remote = remote
  writeFileSync(p, `${JSON.stringify(c, null, 2)}\n`)
}

/**
 * The cached P4 setup whose key starts with `prefix` (bench/report.mjs's parameters), or exits 2
 * with how to build it. Returns {cacheDir, meta} (meta: its setup.json: ids, truths, now, …).
 */
export function reportCache(prefix = 'r1000000-d5-', what = 'bench') {
  const root = join(benchCacheDir(), 'report')
  const key = existsSync(root)
    ? readdirSync(root)
        .filter((d) => d.startsWith(prefix) && existsSync(join(root, d, 'setup.json')))
        .sort()
        .at(-1)
    : undefined
  if (!key) {
    console.error(
      `${what}: no cached ${prefix.replace(/-$/, '')} ledger; run \`node bench/report.mjs --runs 1 --no-p4c\` once to build it`,
    )
    process.exit(2)
  }
  const cacheDir = join(root, key)
  return { cacheDir, meta: JSON.parse(readFileSync(join(cacheDir, 'setup.json'), 'utf8')) }
}

/**
 * Copies the cached remote into `root`/remote.git and, unless `devices` is false, the device
 * homes into `root`/device-N (pointed at the copy); with `readerSha`, also the reader cached for
 * that CLI build (else: none, and `reader` is null). Returns {remote, homes, reader}.
 */
export function copyReportLedger(cacheDir, root, { devices = true, readerSha } = {}) {
  mkdirSync(root, { recursive: true })
  const remote = join(root, 'remote.git')
  copyTree(join(cacheDir, 'remote.git'), remote)
  const homes = []
  if (devices) {
    for (const d of readdirSync(cacheDir)
      .filter((x) => /^device-\d+$/.test(x))
      .sort((a, b) => Number(a.slice(7)) - Number(b.slice(7)))) {
      const h = join(root, d)
      copyTree(join(cacheDir, d), h)
      pointHomeAt(h, remote)
      homes.push(h)
    }
  }
  let reader = null
  if (readerSha && existsSync(join(cacheDir, `reader-${readerSha}`, 'config.json'))) {
    reader = join(root, 'reader')
    copyTree(join(cacheDir, `reader-${readerSha}`), reader)
    pointHomeAt(reader, remote)
  }
  return { remote, homes, reader }
}

/** Runs `fn` on every item, at most `width` at a time. */
export async function pool(items, width, fn) {
  const queue = [...items]
  await Promise.all(
    Array.from({ length: Math.min(width, queue.length) }, async () => {
      while (queue.length) await fn(queue.shift())
    }),
  )
}

/** The fetch (or init --remote) JSON must list every device of `ids` with `status` and no findings; returns it. */
export function expectFetch(stdout, ids, status, what, schema = 'usage-ledger/fetch@1') {
  const j = JSON.parse(stdout)
  if (j.schema !== schema) throw new Error(`${what}: unexpected schema ${JSON.stringify(j.schema)}`)
  if (j.findings?.length) throw new Error(`${what}: findings ${JSON.stringify(j.findings)}`)
  const bad = ids.filter((id) => j.devices.find((d) => d.id === id)?.status !== status)
  if (bad.length) throw new Error(`${what}: devices not "${status}": ${bad.join(', ')} (${JSON.stringify(j.devices)})`)
  return j
}

// ---------------------------------------------------------------------------------------------
// ccusage, installed once into the cache (it is not a dependency of the project).

/**
 * Installs ccusage@20.0.24 into `<cache>/ccusage-20.0.24` unless already there; returns the
 * path of its bin (a small Node launcher that spawns the platform's native binary).
 */
export function ensureCcusage() {
  const prefix = join(benchCacheDir(), `ccusage-${CCUSAGE_VERSION}`)
  const bin = join(prefix, 'node_modules', '.bin', process.platform === 'win32' ? 'ccusage.cmd' : 'ccusage')
  const pkg = join(prefix, 'node_modules', 'ccusage', 'package.json')
  const installed = () =>
    existsSync(bin) && existsSync(pkg) && JSON.parse(readFileSync(pkg, 'utf8')).version === CCUSAGE_VERSION
  if (!installed()) {
    mkdirSync(prefix, { recursive: true })
    log(`installing ccusage@${CCUSAGE_VERSION} into ${prefix} …`)
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
    const r = spawnSync(
      npm,
      ['install', '--prefix', prefix, '--no-save', '--no-audit', '--no-fund', `ccusage@${CCUSAGE_VERSION}`],
      { stdio: ['ignore', 'inherit', 'inherit'] },
    )
    if (r.status !== 0 || !installed())
      throw new Error(
        `could not install ccusage@${CCUSAGE_VERSION} into ${prefix} (npm exit ${r.status}); check network access to the npm registry`,
      )
  }
  return bin
}

/** The native binary the ccusage launcher spawns (for information; the bench runs the launcher). */
export function ccusageNativeBinary() {
  const prefix = join(benchCacheDir(), `ccusage-${CCUSAGE_VERSION}`)
  const dir = join(prefix, 'node_modules', '@ccusage')
  if (!existsSync(dir)) return null
  for (const d of readdirSync(dir)) {
    const p = join(dir, d, 'bin', process.platform === 'win32' ? 'ccusage.exe' : 'ccusage')
    if (existsSync(p)) return p
  }
  return null
}

// ---------------------------------------------------------------------------------------------
// Generated trees, cached by size + seed + end + generator version.

/**
 * Returns {dir, meta} of a generated tree, generating it into the cache the first time.
 * Generation goes to a temp dir renamed into place, so an interrupted run leaves no half tree.
 */
export function ensureTree({ size = 'small', seed = DEFAULT_SEED, end = DEFAULT_END } = {}) {
  if (!SIZES[size]) throw new Error(`unknown size ${size} (small, medium, large)`)
  const treesDir = join(benchCacheDir(), 'trees')
  const dir = join(treesDir, `${size}-seed${seed}-end${end}-g${GENERATOR_VERSION}`)
  const metaPath = join(dir, 'bench-meta.json')
  if (existsSync(metaPath)) return { dir, meta: JSON.parse(readFileSync(metaPath, 'utf8')), cached: true }
  mkdirSync(treesDir, { recursive: true })
  const tmp = mkdtempSync(join(treesDir, '.gen-'))
  log(`generating the ${size} tree (seed ${seed}) into ${dir} …`)
  try {
    const meta = generate({ out: tmp, size, seed, end, log })
    rmSync(dir, { recursive: true, force: true })
    renameSync(tmp, dir)
    log(
      `generated ${meta.files} files, ${meta.responses} responses, ${(meta.bytes / 1e6).toFixed(1)} MB in ${meta.seconds} s`,
    )
    return { dir, meta, cached: false }
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true })
    throw e
  }
}

/** Reads every file of a tree once, so the first measured command does not pay for cold disk. */
export function warmTree(dir) {
  let bytes = 0
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name)
      if (e.isDirectory()) walk(p)
      else if (e.isFile()) bytes += readFileSync(p).length
    }
  }
  walk(dir)
  return bytes
}

export function tempDir(prefix) {
  return mkdtempSync(join(tmpdir(), prefix))
}

// ---------------------------------------------------------------------------------------------
// Measuring a command: wall time and peak RSS.

let timeMode
/**
 * 'gnu-time' when /usr/bin/time is GNU time (supports -f/-o), else 'python' (python3 needed;
 * macOS's BSD time has no -f). USAGE_LEDGER_BENCH_MEASURE forces one.
 */
export function measureMode() {
  if (timeMode) return timeMode
  const forced = process.env.USAGE_LEDGER_BENCH_MEASURE // 'gnu-time' or 'python', to test either path
  if (forced === 'gnu-time' || forced === 'python') return (timeMode = forced)
  if (existsSync('/usr/bin/time')) {
    const r = spawnSync('/usr/bin/time', ['-f', '%M', '-o', '/dev/null', 'true'], { stdio: 'ignore' })
    if (r.status === 0) return (timeMode = 'gnu-time')
  }
  const py = spawnSync('python3', ['-c', 'import resource'], { stdio: 'ignore' })
  if (py.status === 0) return (timeMode = 'python')
  throw new Error('need GNU time at /usr/bin/time or python3 to measure peak RSS')
}

// Runs argv, then prints "<wall seconds> <ru_maxrss of children in KB>" to the file in argv[1].
const PY_WRAPPER = `
import os, resource, subprocess, sys, time
out = sys.argv[1]
t = time.perf_counter()
code = subprocess.call(sys.argv[2:])
wall = time.perf_counter() - t
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
if sys.platform == 'darwin':
    rss //= 1024
with open(out, 'w') as f:
    f.write('%f %d\\n' % (wall, rss))
sys.exit(code if code >= 0 else 128 - code)
`

/**
 * Runs `cmd args` and returns {wallMs, maxRssKB, code, stdout, stderr}.
 * wallMs: GNU time mode measures spawn-to-exit in this process with hrtime (GNU time's %e has
 * only 10 ms resolution; the extra fork+exec of /usr/bin/time costs both sides of a ratio the
 * same ~1 ms); python mode uses the wrapper's own perf_counter around the child.
 * maxRssKB: the peak resident set of the command (for a process tree: of its largest process,
 * as rusage reports it, not the sum).
 */
export function measure(cmd, args, { env, cwd } = {}) {
  const mode = measureMode()
  const outFile = join(tmpdir(), `ul-bench-${process.pid}-${Math.random().toString(36).slice(2)}.time`)
  const argv =
    mode === 'gnu-time'
      ? ['/usr/bin/time', ['-f', '%e %M', '-o', outFile, cmd, ...args]]
      : ['python3', ['-c', PY_WRAPPER, outFile, cmd, ...args]]
  return new Promise((resolvePromise, reject) => {
    const t0 = process.hrtime.bigint()
    const child = spawn(argv[0], argv[1], { env: env ?? process.env, cwd, stdio: ['ignore', 'pipe', 'pipe'] })
    const out = []
    const err = []
    child.stdout.on('data', (b) => out.push(b))
    child.stderr.on('data', (b) => err.push(b))
    child.on('error', reject)
    child.on('close', (code, signal) => {
      const wallHr = Number(process.hrtime.bigint() - t0) / 1e6
      let wallMs = wallHr
      let maxRssKB = NaN
      try {
        const [w, m] = readFileSync(outFile, 'utf8').trim().split(/\s+/).slice(-2)
        maxRssKB = Number(m)
        if (mode === 'python') wallMs = Number(w) * 1000
      } catch {
        /* killed before writing */
      }
      rmSync(outFile, { force: true })
      // GNU time reports a child's non-zero exit as its own exit status, after a "Command exited
      // with non-zero status" line in the -o file; the status is what we return either way.
      resolvePromise({
        wallMs,
        maxRssKB,
        code: code ?? (signal ? 128 : 1),
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      })
    })
  })
}

/** measure() that throws with the command's stderr when it exits non-zero. */
export async function measureOk(label, cmd, args, opts) {
  const r = await measure(cmd, args, opts)
  if (r.code !== 0) {
    throw new Error(
      `${label} failed (exit ${r.code}): ${cmd} ${args.join(' ')}\n${r.stderr.trim().split('\n').slice(-15).join('\n')}`,
    )
  }
  return r
}

export function median(xs) {
  const a = xs.filter((x) => Number.isFinite(x)).sort((p, q) => p - q)
  if (a.length === 0) return NaN
  const m = a.length >> 1
  return a.length % 2 ? a[m] : (a[m - 1] + a[m]) / 2
}

// ---------------------------------------------------------------------------------------------
// Output.

/**
 * The results table of run, report and fetch: one row per case, ours against its reference,
 * `goal(r)` and `met(r)` in words; `rssRatio` adds that column.
 */
export function resultsTable(results, { goal, met = (r) => (r.met ? 'yes' : 'NO'), rssRatio = false }) {
  return formatTable(
    [
      'case',
      'ours wall',
      'ours RSS',
      'reference',
      'ref wall',
      'ref RSS',
      'ratio',
      ...(rssRatio ? ['RSS ratio'] : []),
      'goal',
      'met?',
    ],
    results.map((r) => [
      `${r.id} ${r.case}`,
      fmtMs(r.ours.wallMs),
      fmtMB(r.ours.maxRssKB),
      r.reference,
      fmtMs(r.ref?.wallMs),
      fmtMB(r.ref?.maxRssKB),
      fmtRatio(r.ratio),
      ...(rssRatio ? [fmtRatio(r.rssRatio)] : []),
      goal(r),
      met(r),
    ]),
  )
}

/** Plain-text aligned table; numbers (and strings that look numeric) are right-aligned. */
export function formatTable(header, rows) {
  const all = [header, ...rows].map((r) => r.map((c) => (c == null ? '' : String(c))))
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)))
  const num = /^(?:[-+]?[\d.,]+(?:\s?(?:ms|s|KB|MB|GB|×|%))?|—)$/
  const numeric = header.map(
    (_, i) => rows.length > 0 && rows.every((r) => r[i] == null || r[i] === '' || num.test(String(r[i]))),
  )
  const line = (r) =>
    r
      .map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd()
  const sep = widths
    .map((w) => '-'.repeat(w))
    .join('  ')
    .trimEnd()
  return [line(all[0]), sep, ...all.slice(1).map(line)].join('\n')
}

export const fmtMs = (ms) =>
  !Number.isFinite(ms)
    ? '—'
    : ms >= 10000
      ? `${(ms / 1000).toFixed(1)} s`
      : ms >= 1000
        ? `${(ms / 1000).toFixed(2)} s`
        : `${Math.round(ms)} ms`
export const fmtMB = (kb) => (!Number.isFinite(kb) ? '—' : `${Math.round(kb / 1024)} MB`)
export const fmtRatio = (r) => (!Number.isFinite(r) ? '—' : `${r.toFixed(2)}×`)
export const fmtInt = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—')

function tryRun(cmd, args) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch {
    return null
  }
}

/** What the numbers were measured on. */
export function machineInfo() {
  const cpu = cpus()[0]?.model?.trim() ?? 'unknown'
  return {
    platform: `${platform()} ${release()} ${arch()}`,
    cpu,
    nproc: availableParallelism(),
    memoryGB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    git: tryRun('git', ['--version'])?.replace(/^git version /, '') ?? null,
    measure: measureMode(),
    loadavg1: Math.round(loadavg()[0] * 100) / 100,
  }
}

// ---------------------------------------------------------------------------------------------
// Daily reports: ccusage's JSON and ours, normalised to one shape for comparison.

export const TOKEN_FIELDS = ['input', 'output', 'cacheWrite', 'cacheRead', 'totalTokens']

/**
 * ccusage 20 `<agent> daily --json`: {"daily":[{"date","inputTokens","outputTokens",
 * "cacheCreationTokens","cacheReadTokens","totalTokens","totalCost","modelsUsed",
 * "modelBreakdowns":[…]}],"totals":{…same token fields…,"totalCost"}}. `codex daily` names the
 * cost `costUSD` and adds `reasoningOutputTokens`, already inside its output.
 * Reasoning/thinking tokens are inside our output; ccusage keeps what it does not count as
 * output in a hidden `extra` that only its totalTokens includes (total = in+out+cw+cr+extra), so
 * output here is ccusage's output + (total − in − out − cw − cr): 0 for Claude Code and Codex.
 */
export function normaliseCcusageDaily(json) {
  const norm = (r) => {
    const extra = r.totalTokens - r.inputTokens - r.outputTokens - r.cacheCreationTokens - r.cacheReadTokens
    return {
      input: r.inputTokens,
      output: r.outputTokens + extra,
      cacheWrite: r.cacheCreationTokens,
      cacheRead: r.cacheReadTokens,
      totalTokens: r.totalTokens,
      costUSD: r.totalCost ?? r.costUSD,
    }
  }
  const days = {}
  for (const r of json.daily ?? []) days[r.date] = norm(r)
  return { days, totals: json.totals ? norm(json.totals) : {} }
}

// ---------------------------------------------------------------------------------------------
// Every source at once (bench/run.mjs S1, S2): each bench/sources/<name>.mjs exports
// generate(root, { sessions, seed, end }) → { env: { <VARIABLE>: root }, files, records }.

/**
 * Generates every source of bench/sources/ into `root`/<name> and returns the variables that
 * point each source there, and per source its files and records (those its reader must count).
 */
export async function generateSourceTrees(root, { sessions, seed = DEFAULT_SEED, end = DEFAULT_END }) {
  const dir = join(ROOT, 'bench', 'sources')
  const env = {}
  const sources = []
  for (const f of readdirSync(dir)
    .filter((x) => x.endsWith('.mjs'))
    .sort()) {
    const name = f.slice(0, -4)
    const { generate: gen } = await import(pathToFileURL(join(dir, f)).href)
    const g = await gen(join(root, name), { sessions, seed, end })
    Object.assign(env, g.env)
    sources.push({ name, files: g.files, records: g.records })
  }
  return { env, sources, records: sources.reduce((n, x) => n + x.records, 0) }
}

// ---------------------------------------------------------------------------------------------
// Parity (bench/parity.mjs): every source against ccusage on its fixture.

const FIXTURE_EXPECTED = () => JSON.parse(readFileSync(join(ROOT, 'fixtures', 'expected.json'), 'utf8'))

/**
 * The sources `npm run parity` compares with `ccusage <agent> daily`, each on a copy of its
 * fixture (a home for the agent, named by `envVar`), one line per source:
 * - `delta(day, ours, ccusage)`: a known, explained difference, as ours − ccusage per token field
 *   of that day (both sides' day as normalised here, zeros on a day a side lacks; fields not
 *   named: 0). The run fails unless every difference is exactly this. Omitted: every field equal.
 *   E.g. for an agent whose ccusage input still holds the cached tokens it also reports as cache
 *   reads: `delta: (_day, ours) => ({ input: -ours.cacheRead, totalTokens: -ours.cacheRead })`.
 * - `costNote`: why the cost may be more than 2 % off ccusage's (else that fails the run).
 * - `notes`: what the table prints about the source.
 * - `record`: the sources ours records for it (default: `source`); the report is by `source`.
 */
export const PARITY_SOURCES = [
  {
    source: 'claude-code',
    agent: 'claude',
    envVar: 'CLAUDE_CONFIG_DIR',
    fixture: 'fixtures/claude',
    notes: 'ccusage also reads a last line without its newline (A14, fixtures/README.md); ours waits for it',
    delta: (day) => {
      const r = FIXTURE_EXPECTED()['claude-code'].afterCompletingUnfinished.newRecord
      return day === r.ts.slice(0, 10) ? Object.fromEntries(TOKEN_FIELDS.map((f) => [f, -r[f]])) : {}
    },
  },
  { source: 'codex', agent: 'codex', envVar: 'CODEX_HOME', fixture: 'fixtures/codex', notes: '' },
  ...[
    [
      'gemini',
      'GEMINI_DATA_DIR',
      "ccusage counts a session three times (its hash dir, gemini-cli's migration copy, the resumed .jsonl)",
    ],
    [
      'qwen',
      'QWEN_DATA_DIR',
      'ccusage counts cached tokens on top of a prompt count that holds them, and /branch copies again',
    ],
    [
      'copilot',
      'COPILOT_HOME',
      'ccusage counts a re-exported chat span again and leaves a cache write inside OTel input',
    ],
    ['amp', 'AMP_DATA_DIR', ''],
    [
      'droid',
      'DROID_SESSIONS_DIR',
      '',
      "ccusage prices a session's sum of requests at long-context rates (no one request is known to be over 200k) and has no price for glm-4.6",
    ],
    [
      'pi',
      'PI_AGENT_DIR',
      "ccusage counts a fork's copies whose parent path is gone, and Gemini's cached tokens twice",
    ],
    [
      'kimi',
      'KIMI_DATA_DIR',
      'ccusage counts /fork and /undo copies again (its key holds the session)',
      "the price data differ on Kimi K3 (genai-prices: Moonshot's $3 / $15 / $0.30 per million); kimi-for-coding is equal",
    ],
    ['codebuff', 'CODEBUFF_DATA_DIR', 'ccusage adds the cached part of OpenAI-style prompt_tokens again'],
    ['openclaw', 'OPENCLAW_DIR', "ccusage counts a thread fork's copied entry again"],
    ['grok', 'GROK_HOME', ''],
    ['antigravity', 'ANTIGRAVITY_DATA_DIR', ''],
    ['goose', 'GOOSE_PATH_ROOT', ''],
    [
      'hermes',
      'HERMES_HOME',
      "ccusage adds reasoning_tokens on top of output_tokens, which hold them (Hermes's own total and cost leave them out)",
      "ccusage ignores Hermes's recorded cost and prices a session's sum of cache reads above 200k at the long-context rate",
    ],
    [
      'opencode',
      'OPENCODE_DATA_DIR',
      "ccusage counts a multi-step message's last step only (O5), adds reasoning again to an AI SDK 5 message whose output and total already hold it (O3), and counts a fork's copy again (O1)",
    ],
    [
      'kilo',
      'KILO_DATA_DIR',
      '',
      'Kilo stores cost 0 for a message it did not price (K2); ccusage takes that 0 as the cost, we price the tokens',
    ],
  ].map(([source, envVar, notes, costNote]) => ({
    source,
    agent: source,
    envVar,
    fixture: `fixtures/${source}`,
    notes,
    costNote,
    delta: notes ? recordedCcusageDelta(source) : undefined,
    // ccusage reads OpenClaw's agent database too: ours records it as its own source (openclaw-db).
    record: source === 'openclaw' ? ['openclaw', 'openclaw-db'] : undefined,
  })),
  { source: 'zcode', agent: 'zcode', envVar: 'ZCODE_HOME', fixture: 'fixtures/zcode', notes: '' },
]

/**
 * The difference from ccusage that a source's fixtures/README.md derives by hand and its
 * expected.json records (ccusage's own figures per day, where they differ from ours): per day,
 * our expected figures less ccusage's recorded ones, ccusage's read as the parity reads it (its
 * hidden extra inside output). The parity then checks ccusage still gives exactly those figures.
 */
function recordedCcusageDelta(source) {
  return (day) => {
    const e = FIXTURE_EXPECTED()[source]
    const x = e.extras ?? {}
    const recorded = x.ccusage?.days ?? x.ccusageDays ?? x.ccusage ?? {}
    const theirs = recorded[day]
    if (!theirs) return {}
    const ours = e.days[day] ?? {}
    const extra = theirs.totalTokens - theirs.input - theirs.output - theirs.cacheWrite - theirs.cacheRead
    const ref = { ...theirs, output: theirs.output + extra }
    return Object.fromEntries(TOKEN_FIELDS.map((f) => [f, (ours[f] ?? 0) - (ref[f] ?? 0)]))
  }
}

const NO_TOKENS = Object.freeze({
  records: 0,
  input: 0,
  output: 0,
  cacheWrite: 0,
  cacheRead: 0,
  totalTokens: 0,
  costUSD: 0,
})

/** A source's declared ours − ccusage on `day` (PARITY_SOURCES `delta`): {} when none. */
export const declaredDelta = (delta, day, ours, ref) =>
  delta?.(day, ours.days[day] ?? NO_TOKENS, ref.days[day] ?? NO_TOKENS) ?? {}

/**
 * diffDaily(ours, ref) less the known difference: every (day, field) where ours − ccusage is not
 * what `delta` declares, and the same for the totals (the declared deltas summed); `explained`:
 * how many (day, field) pairs differ as declared, when nothing else differs.
 */
export function unexplainedDiffs(ours, ref, delta) {
  const d = diffDaily(ours, ref)
  const want = (day) => declaredDelta(delta, day, ours, ref)
  const expected = Object.fromEntries(TOKEN_FIELDS.map((f) => [f, 0]))
  for (const day of d.days) for (const f of TOKEN_FIELDS) expected[f] += want(day)[f] ?? 0
  const diffs = []
  for (const day of d.days) {
    for (const f of TOKEN_FIELDS) {
      const a = ours.days[day]?.[f] ?? 0
      const b = ref.days[day]?.[f] ?? 0
      const e = want(day)[f] ?? 0
      if (a - b !== e) diffs.push({ day, field: f, a, b, delta: a - b, expected: e })
    }
  }
  for (const f of TOKEN_FIELDS) {
    const a = ours.totals?.[f] ?? 0
    const b = ref.totals?.[f] ?? 0
    if (a - b !== expected[f]) diffs.push({ day: 'totals', field: f, a, b, delta: a - b, expected: expected[f] })
  }
  const explained = d.days.reduce((n, day) => n + TOKEN_FIELDS.filter((f) => want(day)[f]).length, 0)
  return { days: d.days, diffs, explained: diffs.length ? 0 : explained }
}

/** Ours, `report daily --json` (schema usage-ledger/report@1, DESIGN §7). */
export function normaliseOurDaily(json) {
  if (json.schema !== 'usage-ledger/report@1')
    throw new Error(`unexpected report schema ${JSON.stringify(json.schema)}`)
  const days = {}
  for (const r of json.rows ?? []) {
    const d = (days[r.period] ??= {
      records: 0,
      input: 0,
      output: 0,
      cacheWrite: 0,
      cacheRead: 0,
      totalTokens: 0,
      costUSD: 0,
    })
    for (const k of ['records', ...TOKEN_FIELDS, 'costUSD']) d[k] += r[k] ?? 0
  }
  const t = json.totals ?? {}
  return {
    days,
    totals: {
      records: t.records,
      input: t.input,
      output: t.output,
      cacheWrite: t.cacheWrite,
      cacheRead: t.cacheRead,
      totalTokens: t.totalTokens,
      costUSD: t.costUSD,
    },
  }
}

/** The generator's ground truth (bench-meta.json) in the same shape. */
export function normaliseTruth(meta) {
  return { days: meta.days, totals: meta.totals }
}

/** Every (day, field) where a and b differ, over the union of days; plus the totals. */
export function diffDaily(a, b, fields = TOKEN_FIELDS) {
  const days = [...new Set([...Object.keys(a.days), ...Object.keys(b.days)])].sort()
  const diffs = []
  for (const day of days) {
    for (const f of fields) {
      const x = a.days[day]?.[f] ?? 0
      const y = b.days[day]?.[f] ?? 0
      if (x !== y) diffs.push({ day, field: f, a: x, b: y, delta: x - y })
    }
  }
  const totals = []
  for (const f of fields) {
    const x = a.totals?.[f] ?? 0
    const y = b.totals?.[f] ?? 0
    if (x !== y) totals.push({ field: f, a: x, b: y, delta: x - y })
  }
  return { days, diffs, totals }
}

export function writeJson(path, value) {
  mkdirSync(dirname(path), { recursive: true })
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`)
}
