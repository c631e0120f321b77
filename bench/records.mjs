// Generated `record --stdin` NDJSON of the ledger benchmarks (bench/fetch.mjs, bench/report.mjs).
//
// Records are deterministic for a seed: strictly increasing ts per device, and session/project
// hashes of their own per device, so no id is deduplicated and the expected totals are plain
// sums. The two scripts differ only by parameters (device-id letter and word, batch salt, how
// records map to sessions, how many chunks): keep these functions' output byte-for-byte stable,
// since bench/report.mjs caches setups keyed by its parameters and results must stay comparable
// (bump its SETUP_VERSION otherwise).
import { createHash } from 'node:crypto'
import { makeRng } from './generate.mjs'

export const TOTAL_KEYS = ['records', 'input', 'output', 'cacheWrite', 'cacheRead', 'totalTokens']
export const DAY_MS = 86_400_000
/** The history spans this many days before --end. */
export const HISTORY_DAYS = 60

export const MODELS = [
  ['claude-sonnet-4-5-20250929', 0.55],
  ['claude-opus-4-1-20250805', 0.15],
  ['claude-haiku-4-5-20251001', 0.15],
  ['gpt-5', 0.15],
]
export const hex16 = (s) => createHash('sha256').update(s).digest('hex').slice(0, 16)

/** Device `i`'s 32-hex id: `letter`, i in 3 hex digits, `word` (4 hex digits) 7 times. */
export const deviceId = (i, letter, word) => `${letter}${i.toString(16).padStart(3, '0')}${word.repeat(7)}`

export const zero = () => Object.fromEntries(TOTAL_KEYS.map((k) => [k, 0]))
export const addInto = (acc, t) => {
  for (const k of TOTAL_KEYS) acc[k] += t[k]
  return acc
}

export function pickModel(rng) {
  let u = rng.next()
  for (const [m, p] of MODELS) if ((u -= p) < 0) return m
  return MODELS[0][0]
}

/** One record line like a coding tool's response; adds its tokens to `acc`. */
export function makeRecord(rng, tsMs, dev, session, acc) {
  const model = pickModel(rng)
  const openai = model === 'gpt-5'
  const r = {
    ts: new Date(tsMs).toISOString(),
    model,
    input: rng.int(1, 40) * (rng.chance(0.1) ? 400 : 10),
    output: rng.int(20, 2500),
    cacheWrite: openai ? 0 : rng.chance(0.3) ? rng.int(500, 30000) : 0,
    cacheRead: rng.chance(0.9) ? rng.int(5000, 180000) : 0,
    session: hex16(`dev${dev}/session${session}`),
    project: hex16(`dev${dev}/project${session % 7}`),
  }
  acc.records += 1
  acc.input += r.input
  acc.output += r.output
  acc.cacheWrite += r.cacheWrite
  acc.cacheRead += r.cacheRead
  acc.totalTokens += r.input + r.output + r.cacheWrite + r.cacheRead
  return JSON.stringify(r)
}

/**
 * Device `dev`'s history: `n` records stratified over the HISTORY_DAYS days before `endMs`, cut
 * by time into `chunks` chunks (empty ones left out); record `i` belongs to session
 * `sessionOf(i)`. Returns {chunks: [{lines, lastMs}], truth} with `lastMs` the ts of the chunk's
 * last record and `truth` the sum of every record.
 */
export function history({ seed, endMs, dev, n, chunks, sessionOf }) {
  const rng = makeRng(seed * 1000 + dev)
  const start = endMs - HISTORY_DAYS * DAY_MS
  const step = (HISTORY_DAYS * DAY_MS) / n
  const out = []
  const truth = zero()
  for (let c = 0; c < chunks; c++) {
    const lo = Math.floor((c * n) / chunks)
    const hi = Math.floor(((c + 1) * n) / chunks)
    if (hi <= lo) continue
    const lines = []
    let lastMs = start
    for (let i = lo; i < hi; i++) {
      lastMs = start + Math.floor((i + rng.next()) * step)
      lines.push(makeRecord(rng, lastMs, dev, sessionOf(i), truth))
    }
    out.push({ lines, lastMs })
  }
  return { chunks: out, truth }
}

/**
 * Run `run`'s batch of device `dev`: `size` records inside the first 50 minutes of hour
 * `run - 1` of the day `endMs` starts, all in session 1_000_000 + run; `salt` tells the scripts'
 * random streams apart. Returns {lines, truth, t0} with `t0` the start of that hour.
 */
export function batch({ seed, endMs, dev, run, size, salt }) {
  const rng = makeRng([seed, dev, run, salt])
  const t0 = endMs + (run - 1) * 3_600_000
  const truth = zero()
  const lines = []
  for (let k = 0; k < size; k++)
    lines.push(makeRecord(rng, t0 + Math.floor(((k + rng.next()) * 3_000_000) / size), dev, 1_000_000 + run, truth))
  return { lines, truth, t0 }
}

/**
 * Problems of a `report --json` (schema usage-ledger/report@1) against the devices' truths
 * (empty when equal): the totals must be their sum and, for `--by device`, every device's rows
 * must sum to that device's own truth (`ids[i]` ↔ `truths[i]`).
 */
export function checkReport(json, truths, ids) {
  if (json.schema !== 'usage-ledger/report@1') return [`unexpected report schema ${JSON.stringify(json.schema)}`]
  const problems = []
  const got = json.totals ?? {}
  const want = truths.reduce((acc, t) => addInto(acc, t), zero())
  for (const k of TOTAL_KEYS) if (got[k] !== want[k]) problems.push(`total ${k} ${got[k]} ≠ expected ${want[k]}`)
  if (json.groupBy?.includes('device')) {
    const per = new Map()
    for (const r of json.rows ?? []) {
      const d = per.get(r.device) ?? zero()
      for (const k of TOTAL_KEYS) d[k] += r[k] ?? 0
      per.set(r.device, d)
    }
    ids.forEach((id, i) => {
      const d = per.get(id) ?? zero()
      for (const k of TOTAL_KEYS)
        if (d[k] !== truths[i][k]) problems.push(`device ${i + 1} ${k} ${d[k]} ≠ expected ${truths[i][k]}`)
    })
    const extra = [...per.keys()].filter((id) => !ids.includes(id))
    if (extra.length) problems.push(`unexpected devices ${extra.join(', ')}`)
  }
  return problems
}
