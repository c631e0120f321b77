#!/usr/bin/env node
// P4 of the benchmark (see docs/benchmarks.md): reports over many devices, the index update
// after a fetch, and a report against ccusage on one device's Claude Code logs.
//
//   node bench/report.mjs [--records 1000000] [--devices 5] [--runs 3] [--reps 10]
//                         [--info-reps 3] [--batches 4] [--sessions 2000] [--batch 50]
//                         [--size large] [--seed 42] [--end 2026-11-20] [--fresh] [--keep]
//                         [--no-p4c] [--out FILE]
//
// Setup (not timed, cached under <bench cache>/report/<parameters>): a bare remote (a path),
// `--devices` device homes that each record `--records / --devices` generated records with
// `record --stdin --source gen` in `--batches` runs (each pushed), and a reader home that ran
// `init --remote` (its full fetch; with the query index, also the index build). Every
// invocation works on a copy of the cached state, so runs do not accumulate.
//   P4   `report daily --by device --json --tz UTC` in the reader home, warm, `--reps`
//        interleaved pairs with `node -e 0`; also `report monthly` and `report session`.
//   P4u  per run: every device records `--batch` new records (one new part, pushed); then the
//        reader's `fetch --json` (which refreshes the index), `index` (a no-op by then) and the
//        first `report daily --by device` after the update.
//   P4c  one device's Claude Code logs (the generated `--size` tree): our `report daily --json`
//        in a fresh home after `record` (warm: the second report) vs `ccusage claude daily
//        --offline --json`; ratio ccusage/ours.
// The reader's totals (overall and per device) must equal what the devices recorded, and P4c's
// must equal the tree's truth; exit 1 otherwise.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { loadavg } from 'node:os'
import { DEFAULT_SEED, DEFAULT_END, SIZES } from './generate.mjs'
import {
  ROOT,
  CLI,
  DEVICE_ID,
  CCUSAGE_VERSION,
  benchCacheDir,
  ensureCcusage,
  ensureTree,
  warmTree,
  tempDir,
  measureOk,
  median,
  resultsTable,
  fmtMs,
  fmtMB,
  fmtRatio,
  fmtInt,
  log,
  writeJson,
  normaliseOurDaily,
  normaliseCcusageDaily,
  normaliseTruth,
  diffDaily,
  exitOnUncaught,
  parseEndDay,
  requireBuild,
  logMachine,
  benchEnv,
  run,
  gitWith,
  snapshotCli,
  pool,
  expectFetch,
  copyTree,
  pointHomeAt,
  cliSha,
} from './lib.mjs'
import {
  HISTORY_DAYS,
  deviceId as benchDeviceId,
  zero,
  addInto,
  history as genHistory,
  batch as genBatch,
  checkReport,
} from './records.mjs'

const GOALS = { P4: { wallRatio: 2 } }
const SOURCE = 'gen'
/** Bump when the generated records or the setup's layout change (invalidates the cache). */
const SETUP_VERSION = 1

exitOnUncaught()

const { values: opt } = parseArgs({
  options: {
    records: { type: 'string', default: '1000000' },
    devices: { type: 'string', default: '5' },
    runs: { type: 'string', default: '3' },
    reps: { type: 'string', default: '10' },
    'info-reps': { type: 'string', default: '3' },
    batches: { type: 'string', default: '4' },
    sessions: { type: 'string', default: '2000' },
    batch: { type: 'string', default: '50' },
    size: { type: 'string', default: 'large' },
    seed: { type: 'string', default: String(DEFAULT_SEED) },
    end: { type: 'string', default: DEFAULT_END },
    fresh: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    'no-p4c': { type: 'boolean', default: false },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
})
if (opt.help) {
  console.log(
    'usage: node bench/report.mjs [--records 1000000] [--devices 5] [--runs 3] [--reps 10] [--info-reps 3] [--batches 4] [--sessions 2000] [--batch 50] [--size large|medium|small] [--seed 42] [--end YYYY-MM-DD] [--fresh] [--keep] [--no-p4c] [--out results.json]',
  )
  process.exit(0)
}
const DEVICES = Math.max(1, Number(opt.devices))
const RECORDS = Math.max(DEVICES, Number(opt.records))
const RUNS = Math.max(1, Number(opt.runs))
const REPS = Math.max(1, Number(opt.reps))
const INFO_REPS = Math.max(1, Number(opt['info-reps']))
const BATCHES = Math.max(1, Number(opt.batches))
const SESSIONS = Math.max(DEVICES, Number(opt.sessions))
const BATCH = Math.max(1, Number(opt.batch))
const SEED = Number(opt.seed)
const END_MS = parseEndDay(opt.end)
if (!SIZES[opt.size]) {
  console.error(`unknown --size ${opt.size} (small, medium, large)`)
  process.exit(2)
}
/** Fixed clock of every command: noon of the --end day (the P4u batches fall before it). */
const NOW = new Date(END_MS + 12 * 3_600_000).toISOString()
const NODE = process.execPath

requireBuild()
const machine = logMachine()

// ---------------------------------------------------------------------------------------------
// Records (bench/records.mjs): strictly increasing ts per device and session/project hashes of
// their own per device, so no id is deduplicated and the expected totals are plain sums.

const deviceId = (i) => benchDeviceId(i, 'c', 'da7a')

/**
 * Device `dev`'s history: `n` records over the 60 days before --end in BATCHES time-ordered chunks, `sessions`
 * sessions.
 */
function history(dev, n, sessions) {
  const { chunks, truth } = genHistory({
    seed: SEED,
    endMs: END_MS,
    dev,
    n,
    chunks: BATCHES,
    sessionOf: (i) => Math.floor((i * sessions) / n),
  })
  return { chunks: chunks.map((c) => `${c.lines.join('\n')}\n`), truth }
}

/** P4u run `run`'s batch of one device: BATCH records inside hour `run - 1` of the --end day. */
function batch(dev, run) {
  const { lines, truth } = genBatch({ seed: SEED, endMs: END_MS, dev, run, size: BATCH, salt: 0xda7a })
  return { input: `${lines.join('\n')}\n`, truth }
}

// ---------------------------------------------------------------------------------------------
// Processes.

const baseEnv = benchEnv(['CLAUDE_CONFIG_DIR'])
const envFor = (id, extra = {}) => ({ ...baseEnv, USAGE_LEDGER_DEVICE_ID: id, USAGE_LEDGER_NOW: NOW, ...extra })
const readerEnv = envFor(DEVICE_ID)

const git = gitWith(baseEnv)

// The CLI runs from a copy of bin/ and dist/ taken at the start (as in bench/fetch.mjs), so a
// rebuild while the bench runs can neither break it nor mix versions.
let cli = CLI
const ours = (home, ...args) => [NODE, [cli, '--home', home, ...args]]

const seconds = (t0) => Math.round((performance.now() - t0) / 100) / 10

// ---------------------------------------------------------------------------------------------
// Setup, cached: the remote and the device homes by parameters; the reader also by CLI build
// (its store may hold an index in whatever format that build writes).

const ids = Array.from({ length: DEVICES }, (_, i) => deviceId(i + 1))
const cacheRoot = join(benchCacheDir(), 'report')
const key = `r${RECORDS}-d${DEVICES}-b${BATCHES}-s${SESSIONS}-seed${SEED}-end${opt.end}-v${SETUP_VERSION}`
const cacheDir = join(cacheRoot, key)
const root = tempDir('ul-bench-report-')
const remote = join(root, 'remote.git')
const reader = join(root, 'reader')
const homes = ids.map((_, i) => join(root, `device-${i + 1}`))
const setup = { cacheDir }
const checks = []
const samples = {
  p4Daily: [],
  p4Node: [],
  p4Monthly: [],
  p4Session: [],
  p4First: [],
  p4uFetch: [],
  p4uIndex: [],
  p4uReport: [],
  p4uNode: [],
  p4cOurs: [],
  p4cRef: [],
  p4cFirst: [],
  p4cRecord: [],
}
let truths // per device, [zero()…], grows with the P4u batches
let hasIndex = false
const indexResults = [] // `index --json` right after each P4u fetch
let p4cMeta = null

function check(what, problems, okDetail) {
  const c = { what, ok: problems.length === 0, detail: problems.length ? problems.join('; ') : okDetail }
  checks.push(c)
  log(`  check ${what}: ${c.ok ? 'ok' : 'MISMATCH'}: ${c.detail}`)
  return c
}

async function buildDevices() {
  log(
    `setup: ${DEVICES} devices × ${fmtInt(RECORDS / DEVICES)} records in ${BATCHES} record runs each, ${fmtInt(SESSIONS)} sessions, over the ${HISTORY_DAYS} days before ${opt.end}; cached in ${cacheDir}`,
  )
  mkdirSync(cacheRoot, { recursive: true })
  const tmp = join(cacheRoot, `.build-${process.pid}`)
  rmSync(tmp, { recursive: true, force: true })
  mkdirSync(tmp)
  try {
    const t0 = performance.now()
    const bare = join(tmp, 'remote.git')
    git('init', '--quiet', '--bare', bare)
    const deviceTruths = new Array(DEVICES)
    await pool(
      ids.map((_, i) => i),
      Math.max(1, machine.nproc),
      async (i) => {
        const n = Math.floor(((i + 1) * RECORDS) / DEVICES) - Math.floor((i * RECORDS) / DEVICES)
        const s = Math.floor(((i + 1) * SESSIONS) / DEVICES) - Math.floor((i * SESSIONS) / DEVICES)
        const { chunks, truth } = history(i + 1, n, s)
        const home = join(tmp, `device-${i + 1}`)
        await run(`init device ${i + 1}`, ...ours(home, 'init', '--remote', bare, '--name', `device-${i + 1}`), {
          env: envFor(ids[i]),
        })
        for (const [c, input] of chunks.entries()) {
          const t = performance.now()
          await run(`record device ${i + 1}`, ...ours(home, 'record', '--stdin', '--source', SOURCE, '--quiet'), {
            env: envFor(ids[i]),
            input,
          })
          log(`  device ${i + 1}: record run ${c + 1}/${chunks.length} in ${seconds(t)} s`)
        }
        deviceTruths[i] = truth
      },
    )
    const heads = new Map(
      git('--git-dir', bare, 'for-each-ref', '--format=%(refname:lstrip=3) %(objectname)', 'refs/heads/ledger')
        .trim()
        .split('\n')
        .map((l) => l.split(' ')),
    )
    const counts = git('--git-dir', bare, 'count-objects', '-v')
    const meta = {
      schema: 'usage-ledger/bench-report-setup@1',
      key,
      records: RECORDS,
      devices: DEVICES,
      batches: BATCHES,
      sessions: SESSIONS,
      seed: SEED,
      end: opt.end,
      now: NOW,
      ids,
      truths: deviceTruths,
      parts: git('--git-dir', bare, 'ls-tree', '-r', '--name-only', heads.get(ids[0]))
        .split('\n')
        .filter((p) => p.endsWith('.ndjson')).length,
      remoteSizeKB: Number(counts.match(/^size-pack: (\d+)/m)[1]) + Number(counts.match(/^size: (\d+)/m)[1]),
      devicesSeconds: seconds(t0),
      builtWith: setup.cliSha,
      date: new Date().toISOString(),
    }
    writeJson(join(tmp, 'setup.json'), meta)
    rmSync(cacheDir, { recursive: true, force: true })
    renameSync(tmp, cacheDir)
    log(
      `setup: devices done in ${meta.devicesSeconds} s (remote ${(meta.remoteSizeKB / 1024).toFixed(1)} MB, ${meta.parts} parts on device 1)`,
    )
    return meta
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true })
    throw e
  }
}

try {
  cli = snapshotCli(join(root, 'app'))
  setup.cliSha = cliSha(cli)
  const help = spawnSync(NODE, [cli, 'index', '--help'], { env: baseEnv, encoding: 'utf8' })
  hasIndex = help.status === 0 && /^usage-ledger index\b/m.test(help.stdout)
  log(`CLI build ${setup.cliSha}; ${hasIndex ? '`index` command present' : 'no `index` command yet (P4u skips it)'}`)

  if (opt.fresh) rmSync(cacheDir, { recursive: true, force: true })
  // half-built state of an interrupted run (its process gone)
  const alive = (pid) => {
    try {
      process.kill(pid, 0)
      return true
    } catch (e) {
      return e.code === 'EPERM'
    }
  }
  for (const dir of [cacheRoot, cacheDir]) {
    if (!existsSync(dir)) continue
    for (const d of readdirSync(dir)) {
      const m = /^\.(?:build|reader)-(\d+)$/.exec(d)
      if (m && Number(m[1]) !== process.pid && !alive(Number(m[1])))
        rmSync(join(dir, d), { recursive: true, force: true })
    }
  }
  const meta = existsSync(join(cacheDir, 'setup.json'))
    ? JSON.parse(readFileSync(join(cacheDir, 'setup.json'), 'utf8'))
    : await buildDevices()
  setup.devicesCached = meta.date
  setup.devicesSeconds = meta.devicesSeconds
  setup.parts = meta.parts
  setup.remoteSizeKB = meta.remoteSizeKB
  truths = meta.truths.map((t) => ({ ...t }))

  // this invocation's copy of the remote and the devices
  let t = performance.now()
  copyTree(join(cacheDir, 'remote.git'), remote)
  homes.forEach((h, i) => {
    copyTree(join(cacheDir, `device-${i + 1}`), h)
    pointHomeAt(h, remote)
  })
  setup.copySeconds = Math.round(performance.now() - t) / 1000

  // the reader: cached per CLI build, else `init --remote` (a full fetch) and cached
  const readerCache = join(cacheDir, `reader-${setup.cliSha}`)
  if (existsSync(join(readerCache, 'config.json'))) {
    t = performance.now()
    copyTree(readerCache, reader)
    pointHomeAt(reader, remote)
    setup.readerCached = true
    log(
      `setup: state copied from the cache (remote and devices ${fmtMs(setup.copySeconds * 1000)}, reader ${fmtMs(performance.now() - t)})`,
    )
  } else {
    t = performance.now()
    const init = await measureOk(
      'init reader',
      ...ours(reader, 'init', '--remote', remote, '--name', 'reader', '--json'),
      { env: readerEnv },
    )
    expectFetch(init.stdout, ids, 'new', 'reader init', 'usage-ledger/init@1')
    setup.readerCached = false
    setup.readerInit = { wallMs: init.wallMs, maxRssKB: init.maxRssKB }
    log(
      `setup: reader init --remote (full fetch of ${fmtInt(RECORDS)} records) in ${fmtMs(init.wallMs)}, ${fmtMB(init.maxRssKB)}`,
    )
  }

  // -------------------------------------------------------------------------------------------
  // P4: warm reports over every device.
  log(`P4: report over ${fmtInt(RECORDS)} records from ${DEVICES} devices`)
  const daily = ['report', 'daily', '--by', 'device', '--json', '--tz', 'UTC']
  const first = await measureOk('report daily --by device (first)', ...ours(reader, ...daily), { env: readerEnv })
  samples.p4First.push(first)
  log(
    `  first report${setup.readerCached ? ' (cached reader)' : ' after init --remote'} (not in the medians) ${fmtMs(first.wallMs)}, ${fmtMB(first.maxRssKB)}`,
  )
  check(
    'P4 reader',
    checkReport(JSON.parse(first.stdout), truths, ids),
    `reader totals = devices' sum, per device too (${fmtInt(RECORDS)} records)`,
  )
  if (!setup.readerCached) {
    // cached after its first report, so it holds whatever that report built (the index)
    for (const d of readdirSync(cacheDir))
      if (d.startsWith('reader-')) rmSync(join(cacheDir, d), { recursive: true, force: true })
    const tmp = join(cacheDir, `.reader-${process.pid}`)
    copyTree(reader, tmp)
    renameSync(tmp, readerCache)
  }
  await measureOk('node -e 0 (warm-up)', NODE, ['-e', '0'], { env: baseEnv })
  for (let k = 0; k < REPS; k++) {
    const pair = [
      async () =>
        samples.p4Daily.push(
          await measureOk('report daily --by device', ...ours(reader, ...daily), { env: readerEnv }),
        ),
      async () => samples.p4Node.push(await measureOk('node -e 0', NODE, ['-e', '0'], { env: baseEnv })),
    ]
    if (k % 2) pair.reverse()
    for (const f of pair) await f()
  }
  log(
    `  report daily --by device ${fmtMs(median(samples.p4Daily.map((s) => s.wallMs)))}, node -e 0 ${fmtMs(median(samples.p4Node.map((s) => s.wallMs)))}`,
  )
  for (const [period, arr] of [
    ['monthly', samples.p4Monthly],
    ['session', samples.p4Session],
  ]) {
    const args = ['report', period, '--json', '--tz', 'UTC']
    const w = await measureOk(`report ${period} (warm-up)`, ...ours(reader, ...args), { env: readerEnv })
    check(`P4 report ${period}`, checkReport(JSON.parse(w.stdout), truths, ids), "totals = devices' sum")
    for (let k = 0; k < INFO_REPS; k++)
      arr.push(await measureOk(`report ${period}`, ...ours(reader, ...args), { env: readerEnv }))
    log(`  report ${period} ${fmtMs(median(arr.map((s) => s.wallMs)))}`)
  }

  // -------------------------------------------------------------------------------------------
  // P4u: one new part per device, then fetch (refreshes the index), then index (no-op).
  for (let r = 1; r <= RUNS; r++) {
    log(`P4u run ${r}/${RUNS}`)
    await pool(
      ids.map((_, i) => i),
      Math.max(1, machine.nproc),
      async (i) => {
        const b = batch(i + 1, r)
        const o = JSON.parse(
          await run(`record device ${i + 1}`, ...ours(homes[i], 'record', '--stdin', '--source', SOURCE, '--json'), {
            env: envFor(ids[i]),
            input: b.input,
          }),
        )
        if (o.appended !== BATCH || o.days?.length !== 1 || !o.pushed)
          throw new Error(
            `device ${i + 1}, run ${r}: expected ${BATCH} records in one new part, pushed; got ${JSON.stringify({ appended: o.appended, days: o.days, pushed: o.pushed })}`,
          )
        addInto(truths[i], b.truth)
      },
    )
    const f = await measureOk('fetch (P4u)', ...ours(reader, 'fetch', '--json'), { env: readerEnv })
    expectFetch(f.stdout, ids, 'updated', `run ${r} fetch`)
    samples.p4uFetch.push(f)
    let line = `  fetch ${fmtMs(f.wallMs)} ${fmtMB(f.maxRssKB)}`
    if (hasIndex) {
      const x = await measureOk('index (P4u)', ...ours(reader, 'index', '--json'), { env: readerEnv })
      samples.p4uIndex.push(x)
      // what it found to do (usage-ledger/index@1: days, parts, records, rebuilt); 0 days = a no-op
      try {
        const j = JSON.parse(x.stdout)
        indexResults.push({ run: r, days: j.days, parts: j.parts, records: j.records, rebuilt: j.rebuilt })
      } catch {
        indexResults.push({ run: r, output: x.stdout.slice(0, 200) })
      }
      line += `; index ${fmtMs(x.wallMs)} ${fmtMB(x.maxRssKB)} (${JSON.stringify(indexResults.at(-1))})`
    }
    const rep = await measureOk('report after the update (P4u)', ...ours(reader, ...daily), { env: readerEnv })
    samples.p4uReport.push(rep)
    samples.p4uNode.push(await measureOk('node -e 0', NODE, ['-e', '0'], { env: baseEnv }))
    log(`${line}; first report after it ${fmtMs(rep.wallMs)} ${fmtMB(rep.maxRssKB)}`)
    const total = truths.reduce((acc, x) => addInto(acc, x), zero())
    check(
      `P4u run ${r}`,
      checkReport(JSON.parse(rep.stdout), truths, ids),
      `reader totals = devices' sum, per device too (${fmtInt(total.records)} records, ${fmtInt(total.totalTokens)} tokens)`,
    )
  }

  // -------------------------------------------------------------------------------------------
  // P4c: one device's Claude Code logs, ours (warm report after record) vs ccusage.
  if (!opt['no-p4c']) {
    const ccusage = ensureCcusage()
    const { dir: tree, meta: tmeta } = ensureTree({ size: opt.size, seed: SEED, end: opt.end })
    p4cMeta = { size: opt.size, files: tmeta.files, responses: tmeta.responses, bytes: tmeta.bytes }
    log(
      `P4c: ${opt.size} tree ${tree} (${tmeta.files} files, ${fmtInt(tmeta.responses)} responses, ${(tmeta.bytes / 1e6).toFixed(0)} MB); reading it once …`,
    )
    warmTree(join(tree, 'projects'))
    const home = join(root, 'p4c-home')
    const ccEnv = { ...baseEnv, CLAUDE_CONFIG_DIR: tree }
    const ourEnv = envFor(DEVICE_ID, { CLAUDE_CONFIG_DIR: tree })
    const rec = await measureOk(
      'record (P4c)',
      ...ours(home, 'record', '--no-push', '--source', 'claude-code', '--quiet'),
      { env: ourEnv },
    )
    samples.p4cRecord.push(rec)
    const dailyArgs = ['report', 'daily', '--json', '--tz', 'UTC']
    const w = await measureOk('report daily (P4c, first)', ...ours(home, ...dailyArgs), { env: ourEnv })
    samples.p4cFirst.push(w)
    log(`  record ${fmtMs(rec.wallMs)} ${fmtMB(rec.maxRssKB)}; first report ${fmtMs(w.wallMs)} ${fmtMB(w.maxRssKB)}`)
    const d = diffDaily(normaliseOurDaily(JSON.parse(w.stdout)), normaliseTruth(tmeta))
    const recs = normaliseOurDaily(JSON.parse(w.stdout)).totals.records
    check(
      'P4c ours',
      [
        ...(recs !== tmeta.totals.records ? [`records ${recs} ≠ ${tmeta.totals.records}`] : []),
        ...d.diffs.map((x) => `${x.day} ${x.field} ${x.a} ≠ ${x.b}`).slice(0, 5),
        ...d.totals.map((x) => `total ${x.field} ${x.a} ≠ ${x.b}`),
      ],
      `our report = the tree's truth (${fmtInt(tmeta.totals.records)} records, ${fmtInt(tmeta.totals.totalTokens)} tokens)`,
    )
    for (let r = 1; r <= RUNS; r++) {
      const oursRun = async () =>
        samples.p4cOurs.push(await measureOk('report daily (P4c)', ...ours(home, ...dailyArgs), { env: ourEnv }))
      const ref = async () => {
        const m = await measureOk('ccusage', ccusage, ['claude', 'daily', '--offline', '--json'], { env: ccEnv })
        samples.p4cRef.push(m)
        if (r === 1) {
          const cd = diffDaily(normaliseCcusageDaily(JSON.parse(m.stdout)), normaliseTruth(tmeta))
          check(
            'P4c ccusage',
            [...cd.diffs, ...cd.totals].length
              ? [`ccusage differs from the truth on ${cd.diffs.length} (day, field) pairs`]
              : [],
            "ccusage = the tree's truth",
          )
        }
      }
      if (r % 2) {
        await oursRun()
        await ref()
      } else {
        await ref()
        await oursRun()
      }
      log(`  run ${r}: ours ${fmtMs(samples.p4cOurs.at(-1).wallMs)}, ccusage ${fmtMs(samples.p4cRef.at(-1).wallMs)}`)
    }
  }
} finally {
  if (!opt.keep) rmSync(root, { recursive: true, force: true })
  else log(`kept ${root}`)
}

// ---------------------------------------------------------------------------------------------
// Results.

const med = (xs, k) => median(xs.map((s) => s[k]))
const stat = (xs) => ({ wallMs: med(xs, 'wallMs'), maxRssKB: med(xs, 'maxRssKB'), n: xs.length })
const row = (id, name, oursS, refS, refName, goal) => {
  const o = stat(oursS)
  const r = refS ? stat(refS) : null
  const ratio = r ? o.wallMs / r.wallMs : NaN
  return {
    id,
    case: name,
    reference: refName,
    ours: o,
    ref: r,
    ratio,
    goal: goal ?? null,
    met: goal ? ratio <= goal.wallRatio : null,
  }
}
const results = [
  row(
    'P4',
    `report daily --by device (${DEVICES} devices, warm)`,
    samples.p4Daily,
    samples.p4Node,
    'node -e 0',
    GOALS.P4,
  ),
  row('P4', 'report monthly (warm)', samples.p4Monthly, samples.p4Node, 'node -e 0'),
  row('P4', 'report session (warm)', samples.p4Session, samples.p4Node, 'node -e 0'),
  row('P4u', `fetch, ${DEVICES} devices × 1 new part`, samples.p4uFetch, samples.p4uNode, 'node -e 0'),
  ...(samples.p4uIndex.length
    ? [
        {
          ...row('P4u', 'index right after fetch', samples.p4uIndex, samples.p4uNode, 'node -e 0'),
          noop: indexResults.every((x) => x.days === 0),
        },
      ]
    : []),
  row('P4u', 'first report daily --by device after it', samples.p4uReport, samples.p4uNode, 'node -e 0'),
  ...(samples.p4cOurs.length
    ? [
        row(
          'P4c',
          `report daily, one device (${fmtInt(p4cMeta.responses)} responses, warm)`,
          samples.p4cOurs,
          samples.p4cRef,
          `ccusage ${CCUSAGE_VERSION} claude daily --offline --json`,
        ),
      ]
    : []),
]
const goalText = (r) =>
  r.goal
    ? `≤ ${r.goal.wallRatio}× wall`
    : r.noop != null
      ? 'info; a no-op expected'
      : r.id === 'P4c'
        ? `info: ccusage/ours ${fmtRatio(1 / r.ratio)}`
        : 'info'
const metText = (r) =>
  r.met != null ? (r.met ? 'yes' : 'NO') : r.noop != null ? (r.noop ? 'no-op' : 'NOT a no-op') : ''

console.log()
console.log(
  `usage-ledger bench — report: ${DEVICES} devices, ${fmtInt(RECORDS)} records (${BATCHES} record runs per device, ${setup.parts} parts on device 1); ` +
    `medians (P4 over ${samples.p4Daily.length} pairs, monthly/session over ${INFO_REPS}, P4u and P4c over ${RUNS} runs)`,
)
console.log(
  `machine: ${machine.cpu}, ${machine.nproc} CPUs, ${machine.memoryGB} GB RAM, ${machine.platform}; node ${machine.node}; git ${machine.git}; CLI build ${setup.cliSha}${hasIndex ? '' : ' (no index command)'}`,
)
console.log()
console.log(resultsTable(results, { goal: goalText, met: metText }))
const info = [
  `first report ${setup.readerCached ? '(cached reader)' : 'after init --remote'} ${fmtMs(samples.p4First[0]?.wallMs)} (${fmtMB(samples.p4First[0]?.maxRssKB)})`,
]
if (setup.readerInit)
  info.push(`reader init --remote ${fmtMs(setup.readerInit.wallMs)} (${fmtMB(setup.readerInit.maxRssKB)})`)
if (samples.p4cRecord.length)
  info.push(
    `P4c record ${fmtMs(samples.p4cRecord[0].wallMs)} (${fmtMB(samples.p4cRecord[0].maxRssKB)}), first report after it ${fmtMs(samples.p4cFirst[0].wallMs)}`,
  )
console.log(`information: ${info.join('; ')}`)
if (indexResults.length)
  console.log(`index --json right after each fetch: ${indexResults.map((x) => JSON.stringify(x)).join(', ')}`)
console.log()
for (const c of checks) console.log(`check ${c.what}: ${c.ok ? 'ok' : 'MISMATCH'} — ${c.detail}`)
const loadEnd = Math.round(loadavg()[0] * 100) / 100
if (Math.max(machine.loadavg1, loadEnd) > machine.nproc / 2)
  console.log(
    `note: machine busy while measuring (1-min load ${machine.loadavg1} at start, ${loadEnd} at end, ${machine.nproc} CPUs)`,
  )

const outPath = opt.out ?? join(ROOT, 'bench', 'results-report.json')
const round = (s) => ({ wallMs: Math.round(s.wallMs * 10) / 10, maxRssKB: s.maxRssKB })
writeJson(outPath, {
  schema: 'usage-ledger/bench-report@1',
  date: new Date().toISOString(),
  devices: DEVICES,
  records: RECORDS,
  batches: BATCHES,
  sessions: SESSIONS,
  batch: BATCH,
  runs: RUNS,
  reps: REPS,
  infoReps: INFO_REPS,
  seed: SEED,
  end: opt.end,
  now: NOW,
  index: hasIndex,
  indexAfterFetch: indexResults,
  setup,
  p4c: p4cMeta && { ...p4cMeta, ccusage: CCUSAGE_VERSION },
  machine: { ...machine, loadavg1End: loadEnd },
  results: results.map((r) => ({ ...r, ratioRefOverOurs: 1 / r.ratio })),
  samples: Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, v.map(round)])),
  checks,
})
console.log(`\nwrote ${outPath}`)
const expectedChecks = 1 + 2 + RUNS + (opt['no-p4c'] ? 0 : 2)
process.exitCode = checks.length === expectedChecks && checks.every((c) => c.ok) ? 0 : 1
