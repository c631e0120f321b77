#!/usr/bin/env node
// The benchmark behind `npm run bench` (which builds first). See docs/benchmarks.md.
//
//   node bench/run.mjs [--size large|medium|small] [--runs 3] [--seed 42] [--keep]
//                      [--p2-reps 10] [--p3-reps 5] [--p3-responses 100] [--out FILE]
//                      [--sessions N] [--no-sources]
//   node bench/run.mjs --scale [--runs 3] …   P1–P6, V1, V2 at scale: bench/scale.mjs
//
// P1  first `record` (backfill of the whole tree) vs `ccusage claude daily --offline --json`
//     on the same tree: wall and peak RSS, median over runs.
// P2  `record` when nothing is new vs `node -e 0` (interleaved, median of all samples).
// P3  `record` after `--p3-responses` new responses were appended vs `node -e 0`.
// S1  `record` when nothing is new with every source present (bench/sources/*.mjs, a mixed tree)
//     vs `node -e 0` (interleaved, median of all samples).
// S2  first `record` of that mixed tree vs `ccusage daily --offline --json` (every agent) on it,
//     both with an empty HOME and every source's variable set; median over runs.
// L1, L2  the statusline (issue 16), by bench/statusline.mjs after the rest (--no-statusline: not).
// Each run starts from a fresh temp home; ratios come from numbers measured in the same
// invocation. The generated tree is cached (by size, seed, end date and generator version)
// under ${XDG_CACHE_HOME:-~/.cache}/usage-ledger-bench/trees and is left as it was found: P3
// writes into its own session file, deleted afterwards.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { randomUUID } from 'node:crypto'
import { loadavg } from 'node:os'
import { appendResponses, SIZES, DEFAULT_SEED, DEFAULT_END } from './generate.mjs'
import {
  ROOT,
  CLI,
  CLI_ROOT,
  DEVICE_ID,
  CCUSAGE_VERSION,
  ensureCcusage,
  ensureTree,
  warmTree,
  tempDir,
  measure,
  measureOk,
  median,
  resultsTable,
  fmtMs,
  fmtMB,
  fmtInt,
  machineInfo,
  log,
  writeJson,
  normaliseCcusageDaily,
  normaliseOurDaily,
  normaliseTruth,
  diffDaily,
  generateSourceTrees,
} from './lib.mjs'

// `npm run bench -- --scale`: P1–P6, V1 and V2 at scale, by bench/scale.mjs (which runs this
// script, among others, as a child process); the other options are passed on.
if (process.argv.slice(2).includes('--scale')) {
  const r = spawnSync(
    process.execPath,
    [join(ROOT, 'bench', 'scale.mjs'), ...process.argv.slice(2).filter((a) => a !== '--scale')],
    { stdio: 'inherit' },
  )
  process.exit(r.status ?? 1)
}

const GOALS = {
  P1: { wallRatio: 0.5, rssMB: 250 },
  P2: { wallRatio: 1.5 },
  P3: { wallRatio: 3 },
  S1: { wallRatio: 1.5 },
  S2: { wallRatio: 1 },
}
/** S1/S2: sessions per source in the mixed tree, by --size (Claude Code's hold 100 responses each). */
const SOURCE_SESSIONS = { small: 20, medium: 100, large: 200 }
// A project dir of its own for P3's session file, so the cached tree is easy to restore.
const P3_PROJECT = '-tmp-usage-ledger-bench-p3'

// a failed command or install: one clear line, not a stack (temp dirs are cleaned in finally blocks)
process.on('uncaughtException', (e) => {
  console.error(`${process.argv[1]?.endsWith('parity.mjs') ? 'parity' : 'bench'}: ${e?.message ?? e}`)
  process.exit(1)
})

const { values: opt } = parseArgs({
  options: {
    size: { type: 'string', default: 'large' },
    runs: { type: 'string', default: '3' },
    seed: { type: 'string', default: String(DEFAULT_SEED) },
    end: { type: 'string', default: DEFAULT_END },
    keep: { type: 'boolean', default: false },
    'p2-reps': { type: 'string', default: '10' },
    'p3-reps': { type: 'string', default: '5' },
    'p3-responses': { type: 'string', default: '100' },
    out: { type: 'string' },
    sessions: { type: 'string' },
    'no-sources': { type: 'boolean', default: false },
    'no-statusline': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h' },
  },
})
if (opt.help) {
  console.log(
    'usage: node bench/run.mjs [--size large|medium|small] [--runs 3] [--seed 42] [--keep] [--p2-reps 10] [--p3-reps 5] [--p3-responses 100] [--out results.json] [--sessions N] [--no-sources] [--no-statusline]',
  )
  process.exit(0)
}
if (!SIZES[opt.size]) {
  console.error(`unknown --size ${opt.size} (small, medium, large)`)
  process.exit(2)
}
const RUNS = Math.max(1, Number(opt.runs))
const P2_REPS = Math.max(1, Number(opt['p2-reps']))
const P3_REPS = Math.max(1, Number(opt['p3-reps']))
const P3_N = Math.max(1, Number(opt['p3-responses']))
const SESSIONS = Math.max(1, Number(opt.sessions ?? SOURCE_SESSIONS[opt.size]))
const NODE = process.execPath

if (!existsSync(join(CLI_ROOT, 'dist', 'cli.cjs'))) {
  console.error(
    `${join(CLI_ROOT, 'dist', 'cli.cjs')} is missing: run \`npm run bench\` (it builds first) or \`npm run build\``,
  )
  process.exit(2)
}

const machine = machineInfo()
log(
  `machine: ${machine.cpu}, ${machine.nproc} CPUs, ${machine.memoryGB} GB, ${machine.platform}; node ${machine.node}, git ${machine.git}; measuring with ${machine.measure}`,
)
if (machine.loadavg1 > machine.nproc / 2)
  log(
    `warning: the machine is busy (load ${machine.loadavg1} on ${machine.nproc} CPUs); absolute numbers will be noisy, ratios less so`,
  )

const ccusage = ensureCcusage()
const { dir: tree, meta } = ensureTree({ size: opt.size, seed: Number(opt.seed), end: opt.end })
const p3Dir = join(tree, 'projects', P3_PROJECT)
rmSync(p3Dir, { recursive: true, force: true }) // left over by an interrupted run
log(`tree: ${tree} (${meta.files} files, ${fmtInt(meta.responses)} responses, ${(meta.bytes / 1e6).toFixed(0)} MB)`)
log('reading the tree once so every measured command finds it in the page cache …')
warmTree(join(tree, 'projects'))

const baseEnv = { ...process.env, TZ: 'UTC', NO_COLOR: '1' }
delete baseEnv.FORCE_COLOR
const ourEnv = { ...baseEnv, CLAUDE_CONFIG_DIR: tree, USAGE_LEDGER_DEVICE_ID: DEVICE_ID }
delete ourEnv.USAGE_LEDGER_HOME
const ccEnv = { ...baseEnv, CLAUDE_CONFIG_DIR: tree }

const ours = (home, ...args) => [NODE, [CLI, '--home', home, ...args]]
const recordArgs = (home) => ours(home, 'record', '--no-push', '--source', 'claude-code')
// ccusage 20.0.24 has the `claude daily` subcommand (checked with `ccusage claude daily --help`),
// so the reference is run exactly as the issue names it.
const ccArgs = [ccusage, ['claude', 'daily', '--offline', '--json']]
const nodeNoop = [NODE, ['-e', '0']]

const samples = {
  p1Ours: [],
  p1Ref: [],
  p2Ours: [],
  p2Ref: [],
  p3Ours: [],
  p3Ref: [],
  s1Ours: [],
  s1Ref: [],
  s2Ours: [],
  s2Ref: [],
}
const checks = []
const sumInto = (acc, t) => {
  for (const k of ['records', 'input', 'output', 'cacheWrite', 'cacheRead', 'totalTokens'])
    acc[k] = (acc[k] ?? 0) + (t[k] ?? 0)
  return acc
}

for (let run = 1; run <= RUNS; run++) {
  const home = tempDir('ul-bench-home-')
  const expected = sumInto({}, meta.totals)
  try {
    log(`run ${run}/${RUNS}: home ${home}`)
    // P1: alternate the order between runs so neither side always goes first
    const p1 = async () => {
      const r = await measureOk('record (P1, backfill)', ...recordArgs(home), { env: ourEnv })
      samples.p1Ours.push(r)
      log(`  P1 ours    ${fmtMs(r.wallMs)}  ${fmtMB(r.maxRssKB)}`)
    }
    const ref = async () => {
      const r = await measureOk('ccusage', ...ccArgs, { env: ccEnv })
      samples.p1Ref.push(r)
      log(`  P1 ccusage ${fmtMs(r.wallMs)}  ${fmtMB(r.maxRssKB)}`)
      if (run === 1) {
        const d = diffDaily(normaliseCcusageDaily(JSON.parse(r.stdout)), normaliseTruth(meta))
        if (d.diffs.length)
          log(`  note: ccusage differs from the generator's truth on ${d.diffs.length} (day, field) pairs`)
      }
    }
    if (run % 2) {
      await p1()
      await ref()
    } else {
      await ref()
      await p1()
    }

    // P3's own session file, made known to the ledger before P2 so P2 really has nothing new
    mkdirSync(p3Dir, { recursive: true })
    const p3File = join(p3Dir, `${randomUUID()}.jsonl`)
    const seeded = appendResponses(tree, 5, new Date().toISOString(), {
      file: p3File,
      cwd: '/tmp/usage-ledger-bench-p3',
    })
    sumInto(expected, seeded.truth.totals)
    await measureOk('record (absorbing the P3 session file)', ...recordArgs(home), { env: ourEnv })

    // P2: nothing new, interleaved with node -e 0
    for (let k = 0; k < P2_REPS; k++) {
      const a = await measureOk('record (P2, nothing new)', ...recordArgs(home), { env: ourEnv })
      const b = await measureOk('node -e 0', ...nodeNoop, { env: baseEnv })
      samples.p2Ours.push(a)
      samples.p2Ref.push(b)
    }
    log(
      `  P2 ours ${fmtMs(median(samples.p2Ours.slice(-P2_REPS).map((s) => s.wallMs)))}, node -e 0 ${fmtMs(median(samples.p2Ref.slice(-P2_REPS).map((s) => s.wallMs)))}`,
    )

    // P3: append new responses, then record, interleaved with node -e 0
    for (let k = 0; k < P3_REPS; k++) {
      const added = appendResponses(tree, P3_N, new Date().toISOString(), { file: p3File })
      sumInto(expected, added.truth.totals)
      const a = await measureOk('record (P3, after appending)', ...recordArgs(home), { env: ourEnv })
      const b = await measureOk('node -e 0', ...nodeNoop, { env: baseEnv })
      samples.p3Ours.push(a)
      samples.p3Ref.push(b)
    }
    log(
      `  P3 ours ${fmtMs(median(samples.p3Ours.slice(-P3_REPS).map((s) => s.wallMs)))}, node -e 0 ${fmtMs(median(samples.p3Ref.slice(-P3_REPS).map((s) => s.wallMs)))}`,
    )

    // Not measured: did the ledger get exactly what the tree holds? (P2/P3 numbers mean little
    // if a run skipped work.)
    const rep = await measure(...ours(home, 'report', 'daily', '--json', '--tz', 'UTC'), { env: ourEnv })
    let check
    if (rep.code !== 0)
      check = { run, ok: false, detail: `report failed (exit ${rep.code}): ${rep.stderr.trim().split('\n').pop()}` }
    else {
      const got = normaliseOurDaily(JSON.parse(rep.stdout)).totals
      const bad = ['records', 'input', 'output', 'cacheWrite', 'cacheRead', 'totalTokens'].filter(
        (k) => got[k] !== expected[k],
      )
      check = {
        run,
        ok: bad.length === 0,
        detail: bad.length
          ? bad.map((k) => `${k} ${got[k]} ≠ expected ${expected[k]}`).join(', ')
          : `ledger totals = tree totals (${fmtInt(expected.records)} records)`,
      }
    }
    checks.push(check)
    log(`  check: ${check.ok ? 'ok' : 'MISMATCH'}: ${check.detail}`)
  } finally {
    rmSync(p3Dir, { recursive: true, force: true })
    if (!opt.keep) rmSync(home, { recursive: true, force: true })
    else log(`  kept ${home}`)
  }
}

// ---------------------------------------------------------------------------------------------
// S1, S2: every source at once, on a mixed tree generated by bench/sources/*.mjs.

let mixed = null
if (!opt['no-sources']) {
  const work = tempDir('ul-bench-sources-')
  try {
    const gen = await generateSourceTrees(join(work, 'tree'), {
      sessions: SESSIONS,
      seed: Number(opt.seed),
      end: opt.end,
    })
    const bytes = warmTree(join(work, 'tree'))
    mixed = { sessions: SESSIONS, bytes, sources: gen.sources }
    log(
      `mixed tree: ${gen.sources.map((x) => `${x.name} ${x.files} files, ${fmtInt(x.records)} records`).join('; ')} (${(bytes / 1e6).toFixed(0)} MB)`,
    )
    // An empty HOME: neither side reads this machine's own agents.
    const emptyHome = join(work, 'home')
    mkdirSync(emptyHome)
    const sOurEnv = { ...baseEnv, HOME: emptyHome, ...gen.env, USAGE_LEDGER_DEVICE_ID: DEVICE_ID }
    delete sOurEnv.USAGE_LEDGER_HOME
    delete sOurEnv.XDG_CONFIG_HOME
    const sRefEnv = { PATH: process.env.PATH, HOME: emptyHome, TZ: 'UTC', NO_COLOR: '1', ...gen.env }
    const allRecord = (home) => ours(home, 'record', '--no-push')
    let home
    for (let run = 1; run <= RUNS; run++) {
      home = join(work, `store-${run}`)
      const s2 = async () => {
        const r = await measureOk('record (S2, every source)', ...allRecord(home), { env: sOurEnv })
        samples.s2Ours.push(r)
        log(`  S2 ours    ${fmtMs(r.wallMs)}  ${fmtMB(r.maxRssKB)}`)
      }
      const ref = async () => {
        const r = await measureOk('ccusage daily', ccusage, ['daily', '--offline', '--json'], { env: sRefEnv })
        samples.s2Ref.push(r)
        log(`  S2 ccusage ${fmtMs(r.wallMs)}  ${fmtMB(r.maxRssKB)}`)
      }
      if (run % 2) {
        await s2()
        await ref()
      } else {
        await ref()
        await s2()
      }
      const rep = await measureOk('report', ...ours(home, 'report', 'daily', '--json', '--tz', 'UTC'), {
        env: sOurEnv,
      })
      const got = normaliseOurDaily(JSON.parse(rep.stdout)).totals.records
      const check = {
        run,
        ok: got === gen.records,
        detail: `mixed tree: ${fmtInt(got)} records${got === gen.records ? '' : ` ≠ expected ${fmtInt(gen.records)}`}`,
      }
      checks.push(check)
      log(`  check: ${check.ok ? 'ok' : 'MISMATCH'}: ${check.detail}`)
    }
    // S1: nothing new, every source present, interleaved with node -e 0 (the last run's store)
    for (let k = 0; k < P2_REPS * RUNS; k++) {
      samples.s1Ours.push(await measureOk('record (S1, nothing new)', ...allRecord(home), { env: sOurEnv }))
      samples.s1Ref.push(await measureOk('node -e 0', ...nodeNoop, { env: baseEnv }))
    }
    log(
      `  S1 ours ${fmtMs(median(samples.s1Ours.map((s) => s.wallMs)))}, node -e 0 ${fmtMs(median(samples.s1Ref.map((s) => s.wallMs)))}`,
    )
  } finally {
    if (!opt.keep) rmSync(work, { recursive: true, force: true })
    else log(`  kept ${work}`)
  }
}

// ---------------------------------------------------------------------------------------------
// Results.

const med = (xs, k) => median(xs.map((s) => s[k]))
const row = (id, name, oursS, refS, refName, goal) => {
  const o = { wallMs: med(oursS, 'wallMs'), maxRssKB: med(oursS, 'maxRssKB'), n: oursS.length }
  const r = { wallMs: med(refS, 'wallMs'), maxRssKB: med(refS, 'maxRssKB'), n: refS.length }
  const ratio = o.wallMs / r.wallMs
  let met = ratio <= goal.wallRatio
  if (goal.rssMB != null) met = met && o.maxRssKB / 1024 <= goal.rssMB
  return { id, case: name, reference: refName, ours: o, ref: r, ratio, goal, met }
}
const results = [
  row(
    'P1',
    'first record (backfill)',
    samples.p1Ours,
    samples.p1Ref,
    `ccusage ${CCUSAGE_VERSION} claude daily --offline --json`,
    GOALS.P1,
  ),
  row('P2', 'record, nothing new', samples.p2Ours, samples.p2Ref, 'node -e 0', GOALS.P2),
  row('P3', `record, ${P3_N} new responses`, samples.p3Ours, samples.p3Ref, 'node -e 0', GOALS.P3),
  ...(mixed
    ? [
        row('S1', 'record, nothing new, every source', samples.s1Ours, samples.s1Ref, 'node -e 0', GOALS.S1),
        row(
          'S2',
          'first record, every source (mixed tree)',
          samples.s2Ours,
          samples.s2Ref,
          `ccusage ${CCUSAGE_VERSION} daily --offline --json (every agent)`,
          GOALS.S2,
        ),
      ]
    : []),
]
const goalText = (g) => `≤ ${g.wallRatio}× wall${g.rssMB != null ? `, ≤ ${g.rssMB} MB` : ''}`

console.log()
console.log(
  `usage-ledger bench — ${opt.size} tree: ${meta.files} files, ${fmtInt(meta.responses)} responses, ${(meta.bytes / 1e6).toFixed(0)} MB; ` +
    `${RUNS} run(s), medians (P2 over ${samples.p2Ours.length} samples, P3 over ${samples.p3Ours.length})`,
)
if (mixed)
  console.log(
    `mixed tree (S1, S2): ${mixed.sessions} sessions per source; ${mixed.sources.map((x) => `${x.name} ${x.files} files, ${fmtInt(x.records)} records`).join('; ')}; ${(mixed.bytes / 1e6).toFixed(0)} MB; S1 over ${samples.s1Ours.length} samples`,
  )
console.log(
  `machine: ${machine.cpu}, ${machine.nproc} CPUs, ${machine.memoryGB} GB RAM, ${machine.platform}; node ${machine.node}; git ${machine.git}`,
)
console.log()
console.log(resultsTable(results, { goal: (r) => goalText(r.goal) }))
console.log()
for (const c of checks) console.log(`run ${c.run} ledger check: ${c.ok ? 'ok' : 'MISMATCH'} — ${c.detail}`)
const loadEnd = Math.round(loadavg()[0] * 100) / 100
if (Math.max(machine.loadavg1, loadEnd) > machine.nproc / 2)
  console.log(
    `note: machine busy while measuring (1-min load ${machine.loadavg1} at start, ${loadEnd} at end, ${machine.nproc} CPUs)`,
  )

const outPath = opt.out ?? join(ROOT, 'bench', `results-${opt.size}.json`)
writeJson(outPath, {
  schema: 'usage-ledger/bench@1',
  date: new Date().toISOString(),
  size: opt.size,
  tree: {
    files: meta.files,
    responses: meta.responses,
    lines: meta.lines,
    bytes: meta.bytes,
    seed: meta.seed,
    end: meta.end,
    generator: meta.generator,
  },
  runs: RUNS,
  p2Reps: P2_REPS,
  p3Reps: P3_REPS,
  p3Responses: P3_N,
  mixed,
  machine: { ...machine, loadavg1End: loadEnd },
  ccusage: CCUSAGE_VERSION,
  results: results.map((r) => ({
    id: r.id,
    case: r.case,
    reference: r.reference,
    ours: r.ours,
    ref: r.ref,
    ratio: r.ratio,
    goal: r.goal,
    met: r.met,
  })),
  samples: Object.fromEntries(
    Object.entries(samples).map(([k, v]) => [
      k,
      v.map((s) => ({ wallMs: Math.round(s.wallMs * 10) / 10, maxRssKB: s.maxRssKB })),
    ]),
  ),
  checks,
})
console.log(`\nwrote ${outPath}`)
process.exitCode = checks.every((c) => c.ok) ? 0 : 1
// The statusline's benchmark (L1, L2), its own table.
if (!opt['no-statusline']) {
  const sl = spawnSync(process.execPath, [join(ROOT, 'bench', 'statusline.mjs')], { stdio: 'inherit' })
  if (sl.status !== 0) process.exitCode = 1
}
