#!/usr/bin/env node
// `npm run parity` (builds first): our `record` + `report daily` against ccusage 20.0.24 on
// the same generated Claude Code tree; per-day differences of every token field.
//
//   node bench/parity.mjs [--size small|medium|large] [--seed 42] [--tree DIR] [--keep] [--all]
//
// --tree DIR compares on any Claude Code config dir (e.g. a copy of your ~/.claude) instead of
// a generated one. Exit 0 when every token field of every day and of the totals is equal, 1
// when any differs (or a command failed), 2 on bad usage.
import { existsSync, rmSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { SIZES, DEFAULT_SEED, DEFAULT_END } from './generate.mjs'
import {
  ROOT,
  CLI,
  DEVICE_ID,
  CCUSAGE_VERSION,
  ensureCcusage,
  ensureTree,
  tempDir,
  measureOk,
  formatTable,
  fmtInt,
  fmtMs,
  log,
  normaliseCcusageDaily,
  normaliseOurDaily,
  normaliseTruth,
  diffDaily,
  TOKEN_FIELDS,
} from './lib.mjs'

// a failed command or install: one clear line, not a stack (temp dirs are cleaned in finally blocks)
process.on('uncaughtException', (e) => {
  console.error(`${process.argv[1]?.endsWith('parity.mjs') ? 'parity' : 'bench'}: ${e?.message ?? e}`)
  process.exit(1)
})

const { values: opt } = parseArgs({
  options: {
    size: { type: 'string', default: 'small' },
    seed: { type: 'string', default: String(DEFAULT_SEED) },
    end: { type: 'string', default: DEFAULT_END },
    tree: { type: 'string' },
    keep: { type: 'boolean', default: false },
    all: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h' },
  },
})
if (opt.help) {
  console.log('usage: node bench/parity.mjs [--size small|medium|large] [--seed 42] [--tree DIR] [--keep] [--all]')
  process.exit(0)
}
if (!SIZES[opt.size]) {
  console.error(`unknown --size ${opt.size} (small, medium, large)`)
  process.exit(2)
}
if (!existsSync(join(ROOT, 'dist', 'cli.cjs'))) {
  console.error('dist/cli.cjs is missing: run `npm run parity` (it builds first) or `npm run build`')
  process.exit(2)
}

const NODE = process.execPath
const ccusage = ensureCcusage()
let tree,
  meta = null
if (opt.tree) {
  tree = resolve(opt.tree)
  if (!existsSync(join(tree, 'projects'))) {
    console.error(`${tree}/projects does not exist; --tree takes a Claude Code config dir`)
    process.exit(2)
  }
  const metaPath = join(tree, 'bench-meta.json')
  if (existsSync(metaPath)) meta = JSON.parse(readFileSync(metaPath, 'utf8'))
} else {
  ;({ dir: tree, meta } = ensureTree({ size: opt.size, seed: Number(opt.seed), end: opt.end }))
}

const env = { ...process.env, TZ: 'UTC', NO_COLOR: '1', CLAUDE_CONFIG_DIR: tree }
delete env.FORCE_COLOR
const ourEnv = { ...env, USAGE_LEDGER_DEVICE_ID: DEVICE_ID }
delete ourEnv.USAGE_LEDGER_HOME
const home = tempDir('ul-parity-home-')

let code = 1
try {
  log(
    `tree ${tree}` +
      (meta ? ` (${meta.files} files, ${fmtInt(meta.responses)} responses, ${(meta.bytes / 1e6).toFixed(0)} MB)` : ''),
  )
  const rec = await measureOk(
    'usage-ledger record',
    NODE,
    [CLI, '--home', home, 'record', '--no-push', '--source', 'claude-code'],
    { env: ourEnv },
  )
  const rep = await measureOk(
    'usage-ledger report',
    NODE,
    [CLI, '--home', home, 'report', 'daily', '--json', '--tz', 'UTC'],
    { env: ourEnv },
  )
  const cc = await measureOk('ccusage', ccusage, ['claude', 'daily', '--offline', '--json', '--timezone', 'UTC'], {
    env,
  })
  log(`record ${fmtMs(rec.wallMs)}, report ${fmtMs(rep.wallMs)}, ccusage ${fmtMs(cc.wallMs)}`)

  const ours = normaliseOurDaily(JSON.parse(rep.stdout))
  const ref = normaliseCcusageDaily(JSON.parse(cc.stdout))
  const d = diffDaily(ours, ref)
  const bad = new Set(d.diffs.map((x) => x.day))

  // per day: our numbers, and our minus ccusage's for every token field
  const short = {
    input: 'Δinput',
    output: 'Δoutput',
    cacheWrite: 'ΔcacheWrite',
    cacheRead: 'ΔcacheRead',
    totalTokens: 'Δtotal',
  }
  const delta = (a, b, f) => (a?.[f] ?? 0) - (b?.[f] ?? 0)
  const rows = d.days
    .filter((day) => opt.all || bad.has(day) || d.days.length <= 90)
    .map((day) => [
      day,
      fmtInt(ours.days[day]?.records ?? 0),
      fmtInt(ours.days[day]?.totalTokens ?? 0),
      ...TOKEN_FIELDS.map((f) => fmtInt(delta(ours.days[day], ref.days[day], f))),
      ours.days[day] && ref.days[day] ? '' : ours.days[day] ? 'only ours' : 'only ccusage',
    ])
  rows.push([
    'totals',
    fmtInt(ours.totals.records),
    fmtInt(ours.totals.totalTokens),
    ...TOKEN_FIELDS.map((f) => fmtInt(delta(ours.totals, ref.totals, f))),
    '',
  ])
  console.log(
    `\nusage-ledger record+report vs ccusage ${CCUSAGE_VERSION} claude daily (UTC days; Δ = ours − ccusage)\n`,
  )
  const header = ['day', 'records', 'total tokens', ...TOKEN_FIELDS.map((f) => short[f]), '']
  if (rows.every((r) => r[r.length - 1] === '')) {
    header.pop()
    for (const r of rows) r.pop()
  }
  console.log(formatTable(header, rows))
  if (d.diffs.length) {
    const LIMIT = opt.all ? Infinity : 30
    console.log('\ndifferences:')
    console.log(
      formatTable(
        ['day', 'field', 'ours', 'ccusage', 'delta'],
        d.diffs.slice(0, LIMIT).map((x) => [x.day, x.field, fmtInt(x.a), fmtInt(x.b), fmtInt(x.delta)]),
      ),
    )
    if (d.diffs.length > LIMIT) console.log(`… ${d.diffs.length - LIMIT} more (--all lists them)`)
  }
  // Costs: the price tables differ by design (docs/costs.md), so within 2 % is the bar.
  const costOurs = ours.totals.costUSD
  const costRef = ref.totals.costUSD
  const costGap =
    Number.isFinite(costOurs) && Number.isFinite(costRef) && costRef ? (costOurs - costRef) / costRef : NaN
  if (Number.isFinite(costGap)) {
    console.log(
      `\ncost: ours $${costOurs.toFixed(2)}, ccusage $${costRef.toFixed(2)} (${(costGap * 100).toFixed(2)}%, goal within 2%)`,
    )
  }
  if (meta?.days) {
    // the generator knows what the answer must be: say which side is off when they disagree
    const t = normaliseTruth(meta)
    const ot = diffDaily(ours, t)
    const ct = diffDaily(ref, t)
    console.log(
      `generator truth: ours ${ot.diffs.length + ot.totals.length ? `differs on ${ot.diffs.length} (day, field) pairs` : 'equal'}, ` +
        `ccusage ${ct.diffs.length + ct.totals.length ? `differs on ${ct.diffs.length} (day, field) pairs` : 'equal'}`,
    )
  }
  const n = d.diffs.length + d.totals.length
  const costOk = !Number.isFinite(costGap) || Math.abs(costGap) <= 0.02
  console.log(
    `parity: ${d.days.length} days, ${n} difference${n === 1 ? '' : 's'}${costOk ? '' : `; cost ${(costGap * 100).toFixed(2)}% off`}`,
  )
  code = n === 0 && costOk ? 0 : 1
} catch (e) {
  console.error(String(e.message ?? e))
  code = 1
} finally {
  if (opt.keep) log(`kept ${home}`)
  else rmSync(home, { recursive: true, force: true })
}
process.exitCode = code
