/**
 * Reading an agent's SQLite database while the agent writes it (DESIGN §5). The one module that
 * loads better-sqlite3, and only when a database changed: commands that read none never pay for
 * the native addon.
 *
 * Opened read-only, so we never take the write lock, never checkpoint, and never delete the
 * `-wal` when we close: SQLite itself merges the committed frames of the `-wal` into what we read,
 * so rows the agent has not checkpointed yet are read too. A reader in WAL mode waits for no
 * writer; a database in rollback mode that is being written answers busy after `BUSY_MS`, and
 * the source reads it next run.
 */
import { createRequire } from 'node:module'
import { inputError, opError } from '../errors.js'

export type Row = Record<string, unknown>

export interface Database {
  readonly path: string
  /** Every row of a query, values as SQLite holds them (integers as numbers, blobs as Buffers). */
  all(sql: string, ...params: unknown[]): Row[]
  /** The rows of a query one at a time, so a large table is never held whole. */
  iterate(sql: string, ...params: unknown[]): IterableIterator<Row>
  /** The columns of a table, none when it does not exist: each agent version has its own schema. */
  columns(table: string): Set<string>
}

const BUSY_MS = 1000

type Driver = new (
  file: string,
  options: { readonly: boolean; fileMustExist: boolean; timeout: number },
) => {
  prepare(sql: string): { all(...p: unknown[]): Row[]; iterate(...p: unknown[]): IterableIterator<Row> }
  pragma(sql: string): unknown
  close(): void
}

let driver: Driver | undefined

function loadDriver(): Driver {
  if (driver) return driver
  try {
    driver = createRequire(import.meta.url)('better-sqlite3') as Driver
  } catch (e) {
    throw opError(
      'SQLITE_UNAVAILABLE',
      'the SQLite reader (better-sqlite3, an optional dependency) is not installed here; run `npm rebuild better-sqlite3` where usage-ledger is installed, or record other sources with --source',
      e,
    )
  }
  return driver
}

/** Opens `file` read-only; the caller closes it. Throws when it is not a database. */
export function openDatabase(file: string): Database & { close(): void } {
  const Sqlite = loadDriver()
  const db = new Sqlite(file, { readonly: true, fileMustExist: true, timeout: BUSY_MS })
  try {
    // Rejects a file that is not a database now, not at the first query.
    db.pragma('schema_version')
  } catch (e) {
    db.close()
    throw e
  }
  return {
    path: file,
    all: (sql, ...params) => db.prepare(sql).all(...params),
    iterate: (sql, ...params) => db.prepare(sql).iterate(...params),
    columns(table) {
      const rows = db.prepare('SELECT name FROM pragma_table_info(?)').all(table)
      return new Set(rows.map((r) => String(r.name)))
    },
    close: () => db.close(),
  }
}

/**
 * The columns of an agent's `table`, once it is known to hold every one of `needed`: a version
 * of the agent whose schema lacks one is not guessed at (UNKNOWN_SCHEMA; the source's database is
 * counted malformed and read again next run).
 */
export function requireColumns(
  db: Database,
  table: string,
  needed: readonly string[],
  agent: string,
  cols = db.columns(table),
): Set<string> {
  const missing = needed.filter((c) => !cols.has(c))
  if (missing.length)
    throw inputError(
      'UNKNOWN_SCHEMA',
      `${db.path}: ${agent}'s ${table} table ${cols.size ? `has no ${missing.join(', ')}` : 'is missing'}; this ${agent} version is not known to usage-ledger`,
    )
  return cols
}
