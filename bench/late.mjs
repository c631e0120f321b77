#!/usr/bin/env node
// L of the benchmark (issue 15, seals per day; see docs/benchmarks.md): a late record on a big device.
//
//   node bench/late.mjs [--records 200000] [--commits 24] [--runs 3] [--batch 50]
//                       [--sessions burst|each] [--late-days 7] [--seed 42] [--end 2026-11-20]
//                       [--keep] [--out FILE]
//
// Setup (not timed): a bare remote (a path), one device home that records a history of
// `--records` records (stdin NDJSON over the 60 days before `--end`, `--commits` record runs,
// each pushed; sessions of 40 records, or one session per record with `--sessions each`), and a
// reader home that ran `init --remote`. The clock of every measured command is the --end day.
// Per run, back to back (the order alternating between runs):
//   L    the device's `record --stdin` of `--batch` responses dated `--late-days` days ago
//        vs the same with `--batch` responses dated today
//   Lf   the reader's `fetch --json` of the late commit vs of the today commit
// and the reader's `report --json --tz UTC` totals must equal what the device recorded (exit 1
// otherwise). Ratios late/today within one run; medians over runs.
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { loadavg } from 'node:os'
import { DEFAULT_SEED, DEFAULT_END } from './generate.mjs'
import {
  DEVICE_ID,
  CLI,
  tempDir,
  measureOk,
  median,
  fmtMs,
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
  ROOT,
} from './lib.mjs'
import {
  TOTAL_KEYS,
  DAY_MS,
  HISTORY_DAYS,
  deviceId,
  zero,
  addInto,
  history as genHistory,
  batch as genBatch,
} from './records.mjs'

export const GOALS = { L: { wallRatio: 1.3 }, Lf: { wallRatio: 1.3 } }
const SOURCE = 'bench'

exitOnUncaught()

const { values: opt } = parseArgs({
  options: {
    records: { type: 'string', default: '200000' },
    commits: { type: 'string', default: '24' },
    runs: { type: 'string', default: '3' },
    batch: { type: 'string', default: '50' },
    sessions: { type: 'string', default: 'burst' },
    'late-days': { type: 'string', default: '7' },
    seed: { type: 'string', default: String(DEFAULT_SEED) },
    end: { type: 'string', default: DEFAULT_END },
    keep: { type: 'boolean', default: false },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
})
if (opt.help) {
  console.log(
    'usage: node bench/late.mjs [--records 200000] [--commits 24] [--runs 3] [--batch 50] [--sessions burst|each] [--late-days 7] [--seed 42] [--end YYYY-MM-DD] [--keep] [--out results.json]',
  )
  process.exit(0)
}
if (opt.sessions !== 'burst' && opt.sessions !== 'each') {
  console.error(`unknown --sessions ${opt.sessions} (burst, each)`)
  process.exit(2)
}
const RECORDS = Math.max(1, Number(opt.records))
const COMMITS = Math.max(1, Number(opt.commits))
const RUNS = Math.max(1, Number(opt.runs))
const BATCH = Math.max(1, Number(opt.batch))
const LATE_DAYS = Math.max(1, Number(opt['late-days']))
const SEED = Number(opt.seed)
const END = opt.end
const END_MS = parseEndDay(END)
const NODE = process.execPath

requireBuild()
const machine = logMachine()

const ID = deviceId(1, 'c', '1a7e')
const baseEnv = benchEnv()
const envAt = (id, now) => ({ ...baseEnv, USAGE_LEDGER_DEVICE_ID: id, USAGE_LEDGER_NOW: now })
const git = gitWith(baseEnv)
let cli = CLI
const ours = (home, ...args) => [NODE, [cli, '--home', home, ...args]]

const root = tempDir('ul-bench-late-')
const remote = join(root, 'remote.git')
const device = join(root, 'device')
const reader = join(root, 'reader')
const expected = zero()
const samples = { lToday: [], lLate: [], lfToday: [], lfLate: [] }
const checks = []
const setup = {}

/** Run `run`'s batch: today's (hour run−1 of the --end day) or the same hour LATE_DAYS days before. */
function batch(run, late) {
  const endMs = END_MS - (late ? LATE_DAYS * DAY_MS : 0)
  return genBatch({ seed: SEED, endMs, dev: 1, run, size: BATCH, salt: late ? 0x1a7e : 0x70da })
}
/** Every measured command's clock: late in the --end day, after every batch. */
const NOW = new Date(END_MS + 23 * 3_600_000).toISOString()

async function check(runNo) {
  const rep = JSON.parse(
    await run('report', ...ours(reader, 'report', '--json', '--tz', 'UTC'), { env: envAt(DEVICE_ID, NOW) }),
  )
  const got = normaliseOurDaily(rep).totals
  const problems = TOTAL_KEYS.filter((k) => got[k] !== expected[k]).map(
    (k) => `${k} ${got[k]} ≠ expected ${expected[k]}`,
  )
  const c = {
    run: runNo,
    ok: problems.length === 0,
    detail: problems.length
      ? problems.join('; ')
      : `reader totals = the device's (${fmtInt(expected.records)} records)`,
  }
  log(`  check: ${c.ok ? 'ok' : 'MISMATCH'}: ${c.detail}`)
  return c
}

/** One batch: the device records it (measured), then the reader fetches it (measured). */
async function recordAndFetch(r, late) {
  const b = batch(r, late)
  // measure() gives no stdin: the batch comes from a file, through a shell that execs node.
  const input = join(root, 'batch.ndjson')
  writeFileSync(input, `${b.lines.join('\n')}\n`)
  const [cmd, args] = ours(device, 'record', '--stdin', '--source', SOURCE, '--json')
  const rec = await measureOk('record', 'sh', ['-c', 'exec "$0" "$@" < "$BATCH_FILE"', cmd, ...args], {
    env: { ...envAt(ID, NOW), BATCH_FILE: input },
  })
  const outp = JSON.parse(rec.stdout)
  if (outp.appended !== BATCH || !outp.pushed)
    throw new Error(
      `run ${r}: expected ${BATCH} records pushed; got ${JSON.stringify({ appended: outp.appended, pushed: outp.pushed })}`,
    )
  addInto(expected, b.truth)
  const fetch = await measureOk('fetch', ...ours(reader, 'fetch', '--json'), { env: envAt(DEVICE_ID, NOW) })
  log(`  ${late ? 'late ' : 'today'}: record ${fmtMs(rec.wallMs)}, fetch ${fmtMs(fetch.wallMs)}`)
  ;(late ? samples.lLate : samples.lToday).push(rec)
  ;(late ? samples.lfLate : samples.lfToday).push(fetch)
}

try {
  cli = snapshotCli(join(root, 'app'))
  const t0 = performance.now()
  log(
    `setup in ${root}: 1 device × ${fmtInt(RECORDS)} records in ${COMMITS} record runs over the ${HISTORY_DAYS} days before ${END}, sessions ${opt.sessions === 'each' ? 'of one record' : 'of 40 records'}`,
  )
  git('init', '--quiet', '--bare', remote)
  const { chunks, truth } = genHistory({
    seed: SEED,
    endMs: END_MS,
    dev: 1,
    n: RECORDS,
    chunks: COMMITS,
    sessionOf: opt.sessions === 'each' ? (i) => i : (i) => Math.floor(i / 40),
  })
  // The last run at the --end day's start, so `sealed` already covers every day before it.
  const nowOf = (c, i) =>
    new Date(i === chunks.length - 1 ? END_MS : Math.min(c.lastMs + 3_600_000, END_MS)).toISOString()
  await run('init device', ...ours(device, 'init', '--remote', remote, '--name', 'device'), {
    env: envAt(ID, nowOf(chunks[0], 0)),
  })
  for (const [i, c] of chunks.entries())
    await run('record', ...ours(device, 'record', '--stdin', '--source', SOURCE, '--quiet'), {
      env: envAt(ID, nowOf(c, i)),
      input: `${c.lines.join('\n')}\n`,
    })
  addInto(expected, truth)
  setup.historySeconds = Math.round((performance.now() - t0) / 100) / 10
  const t1 = performance.now()
  await run('init reader', ...ours(reader, 'init', '--remote', remote, '--name', 'reader'), {
    env: envAt(DEVICE_ID, NOW),
  })
  setup.readerInitSeconds = Math.round((performance.now() - t1) / 100) / 10
  log(`setup done in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
  checks.push(await check(0))
  for (let r = 1; r <= RUNS; r++) {
    log(`run ${r}/${RUNS}`)
    // Alternate which goes first: the first of a pair may meet a colder cache.
    for (const late of r % 2 ? [false, true] : [true, false]) await recordAndFetch(r, late)
    checks.push(await check(r))
  }
} finally {
  if (!opt.keep) rmSync(root, { recursive: true, force: true })
  else log(`kept ${root}`)
}

const ratios = (a, b) => a.map((x, i) => x.wallMs / b[i].wallMs)
const row = (id, name, late, today) => {
  const rs = ratios(late, today)
  const ratio = median(rs)
  return {
    id,
    case: name,
    late: median(late.map((s) => s.wallMs)),
    today: median(today.map((s) => s.wallMs)),
    ratios: rs,
    ratio,
    goal: GOALS[id],
    met: ratio <= GOALS[id].wallRatio,
  }
}
const results = [
  row('L', `record of ${BATCH} responses dated ${LATE_DAYS} days ago vs today's`, samples.lLate, samples.lToday),
  row('Lf', "a reader's fetch of that commit vs of today's", samples.lfLate, samples.lfToday),
]
console.log()
console.log(
  `usage-ledger bench — late record: 1 device, ${fmtInt(RECORDS)} records (sessions ${opt.sessions}), ${RUNS} run(s)`,
)
for (const r of results)
  console.log(
    `${r.id.padEnd(3)} ${r.case}: late ${fmtMs(r.late)}, today ${fmtMs(r.today)}; ratios ${r.ratios.map(fmtRatio).join(' ')}; median ${fmtRatio(r.ratio)} (goal ≤ ${r.goal.wallRatio}×: ${r.met ? 'yes' : 'NO'})`,
  )
for (const c of checks)
  console.log(`${c.run ? `run ${c.run}` : 'setup'} check: ${c.ok ? 'ok' : 'MISMATCH'} — ${c.detail}`)
const outPath = opt.out ?? join(ROOT, 'bench', 'results-late.json')
writeJson(outPath, {
  schema: 'usage-ledger/bench-late@1',
  date: new Date().toISOString(),
  records: RECORDS,
  commits: COMMITS,
  batch: BATCH,
  sessions: opt.sessions,
  lateDays: LATE_DAYS,
  runs: RUNS,
  seed: SEED,
  end: END,
  setup,
  machine: { ...machine, loadavg1End: Math.round(loadavg()[0] * 100) / 100 },
  results,
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
