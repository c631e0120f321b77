#!/usr/bin/env node
// The benchmark at scale (issue 7): `npm run bench -- --scale` (bench/run.mjs hands over to this
// script), or `node bench/scale.mjs` after `npm run build`. See docs/benchmarks.md.
//
//   node bench/scale.mjs [--runs 3] [--size large] [--only P1,P4,P5,P6,P6P,V,L,LE,Y,P4S,P6X3] [--out FILE]
//                        [--calm LOAD [--calm-wait 600]]
//
// Runs the other bench scripts one after the other as child processes, each with `--out` to a
// JSON file, and prints one table of P1–P6, V1 and V2:
//   bench/report.mjs --no-p4c      P4   (first: it builds and caches the 1M-record / 5-device
//                                        ledger, and the reader home of this CLI build, that P5,
//                                        P6 and V1/V2 copy)
//   bench/init.mjs                 P6   a fresh home's `init --remote` of that ledger + the first report
//   bench/init.mjs --packed        P6p  the same against a repacked copy of the remote (information)
//   bench/fetch.mjs --ledger p4    P5   incremental fetch (and P5n, nothing new) vs `git fetch`
//   bench/verify.mjs               V1   `verify --full` vs `git fsck --strict`; V2 `verify` vs `node -e 0`
//   bench/run.mjs --size large     P1   backfill vs ccusage; P2, P3 `record` vs `node -e 0`
//   bench/late.mjs                 L    a late record on a 200k-record device vs today's (record, Lf:
//                                       a reader's fetch); LE the same with one session per record
//   bench/year.mjs                 Y    after a simulated year (5 devices × 30,000 commits) vs day 1:
//                                       Yn, Yr `record`, Yf `fetch`, Yv `verify`, Yp `report`, Yw `report` of 7 days (issue 15)
//   bench/report.mjs --sessions 1000000  P4s  P4 over a ledger with one session per record (its own cache)
//   bench/init.mjs --records 3000000     P6x3 P6 over 3M records: peak RSS over P6's (memory that does not grow)
// Every ratio is the median of ratios each measured within one run: one pair of commands run
// back to back (in alternating order where the script does so). Every script runs the same copy
// of the CLI (taken when this one starts: USAGE_LEDGER_BENCH_CLI_ROOT), so a rebuild meanwhile
// neither breaks the run nor mixes builds. Exit 1 when a script failed or one of its
// correctness checks did not match; unmet goals are reported in the table, not as a failure.
// On a shared machine, `--calm 1.5` waits before each stage (up to --calm-wait seconds) until the
// 1-minute load average is under 1.5.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import {
  ROOT,
  CCUSAGE_VERSION,
  exitOnUncaught,
  requireBuild,
  logMachine,
  log,
  tempDir,
  snapshotCli,
  cliSha,
  median,
  formatTable,
  fmtMs,
  fmtMB,
  fmtRatio,
  fmtInt,
  writeJson,
} from './lib.mjs'

exitOnUncaught('bench --scale')

const { values: opt } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    size: { type: 'string', default: 'large' },
    only: { type: 'string' },
    calm: { type: 'string' },
    'calm-wait': { type: 'string', default: '600' },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
})
if (opt.help) {
  console.log(
    'usage: node bench/scale.mjs [--runs 3] [--size large|medium|small] [--only P1,P4,P5,P6,P6P,V,L,LE,Y,P4S,P6X3] [--calm LOAD [--calm-wait SECONDS]] [--out results.json]',
  )
  process.exit(0)
}
const RUNS = Math.max(1, Number(opt.runs))
const GOALS = {
  P1: { wallRatio: 0.5, rssMB: 250 },
  P2: { wallRatio: 1.5 },
  P3: { wallRatio: 3 },
  P4: { wallRatio: 2 },
  P5: { wallRatio: 2 },
  P5n: { wallRatio: 2 },
  P6: { wallMs: 30_000, rssMB: 300 },
  V1: { wallRatio: 2 },
  V2: { wallRatio: 2 },
  L: { wallRatio: 1.3 },
  Lf: { wallRatio: 1.3 },
  LE: { wallRatio: 1.3 },
  LEf: { wallRatio: 1.3 },
  Y: { wallRatio: 1.5 },
  P4s: { wallRatio: 3 },
  /** The ratio of P6x3 is of peak RSS: 3M records' over 1M's. */
  P6x3: { wallRatio: 1.2 },
}

requireBuild('run `npm run bench -- --scale` (it builds first) or `npm run build`')
const machine = logMachine()
const work = tempDir('ul-bench-scale-')
const cliRoot = join(work, 'cli')
const sha = cliSha(snapshotCli(cliRoot))
const head = (() => {
  const r = spawnSync('git', ['-C', ROOT, 'describe', '--always', '--dirty'], { encoding: 'utf8' })
  return r.status === 0 ? r.stdout.trim() : null
})()
log(`bench --scale: CLI build ${sha} (working tree ${head}; a copy in ${cliRoot}), ${RUNS} run(s) per case`)

// ---------------------------------------------------------------------------------------------
// The stages: one bench script each.

const STAGES = [
  {
    id: 'P4',
    script: 'report.mjs',
    args: ['--runs', '1', '--reps', String(Math.max(10, 3 * RUNS)), '--info-reps', '1', '--no-p4c'],
  },
  { id: 'P6', script: 'init.mjs', args: ['--runs', String(RUNS)] },
  { id: 'P6P', script: 'init.mjs', args: ['--runs', String(RUNS), '--packed'] },
  { id: 'P5', script: 'fetch.mjs', args: ['--ledger', 'p4', '--runs', String(RUNS), '--noop-reps', '3'] },
  { id: 'V', script: 'verify.mjs', args: ['--runs', String(RUNS), '--reps', String(RUNS)] },
  { id: 'P1', script: 'run.mjs', args: ['--size', opt.size, '--runs', String(RUNS), '--no-sources'] },
  { id: 'L', script: 'late.mjs', args: ['--runs', String(RUNS)] },
  { id: 'LE', script: 'late.mjs', args: ['--runs', String(RUNS), '--sessions', 'each'] },
  { id: 'Y', script: 'year.mjs', args: ['--runs', String(RUNS), '--reps', String(RUNS)] },
  {
    id: 'P4S',
    script: 'report.mjs',
    args: [
      '--runs',
      '1',
      '--reps',
      String(Math.max(10, 3 * RUNS)),
      '--info-reps',
      '1',
      '--no-p4c',
      '--sessions',
      '1000000',
    ],
  },
  { id: 'P6X3', script: 'init.mjs', args: ['--runs', String(RUNS), '--records', '3000000'] },
]
const only = opt.only ? new Set(opt.only.split(',').map((s) => s.trim().toUpperCase())) : null
const stages = STAGES.filter((s) => !only || only.has(s.id))

/** Runs one bench script, its stdout and stderr going to our stderr; resolves {code, seconds}. */
function runStage(stage, out) {
  return new Promise((resolvePromise) => {
    const t0 = performance.now()
    const child = spawn(process.execPath, [join(ROOT, 'bench', stage.script), ...stage.args, '--out', out], {
      env: { ...process.env, USAGE_LEDGER_BENCH_CLI_ROOT: cliRoot },
      stdio: ['ignore', process.stderr, process.stderr],
    })
    child.on('error', (e) => resolvePromise({ code: 1, error: e.message, seconds: 0 }))
    child.on('close', (code, signal) =>
      resolvePromise({ code: code ?? 128, signal, seconds: Math.round((performance.now() - t0) / 100) / 10 }),
    )
  })
}

const load = () => Math.round(loadavg()[0] * 100) / 100
const CALM = opt.calm != null ? Number(opt.calm) : null
/** --calm: waits until the 1-min load is under CALM, at most --calm-wait seconds; returns the seconds waited. */
async function calm() {
  if (CALM == null || load() < CALM) return 0
  const t0 = performance.now()
  log(`waiting for the 1-min load (${load()}) to drop under ${CALM} (at most ${opt['calm-wait']} s) …`)
  while (load() >= CALM && performance.now() - t0 < Number(opt['calm-wait']) * 1000)
    await new Promise((r) => setTimeout(r, 5000))
  return Math.round((performance.now() - t0) / 1000)
}
const stageResults = {}
try {
  for (const stage of stages) {
    const out = join(work, `${stage.id}.json`)
    const waited = await calm()
    const loadStart = load()
    log(`\n=== ${stage.id}: node bench/${stage.script} ${stage.args.join(' ')} (1-min load ${loadStart}) ===`)
    const r = await runStage(stage, out)
    const data = existsSync(out) ? JSON.parse(readFileSync(out, 'utf8')) : null
    stageResults[stage.id] = {
      script: stage.script,
      args: stage.args,
      code: r.code,
      seconds: r.seconds,
      waited,
      loadStart,
      loadEnd: load(),
      data,
    }
    log(`=== ${stage.id}: exit ${r.code} in ${r.seconds} s (1-min load ${stageResults[stage.id].loadEnd}) ===`)
  }
} finally {
  rmSync(work, { recursive: true, force: true })
}

// ---------------------------------------------------------------------------------------------
// Rows: medians of the samples, and the median of the per-run ratios.

const walls = (xs) => xs.map((s) => (typeof s === 'number' ? s : s.wallMs))
const rsses = (xs) => xs.map((s) => s.maxRssKB)
/** Ratios of the i-th samples of two lists measured as pairs within one run. */
const pairRatios = (a, b) => a.slice(0, Math.min(a.length, b.length)).map((x, i) => walls([x])[0] / walls([b[i]])[0])

const rows = []
function ratioRow(id, name, oursS, refS, refName, { ratios, oursRss, refRss } = {}) {
  const rs = ratios ?? pairRatios(oursS, refS)
  const g = GOALS[id] ?? null
  const o = { wallMs: median(walls(oursS)), maxRssKB: oursRss ?? median(rsses(oursS)) }
  const r = { wallMs: median(walls(refS)), maxRssKB: refRss ?? median(rsses(refS)) }
  const ratio = median(rs)
  let met = null
  if (g) {
    met = ratio <= g.wallRatio
    if (g.rssMB != null) met = met && o.maxRssKB / 1024 <= g.rssMB
  }
  rows.push({ id, case: name, ours: o, reference: refName, ref: r, ratio, ratios: rs, n: rs.length, goal: g, met })
}
const missing = (id, why) => rows.push({ id, case: why, missing: true, goal: GOALS[id] ?? null, met: null })

const S = (id) => stageResults[id]?.data
if (S('P1')) {
  const d = S('P1')
  ratioRow(
    'P1',
    `first record, backfill (${d.size} tree: ${fmtInt(d.tree.responses)} responses, ${Math.round(d.tree.bytes / 1e6)} MB)`,
    d.samples.p1Ours,
    d.samples.p1Ref,
    `ccusage ${CCUSAGE_VERSION} claude daily --offline --json`,
  )
  ratioRow('P2', 'record, nothing new', d.samples.p2Ours, d.samples.p2Ref, 'node -e 0')
  ratioRow('P3', `record, ${d.p3Responses} new responses`, d.samples.p3Ours, d.samples.p3Ref, 'node -e 0')
} else if (stageResults.P1)
  for (const id of ['P1', 'P2', 'P3']) missing(id, `bench/run.mjs failed (exit ${stageResults.P1.code})`)
if (S('P4')) {
  const d = S('P4')
  ratioRow(
    'P4',
    `report daily --by device, warm (${fmtInt(d.records)} records, ${d.devices} devices)`,
    d.samples.p4Daily,
    d.samples.p4Node,
    'node -e 0',
  )
} else if (stageResults.P4) missing('P4', `bench/report.mjs failed (exit ${stageResults.P4.code})`)
if (S('P5')) {
  const d = S('P5')
  ratioRow(
    'P5',
    `fetch, ${d.devices} devices × 1 new part (ledger of ${fmtInt(d.records)} records)`,
    d.samples.p5Ours,
    d.samples.p5Ref,
    'git fetch (same refs)',
  )
  ratioRow('P5n', 'fetch, nothing new', d.samples.p5nOurs, d.samples.p5nRef, 'git fetch, nothing new')
} else if (stageResults.P5) missing('P5', `bench/fetch.mjs failed (exit ${stageResults.P5.code})`)
for (const [id, label] of [
  ['P6', ''],
  ['P6P', '; remote repacked, information'],
]) {
  const d = S(id)
  if (!d) {
    if (stageResults[id]) missing(id, `bench/init.mjs failed (exit ${stageResults[id].code})`)
    continue
  }
  const g = GOALS.P6
  rows.push({
    id,
    case: `init --remote of a fresh home + first report (${d.ledger.devices} × ${fmtInt(d.ledger.records / d.ledger.devices)} records${label})`,
    ours: { wallMs: d.result.wallMs, maxRssKB: d.result.maxRssKB },
    reference: d.result.native ? 'native git fetch of the same refs (info)' : '—',
    ref: d.result.native,
    ratio: d.result.nativeRatio ?? NaN,
    n: d.runs,
    goal: g,
    met: d.result.wallMs <= g.wallMs && d.result.maxRssKB / 1024 <= g.rssMB,
    metWall: d.result.wallMs <= g.wallMs,
    metRss: d.result.maxRssKB / 1024 <= g.rssMB,
    info: id === 'P6P',
    parts: { init: d.result.init, report: d.result.report },
  })
}
if (S('V')) {
  const d = S('V')
  ratioRow(
    'V1',
    `verify --full (${fmtInt(d.records)} records)`,
    d.v1.full.map((w, i) => ({ wallMs: w, maxRssKB: d.v1.fullRss[i] })),
    d.v1.fsck.map((w, i) => ({ wallMs: w, maxRssKB: d.v1.fsckRss[i] })),
    'git fsck --strict',
  )
  ratioRow(
    'V2',
    `verify after 1 new part × 5 devices (${d.v2.parts?.every((x) => x === 0) ? 'fetch had checked them: 0 parts re-read' : `${d.v2.parts?.join('/') ?? '5'} parts re-read`})`,
    d.v2.verify.map((w, i) => ({ wallMs: w, maxRssKB: d.v2.verifyRss?.[i] })),
    d.v2.node.map((w) => ({ wallMs: w, maxRssKB: NaN })),
    'node -e 0 (median of 5)',
    { ratios: d.v2.ratio },
  )
} else if (stageResults.V) missing('V1', `bench/verify.mjs failed (exit ${stageResults.V.code})`)
for (const [id, sessions] of [
  ['L', 'sessions of 40'],
  ['LE', 'one session per record'],
]) {
  const d = S(id)
  if (!d) {
    if (stageResults[id]) missing(id, `bench/late.mjs failed (exit ${stageResults[id].code})`)
    continue
  }
  const what = `${d.batch} responses dated ${d.lateDays} days ago (1 device, ${fmtInt(d.records)} records, ${sessions})`
  ratioRow(id, `record of ${what}`, d.samples.lLate, d.samples.lToday, "the same, today's records")
  ratioRow(`${id}f`, `a reader's fetch of that commit`, d.samples.lfLate, d.samples.lfToday, "the same, today's commit")
}

if (S('Y')) {
  // A year of use: each case's year/day-1 ratio (bench/year.mjs measures the pairs).
  for (const r of S('Y').results) rows.push({ ...r, case: `${r.case} (after a year / day 1)`, goal: GOALS.Y })
} else if (stageResults.Y) missing('Y', `bench/year.mjs failed (exit ${stageResults.Y.code})`)

if (S('P4S')) {
  const d = S('P4S')
  ratioRow(
    'P4s',
    `report daily --by device, warm, one session per record (${fmtInt(d.records)} records, ${d.devices} devices)`,
    d.samples.p4Daily,
    d.samples.p4Node,
    'node -e 0',
  )
} else if (stageResults.P4S)
  missing('P4s', `bench/report.mjs --sessions 1000000 failed (exit ${stageResults.P4S.code})`)
if (S('P6X3')) {
  // Memory that does not grow with the ledger: the peak RSS of 3M records over that of 1M (P6, this run).
  const d = S('P6X3')
  const p6 = S('P6')?.result
  const ratio = p6 ? d.result.maxRssKB / p6.maxRssKB : NaN
  const metRss = ratio <= GOALS.P6x3.wallRatio
  rows.push({
    id: 'P6x3',
    case: `init --remote + first report, ${d.ledger.devices} × ${fmtInt(d.ledger.records / d.ledger.devices)} records: peak RSS vs P6's`,
    ours: { wallMs: d.result.wallMs, maxRssKB: d.result.maxRssKB },
    reference: p6 ? 'P6 (1M records), peak RSS' : 'P6 not run: no ratio',
    ref: p6 ? { wallMs: p6.wallMs, maxRssKB: p6.maxRssKB } : null,
    ratio,
    n: d.runs,
    goal: GOALS.P6x3,
    met: metRss,
    metWall: true,
    metRss,
    parts: { init: d.result.init, report: d.result.report },
  })
} else if (stageResults.P6X3)
  missing('P6x3', `bench/init.mjs --records 3000000 failed (exit ${stageResults.P6X3.code})`)

const order = [
  'P1',
  'P2',
  'P3',
  'P4',
  'P4s',
  'P5',
  'P5n',
  'P6',
  'P6P',
  'P6x3',
  'V1',
  'V2',
  'L',
  'Lf',
  'LE',
  'LEf',
  'Yn',
  'Yr',
  'Yf',
  'Yv',
  'Yp',
  'Yw',
  'Y',
]
rows.sort((a, b) => order.indexOf(a.id) - order.indexOf(b.id))

const goalText = (g) =>
  !g
    ? ''
    : g.wallMs != null
      ? `≤ ${g.wallMs / 1000} s, ≤ ${g.rssMB} MB`
      : `≤ ${g.wallRatio}×${g.rssMB != null ? `, ≤ ${g.rssMB} MB` : ''}`
const metText = (r) => {
  if (r.missing) return 'failed'
  const p6 = r.id.startsWith('P6')
  let t = 'not met'
  if (r.met) t = 'met'
  else if (p6 || r.goal?.rssMB != null) {
    const wallOk = p6 ? r.metWall : r.ratio <= r.goal.wallRatio
    const rssOk = p6 ? r.metRss : r.ours.maxRssKB / 1024 <= r.goal.rssMB
    t = wallOk ? 'wall met, RSS not met' : rssOk ? 'wall not met, RSS met' : 'not met (wall, RSS)'
  }
  return r.info ? `(info: ${t})` : t
}

console.log()
console.log(
  `usage-ledger bench --scale — ${RUNS} run(s) per case; ratio = median of per-run ratios (ours/reference, each pair measured back to back)`,
)
console.log(
  `machine: ${machine.cpu}, ${machine.nproc} CPUs, ${machine.memoryGB} GB RAM, ${machine.platform}; node ${machine.node}; git ${machine.git}; CLI build ${sha} (working tree ${head})`,
)
console.log()
console.log(
  formatTable(
    ['case', 'ours wall', 'ours RSS', 'reference', 'ref wall', 'ref RSS', 'ratio', 'n', 'goal', 'met?'],
    rows.map((r) =>
      r.missing
        ? [`${r.id === 'P6P' ? 'P6' : r.id} ${r.case}`, '—', '—', '', '—', '—', '—', '', goalText(r.goal), 'failed']
        : [
            `${r.id === 'P6P' ? 'P6' : r.id} ${r.case}`,
            fmtMs(r.ours.wallMs),
            fmtMB(r.ours.maxRssKB),
            r.reference,
            fmtMs(r.ref?.wallMs),
            fmtMB(r.ref?.maxRssKB),
            fmtRatio(r.ratio),
            String(r.n),
            goalText(r.goal),
            metText(r),
          ],
    ),
  ),
)
for (const p6 of rows.filter((r) => r.id.startsWith('P6') && !r.missing)) {
  console.log(
    `${p6.id === 'P6' ? 'P6' : 'P6 (remote repacked)'} parts (medians): init --remote ${fmtMs(p6.parts.init.wallMs)} (${fmtMB(p6.parts.init.maxRssKB)}), first report ${fmtMs(p6.parts.report.wallMs)} (${fmtMB(p6.parts.report.maxRssKB)}); the goal is absolute, the ratio to a native fetch is information`,
  )
}
const v = S('V')
if (v) console.log(`V2n verify with nothing new: ${fmtMs(median(v.v2.noop))}`)
console.log()
for (const [id, s] of Object.entries(stageResults)) {
  console.log(
    `${id}: bench/${s.script} ${s.args.join(' ')}: exit ${s.code}${s.code ? ' (FAILED: see its output above)' : ''}, ${s.seconds} s, 1-min load ${s.loadStart} → ${s.loadEnd}${s.waited ? ` (after waiting ${s.waited} s for a calmer machine)` : ''}`,
  )
}

const outPath = opt.out ?? join(ROOT, 'bench', 'results-scale.json')
writeJson(outPath, {
  schema: 'usage-ledger/bench-scale@1',
  date: new Date().toISOString(),
  runs: RUNS,
  cliSha: sha,
  head,
  machine: { ...machine, loadavg1End: load() },
  rows,
  stages: stageResults,
})
console.log(`\nwrote ${outPath}`)
process.exitCode = stages.every((s) => stageResults[s.id]?.code === 0) ? 0 : 1
