#!/usr/bin/env node
// P6 of the benchmark (see docs/benchmarks.md): a new machine joins a large ledger.
//
//   node bench/init.mjs [--runs 3] [--no-native] [--packed] [--records 1000000] [--keep] [--out FILE]
//
// The ledger is the P4 setup that bench/report.mjs builds and caches (1M records: 5 devices ×
// 200k, 60 parts each). Per run, on a fresh copy of that remote (`cp -a`, not timed):
//   P6   `init --remote <copy> --name reader --json` in a fresh home (the initial fetch of every
//        device, its verification and the query index build), then the first
//        `report daily --by device --json --tz UTC`; wall time of the two together and the peak
//        RSS of either (goals ≤ 30 s and ≤ 400 MB).
//   P6g  (information, unless --no-native) the same refs fetched by a native
//        `git fetch <copy> '+refs/heads/ledger/*:refs/remotes/origin/ledger/*'` into a fresh bare
//        repository, in the same run, the order alternating between runs.
// The cached remote holds the objects its pushes left (loose, as git unpacks small pushes), so
// the fetch's pack-objects has to compress them; --packed runs on a copy repacked once
// (`git repack -a -d`, not timed; cached next to the remote as remote-packed.git), as a hosted
// remote that runs `git gc` would serve them.
// init must list every device `new` with no findings, and the report's totals, overall and per
// device, must equal what the devices recorded; exit 1 otherwise. Medians over the runs.
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { loadavg } from 'node:os'
import {
  ROOT,
  DEVICE_ID,
  benchEnv,
  exitOnUncaught,
  fmtMs,
  fmtMB,
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
  reportCache,
  copyReportLedger,
  cliSha,
  expectFetch,
  gitWith,
  fmtRatio,
  copyTree,
} from './lib.mjs'
import { checkReport, zero, addInto } from './records.mjs'

export const GOALS = { P6: { wallMs: 30_000, rssMB: 400 } }

exitOnUncaught('bench init')
const { values: opt } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    keep: { type: 'boolean', default: false },
    'no-native': { type: 'boolean', default: false },
    packed: { type: 'boolean', default: false },
    records: { type: 'string', default: '1000000' },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
})
if (opt.help) {
  console.log(
    'usage: node bench/init.mjs [--runs 3] [--no-native] [--packed] [--records 1000000] [--keep] [--out results.json]',
  )
  process.exit(0)
}
const RUNS = Math.max(1, Number(opt.runs))

requireBuild()
const machine = logMachine()
const { cacheDir, meta } = reportCache(`r${Number(opt.records)}-d5-`, 'bench init')
const total = meta.truths.reduce((acc, t) => addInto(acc, t), zero())

const root = tempDir('ul-bench-init-')
const cli = snapshotCli(join(root, 'app'))
const sha = cliSha(cli)
const env = { ...benchEnv(['CLAUDE_CONFIG_DIR']), USAGE_LEDGER_DEVICE_ID: DEVICE_ID, USAGE_LEDGER_NOW: meta.now }
const ours = (home, ...args) => [process.execPath, [cli, '--home', home, ...args]]
const samples = { init: [], report: [], wallMs: [], maxRssKB: [], native: [] }
const git = gitWith(benchEnv())
let source = cacheDir // where each run copies remote.git from
let packedInfo = null
const checks = []
const loads = [machine.loadavg1]

log(
  `P6: init --remote of a fresh home against a copy of ${cacheDir} (${meta.devices} devices × ${fmtInt(meta.records / meta.devices)} records), then the first report; CLI build ${sha}`,
)
try {
  if (opt.packed) {
    // <cacheDir>/remote-packed.git, made once (in a temp dir renamed into place)
    source = join(root, 'packed')
    mkdirSync(source)
    const cached = join(cacheDir, 'remote-packed.git')
    const alive = (pid) => {
      try {
        process.kill(pid, 0)
        return true
      } catch (e) {
        return e.code === 'EPERM'
      }
    }
    for (const d of readdirSync(cacheDir)) {
      const m = /^\.packed-(\d+)$/.exec(d) // left by an interrupted run
      if (m && !alive(Number(m[1]))) rmSync(join(cacheDir, d), { recursive: true, force: true })
    }
    if (!existsSync(join(cached, 'objects'))) {
      const t0 = performance.now()
      const tmp = join(cacheDir, `.packed-${process.pid}`)
      rmSync(tmp, { recursive: true, force: true })
      copyTree(join(cacheDir, 'remote.git'), tmp)
      git('--git-dir', tmp, 'repack', '-a', '-d', '-q')
      renameSync(tmp, cached)
      log(`  remote repacked into ${cached} in ${Math.round((performance.now() - t0) / 100) / 10} s`)
    }
    copyTree(cached, join(source, 'remote.git'))
    packedInfo = {
      countObjects: git('--git-dir', join(source, 'remote.git'), 'count-objects', '-v').trim().split('\n').join(', '),
    }
    log(`  remote repacked: ${packedInfo.countObjects}`)
  }
  for (let r = 1; r <= RUNS; r++) {
    const dir = join(root, `run-${r}`)
    const { remote } = copyReportLedger(source, dir, { devices: false })
    const home = join(dir, 'reader')
    const native = async () => {
      const nat = join(dir, 'native.git')
      git('init', '--quiet', '--bare', nat)
      const m = await measureOk(
        'git fetch (P6, native)',
        'git',
        ['--git-dir', nat, 'fetch', '--quiet', remote, '+refs/heads/ledger/*:refs/remotes/origin/ledger/*'],
        { env: benchEnv() },
      )
      samples.native.push({ wallMs: m.wallMs, maxRssKB: m.maxRssKB })
      log(`  run ${r}: native git fetch of the same refs ${fmtMs(m.wallMs)} ${fmtMB(m.maxRssKB)}`)
      rmSync(nat, { recursive: true, force: true })
    }
    if (!opt['no-native'] && r % 2 === 0) await native()
    const init = await measureOk(
      'init --remote (P6)',
      ...ours(home, 'init', '--remote', remote, '--name', 'reader', '--json'),
      { env },
    )
    expectFetch(init.stdout, meta.ids, 'new', `run ${r} init --remote`, 'usage-ledger/init@1')
    const rep = await measureOk(
      'first report (P6)',
      ...ours(home, 'report', 'daily', '--by', 'device', '--json', '--tz', 'UTC'),
      { env },
    )
    if (!opt['no-native'] && r % 2 === 1) await native()
    const problems = checkReport(JSON.parse(rep.stdout), meta.truths, meta.ids)
    const c = {
      run: r,
      ok: problems.length === 0,
      detail: problems.length
        ? problems.join('; ')
        : `totals = devices' sum, per device too (${fmtInt(total.records)} records, ${fmtInt(total.totalTokens)} tokens)`,
    }
    checks.push(c)
    samples.init.push({ wallMs: init.wallMs, maxRssKB: init.maxRssKB })
    samples.report.push({ wallMs: rep.wallMs, maxRssKB: rep.maxRssKB })
    samples.wallMs.push(init.wallMs + rep.wallMs)
    samples.maxRssKB.push(Math.max(init.maxRssKB, rep.maxRssKB))
    loads.push(Math.round(loadavg()[0] * 100) / 100)
    log(
      `  run ${r}: init --remote ${fmtMs(init.wallMs)} ${fmtMB(init.maxRssKB)}, first report ${fmtMs(rep.wallMs)} ${fmtMB(rep.maxRssKB)}; check ${c.ok ? 'ok' : 'MISMATCH'}: ${c.detail} (load ${loads.at(-1)})`,
    )
    if (!opt.keep) rmSync(dir, { recursive: true, force: true })
  }
} finally {
  if (!opt.keep) rmSync(root, { recursive: true, force: true })
  else log(`kept ${root}`)
}

const stat = (xs) => ({ wallMs: median(xs.map((s) => s.wallMs)), maxRssKB: median(xs.map((s) => s.maxRssKB)) })
const result = {
  wallMs: median(samples.wallMs),
  maxRssKB: median(samples.maxRssKB),
  init: stat(samples.init),
  report: stat(samples.report),
  native: samples.native.length ? stat(samples.native) : null,
  /** median of the per-run ratios (init --remote + first report) / native git fetch */
  nativeRatio: samples.native.length ? median(samples.native.map((n, i) => samples.wallMs[i] / n.wallMs)) : null,
}
result.met = { wall: result.wallMs <= GOALS.P6.wallMs, rss: result.maxRssKB / 1024 <= GOALS.P6.rssMB }

console.log()
console.log(
  `usage-ledger bench — P6: a fresh home joins ${fmtInt(meta.records)} records of ${meta.devices} devices${packedInfo ? ' (remote repacked)' : ''}; median of ${RUNS} run(s); CLI build ${sha}`,
)
console.log(
  formatTable(
    ['case', 'wall', 'peak RSS', 'goal', 'met?'],
    [
      [
        'P6 init --remote + first report',
        fmtMs(result.wallMs),
        fmtMB(result.maxRssKB),
        `≤ ${GOALS.P6.wallMs / 1000} s, ≤ ${GOALS.P6.rssMB} MB`,
        result.met.wall && result.met.rss ? 'yes' : 'NO',
      ],
      ['  of which init --remote', fmtMs(result.init.wallMs), fmtMB(result.init.maxRssKB), '', ''],
      ['  of which the first report', fmtMs(result.report.wallMs), fmtMB(result.report.maxRssKB), '', ''],
      ...(result.native
        ? [
            [
              'P6g native git fetch of the same refs (information)',
              fmtMs(result.native.wallMs),
              fmtMB(result.native.maxRssKB),
              `P6 / native ${fmtRatio(result.nativeRatio)}`,
              '',
            ],
          ]
        : []),
    ],
  ),
)
for (const c of checks) console.log(`run ${c.run} check: ${c.ok ? 'ok' : 'MISMATCH'} — ${c.detail}`)

const outPath = opt.out ?? join(ROOT, 'bench', 'results-init.json')
writeJson(outPath, {
  schema: 'usage-ledger/bench-init@1',
  date: new Date().toISOString(),
  cliSha: sha,
  ledger: {
    cacheDir,
    records: meta.records,
    devices: meta.devices,
    parts: meta.parts,
    remoteSizeKB: meta.remoteSizeKB,
  },
  packed: packedInfo,
  runs: RUNS,
  machine: { ...machine, loadavg1End: loads.at(-1) },
  loads,
  goal: GOALS.P6,
  result,
  samples: Object.fromEntries(
    Object.entries(samples).map(([k, v]) => [
      k,
      v.map((s) =>
        typeof s === 'number'
          ? Math.round(s * 10) / 10
          : { wallMs: Math.round(s.wallMs * 10) / 10, maxRssKB: s.maxRssKB },
      ),
    ]),
  ),
  checks,
})
console.log(`\nwrote ${outPath}`)
process.exitCode = checks.length === RUNS && checks.every((c) => c.ok) ? 0 : 1
