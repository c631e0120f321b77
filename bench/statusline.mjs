#!/usr/bin/env node
// The statusline benchmark (issue 16), run at the end of `npm run bench` (which builds first).
// See docs/benchmarks.md, "Issue 16: statusline".
//
//   node bench/statusline.mjs [--reps 30] [--seconds 30] [--rate 10] [--out FILE]
//
// L1  warm `usage-ledger statusline` (Claude Code's stdin JSON with rate_limits, a store of the
//     fixtures and its cache, the V8 code cache warm) vs `node -e 0`: interleaved, median of
//     --reps samples each; stdin a socket, as node's spawn gives it. Goal ≤ 1.5×.
// L1p the same with stdin a pipe: both sides in `sh -c 'printf … | …'` (so both pay the shell).
// L2  --seconds at --rate calls a second, as Claude Code calls it while it streams, one call
//     started every 1/rate s whatever the others do, the first with no cache (so one background
//     refresh runs during the load): the most statusline processes alive at once, the most
//     refreshes alive at once and how many started, the peak total RSS of everything alive
//     (sampled every 20 ms from /proc, else `ps`), the slowest call, and the spool's lines
//     afterwards (identical readings are spooled once). Goal: no pile-up (a handful at most
//     alive at once, one refresh), memory bounded by that.
import { spawn, spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import {
  CLI,
  ROOT,
  exitOnUncaught,
  fmtMB,
  fmtMs,
  fmtRatio,
  formatTable,
  machineInfo,
  median,
  run,
  tempDir,
} from './lib.mjs'

exitOnUncaught('bench statusline')
const { values: opt } = parseArgs({
  options: {
    reps: { type: 'string', default: '30' },
    seconds: { type: 'string', default: '30' },
    rate: { type: 'string', default: '10' },
    out: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
})
const REPS = Number(opt.reps)
const SECONDS = Number(opt.seconds)
const RATE = Number(opt.rate)
if (!existsSync(join(ROOT, 'dist', 'statusline.cjs')))
  throw new Error('no dist/statusline.cjs: run `npm run build` first')

const dir = tempDir('ul-bench-statusline-')
const store = join(dir, 'store')
const env = {
  PATH: process.env.PATH,
  HOME: join(dir, 'home'),
  TZ: 'UTC',
  XDG_CACHE_HOME: join(dir, 'cache'),
  USAGE_LEDGER_HOME: store,
  USAGE_LEDGER_DEVICE_ID: '0123456789abcdef0123456789abcdef',
  CLAUDE_CONFIG_DIR: join(dir, 'claude'),
  CODEX_HOME: join(dir, 'codex'),
  GIT_CONFIG_NOSYSTEM: '1',
}
mkdirSync(env.HOME, { recursive: true })
cpSync(join(ROOT, 'fixtures', 'claude'), env.CLAUDE_CONFIG_DIR, { recursive: true })
cpSync(join(ROOT, 'fixtures', 'codex'), env.CODEX_HOME, { recursive: true })
// What Claude Code 2.1.x passes a Pro/Max subscriber's statusline.
const now = Math.floor(Date.now() / 1000)
const INPUT = JSON.stringify({
  hook_event_name: 'Status',
  session_id: '3f1c2a8e-6b7d-4e21-9a0c-5d2f8b7e1c44',
  transcript_path: join(env.CLAUDE_CONFIG_DIR, 'projects/-work-app/3f1c2a8e.jsonl'),
  cwd: '/work/app',
  model: { id: 'claude-opus-4-5-20251101', display_name: 'Opus 4.5' },
  workspace: { current_dir: '/work/app', project_dir: '/work/app' },
  version: '2.1.84',
  output_style: { name: 'default' },
  cost: { total_cost_usd: 1.2345, total_duration_ms: 754000, total_api_duration_ms: 231000 },
  exceeds_200k_tokens: false,
  rate_limits: {
    five_hour: { used_percentage: 42, resets_at: now + 7200 },
    seven_day: { used_percentage: 18.5, resets_at: now + 5 * 86400 },
  },
})

/** Runs `cmd args` with `input` on stdin; its wall time (spawn to exit) and output. */
function timed(cmd, args, input) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint()
    const child = spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'] })
    const out = []
    child.stdout.on('data', (b) => out.push(b))
    child.stderr.on('data', () => {})
    child.on('error', reject)
    child.on('close', (code) =>
      resolve({ wallMs: Number(process.hrtime.bigint() - t0) / 1e6, code, stdout: Buffer.concat(out).toString() }),
    )
    child.stdin.on('error', () => {})
    child.stdin.end(input)
  })
}

/** RSS in KB of each pid (gone ones left out): /proc, else one `ps`. */
function rssOf(pids) {
  if (!pids.length) return new Map()
  const out = new Map()
  if (existsSync('/proc/self/status')) {
    for (const pid of pids) {
      try {
        const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
        if (m) out.set(pid, Number(m[1]))
      } catch {
        /* ended */
      }
    }
    return out
  }
  const r = spawnSync('ps', ['-o', 'pid=,rss=', '-p', pids.join(',')], { encoding: 'utf8' })
  for (const line of (r.stdout ?? '').trim().split('\n')) {
    const [pid, rss] = line.trim().split(/\s+/).map(Number)
    if (pid) out.set(pid, rss)
  }
  return out
}

/** The pids of this store's background refreshes (`statusline --refresh --home <store>`). */
function refreshPids() {
  const pids = []
  if (existsSync('/proc/self/cmdline')) {
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue
      try {
        const cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8')
        const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
        if (cmd.includes('--refresh') && cmd.includes(store) && !/^\d+ \(.*\) Z /s.test(stat)) pids.push(Number(name))
      } catch {
        /* ended */
      }
    }
    return pids
  }
  const r = spawnSync('ps', ['-ax', '-o', 'pid=,command='], { encoding: 'utf8' })
  for (const line of (r.stdout ?? '').split('\n'))
    if (line.includes('--refresh') && line.includes(store)) pids.push(Number(line.trim().split(/\s+/)[0]))
  return pids
}

const machine = machineInfo()
try {
  console.error('bench statusline: recording the fixtures, writing the cache, warming the code caches')
  await run('record', process.execPath, [CLI, 'record', '--quiet'], { env })
  // And some usage of today, so the line has a block and a burn rate.
  const today = [90, 60, 30, 5].map((ago) =>
    JSON.stringify({
      ts: new Date(Date.now() - ago * 60_000).toISOString(),
      model: 'claude-sonnet-4-5',
      input: 100_000 * (3 + Math.floor(ago / 30)),
      output: 20_000,
    }),
  )
  await run('record', process.execPath, [CLI, 'record', '--quiet', '--stdin', '--source', 'bench'], {
    env,
    input: `${today.join('\n')}\n`,
  })
  await run('refresh', process.execPath, [CLI, 'statusline', '--refresh'], { env })
  for (let i = 0; i < 3; i++) {
    await timed(process.execPath, ['-e', '0'], '')
    await timed(process.execPath, [CLI, 'statusline'], INPUT)
  }
  const sample = await timed(process.execPath, [CLI, 'statusline', '--no-color'], INPUT)
  if (sample.code !== 0) throw new Error(`statusline exited ${sample.code}`)

  // L1: interleaved, so load on the machine hits both sides alike.
  const ours = []
  const ref = []
  for (let i = 0; i < REPS; i++) {
    ref.push((await timed(process.execPath, ['-e', '0'], '')).wallMs)
    ours.push((await timed(process.execPath, [CLI, 'statusline'], INPUT)).wallMs)
  }
  const l1 = { ours: median(ours), ref: median(ref) }
  l1.ratio = l1.ours / l1.ref
  // L1p: stdin a pipe (a shell pipeline), both sides through `sh -c 'printf … | …'`.
  const piped = (cmd) => timed('sh', ['-c', `printf '%s' "$SL_INPUT" | ${cmd}`], '')
  env.SL_INPUT = INPUT
  const q = (s) => `'${s.replace(/'/g, "'\\''")}'`
  const oursP = []
  const refP = []
  for (let i = 0; i < REPS; i++) {
    refP.push((await piped(`${q(process.execPath)} -e 0`)).wallMs)
    oursP.push((await piped(`${q(process.execPath)} ${q(CLI)} statusline`)).wallMs)
  }
  delete env.SL_INPUT
  const l1p = { ours: median(oursP), ref: median(refP) }
  l1p.ratio = l1p.ours / l1p.ref

  // L2: a call every 1/RATE s for SECONDS, starting with no cache (one refresh runs meanwhile).
  rmSync(join(store, 'state', 'live.json'), { force: true })
  rmSync(join(store, 'state', 'limits'), { recursive: true, force: true })
  console.error(`bench statusline: ${RATE} calls a second for ${SECONDS} s`)
  const alive = new Map() // pid -> started
  const seenRefresh = new Set()
  const calls = []
  let maxAlive = 0
  let maxRefresh = 0
  let peakKB = 0
  let peakStatuslinesKB = 0
  let failed = 0
  const sampler = setInterval(() => {
    const refreshing = refreshPids()
    for (const p of refreshing) seenRefresh.add(p)
    maxRefresh = Math.max(maxRefresh, refreshing.length)
    const lines = [...alive.keys()]
    const rss = rssOf([...lines, ...refreshing])
    const sum = (pids) => pids.reduce((a, p) => a + (rss.get(p) ?? 0), 0)
    peakKB = Math.max(peakKB, sum([...lines, ...refreshing]))
    peakStatuslinesKB = Math.max(peakStatuslinesKB, sum(lines))
  }, 20)
  const t0 = Date.now()
  await new Promise((resolve) => {
    let started = 0
    const total = SECONDS * RATE
    const tick = setInterval(() => {
      if (started >= total) {
        clearInterval(tick)
        const wait = setInterval(() => {
          if (alive.size === 0) {
            clearInterval(wait)
            resolve()
          }
        }, 20)
        return
      }
      started++
      const t = process.hrtime.bigint()
      const child = spawn(process.execPath, [CLI, 'statusline'], { env, stdio: ['pipe', 'ignore', 'ignore'] })
      alive.set(child.pid, t)
      maxAlive = Math.max(maxAlive, alive.size)
      child.on('close', (code) => {
        alive.delete(child.pid)
        if (code !== 0) failed++
        calls.push(Number(process.hrtime.bigint() - t) / 1e6)
      })
      child.stdin.on('error', () => {})
      child.stdin.end(INPUT)
    }, 1000 / RATE)
  })
  const loadMs = Date.now() - t0
  // The refresh started during the load: wait for it, still sampling.
  for (let i = 0; i < 3000 && (refreshPids().length || existsSync(join(store, 'state', 'refresh.lock'))); i++)
    await new Promise((r) => setTimeout(r, 20))
  clearInterval(sampler)
  const spool = join(store, 'state', 'limits', 'spool.ndjson')
  const spoolLines = existsSync(spool) ? readFileSync(spool, 'utf8').split('\n').filter(Boolean).length : 0
  const cached = existsSync(join(store, 'state', 'live.json'))
  const l2 = {
    calls: calls.length,
    failed,
    seconds: loadMs / 1000,
    maxAlive,
    maxRefresh,
    refreshes: seenRefresh.size,
    peakMB: peakKB / 1024,
    peakStatuslinesMB: peakStatuslinesKB / 1024,
    medianMs: median(calls),
    maxMs: Math.max(...calls),
    spoolLines,
    cached,
  }

  console.log()
  console.log(
    `usage-ledger statusline bench — machine: ${machine.cpu}, ${machine.nproc} CPUs, ${machine.memoryGB} GB RAM, ${machine.platform}; node ${machine.node}`,
  )
  console.log(`line: ${sample.stdout.trim()}`)
  console.log()
  console.log(
    formatTable(
      ['case', 'ours', 'reference', 'ref', 'ratio', 'goal', 'met?'],
      [
        [
          'L1 warm statusline (stdin with rate_limits)',
          fmtMs(l1.ours),
          'node -e 0',
          fmtMs(l1.ref),
          fmtRatio(l1.ratio),
          '≤ 1.5×',
          l1.ratio <= 1.5 ? 'yes' : 'NO',
        ],
        [
          'L1p the same, stdin a pipe (sh -c "printf … | …")',
          fmtMs(l1p.ours),
          'sh: printf | node -e 0',
          fmtMs(l1p.ref),
          fmtRatio(l1p.ratio),
          '≤ 1.5×',
          l1p.ratio <= 1.5 ? 'yes' : 'NO',
        ],
      ],
    ),
  )
  console.log()
  console.log(
    formatTable(
      ['L2', `${RATE} calls/s for ${SECONDS} s`],
      [
        ['calls (failed)', `${l2.calls} (${l2.failed})`],
        ['statuslines alive at once, at most', String(l2.maxAlive)],
        ['background refreshes started (alive at once)', `${l2.refreshes} (${l2.maxRefresh})`],
        ['peak RSS, all alive statuslines', fmtMB(peakStatuslinesKB)],
        ['peak RSS, with the refresh', fmtMB(peakKB)],
        ['call wall time, median / max', `${fmtMs(l2.medianMs)} / ${fmtMs(l2.maxMs)}`],
        [`spool lines after ${l2.calls} identical readings`, String(l2.spoolLines)],
        ['cache written by the refresh', l2.cached ? 'yes' : 'NO'],
      ],
    ),
  )
  const loadEnd = Math.round(loadavg()[0] * 100) / 100
  if (Math.max(machine.loadavg1, loadEnd) > machine.nproc / 2)
    console.log(
      `note: machine busy while measuring (1-min load ${machine.loadavg1} at start, ${loadEnd} at end, ${machine.nproc} CPUs)`,
    )
  const outPath = opt.out ?? join(ROOT, 'bench', 'results-statusline.json')
  writeFileSync(
    outPath,
    `${JSON.stringify({ schema: 'usage-ledger/bench-statusline@1', date: new Date().toISOString(), machine, reps: REPS, l1, l1Samples: { ours, ref }, l1p, l1pSamples: { ours: oursP, ref: refP }, l2 }, null, 2)}\n`,
  )
  console.log(`\nwrote ${outPath}`)
  process.exitCode = l2.failed === 0 && l2.cached ? 0 : 1
} finally {
  if (!opt.keep) rmSync(dir, { recursive: true, force: true })
}
