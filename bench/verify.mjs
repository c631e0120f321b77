#!/usr/bin/env node
// V1/V2 of the benchmark (see docs/benchmarks.md): `verify` over the P4 ledger (1M records from
// 5 devices, built and cached by bench/report.mjs).
//
//   node bench/verify.mjs [--runs 3] [--reps 3] [--batch 50] [--keep] [--out FILE]
//
//   V1  `verify --full` in the reader home vs `git fsck --strict` on the same repository,
//       `--reps` interleaved pairs (the order alternating); the ratio of medians (goal ≤ 2×).
//   V2  per run: every device records `--batch` new records (one new part each, pushed), the
//       reader fetches, then the reader's default `verify` (it re-reads only the 5 new parts,
//       or none when the fetch already checked them) next to `node -e 0` (median of 5); the
//       median of the per-run ratios (goal ≤ 2×).
// Every verify must exit 0 and account for every record; exit 1 otherwise. It works on a copy of
// the cached ledger in a temp dir (removed at exit unless --keep), with the cached reader home
// of this CLI build when bench/report.mjs has made one, else after an `init --remote`.
import { spawnSync } from 'node:child_process'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import {
  benchEnv,
  exitOnUncaught,
  fmtMs,
  fmtMB,
  fmtRatio,
  fmtInt,
  formatTable,
  log,
  logMachine,
  measureOk,
  median,
  requireBuild,
  snapshotCli,
  tempDir,
  writeJson,
  DEVICE_ID,
  reportCache,
  copyReportLedger,
  cliSha,
  expectFetch,
} from './lib.mjs'
import { batch as genBatch } from './records.mjs'

exitOnUncaught('bench verify')
const { values: opt } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    reps: { type: 'string', default: '3' },
    batch: { type: 'string', default: '50' },
    keep: { type: 'boolean', default: false },
    out: { type: 'string' },
  },
})
const RUNS = Math.max(1, Number(opt.runs))
const REPS = Math.max(1, Number(opt.reps))
const BATCH = Math.max(1, Number(opt.batch))
const GOALS = { V1: 2, V2: 2 }

requireBuild()
const machine = logMachine()

// The P4 setup: bench/report.mjs caches it under <bench cache>/report/<parameters>/, with the
// reader home of each CLI build (its index is in that build's format).
const { cacheDir, meta } = reportCache('r1000000-d5-', 'bench verify')
const SEED = meta.seed
const END_MS = Date.parse(`${meta.end}T00:00:00Z`)
const NOW = meta.now

const root = tempDir('ul-bench-verify-')
process.on('exit', () => {
  if (!opt.keep) rmSync(root, { recursive: true, force: true })
})
const cli = snapshotCli(join(root, 'cli'))
const sha = cliSha(cli)
const { remote, homes, reader: cachedReader } = copyReportLedger(cacheDir, root, { readerSha: sha })
const base = benchEnv(['CLAUDE_CONFIG_DIR'])
const envFor = (id) => ({ ...base, USAGE_LEDGER_DEVICE_ID: id, USAGE_LEDGER_NOW: NOW })
const ours = (home, ...args) => [process.execPath, [cli, '--home', home, ...args]]
const readerEnv = envFor(DEVICE_ID)
const reader = cachedReader ?? join(root, 'reader')
if (!cachedReader) {
  log(`no cached reader for CLI build ${sha}: init --remote (a full fetch) …`)
  const init = await measureOk(
    'init reader',
    ...ours(reader, 'init', '--remote', remote, '--name', 'reader', '--json'),
    { env: readerEnv },
  )
  expectFetch(init.stdout, meta.ids, 'new', 'reader init', 'usage-ledger/init@1')
}
const gitdir = join(reader, 'repo.git')

function expectVerified(stdout, what, full) {
  const j = JSON.parse(stdout)
  if (!j.ok || j.findings.length) throw new Error(`${what}: findings ${JSON.stringify(j.findings.slice(0, 3))}`)
  const records = j.devices.reduce((n, d) => n + d.records, 0)
  if (full && j.devices.reduce((n, d) => n + d.checked.records, 0) !== records)
    throw new Error(
      `${what}: checked ${fmtInt(j.devices.reduce((n, d) => n + d.checked.records, 0))} of ${fmtInt(records)} records`,
    )
  return j
}

// V1: --full vs git fsck --strict, interleaved.
const v1 = { fsck: [], full: [], fullRss: [], fsckRss: [] }
let records = 0
for (let i = 0; i < REPS; i++) {
  // the order alternates between pairs, so neither side always goes first
  const fsck = () =>
    measureOk('git fsck --strict', 'git', ['--git-dir', gitdir, 'fsck', '--strict', '--no-progress'], { env: base })
  const full = () => measureOk('verify --full', ...ours(reader, 'verify', '--full', '--json'), { env: readerEnv })
  let f, v
  if (i % 2) {
    v = await full()
    f = await fsck()
  } else {
    f = await fsck()
    v = await full()
  }
  v1.fsck.push(f.wallMs)
  v1.fsckRss.push(f.maxRssKB)
  const j = expectVerified(v.stdout, 'verify --full', true)
  records = j.devices.reduce((n, d) => n + d.records, 0)
  v1.full.push(v.wallMs)
  v1.fullRss.push(v.maxRssKB)
  log(
    `  V1 rep ${i + 1}: fsck ${fmtMs(f.wallMs)}, verify --full ${fmtMs(v.wallMs)} (${fmtMB(v.maxRssKB)}), ${fmtInt(records)} records`,
  )
}

// V2: default verify after one new part per device.
await measureOk('verify (first proof)', ...ours(reader, 'verify', '--json'), { env: readerEnv })
const v2 = { verify: [], verifyRss: [], node: [], ratio: [], noop: [], parts: [] }
for (let run = 1; run <= RUNS; run++) {
  for (const [i, h] of homes.entries()) {
    const id = meta.ids[i]
    const { lines } = genBatch({ seed: SEED, endMs: END_MS, dev: i + 1, run: 10 + run, size: BATCH, salt: 0x7e51 })
    const r = spawnSync(process.execPath, [cli, '--home', h, 'record', '--stdin', '--source', 'gen', '--quiet'], {
      env: envFor(id),
      input: `${lines.join('\n')}\n`,
      encoding: 'utf8',
    })
    if (r.status !== 0) throw new Error(`record on ${h}: ${r.stderr}`)
  }
  await measureOk('fetch', ...ours(reader, 'fetch', '--quiet'), { env: readerEnv })
  const v = await measureOk('verify', ...ours(reader, 'verify', '--json'), { env: readerEnv })
  const j = expectVerified(v.stdout, 'verify', false)
  // The new parts are checked once: by this verify, or (builds since c2bac05) already by the
  // fetch that brought them in, and then this verify finds nothing new to read.
  const parts = j.devices.reduce((n, d) => n + d.checked.parts, 0)
  if (parts !== homes.length && parts !== 0)
    throw new Error(`verify re-read ${parts} parts, expected ${homes.length} (or 0 when fetch checked them)`)
  v2.parts.push(parts)
  const nodes = []
  for (let k = 0; k < 5; k++) nodes.push((await measureOk('node -e 0', process.execPath, ['-e', '0'])).wallMs)
  const noop = await measureOk('verify (no-op)', ...ours(reader, 'verify', '--json'), { env: readerEnv })
  v2.verify.push(v.wallMs)
  v2.verifyRss.push(v.maxRssKB)
  v2.node.push(median(nodes))
  v2.ratio.push(v.wallMs / median(nodes))
  v2.noop.push(noop.wallMs)
  log(
    `  V2 run ${run}: verify ${fmtMs(v.wallMs)} (${parts} new parts), node -e 0 ${fmtMs(median(nodes))}, no-op verify ${fmtMs(noop.wallMs)}`,
  )
}

const v1Ratio = median(v1.full) / median(v1.fsck)
const v2Ratio = median(v2.ratio)
const rows = [
  [
    'V1 verify --full, 1M records / 5 devices',
    fmtMs(median(v1.full)),
    fmtMB(median(v1.fullRss)),
    'git fsck --strict',
    fmtMs(median(v1.fsck)),
    fmtRatio(v1Ratio),
    `≤ ${GOALS.V1}×`,
    v1Ratio <= GOALS.V1 ? 'met' : 'not met',
  ],
  [
    `V2 verify after 1 new part × 5 devices (${v2.parts.join('/')} parts re-read)`,
    fmtMs(median(v2.verify)),
    fmtMB(median(v2.verifyRss)),
    'node -e 0',
    fmtMs(median(v2.node)),
    fmtRatio(v2Ratio),
    `≤ ${GOALS.V2}×`,
    v2Ratio <= GOALS.V2 ? 'met' : 'not met',
  ],
  [
    'V2n verify, nothing new',
    fmtMs(median(v2.noop)),
    '',
    'node -e 0',
    fmtMs(median(v2.node)),
    fmtRatio(median(v2.noop) / median(v2.node)),
    '',
    '',
  ],
]
console.log(formatTable(['case', 'ours', 'RSS', 'reference', 'ref', 'ratio', 'goal', ''], rows))
if (opt.out)
  writeJson(opt.out, {
    schema: 'usage-ledger/bench-verify@1',
    date: new Date().toISOString(),
    machine,
    cliSha: sha,
    records,
    reps: REPS,
    runs: RUNS,
    v1,
    v2,
    v1Ratio,
    v2Ratio,
  })
