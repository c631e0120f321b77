/**
 * Block Goose (docs/sources.md "goose"): the SQLite database `sessions/sessions.db` under Goose's
 * data dir. Goose keeps no row per model call: each `sessions` row carries the session's running
 * totals (`accumulated_input_tokens`, `accumulated_output_tokens`, `accumulated_total_tokens`,
 * grown by every call), rewritten in place with `updated_at = datetime('now')`. A session is one
 * cumulative counter (collect/counters.ts): one record whose id and `ts` (the session's
 * `created_at`) never change, carrying the whole total; when the total grows the larger copy
 * replaces it (DESIGN §4), so the whole session lands on the day it started, as in ccusage.
 * Read on from the latest `updated_at` seen (that second included), so a row updated in place
 * is read again and nothing else is.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { Env } from '../../env.js'
import { intern, privacyHash, recordId, type LedgerRecord } from '../../ledger/record.js'
import { requireColumns, type Database, type Row } from '../sqlite.js'
import { envDirs, tokenCount as count, type Batch, type DatabaseSource, type SourceFile } from '../types.js'

export const SOURCE = 'goose'
const ENV_VAR = 'GOOSE_PATH_ROOT'
const DB = path.join('sessions', 'sessions.db')

/**
 * GOOSE_PATH_ROOT (a comma list): `<root>/data/sessions/sessions.db`, as Goose's `Paths` puts its
 * data dir under it. Else the three places ccusage looks on every OS, then Goose's own data dir
 * where it differs from them: `$XDG_DATA_HOME/goose` (etcetera's XDG strategy, Linux and macOS)
 * and on Windows `%APPDATA%\Block\goose\data`.
 */
export function gooseDatabases(env: Env): string[] {
  const roots = envDirs(env, ENV_VAR)
  if (roots.length) return roots.map((r) => path.join(r, 'data', DB))
  const home = env.userHome
  const out = [
    path.join(home, '.local', 'share', 'goose', DB),
    path.join(home, 'Library', 'Application Support', 'goose', DB),
    path.join(home, '.local', 'share', 'Block', 'goose', DB),
  ]
  const xdg = env.vars.XDG_DATA_HOME
  if (xdg && path.isAbsolute(xdg)) out.push(path.join(xdg, 'goose', DB))
  if (env.platform === 'win32' && env.vars.APPDATA) out.push(path.join(env.vars.APPDATA, 'Block', 'goose', 'data', DB))
  return [...new Set(out)]
}

/** Where reading stopped: the latest `updated_at` read (SQLite's `datetime()` form, UTC). */
interface GooseCtx {
  updatedAt?: string
}

const NEEDED = ['id', 'created_at', 'model_config_json', 'accumulated_input_tokens', 'accumulated_output_tokens']
const OPTIONAL = [
  'updated_at',
  'working_dir',
  'input_tokens',
  'output_tokens',
  'total_tokens',
  'accumulated_total_tokens',
  'accumulated_cache_read_tokens',
  'accumulated_cache_write_tokens',
  'accumulated_cost',
] as const

/**
 * Goose's `created_at` as an instant: `CURRENT_TIMESTAMP`'s `YYYY-MM-DD HH:MM:SS` (UTC, as SQLite
 * writes it), RFC 3339 (sqlx binding a `DateTime<Utc>`, legacy imports), or epoch seconds or
 * milliseconds; null when it is none of these.
 */
export function gooseTime(v: unknown): string | null {
  let ms: number
  const s = typeof v === 'string' ? v.trim() : ''
  if (typeof v === 'number' || /^\d+(\.\d+)?$/.test(s)) {
    const n = typeof v === 'number' ? v : Number(s)
    ms = n > 1e12 ? n : n * 1000
  } else if (/^\d{4}-\d{2}-\d{2}$/.test(s)) ms = Date.parse(`${s}T00:00:00Z`)
  else if (/^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?$/.test(s)) ms = Date.parse(`${s.replace(' ', 'T')}Z`)
  else if (/^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i.test(s))
    ms = Date.parse(s.replace(' ', 'T'))
  else return null
  if (!Number.isFinite(ms) || ms <= 0) return null
  const d = new Date(Math.trunc(ms))
  return Number.isFinite(d.getTime()) ? d.toISOString() : null
}

/** `model_config_json`'s `model_name`, or null when the JSON is not a model config. */
function modelName(json: string): string | null {
  let o: unknown
  try {
    o = JSON.parse(json)
  } catch {
    return null
  }
  const name = o && typeof o === 'object' ? (o as { model_name?: unknown }).model_name : undefined
  return typeof name === 'string' && name.trim() ? name.trim() : null
}

/**
 * One session's record, or null when it used nothing. Input and output are the accumulated
 * counters (else the last call's, as ccusage falls back for a row whose counters were never
 * accumulated); what the accumulated total shows beyond them (Gemini's thoughts) is output,
 * also noted as reasoning. Goose's input holds the cache reads and writes (its `Usage` folds a
 * cache-exclusive provider's cache counts into input): newer Goose also keeps
 * `accumulated_cache_read_tokens` and `accumulated_cache_write_tokens`, which are then taken out
 * of input; older ones keep no cache counts, and their cache tokens stay in input (as ccusage).
 * `accumulated_cost`, Goose's own running cost, is kept when positive.
 */
export function gooseRecord(
  row: Row,
  salt: string,
): { r: LedgerRecord; session: string; cwd: string } | 'malformed' | null {
  const session = String(row.id)
  const input = count(row.accumulated_input_tokens) || count(row.input_tokens)
  const out = count(row.accumulated_output_tokens) || count(row.output_tokens)
  const total = count(row.accumulated_total_tokens) || count(row.total_tokens) || input + out
  if (input + out + total === 0) return null
  const model = modelName(String(row.model_config_json))
  const ts = gooseTime(row.created_at)
  if (!model || !ts) return 'malformed'
  const extra = Math.max(0, total - input - out)
  const cacheRead = count(row.accumulated_cache_read_tokens)
  const cacheWrite = count(row.accumulated_cache_write_tokens)
  const cwd = typeof row.working_dir === 'string' ? row.working_dir : ''
  const r: LedgerRecord = {
    v: 1,
    // Goose numbers sessions per day (`20261118_1`), so every machine has a `20261118_1`: the
    // creation time keeps two machines' sessions apart, and a copied database folds.
    id: recordId(SOURCE, `${session}\n${String(row.created_at)}`),
    ts,
    source: SOURCE,
    model: intern(model),
    input: Math.max(0, input - cacheRead - cacheWrite),
    output: out + extra,
    cacheWrite,
    cacheRead,
  }
  if (extra) r.reasoning = extra
  const cost = row.accumulated_cost
  if (typeof cost === 'number' && Number.isFinite(cost) && cost > 0) r.costUSD = cost
  r.session = privacyHash(session, salt)
  if (cwd) r.project = privacyHash(cwd, salt)
  return { r, session, cwd }
}

export function readGoose(db: Database, ctx: unknown, batch: Batch, salt: string): GooseCtx {
  const cols = requireColumns(db, 'sessions', NEEDED, 'Goose')
  const select = [...NEEDED, ...OPTIONAL.map((c) => (cols.has(c) ? c : `NULL AS ${c}`))]
  const from = (ctx as GooseCtx | undefined)?.updatedAt
  const hasUpdated = cols.has('updated_at')
  // `datetime()` reads both of Goose's time forms ("2026-11-18 09:00:00", "2026-11-18T09:00:00+00:00")
  // as one comparable UTC text; a row whose time it cannot read is read every time (its id folds).
  const where = [
    "model_config_json IS NOT NULL AND TRIM(model_config_json) != ''",
    ...(from && hasUpdated ? ['(datetime(updated_at) IS NULL OR datetime(updated_at) >= ?)'] : []),
  ].join(' AND ')
  const sql = `SELECT ${select.join(', ')}${hasUpdated ? ', datetime(updated_at) AS updated_norm' : ''} FROM sessions WHERE ${where}`
  let latest = from
  for (const row of db.iterate(sql, ...(from && hasUpdated ? [from] : []))) {
    const u = row.updated_norm
    if (typeof u === 'string' && (!latest || u > latest)) latest = u
    const got = gooseRecord(row, salt)
    if (got === 'malformed') batch.malformed++
    else if (got) {
      batch.add(got.r)
      batch.names(got.r, got.cwd, got.session)
    }
  }
  return latest ? { updatedAt: latest } : {}
}

export const goose: DatabaseSource = {
  name: SOURCE,
  title: 'Goose',
  kind: 'database',
  envVar: ENV_VAR,
  looksIn: gooseDatabases,
  discover(env: Env): SourceFile[] {
    return gooseDatabases(env)
      .filter(isFile)
      .map((p) => ({ path: p, root: path.dirname(p) }))
  },
  database(db, _file, ctx, batch, salt) {
    return readGoose(db, ctx, batch, salt)
  },
}

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile()
  } catch {
    return false
  }
}
