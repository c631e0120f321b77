#!/usr/bin/env node
// P5 of the benchmark (see docs/benchmarks.md): syncing through a git remote.
//
//   node bench/fetch.mjs [--devices 5] [--records 200000] [--commits 24] [--runs 3]
//                        [--batch 50] [--noop-reps 3] [--seed 42] [--end 2026-11-20] [--keep]
//                        [--ledger own|p4] [--out FILE]
//
// Setup (not timed): a bare remote (a path), `--devices` device homes that record a history of
// `--records` records in total (stdin NDJSON over the 60 days before `--end`, `--commits` record
// runs per device, each pushed), a reader home that ran `init --remote` (its initial fetch), and
// a native bare repository fetched to the same state with the refspec
// `+refs/heads/ledger/*:refs/remotes/origin/ledger/*`.
// With `--ledger p4` the history is instead a copy of the P4 ledger that bench/report.mjs builds
// and caches (1M records from 5 devices; its reader home for this CLI build when cached, else an
// `init --remote`), and every command runs at the clock of that setup (noon of its end day).
// Per run: every device records `--batch` new records (one new part each, pushed); then
//   P5   our `fetch --json` in the reader home   vs  `git fetch` in the native repository
//   P5n  our `fetch --json` again (nothing new)  vs  `git fetch` again (nothing new)
// and the reader's `report --json --tz UTC` totals must equal what the devices recorded
// (exit 1 otherwise). Wall and peak RSS, medians over runs; ratios ours/native.
// With `--late-days N` (default 7; 0: none) every run then does it again with records dated N
// days before the --end day (P5L: one new part per device in a sealed day). Also reported, per
// run: (our fetch − native fetch) / `node -e 0` for P5 and P5L, and the no-op fetch / `node -e 0`.
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { loadavg } from 'node:os'
import { DEFAULT_SEED, DEFAULT_END } from './generate.mjs'
import {
  ROOT,
  DEVICE_ID,
  CLI,
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
  reportCache,
  copyReportLedger,
  cliSha,
} from './lib.mjs'
import {
  TOTAL_KEYS,
  HISTORY_DAYS,
  deviceId as benchDeviceId,
  zero,
  addInto,
  DAY_MS,
  history as genHistory,
  batch as genBatch,
} from './records.mjs'

const GOALS = { P5: { wallRatio: 2 }, P5n: { wallRatio: 2 } }
const SOURCE = 'bench'
const LEDGER_REFSPEC = '+refs/heads/ledger/*:refs/remotes/origin/ledger/*'

exitOnUncaught()

const { values: opt } = parseArgs({
  options: {
    devices: { type: 'string', default: '5' },
    records: { type: 'string', default: '200000' },
    commits: { type: 'string', default: '24' },
    runs: { type: 'string', default: '3' },
    batch: { type: 'string', default: '50' },
    'noop-reps': { type: 'string', default: '3' },
    'late-days': { type: 'string', default: '7' },
    seed: { type: 'string', default: String(DEFAULT_SEED) },
    end: { type: 'string', default: DEFAULT_END },
    keep: { type: 'boolean', default: false },
    ledger: { type: 'string', default: 'own' },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
})
if (opt.help) {
  console.log(
    'usage: node bench/fetch.mjs [--devices 5] [--records 200000] [--commits 24] [--runs 3] [--batch 50] [--noop-reps 3] [--seed 42] [--end YYYY-MM-DD] [--keep] [--ledger own|p4] [--out results.json]',
  )
  process.exit(0)
}
if (opt.ledger !== 'own' && opt.ledger !== 'p4') {
  console.error(`unknown --ledger ${opt.ledger} (own, p4)`)
  process.exit(2)
}
/** --ledger p4: the cached setup of bench/report.mjs ({cacheDir, meta}); its parameters replace ours. */
const p4 = opt.ledger === 'p4' ? reportCache('r1000000-d5-', 'bench fetch') : null
const DEVICES = p4 ? p4.meta.devices : Math.max(1, Number(opt.devices))
const RECORDS = p4 ? p4.meta.records : Math.max(DEVICES, Number(opt.records))
const COMMITS = Math.max(1, Number(opt.commits))
const RUNS = Math.max(1, Number(opt.runs))
const BATCH = Math.max(1, Number(opt.batch))
const NOOP_REPS = Math.max(1, Number(opt['noop-reps']))
const LATE_DAYS = Math.max(0, Number(opt['late-days']))
const SEED = p4 ? p4.meta.seed : Number(opt.seed)
const END = p4 ? p4.meta.end : opt.end
const END_MS = parseEndDay(END)
const NODE = process.execPath

requireBuild()
const machine = logMachine()

// ---------------------------------------------------------------------------------------------
// Records (bench/records.mjs): unique per device (strictly increasing ts) and across devices
// (the session and project hashes differ), so no id is deduplicated and the expected totals are sums.

const deviceId = (i) => (p4 ? p4.meta.ids[i - 1] : benchDeviceId(i, 'b', '5eed'))

/**
 * A device's history: `n` records stratified over the 60 days before --end, cut into COMMITS
 * chunks by time, 40 records a session. Returns [{lines, now}] with `now` an hour after the
 * chunk's last record.
 */
function history(dev, n) {
  const { chunks, truth } = genHistory({
    seed: SEED,
    endMs: END_MS,
    dev,
    n,
    chunks: COMMITS,
    sessionOf: (i) => Math.floor(i / 40),
  })
  return {
    chunks: chunks.map((c) => ({
      lines: c.lines,
      now: new Date(Math.min(c.lastMs + 3_600_000, END_MS)).toISOString(),
    })),
    truth,
  }
}

/**
 * Run `run`'s small batch of one device: BATCH records inside hour `run` of the --end day, or
 * (`late`) of the day LATE_DAYS before it, recorded at the same clock.
 */
function batch(dev, run, late = false) {
  const endMs = late ? END_MS - LATE_DAYS * DAY_MS : END_MS
  const { lines, truth } = genBatch({ seed: SEED, endMs, dev, run, size: BATCH, salt: late ? 0x1a7e : 0x5eed })
  const today = END_MS + (run - 1) * 3_600_000
  return { lines, truth, now: p4 ? p4.meta.now : new Date(today + (late ? 3_400_000 : 3_300_000)).toISOString() }
}

// ---------------------------------------------------------------------------------------------
// Processes.

const baseEnv = benchEnv()
const envFor = (id, now = p4?.meta.now) => ({
  ...baseEnv,
  USAGE_LEDGER_DEVICE_ID: id,
  ...(now ? { USAGE_LEDGER_NOW: now } : {}),
})
const git = gitWith(baseEnv)

/** `refs/heads/ledger/<id>` → oid (on the remote), or `refs/remotes/origin/ledger/<id>` → oid (native clone). */
const ledgerHeads = (gitdir, prefix) => {
  const m = new Map()
  for (const line of git('--git-dir', gitdir, 'for-each-ref', '--format=%(refname) %(objectname)', prefix).split(
    '\n',
  )) {
    const [ref, oid] = line.split(' ')
    if (ref) m.set(ref.slice(prefix.length).replace(/^\//, ''), oid)
  }
  return m
}

// The CLI runs from a copy of bin/ and dist/ taken at the start (made under `root` below), so a
// rebuild while the bench runs (`npm test` builds first) can neither break it nor mix versions.
let cli = CLI
const ours = (home, ...args) => [NODE, [cli, '--home', home, ...args]]

// ---------------------------------------------------------------------------------------------
// Setup.

const root = tempDir('ul-bench-fetch-')
const remote = join(root, 'remote.git')
const native = join(root, 'native.git')
let reader = join(root, 'reader')
let homes = Array.from({ length: DEVICES }, (_, i) => join(root, `device-${i + 1}`))
const ids = Array.from({ length: DEVICES }, (_, i) => deviceId(i + 1))
const expected = zero()
const samples = { p5Ours: [], p5Ref: [], p5nOurs: [], p5nRef: [], nodeNoop: [], p5lOurs: [], p5lRef: [] }
const checks = []
const setup = {}

/** Not measured: reader's totals = everything recorded; reader's and native's heads = the remote's. */
async function check(runNo) {
  const problems = []
  const rep = JSON.parse(
    await run('report', ...ours(reader, 'report', '--json', '--tz', 'UTC'), { env: envFor(DEVICE_ID) }),
  )
  const got = normaliseOurDaily(rep).totals
  for (const k of TOTAL_KEYS) if (got[k] !== expected[k]) problems.push(`${k} ${got[k]} ≠ expected ${expected[k]}`)
  const remoteHeads = ledgerHeads(remote, 'refs/heads/ledger')
  const readerHeads = ledgerHeads(join(reader, 'repo.git'), 'refs/heads/ledger')
  const nativeHeads = ledgerHeads(native, 'refs/remotes/origin/ledger')
  for (const id of ids) {
    if (readerHeads.get(id) !== remoteHeads.get(id))
      problems.push(
        `reader's ledger/${id} ${readerHeads.get(id)?.slice(0, 12)} ≠ remote ${remoteHeads.get(id)?.slice(0, 12)}`,
      )
    if (nativeHeads.get(id) !== remoteHeads.get(id))
      problems.push(
        `native's origin/ledger/${id} ${nativeHeads.get(id)?.slice(0, 12)} ≠ remote ${remoteHeads.get(id)?.slice(0, 12)}`,
      )
  }
  const c = {
    run: runNo,
    ok: problems.length === 0,
    detail: problems.length
      ? problems.join('; ')
      : `reader totals = devices' sum (${fmtInt(expected.records)} records, ${fmtInt(expected.totalTokens)} tokens); ${ids.length} heads = remote's in both repos`,
  }
  log(`  check: ${c.ok ? 'ok' : 'MISMATCH'}: ${c.detail}`)
  return c
}

try {
  cli = snapshotCli(join(root, 'app'))
  const t0 = performance.now()
  if (p4) {
    log(
      `setup in ${root}: a copy of the P4 ledger ${p4.cacheDir} (${DEVICES} devices × ${fmtInt(RECORDS / DEVICES)} records)`,
    )
    setup.ledger = { p4: p4.cacheDir, cliSha: cliSha(cli) }
    const copy = copyReportLedger(p4.cacheDir, root, { readerSha: setup.ledger.cliSha })
    if (copy.homes.length !== DEVICES)
      throw new Error(`the P4 cache holds ${copy.homes.length} device homes, its setup.json says ${DEVICES}`)
    homes = copy.homes
    for (const t of p4.meta.truths) addInto(expected, t)
    setup.historySeconds = Math.round((performance.now() - t0) / 100) / 10
    const t1 = performance.now()
    if (copy.reader) reader = copy.reader
    else {
      log(`  no cached reader for CLI build ${setup.ledger.cliSha}: init --remote (a full fetch) …`)
      await run('init reader', ...ours(reader, 'init', '--remote', remote, '--name', 'reader'), {
        env: envFor(DEVICE_ID),
      })
    }
    setup.readerCached = Boolean(copy.reader)
    setup.readerInitSeconds = Math.round((performance.now() - t1) / 100) / 10
  } else {
    log(
      `setup in ${root}: ${DEVICES} devices × ${fmtInt(RECORDS / DEVICES)} records in ${COMMITS} record runs each, over the ${HISTORY_DAYS} days before ${END}`,
    )
    git('init', '--quiet', '--bare', remote)

    await pool(
      homes.map((_h, i) => i),
      Math.max(1, machine.nproc),
      async (i) => {
        const n = Math.floor(((i + 1) * RECORDS) / DEVICES) - Math.floor((i * RECORDS) / DEVICES)
        const { chunks, truth } = history(i + 1, n)
        await run(`init device ${i + 1}`, ...ours(homes[i], 'init', '--remote', remote, '--name', `device-${i + 1}`), {
          env: envFor(ids[i], chunks[0].now),
        })
        for (const c of chunks) {
          await run(`record device ${i + 1}`, ...ours(homes[i], 'record', '--stdin', '--source', SOURCE, '--quiet'), {
            env: envFor(ids[i], c.now),
            input: `${c.lines.join('\n')}\n`,
          })
        }
        addInto(expected, truth)
      },
    )
    setup.historySeconds = Math.round((performance.now() - t0) / 100) / 10

    // the reader: init --remote fetches everything once (the state every run starts from)
    const t1 = performance.now()
    await run('init reader', ...ours(reader, 'init', '--remote', remote, '--name', 'reader'), {
      env: envFor(DEVICE_ID),
    })
    setup.readerInitSeconds = Math.round((performance.now() - t1) / 100) / 10
  }
  // the native equivalent, fetched to the same state
  git('init', '--quiet', '--bare', native)
  git('--git-dir', native, 'remote', 'add', 'origin', remote)
  git('--git-dir', native, 'config', 'remote.origin.fetch', LEDGER_REFSPEC)
  git('--git-dir', native, 'fetch', '--quiet', 'origin')

  const heads = ledgerHeads(remote, 'refs/heads/ledger')
  setup.commitsPerDevice = ids.map((id) =>
    Number(git('--git-dir', remote, 'rev-list', '--count', heads.get(id)).trim()),
  )
  setup.parts = git('--git-dir', remote, 'ls-tree', '-r', '--name-only', heads.get(ids[0]))
    .split('\n')
    .filter((p) => p.endsWith('.ndjson')).length
  const counts = git('--git-dir', remote, 'count-objects', '-v')
  setup.remoteSizeKB = Number(counts.match(/^size-pack: (\d+)/m)[1]) + Number(counts.match(/^size: (\d+)/m)[1])
  log(
    `setup done in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${fmtInt(expected.records)} records, ${setup.commitsPerDevice.join('/')} commits per device, ${setup.parts} parts on device 1, remote ${(setup.remoteSizeKB / 1024).toFixed(1)} MB`,
  )
  checks.push(await check(0)) // the reader's initial fetch (init --remote) got everything

  /** Not measured: one new part per device (today's, or with `late` a sealed day's), pushed. */
  const newParts = (r, late) =>
    pool(
      ids.map((_id, i) => i),
      Math.max(1, machine.nproc),
      async (i) => {
        const b = batch(i + 1, r, late)
        const outp = JSON.parse(
          await run(`record device ${i + 1}`, ...ours(homes[i], 'record', '--stdin', '--source', SOURCE, '--json'), {
            env: envFor(ids[i], b.now),
            input: `${b.lines.join('\n')}\n`,
          }),
        )
        if (outp.appended !== BATCH || outp.days?.length !== 1 || !outp.pushed)
          throw new Error(
            `device ${i + 1}, run ${r}: expected ${BATCH} records in one new part, pushed; got ${JSON.stringify({ appended: outp.appended, days: outp.days, pushed: outp.pushed })}`,
          )
        addInto(expected, b.truth)
      },
    )

  // Not measured: a first round, so the runs measure the steady state. A device's first commit over a
  // ledger an older build wrote converts its manifest (v1 → v2), and the reader's next fetch checks
  // every sealed day of it once; an index of an older version is rebuilt by the first update.
  log('warm-up (not measured): one new part per device, then both fetches')
  await newParts(RUNS + 1, false)
  await run('warm-up fetch', ...ours(reader, 'fetch', '--json'), { env: envFor(DEVICE_ID) })
  git('--git-dir', native, 'fetch', '--quiet', 'origin')

  for (let r = 1; r <= RUNS; r++) {
    log(`run ${r}/${RUNS}`)
    for (const late of LATE_DAYS ? [false, true] : [false]) {
      await newParts(r, late)

      // P5: alternate which side goes first
      const oursFetch = async () => {
        const m = await measureOk('fetch (P5)', ...ours(reader, 'fetch', '--json'), { env: envFor(DEVICE_ID) })
        expectFetch(m.stdout, ids, 'updated', `run ${r} fetch`)
        const into = late ? samples.p5lOurs : samples.p5Ours
        into.push(m)
        log(`  ${late ? 'P5L' : 'P5'} ours   ${fmtMs(m.wallMs)}  ${fmtMB(m.maxRssKB)}`)
      }
      const nativeFetch = async () => {
        const m = await measureOk('git fetch (P5)', 'git', ['--git-dir', native, 'fetch', '--quiet', 'origin'], {
          env: baseEnv,
        })
        const into = late ? samples.p5lRef : samples.p5Ref
        into.push(m)
        log(`  ${late ? 'P5L' : 'P5'} native ${fmtMs(m.wallMs)}  ${fmtMB(m.maxRssKB)}`)
      }
      if (r % 2) {
        await oursFetch()
        await nativeFetch()
      } else {
        await nativeFetch()
        await oursFetch()
      }
    }

    // P5n: nothing new, interleaved pairs
    for (let k = 0; k < NOOP_REPS; k++) {
      const a = await measureOk('fetch (P5n)', ...ours(reader, 'fetch', '--json'), { env: envFor(DEVICE_ID) })
      expectFetch(a.stdout, ids, 'unchanged', `run ${r} no-op fetch`)
      const b = await measureOk('git fetch (P5n)', 'git', ['--git-dir', native, 'fetch', '--quiet', 'origin'], {
        env: baseEnv,
      })
      samples.p5nOurs.push(a)
      samples.p5nRef.push(b)
      // information: the start-up floor of any Node CLI on this machine
      samples.nodeNoop.push(await measureOk('node -e 0', NODE, ['-e', '0'], { env: baseEnv }))
    }
    log(
      `  P5n ours ${fmtMs(median(samples.p5nOurs.slice(-NOOP_REPS).map((s) => s.wallMs)))}, native ${fmtMs(median(samples.p5nRef.slice(-NOOP_REPS).map((s) => s.wallMs)))}`,
    )

    checks.push(await check(r))
  }
} finally {
  if (!opt.keep) rmSync(root, { recursive: true, force: true })
  else log(`kept ${root}`)
}

// ---------------------------------------------------------------------------------------------
// Results.

const med = (xs, k) => median(xs.map((s) => s[k]))
const row = (id, name, oursS, refS, refName, goal) => {
  const o = { wallMs: med(oursS, 'wallMs'), maxRssKB: med(oursS, 'maxRssKB'), n: oursS.length }
  const r = { wallMs: med(refS, 'wallMs'), maxRssKB: med(refS, 'maxRssKB'), n: refS.length }
  const ratio = o.wallMs / r.wallMs
  return {
    id,
    case: name,
    reference: refName,
    ours: o,
    ref: r,
    ratio,
    rssRatio: o.maxRssKB / r.maxRssKB,
    goal,
    met: ratio <= goal.wallRatio,
  }
}
const results = [
  row('P5', `fetch, ${DEVICES} devices × 1 new part`, samples.p5Ours, samples.p5Ref, 'git fetch (same refs)', GOALS.P5),
  row('P5n', 'fetch, nothing new', samples.p5nOurs, samples.p5nRef, 'git fetch, nothing new', GOALS.P5n),
]
if (LATE_DAYS)
  results.push(
    row(
      'P5L',
      `fetch, ${DEVICES} devices × 1 new part dated ${LATE_DAYS} days ago`,
      samples.p5lOurs,
      samples.p5lRef,
      'git fetch (same refs)',
      GOALS.P5,
    ),
  )
/**
 * Issue 15's measure, per run: what our fetch costs beyond native git's, in `node -e 0`s (the
 * run's median); and the no-op fetch in `node -e 0`s.
 */
const floorOfRun = (i) => median(samples.nodeNoop.slice(i * NOOP_REPS, (i + 1) * NOOP_REPS).map((s) => s.wallMs))
const overFloor = (oursS, refS) => oursS.map((o, i) => (o.wallMs - refS[i].wallMs) / floorOfRun(i))
const overFloorRows = [
  ['P5', overFloor(samples.p5Ours, samples.p5Ref), 2, "(fetch − native git fetch) / node -e 0, today's records"],
  ...(LATE_DAYS
    ? [['P5L', overFloor(samples.p5lOurs, samples.p5lRef), 2, `the same, records dated ${LATE_DAYS} days ago`]]
    : []),
  [
    'P5n',
    Array.from(
      { length: RUNS },
      (_, i) => median(samples.p5nOurs.slice(i * NOOP_REPS, (i + 1) * NOOP_REPS).map((s) => s.wallMs)) / floorOfRun(i),
    ),
    2.5,
    'no-op fetch / node -e 0',
  ],
].map(([id, ratios, goal, name]) => ({
  id,
  case: name,
  ratios,
  ratio: median(ratios),
  goal,
  met: median(ratios) <= goal,
}))

console.log()
console.log(
  `usage-ledger bench — fetch: ${DEVICES} devices, ${fmtInt(expected.records)} records (${setup.commitsPerDevice?.join('/')} commits per device), ` +
    `${RUNS} run(s), medians (P5 over ${samples.p5Ours.length} samples, P5n over ${samples.p5nOurs.length})`,
)
console.log(
  `machine: ${machine.cpu}, ${machine.nproc} CPUs, ${machine.memoryGB} GB RAM, ${machine.platform}; node ${machine.node}; git ${machine.git}`,
)
console.log()
console.log(resultsTable(results, { goal: (r) => `≤ ${r.goal.wallRatio}× wall`, rssRatio: true }))
const floor = { wallMs: med(samples.nodeNoop, 'wallMs'), maxRssKB: med(samples.nodeNoop, 'maxRssKB') }
console.log(
  `start-up floor (information): node -e 0 ${fmtMs(floor.wallMs)}, ${fmtMB(floor.maxRssKB)}; ` +
    `P5 minus that floor ${fmtMs(results[0].ours.wallMs - floor.wallMs)} (${fmtRatio((results[0].ours.wallMs - floor.wallMs) / results[0].ref.wallMs)} native)`,
)
for (const r of overFloorRows)
  console.log(
    `${r.id} ${r.case}: ${r.ratios.map(fmtRatio).join(' ')}; median ${fmtRatio(r.ratio)} (goal ≤ ${r.goal}×: ${r.met ? 'yes' : 'NO'})`,
  )
console.log()
for (const c of checks)
  console.log(`${c.run ? `run ${c.run}` : 'setup'} ledger check: ${c.ok ? 'ok' : 'MISMATCH'} — ${c.detail}`)
const loadEnd = Math.round(loadavg()[0] * 100) / 100
if (Math.max(machine.loadavg1, loadEnd) > machine.nproc / 2)
  console.log(
    `note: machine busy while measuring (1-min load ${machine.loadavg1} at start, ${loadEnd} at end, ${machine.nproc} CPUs)`,
  )

const outPath = opt.out ?? join(ROOT, 'bench', 'results-fetch.json')
writeJson(outPath, {
  schema: 'usage-ledger/bench-fetch@1',
  date: new Date().toISOString(),
  devices: DEVICES,
  records: RECORDS,
  commits: COMMITS,
  batch: BATCH,
  runs: RUNS,
  noopReps: NOOP_REPS,
  seed: SEED,
  end: END,
  ledger: opt.ledger,
  setup,
  machine: { ...machine, loadavg1End: loadEnd },
  results: results.map((r) => ({
    id: r.id,
    case: r.case,
    reference: r.reference,
    ours: r.ours,
    ref: r.ref,
    ratio: r.ratio,
    rssRatio: r.rssRatio,
    goal: r.goal,
    met: r.met,
  })),
  nodeNoop: floor,
  lateDays: LATE_DAYS,
  overFloor: overFloorRows,
  samples: Object.fromEntries(
    Object.entries(samples).map(([k, v]) => [
      k,
      v.map((s) => ({ wallMs: Math.round(s.wallMs * 10) / 10, maxRssKB: s.maxRssKB })),
    ]),
  ),
  checks,
})
console.log(`\nwrote ${outPath}`)
process.exitCode = checks.length === RUNS + 1 && checks.every((c) => c.ok) ? 0 : 1
