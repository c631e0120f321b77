/** What every source collector provides (DESIGN §5): find files, read incrementally, normalise. */
import type { Env } from '../env.js'
import type { LedgerRecord } from '../ledger/record.js'
import { laterCopyWins } from '../ledger/dedupe.js'

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
}

export type SourceCursors = Record<string, FileCursor>

/** A record dated more than this after now is refused (stdin) or skipped and counted (collectors). */
export const FUTURE_LIMIT_MS = 24 * 3_600_000

/** New records of one run, deduplicated within the run by the reader rule. */
export class Batch {
  private readonly byId = new Map<string, LedgerRecord>()
  /** Messages with a non-sidechain copy, and the ids of every sidechain copy per message. */
  private readonly mainMessages = new Set<string>()
  private readonly sidechainCopies = new Map<string, string[]>()
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
  constructor(private readonly now?: Date) {}

  /** Why a record dated `ts` is refused, or null when it is not too far in the future. */
  futureProblem(ts: string): string | null {
    if (!this.now) return null
    if (Date.parse(ts) - this.now.getTime() <= FUTURE_LIMIT_MS) return null
    return `"ts" ${ts} is more than 24 hours after now (${this.now.toISOString()}); check the clock of the machine that wrote it`
  }

  /**
   * `message` groups copies that may carry different ids (a sidechain replay of a message under
   * another requestId): once a non-sidechain copy of the message is seen, its sidechain copies
   * are dropped, whatever order the files were read in.
   */
  add(r: LedgerRecord, message?: string): void {
    if (this.futureProblem(r.ts)) {
      this.future++
      if (!this.latestFuture || r.ts > this.latestFuture) this.latestFuture = r.ts
      return
    }
    if (message) {
      ;(r as LedgerRecord & { message?: string }).message = message
      if (!r.sidechain) this.mainMessages.add(message)
      else {
        const ids = this.sidechainCopies.get(message)
        if (ids) ids.push(r.id)
        else this.sidechainCopies.set(message, [r.id])
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

  clear(): void {
    this.byId.clear()
    this.mainMessages.clear()
    this.sidechainCopies.clear()
  }

  /**
   * Hands over the run's records after the sidechain rule, each with the native message it
   * copies (for the writer's rule across runs); the batch is empty afterwards.
   */
  records(): Array<LedgerRecord & { message?: string }> {
    for (const [message, ids] of this.sidechainCopies) {
      if (!this.mainMessages.has(message)) continue
      for (const id of new Set(ids)) {
        if (this.byId.get(id)?.sidechain) {
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

/** The last component of a POSIX or Windows path: `/home/ana/src/app/` → `app`. */
export function dirName(cwd: string): string {
  const parts = cwd.split(/[\\/]+/).filter(Boolean)
  return parts[parts.length - 1] ?? cwd
}

export interface LineParser {
  /** Called for each complete line (without its newline); `offset` is the line's byte offset. */
  line(line: Buffer, offset: number): void
}

export interface FileSource {
  readonly name: string
  /** Absolute paths of this source's files, and the roots they were found under. */
  discover(env: Env): Array<{ path: string; root: string }>
  /**
   * Where discover looks (whether there or not) and the environment variable that moves it: what `record` names when it
   * finds nothing.
   */
  looksIn?(env: Env): { paths: string[]; envVar: string }
  /** A parser for one file, continuing from the cursor's ctx. */
  parser(
    file: { path: string; root: string },
    ctx: unknown,
    batch: Batch,
    salt: string,
  ): LineParser & { ctx(): unknown }
}
