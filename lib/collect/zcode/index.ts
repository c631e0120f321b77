/**
 * ZCode (Z.ai's GLM desktop app and CLI): `<home>/cli/db/db.sqlite`, table `model_usage`, one
 * row per model request (`id` TEXT primary key), written while the request runs (`status`
 * 'running') and updated in place when it ends ('completed', 'error', 'cancelled'). Only
 * completed rows are usage, as ccusage reads them. `input_tokens` holds the cache read and cache
 * creation slices (ZCode's own `computed_total_tokens` is input + output), so both are carved
 * out of input; a total no bucket explains is output. The project is the joined
 * `session.directory`.
 *
 * Incremental: the rows after the last rowid read, plus the rows that were still running then
 * (updated in place since). The rowid is kept with the row id it named, so a database whose
 * rowids moved (VACUUM, a rebuilt file) is read whole again, and the row ids fold what was read.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { Env } from '../../env.js'
import { intern, normaliseTs, privacyHash, recordId, type LedgerRecord } from '../../ledger/record.js'
import { requireColumns, type Database, type Row } from '../sqlite.js'
import { envDirs, tokenCount as count, type DatabaseSource, type SourceFile } from '../types.js'

export const SOURCE = 'zcode'
const ENV_VAR = 'ZCODE_HOME'
const DB_PATH = ['cli', 'db', 'db.sqlite']

/** Columns a `model_usage` row must have to be read at all. */
const REQUIRED = ['id', 'session_id', 'started_at', 'model_id', 'status', 'input_tokens', 'output_tokens']
/** Columns older layouts may lack (read as 0 / no total). */
const OPTIONAL = ['cache_creation_input_tokens', 'cache_read_input_tokens', 'computed_total_tokens', 'reasoning_tokens']
/** Statuses that never change again: a row in any other (running) is read again next run. */
const FINAL = new Set(['completed', 'error', 'cancelled'])
/** At most this many still-running rows are watched (a crashed app may leave some forever). */
const MAX_OPEN = 2000

/** Where reading stopped: the last rowid read and the row id it named, and the rows still running. */
export interface ZcodeCtx {
  rowid: number
  at: string
  open: number[]
}

const newCtx = (): ZcodeCtx => ({ rowid: 0, at: '', open: [] })

function asCtx(ctx: unknown): ZcodeCtx {
  if (!ctx || typeof ctx !== 'object') return newCtx()
  const c = ctx as Partial<ZcodeCtx>
  return typeof c.rowid === 'number' && typeof c.at === 'string' && Array.isArray(c.open)
    ? { rowid: c.rowid, at: c.at, open: c.open.filter((n) => typeof n === 'number') }
    : newCtx()
}

/** ZCODE_HOME (a comma list), else ~/.zcode on every OS (ZCode and ccusage take the home dir). */
function homes(env: Env): string[] {
  const dirs = envDirs(env, ENV_VAR)
  return dirs.length ? [...new Set(dirs)] : [path.join(env.userHome, '.zcode')]
}

/** A `model_usage` row (joined with its session's directory) as the ledger's record, or why not. */
export function zcodeRecord(row: Row, salt: string): LedgerRecord | 'malformed' | null {
  if (row.status !== 'completed') return null
  const inputAll = count(row.input_tokens)
  const cacheRead = Math.min(count(row.cache_read_input_tokens), inputAll)
  const rest = inputAll - cacheRead
  const cacheWrite = Math.min(count(row.cache_creation_input_tokens), rest)
  const input = rest - cacheWrite
  let output = count(row.output_tokens)
  // Tokens ZCode's total shows that no bucket explains (reasoning outside output) are output.
  const missing = count(row.computed_total_tokens) - (input + output + cacheWrite + cacheRead)
  if (missing > 0) output += missing
  if (input + output + cacheWrite + cacheRead === 0) return null
  const id = typeof row.id === 'string' || typeof row.id === 'number' ? String(row.id) : ''
  const ms = typeof row.started_at === 'number' && row.started_at > 0 ? row.started_at : NaN
  const ts = Number.isFinite(ms) ? normaliseTs(ms) : null
  const model = typeof row.model_id === 'string' ? row.model_id.trim() : ''
  if (!id || !ts || !model) return 'malformed'
  const r: LedgerRecord = {
    v: 1,
    id: recordId(SOURCE, id),
    ts,
    source: SOURCE,
    model: intern(model),
    input,
    output,
    cacheWrite,
    cacheRead,
  }
  const reasoning = count(row.reasoning_tokens)
  if (reasoning > 0 && reasoning <= output) r.reasoning = reasoning
  if (typeof row.session_id === 'string' && row.session_id) r.session = privacyHash(row.session_id, salt)
  if (typeof row.directory === 'string' && row.directory) r.project = privacyHash(row.directory, salt)
  return r
}

/** The query over what changed since `c`, for the columns this database has. */
function usageQuery(db: Database): string {
  const cols = requireColumns(db, 'model_usage', REQUIRED, 'ZCode')
  const session = db.columns('session')
  const dir = session.has('id') && session.has('directory')
  const select = [
    'm.rowid AS rowid_',
    ...REQUIRED.map((c) => `m.${c}`),
    ...OPTIONAL.map((c) => (cols.has(c) ? `m.${c}` : `NULL AS ${c}`)),
    dir ? 's.directory' : 'NULL AS directory',
  ]
  return `SELECT ${select.join(', ')} FROM model_usage m ${dir ? 'LEFT JOIN session s ON s.id = m.session_id ' : ''}WHERE m.rowid > ? OR m.rowid IN (SELECT value FROM json_each(?)) ORDER BY m.rowid`
}

export const zcode: DatabaseSource = {
  name: SOURCE,
  title: 'ZCode',
  kind: 'database',
  envVar: ENV_VAR,
  looksIn: homes,
  discover(env) {
    const files: SourceFile[] = []
    for (const root of homes(env)) {
      const p = path.join(root, ...DB_PATH)
      try {
        if (fs.statSync(p).isFile()) files.push({ path: p, root })
      } catch {}
    }
    return files
  },
  database(db, _file, ctx, batch, salt) {
    const sql = usageQuery(db)
    let c = asCtx(ctx)
    if (c.rowid > 0) {
      // The row the cursor stopped at must still be there under its rowid, else read whole again.
      const at = db.all('SELECT id FROM model_usage WHERE rowid = ?', c.rowid)[0]
      if (!at || String(at.id) !== c.at) c = newCtx()
    }
    const next: ZcodeCtx = { rowid: c.rowid, at: c.at, open: [] }
    for (const row of db.iterate(sql, c.rowid, JSON.stringify(c.open))) {
      const rowid = row.rowid_ as number
      if (rowid > next.rowid) {
        next.rowid = rowid
        next.at = String(row.id)
      }
      if (!FINAL.has(row.status as string)) {
        next.open.push(rowid)
        continue
      }
      const r = zcodeRecord(row, salt)
      if (r === 'malformed') batch.malformed++
      else if (r) {
        batch.add(r)
        batch.names(r, row.directory, row.session_id)
      }
    }
    if (next.open.length > MAX_OPEN) next.open = next.open.slice(-MAX_OPEN)
    return next
  },
}
