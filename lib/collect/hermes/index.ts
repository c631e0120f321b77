/**
 * Hermes Agent (docs/sources.md "hermes"): the SQLite database `state.db` in the Hermes home.
 * Hermes keeps no row per model call that ccusage reads: each `sessions` row carries the
 * session's running totals (`input_tokens`, `output_tokens`, `cache_read_tokens`,
 * `cache_write_tokens`, `reasoning_tokens`, costs), added to after every call (or set from a
 * gateway's cumulative figures). A session is one cumulative counter (collect/counters.ts): one
 * record whose id and `ts` (`started_at`) never change, carrying the whole total; when the total
 * grows the larger copy replaces it (DESIGN §4), so the session lands on the day it started, as
 * in ccusage. The counters are updated in place with no time column that moves, so a changed
 * database is read whole; the cursor's ctx keeps each session's total as last recorded and only
 * a session whose total moved is handed on.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { Env } from '../../env.js'
import { intern, privacyHash, recordId, type LedgerRecord } from '../../ledger/record.js'
import { requireColumns, type Database, type Row } from '../sqlite.js'
import { envDirs, tokenCount as count, type Batch, type DatabaseSource, type SourceFile } from '../types.js'

export const SOURCE = 'hermes'
const ENV_VAR = 'HERMES_HOME'
const DB = 'state.db'

/**
 * Each home's `state.db`: HERMES_HOME's (a comma list, as ccusage), else ~/.hermes's and every
 * profile's there (`~/.hermes/profiles/<name>/state.db`: `hermes -p <name>` runs with that
 * directory as its home).
 */
export function hermesDatabases(env: Env): string[] {
  const homes = envDirs(env, ENV_VAR)
  const explicit = homes.length > 0
  const out: string[] = []
  for (const home of explicit ? homes : [path.join(env.userHome, '.hermes')]) {
    out.push(path.join(home, DB))
    if (explicit) continue
    let names: string[] = []
    try {
      names = fs.readdirSync(path.join(home, 'profiles')).sort()
    } catch {}
    for (const n of names) out.push(path.join(home, 'profiles', n, DB))
  }
  return [...new Set(out)]
}

/** Each session's token total as last handed on, by session id. */
type HermesCtx = Record<string, number>

const NEEDED = ['id', 'model', 'started_at', 'input_tokens', 'output_tokens']
const OPTIONAL = [
  'cache_read_tokens',
  'cache_write_tokens',
  'reasoning_tokens',
  'estimated_cost_usd',
  'actual_cost_usd',
  'cwd',
] as const

/** `started_at` (Python's `time.time()`: epoch seconds, REAL; milliseconds accepted as ccusage does). */
export function hermesTime(v: unknown): string | null {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : Number.NaN
  if (!Number.isFinite(n)) return null
  const ms = Math.trunc(n > 1e12 ? n : n * 1000)
  if (ms <= 0) return null
  const d = new Date(ms)
  return Number.isFinite(d.getTime()) ? d.toISOString() : null
}

const positive = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0)

/**
 * One session's record, or null when it used no tokens. Hermes's buckets are disjoint (input
 * without cache, `prompt_tokens = input + cache_read + cache_write`) and its reasoning count is
 * part of output (`total = prompt + output`; its own cost prices output only), so reasoning is
 * informational. The cost is Hermes's own: the provider's actual cost, else its estimate.
 */
export function hermesRecord(
  row: Row,
  salt: string,
): { r: LedgerRecord; session: string; cwd: string } | 'malformed' | null {
  const session = typeof row.id === 'string' ? row.id : row.id == null ? '' : String(row.id)
  const input = count(row.input_tokens)
  const output = count(row.output_tokens)
  const cacheRead = count(row.cache_read_tokens)
  const cacheWrite = count(row.cache_write_tokens)
  if (input + output + cacheRead + cacheWrite === 0) return null
  const ts = hermesTime(row.started_at)
  if (!session || !ts || typeof row.model !== 'string') return 'malformed'
  const cwd = typeof row.cwd === 'string' ? row.cwd : ''
  const r: LedgerRecord = {
    v: 1,
    id: recordId(SOURCE, session),
    ts,
    source: SOURCE,
    model: intern(row.model.trim()),
    input,
    output,
    cacheWrite,
    cacheRead,
  }
  const reasoning = Math.min(count(row.reasoning_tokens), output)
  if (reasoning) r.reasoning = reasoning
  const cost = positive(row.actual_cost_usd) || positive(row.estimated_cost_usd)
  if (cost) r.costUSD = cost
  r.session = privacyHash(session, salt)
  if (cwd) r.project = privacyHash(cwd, salt)
  return { r, session, cwd }
}

export function readHermes(db: Database, ctx: unknown, batch: Batch, salt: string): HermesCtx {
  const cols = requireColumns(db, 'sessions', NEEDED, 'Hermes')
  const prev: HermesCtx = ctx && typeof ctx === 'object' && !Array.isArray(ctx) ? (ctx as HermesCtx) : {}
  const next: HermesCtx = {}
  const select = [...NEEDED, ...OPTIONAL.map((c) => (cols.has(c) ? c : `NULL AS ${c}`))]
  const sql = `SELECT ${select.join(', ')} FROM sessions WHERE model IS NOT NULL AND TRIM(model) != '' ORDER BY rowid`
  for (const row of db.iterate(sql)) {
    const got = hermesRecord(row, salt)
    if (got === 'malformed') batch.malformed++
    if (!got || got === 'malformed') continue
    const { r } = got
    const total = r.input + r.output + r.cacheWrite + r.cacheRead
    next[got.session] = total
    if (prev[got.session] === total) continue
    batch.add(r)
    batch.names(r, got.cwd, got.session)
  }
  return next
}

export const hermes: DatabaseSource = {
  name: SOURCE,
  title: 'Hermes Agent',
  kind: 'database',
  envVar: ENV_VAR,
  looksIn: hermesDatabases,
  discover(env: Env): SourceFile[] {
    return hermesDatabases(env)
      .filter(isFile)
      .map((p) => ({ path: p, root: path.dirname(p) }))
  },
  database(db, _file, ctx, batch, salt) {
    return readHermes(db, ctx, batch, salt)
  },
}

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile()
  } catch {
    return false
  }
}
