#!/usr/bin/env node
// `npm run parity` (builds first): our `record` + `report daily` against ccusage 20.0.24, per
// UTC day and token field, on every source of PARITY_SOURCES (bench/lib.mjs: a copy of its
// fixture) and on a generated Claude Code tree.
//
//   node bench/parity.mjs [--source NAME]… [--size small|medium|large] [--seed 42] [--tree DIR] [--keep] [--all]
//
// --source compares only those sources' fixtures; --tree DIR only a Claude Code config dir (e.g. a
// copy of your ~/.claude). Each side runs with an empty HOME and only the source's variable set,
// so neither reads this machine's own agents. A difference a source declares (its `delta`) must
// be exactly that; costs more than 2 % off fail unless the source explains them (`costNote`).
// Exit 0 when every source is equal or as explained, 1 when not (or a command failed), 2 on bad usage.
import { cpSync, existsSync, mkdirSync, rmSync, readFileSync } from 'node:fs'
import { basename, join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { SIZES, DEFAULT_SEED, DEFAULT_END } from './generate.mjs'
import {
  ROOT,
  CLI,
  DEVICE_ID,
  CCUSAGE_VERSION,
  PARITY_SOURCES,
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
  unexplainedDiffs,
  declaredDelta,
  TOKEN_FIELDS,
} from './lib.mjs'

// a failed command or install: one clear line, not a stack (temp dirs are cleaned in finally blocks)
process.on('uncaughtException', (e) => {
  console.error(`parity: ${e?.message ?? e}`)
  process.exit(1)
})

const USAGE =
  'usage: node bench/parity.mjs [--source NAME]… [--size small|medium|large] [--seed 42] [--tree DIR] [--keep] [--all]'
const { values: opt } = parseArgs({
  options: {
    source: { type: 'string', multiple: true, default: [] },
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
  console.log(USAGE)
  process.exit(0)
}
if (!SIZES[opt.size]) {
  console.error(`unknown --size ${opt.size} (small, medium, large)`)
  process.exit(2)
}
// A source ours records under another's comparison (openclaw-db under openclaw) selects that one.
const compares = (p, s) => p.source === s || (p.record ?? []).includes(s)
const unknown = opt.source.filter((s) => !PARITY_SOURCES.some((p) => compares(p, s)))
if (unknown.length) {
  console.error(`unknown --source ${unknown.join(', ')} (${PARITY_SOURCES.map((p) => p.source).join(', ')})`)
  process.exit(2)
}
if (!existsSync(join(ROOT, 'dist', 'cli.cjs'))) {
  console.error('dist/cli.cjs is missing: run `npm run parity` (it builds first) or `npm run build`')
  process.exit(2)
}

const NODE = process.execPath
const ccusage = ensureCcusage()
const claude = PARITY_SOURCES.find((p) => p.source === 'claude-code')

/** What is compared: a source on a tree, copied first when it is a fixture (tests may append to one). */
function runs() {
  if (opt.tree) {
    const tree = resolve(opt.tree)
    if (!existsSync(join(tree, 'projects'))) {
      console.error(`${tree}/projects does not exist; --tree takes a Claude Code config dir`)
      process.exit(2)
    }
    const metaPath = join(tree, 'bench-meta.json')
    const meta = existsSync(metaPath) ? JSON.parse(readFileSync(metaPath, 'utf8')) : null
    return [{ ...claude, label: 'claude-code (--tree)', tree, delta: undefined, notes: '', meta }]
  }
  const fixtures = PARITY_SOURCES.filter((p) => !opt.source.length || opt.source.some((s) => compares(p, s))).map(
    (p) => ({
      ...p,
      label: p.source,
      tree: join(ROOT, p.fixture),
      copy: true,
    }),
  )
  if (opt.source.length) return fixtures
  const { dir, meta } = ensureTree({ size: opt.size, seed: Number(opt.seed), end: opt.end })
  return [
    ...fixtures,
    { ...claude, label: `claude-code (${opt.size} tree)`, tree: dir, delta: undefined, notes: '', meta },
  ]
}

const base = { PATH: process.env.PATH, TZ: 'UTC', NO_COLOR: '1', LANG: 'C.UTF-8' }
const short = {
  input: 'Δinput',
  output: 'Δoutput',
  cacheWrite: 'ΔcacheWrite',
  cacheRead: 'ΔcacheRead',
  totalTokens: 'Δtotal',
}
const costGapOf = (ours, ref) =>
  ours === ref ? 0 : Number.isFinite(ours) && Number.isFinite(ref) && ref ? (ours - ref) / ref : NaN
const pct = (x) => (Number.isFinite(x) ? `${(x * 100).toFixed(2)}%` : '—')

/** Compares one source on one tree; prints its table; returns its summary row and whether it passed. */
async function compare(run) {
  const work = tempDir('ul-parity-')
  try {
    let tree = run.tree
    if (run.copy) {
      if (!existsSync(tree)) throw new Error(`${run.label}: fixture ${tree} is missing`)
      tree = join(work, basename(run.tree))
      cpSync(run.tree, tree, { recursive: true })
    }
    const emptyHome = join(work, 'home')
    mkdirSync(emptyHome)
    const store = join(work, 'store')
    const env = { ...base, HOME: emptyHome, [run.envVar]: tree }
    const ourEnv = { ...env, USAGE_LEDGER_DEVICE_ID: DEVICE_ID, USAGE_LEDGER_HOME: store }
    const recordSources = (run.record ?? [run.source]).flatMap((s) => ['--source', s])
    const rec = await measureOk('usage-ledger record', NODE, [CLI, 'record', '--no-push', ...recordSources], {
      env: ourEnv,
    })
    const rep = await measureOk(
      'usage-ledger report',
      NODE,
      [CLI, 'report', 'daily', '--json', '--tz', 'UTC', '--source', run.source],
      { env: ourEnv },
    )
    const cc = await measureOk('ccusage', ccusage, [run.agent, 'daily', '--json', '--offline', '--timezone', 'UTC'], {
      env,
    })
    log(`${run.label}: record ${fmtMs(rec.wallMs)}, report ${fmtMs(rep.wallMs)}, ccusage ${fmtMs(cc.wallMs)}`)

    const ours = normaliseOurDaily(JSON.parse(rep.stdout))
    const ref = normaliseCcusageDaily(JSON.parse(cc.stdout))
    const d = unexplainedDiffs(ours, ref, run.delta)
    const bad = new Set(d.diffs.map((x) => x.day))
    const delta = (a, b, f) => (a?.[f] ?? 0) - (b?.[f] ?? 0)
    const declared = (day) => Object.values(declaredDelta(run.delta, day, ours, ref)).some(Boolean)
    const rows = d.days
      .filter((day) => opt.all || bad.has(day) || declared(day) || d.days.length <= 90)
      .map((day) => [
        day,
        fmtInt(ours.days[day]?.records ?? 0),
        fmtInt(ours.days[day]?.totalTokens ?? 0),
        ...TOKEN_FIELDS.map((f) => fmtInt(delta(ours.days[day], ref.days[day], f))),
        [
          ours.days[day] && ref.days[day] ? '' : ours.days[day] ? 'only ours' : 'only ccusage',
          bad.has(day) ? 'DIFFERS' : declared(day) ? 'as explained' : '',
        ]
          .filter(Boolean)
          .join(', '),
      ])
    rows.push([
      'totals',
      fmtInt(ours.totals.records),
      fmtInt(ours.totals.totalTokens),
      ...TOKEN_FIELDS.map((f) => fmtInt(delta(ours.totals, ref.totals, f))),
      bad.has('totals') ? 'DIFFERS' : '',
    ])
    console.log(
      `\n${run.label}: usage-ledger vs ccusage ${CCUSAGE_VERSION} ${run.agent} daily (UTC days; Δ = ours − ccusage)${run.notes ? `\n  known: ${run.notes}` : ''}\n`,
    )
    const header = ['day', 'records', 'total tokens', ...TOKEN_FIELDS.map((f) => short[f]), '']
    if (rows.every((r) => r[r.length - 1] === '')) {
      header.pop()
      for (const r of rows) r.pop()
    }
    console.log(formatTable(header, rows))
    if (d.diffs.length) {
      const LIMIT = opt.all ? Infinity : 30
      console.log('\ndifferences not explained:')
      console.log(
        formatTable(
          ['day', 'field', 'ours', 'ccusage', 'delta', 'explained'],
          d.diffs
            .slice(0, LIMIT)
            .map((x) => [x.day, x.field, fmtInt(x.a), fmtInt(x.b), fmtInt(x.delta), fmtInt(x.expected)]),
        ),
      )
      if (d.diffs.length > LIMIT) console.log(`… ${d.diffs.length - LIMIT} more (--all lists them)`)
    }
    // Costs: the price tables differ by design (docs/costs.md), so within 2 % is the bar, on the
    // days whose tokens are equal (a day with a declared token difference costs what its tokens
    // cost: the gap there is that difference, not a price).
    const sameDays = d.days.filter((day) => ours.days[day] && ref.days[day] && !declared(day))
    const costOn = (side) => sameDays.reduce((n, day) => n + (side.days[day]?.costUSD ?? 0), 0)
    const gap = sameDays.length ? costGapOf(costOn(ours), costOn(ref)) : 0
    const allGap = costGapOf(ours.totals.costUSD, ref.totals.costUSD)
    const costOk = Math.abs(gap) <= 0.02 || Boolean(run.costNote)
    console.log(
      `cost: ours $${(ours.totals.costUSD ?? 0).toFixed(4)}, ccusage $${(ref.totals.costUSD ?? 0).toFixed(4)} (${pct(allGap)}); ` +
        `on the ${sameDays.length} day(s) with equal tokens ${pct(gap)}${Math.abs(gap) <= 0.02 ? '' : run.costNote ? `: ${run.costNote}` : ', more than 2% off'}`,
    )
    if (run.meta?.days) {
      // the generator knows what the answer must be: say which side is off when they disagree
      const t = normaliseTruth(run.meta)
      const ot = diffDaily(ours, t)
      const ct = diffDaily(ref, t)
      console.log(
        `generator truth: ours ${ot.diffs.length + ot.totals.length ? `differs on ${ot.diffs.length} (day, field) pairs` : 'equal'}, ` +
          `ccusage ${ct.diffs.length + ct.totals.length ? `differs on ${ct.diffs.length} (day, field) pairs` : 'equal'}`,
      )
    }
    const tokens = d.diffs.length
      ? `DIFFER (${d.diffs.length})`
      : d.explained
        ? `as explained (${d.explained})`
        : 'equal'
    return {
      ok: !d.diffs.length && costOk,
      row: [
        run.label,
        fmtInt(d.days.length),
        fmtInt(ours.totals.records),
        tokens,
        pct(allGap),
        sameDays.length ? pct(gap) : '—',
        Math.abs(gap) <= 0.02 ? '' : run.costNote ? 'over 2%, explained' : 'OVER 2%',
      ],
    }
  } finally {
    if (opt.keep) log(`kept ${work}`)
    else rmSync(work, { recursive: true, force: true })
  }
}

let failed = 0
const summary = []
for (const run of runs()) {
  try {
    const r = await compare(run)
    summary.push(r.row)
    if (!r.ok) failed++
  } catch (e) {
    console.error(String(e.message ?? e))
    summary.push([run.label, '—', '—', 'FAILED', '—', '—', ''])
    failed++
  }
}
console.log(
  `\nparity summary (ccusage ${CCUSAGE_VERSION}; Δ cost = ours vs ccusage, over all days and over the days with equal tokens)\n`,
)
console.log(formatTable(['source', 'days', 'records', 'token fields', 'Δ cost', 'Δ cost, equal days', ''], summary))
console.log(`parity: ${summary.length - failed} of ${summary.length} equal or as explained`)
process.exitCode = failed ? 1 : 0
