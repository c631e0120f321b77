/**
 * The source contract (DESIGN §5): what every source provides, by kind. A source is one folder of
 * `collect/` that owns its rules (where its files are, what one usage record is, how its copies
 * and replays are told apart) and hands normalised schema-v1 records to a `Batch`.
 */
import path from 'node:path'
import type { Env } from '../env.js'
import { intern, isCount, type LedgerRecord } from '../ledger/record.js'
import { laterCopyWins } from '../ledger/dedupe.js'
import { newerReading, readingKey, type LimitReading } from '../ledger/limits.js'
import type { Database } from './sqlite.js'

/** Where reading a file stopped: unchanged (dev, ino, size, mtime) files are not opened again. */
export interface FileCursor {
  dev: number
  ino: number
  size: number
  mtimeMs: number
  /** Byte offset just after the last complete line consumed. */
  offset: number
  /** Source-specific state carried between increments (e.g. Codex's running totals). */
  ctx?: unknown
  /** A database's write-ahead log when it was read (null: none): rows live there until a checkpoint. */
  wal?: { size: number; mtimeMs: number } | null
}

export type SourceCursors = Record<string, FileCursor>

/** A record dated more than this after now is refused (stdin) or skipped and counted (collectors). */
export const FUTURE_LIMIT_MS = 24 * 3_600_000

/** New records of one run, deduplicated within the run by the reader rule. */
export class Batch {
  private readonly byId = new Map<string, Collected>()
  /** Native items with an original in the run, and the ids of every replay per item. */
  private readonly originals = new Set<string>()
  private readonly replays = new Map<string, string[]>()
  malformed = 0
  /** Copies of a response this run already had (streaming rewrites, resumed sessions, replays). */
  duplicates = 0
  /** Records skipped because they are dated more than FUTURE_LIMIT_MS after `now`. */
  future = 0
  /** The latest `ts` among them (for the warning). */
  latestFuture: string | null = null

  /**
   * `now` is the run's clock (Env): records dated more than 24 hours after it are never
   * recorded, since a part cannot be removed and such a record would stay "current" for
   * years. Without a clock (unit tests of parsers) nothing is checked.
   */
  constructor(readonly now?: Date) {}

  /** Why a record dated `ts` is refused, or null when it is not too far in the future. */
  futureProblem(ts: string): string | null {
    if (!this.now) return null
    if (Date.parse(ts) - this.now.getTime() <= FUTURE_LIMIT_MS) return null
    return `"ts" ${ts} is more than 24 hours after now (${this.now.toISOString()}); check the clock of the machine that wrote it`
  }

  /**
   * `copy` names the native item a record copies when copies of it may carry different ids (a
   * source's own rule, e.g. Claude's sidechain replays under another requestId): once an original
   * of an item is in the run, its replays are dropped, whatever order the files were read in. The
   * writer applies the same rule across runs (DESIGN §5).
   */
  /** Limit readings seen (DESIGN §4a), the newest per account and window: a run commits at most one each. */
  readonly readings = new Map<string, LimitReading>()

  /** Keeps `r` when it is its account's and window's newest of the run (never dated past the future limit). */
  addReading(r: LimitReading): void {
    if (this.futureProblem(r.ts)) return
    const k = readingKey(r)
    const cur = this.readings.get(k)
    if (!cur || newerReading(r, cur)) this.readings.set(k, r)
  }

  add(r: LedgerRecord, copy?: Copy): void {
    // A count no reader would accept (1e308, a negative left by subtracting garbage, NaN) would
    // make the device's branch fail every other machine's checks: the line is malformed.
    if (!hasValidCounts(r)) {
      this.malformed++
      return
    }
    if (this.futureProblem(r.ts)) {
      this.future++
      if (!this.latestFuture || r.ts > this.latestFuture) this.latestFuture = r.ts
      return
    }
    if (copy) {
      ;(r as Collected).copy = copy
      if (!copy.replay) this.originals.add(copy.of)
      else {
        const ids = this.replays.get(copy.of)
        if (ids) ids.push(r.id)
        else this.replays.set(copy.of, [r.id])
      }
    }
    const cur = this.byId.get(r.id)
    if (cur) {
      this.duplicates++
      if (!laterCopyWins(cur, r)) return
    }
    this.byId.set(r.id, r)
  }

  get size(): number {
    return this.byId.size
  }

  /**
   * Names behind the hashes, for this machine's reports only (state/names.json, never pushed):
   * project hash → the directory name of its cwd, session hash → the session id.
   */
  readonly projectNames = new Map<string, string>()
  readonly sessionIds = new Map<string, string>()

  /** Keeps the names of a record's project and session (what the source had before hashing). */
  names(r: LedgerRecord, cwd: unknown, session: unknown): void {
    if (r.project && typeof cwd === 'string' && cwd && !this.projectNames.has(r.project))
      this.projectNames.set(r.project, dirName(cwd))
    if (r.session && typeof session === 'string' && session && !this.sessionIds.has(r.session))
      this.sessionIds.set(r.session, session)
  }

  /**
   * What was added, before the replay rule, for another thread's batch to `absorb` (a worker's
   * batch of one file). The winner of a run of copies does not depend on their order, so a
   * batch folded per file and then across files keeps the records, the counts and the order
   * of first sight that one batch over every file keeps.
   */
  take(): BatchPart {
    const part: BatchPart = {
      records: [...this.byId.values()],
      originals: [...this.originals],
      replays: [...this.replays],
      malformed: this.malformed,
      duplicates: this.duplicates,
      future: this.future,
      latestFuture: this.latestFuture,
      projects: [...this.projectNames],
      sessions: [...this.sessionIds],
      readings: [...this.readings.values()],
    }
    this.clear()
    this.readings.clear()
    return part
  }

  /** Folds in what another batch took, as if its records had been added here after this batch's own. */
  absorb(part: BatchPart): void {
    this.malformed += part.malformed
    this.duplicates += part.duplicates
    this.future += part.future
    if (part.latestFuture && (!this.latestFuture || part.latestFuture > this.latestFuture))
      this.latestFuture = part.latestFuture
    for (const item of part.originals) this.originals.add(item)
    for (const [item, ids] of part.replays) {
      const cur = this.replays.get(item)
      if (cur) cur.push(...ids)
      else this.replays.set(item, ids)
    }
    for (const r of part.records) {
      // One copy of the strings every record repeats (a record from a worker is a copy of its own).
      r.source = intern(r.source)
      r.model = intern(r.model)
      // A session's or project's hash repeats on each of its records (the worker shared one string).
      if (r.session) r.session = intern(r.session)
      if (r.project) r.project = intern(r.project)
      const cur = this.byId.get(r.id)
      if (cur) {
        this.duplicates++
        if (!laterCopyWins(cur, r)) continue
      }
      this.byId.set(r.id, r)
    }
    for (const [hash, name] of part.projects) if (!this.projectNames.has(hash)) this.projectNames.set(hash, name)
    for (const [hash, id] of part.sessions) if (!this.sessionIds.has(hash)) this.sessionIds.set(hash, id)
    for (const r of part.readings ?? []) this.addReading(r)
  }

  clear(): void {
    this.byId.clear()
    this.originals.clear()
    this.replays.clear()
  }

  /**
   * Hands over the run's records after the replay rule, each with the native item it copies
   * (for the writer's rule across runs); the batch is empty afterwards.
   */
  records(): Collected[] {
    for (const [item, ids] of this.replays) {
      if (!this.originals.has(item)) continue
      for (const id of new Set(ids)) {
        if (this.byId.get(id)?.copy?.replay) {
          this.byId.delete(id)
          this.duplicates++
        }
      }
    }
    const out = [...this.byId.values()]
    this.clear()
    return out
  }
}

/**
 * validateRecord's checks of the numbers only: ids, times and hashes come from recordId,
 * normaliseTs and privacyHash, and a backfill adds every record through here.
 */
function hasValidCounts(r: LedgerRecord): boolean {
  return (
    isCount(r.input) &&
    isCount(r.output) &&
    isCount(r.cacheWrite) &&
    isCount(r.cacheRead) &&
    (r.reasoning === undefined || isCount(r.reasoning)) &&
    (r.cacheWrite1h === undefined || (isCount(r.cacheWrite1h) && r.cacheWrite1h <= r.cacheWrite)) &&
    (r.costUSD === undefined || (Number.isFinite(r.costUSD) && r.costUSD >= 0))
  )
}

/** The last component of a POSIX or Windows path: `/home/ana/src/app/` → `app`. */
export function dirName(cwd: string): string {
  const parts = cwd.split(/[\\/]+/).filter(Boolean)
  return parts[parts.length - 1] ?? cwd
}

/**
 * The native item a record copies, and whether this copy is a replay of an original written
 * elsewhere. `of` is unique across sources: a new source prefixes it with its name (Claude's
 * bare message ids predate this and stay as they are in existing known-ids caches).
 */
export interface Copy {
  of: string
  replay: boolean
}

/** A batch's state as `Batch.take` hands it over (plain data: it crosses threads). */
export interface BatchPart {
  records: Collected[]
  originals: string[]
  replays: Array<[string, string[]]>
  malformed: number
  duplicates: number
  future: number
  latestFuture: string | null
  projects: Array<[string, string]>
  sessions: Array<[string, string]>
  readings?: LimitReading[]
}

/** A record on its way from a source to the writer. */
export type Collected = LedgerRecord & { copy?: Copy }

export interface LineParser {
  /** Called for each complete line (without its newline); `offset` is the line's byte offset. */
  line(line: Buffer, offset: number): void
}

/**
 * How a source's files change, which decides how they are read (DESIGN §5):
 * - `lines`: append-only lines (JSONL). Read from the cursor's offset; an unfinished last line
 *   waits for a later run.
 * - `documents`: whole files rewritten in place (a JSON session or thread). A changed file is read
 *   whole; one that does not parse (caught mid-write) keeps its old cursor and is read again next
 *   run. Every usage item in it needs an id that does not change when the file is rewritten.
 * - `database`: an SQLite database the agent writes while we read (`collect/sqlite.ts`). One whose
 *   file and `-wal` are unchanged is not opened; a changed one is read read-only, `-wal` included,
 *   from where the cursor's ctx says the last run stopped (row ids, update times) when the schema
 *   allows, else whole; either way every record has an id that re-reading reproduces.
 * Cumulative counters (a running per-session total) are read by any kind through
 * `collect/counters.ts`, which turns successive totals into records of what each added.
 */
export type SourceKind = 'lines' | 'documents' | 'database'

interface SourceBase {
  readonly name: string
  /** The agent's own name, for people (`usage-ledger sources`). */
  readonly title: string
  readonly kind: SourceKind
  /** The environment variable that moves it (ccusage's, so an existing setup carries over). */
  readonly envVar: string
  /** Where it looks, there or not: what `record` and `sources` name when nothing is found. */
  looksIn(env: Env): string[]
  /** Absolute paths of this source's files, and the roots they were found under. */
  discover(env: Env): SourceFile[]
}

export interface SourceFile {
  path: string
  root: string
  /**
   * A database source's file that is a JSON document, not a database (OpenCode's legacy
   * `storage/message/**.json` copies of its rows): read whole through the source's `document`.
   */
  document?: true
}

export interface LinesSource extends SourceBase {
  readonly kind: 'lines'
  /** A parser for one file, continuing from the cursor's ctx. */
  parser(file: SourceFile, ctx: unknown, batch: Batch, salt: string): LineParser & { ctx(): unknown }
}

export interface DocumentsSource extends SourceBase {
  readonly kind: 'documents'
  /**
   * Reads one whole file into the batch and returns the ctx to keep in its cursor (e.g. the
   * totals a counter had reached), or throws when the text does not parse, before adding
   * anything: the file is then counted malformed and read again next run.
   */
  document(file: SourceFile, text: Buffer, ctx: unknown, batch: Batch, salt: string): unknown
}

export interface DatabaseSource extends SourceBase {
  readonly kind: 'database'
  /**
   * Reads a changed database into the batch from the cursor's ctx and returns the ctx to keep.
   * A throw (a file that is not a database, a schema it does not know) keeps the old cursor: the
   * database is read again next run, and what was added is folded by its ids.
   */
  database(db: Database, file: SourceFile, ctx: unknown, batch: Batch, salt: string): unknown
  /** Reads a file `discover` marked `document` as a documents source reads its files. */
  document?: DocumentsSource['document']
}

export type FileSource = LinesSource | DocumentsSource | DatabaseSource

/**
 * A token count as agents write it: a non-negative number (or a numeric string, as some JSON
 * exporters write big integers), rounded; anything else is 0.
 */
export function tokenCount(n: unknown): number {
  const v = typeof n === 'string' && n.trim() !== '' ? Number(n) : n
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.round(v) : 0
}

/** Comma-separated directories of an environment variable, resolved against cwd; [] when unset. */
export function envDirs(env: Env, name: string): string[] {
  const v = env.vars[name]
  if (!v) return []
  return v
    .split(',')
    .map((d) => d.trim())
    .filter(Boolean)
    .map((d) => path.resolve(env.cwd, d))
}
