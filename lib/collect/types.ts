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

/** New records of one run, deduplicated within the run by the reader rule. */
export class Batch {
  private readonly byId = new Map<string, LedgerRecord>()
  /** message → whether a non-sidechain copy was seen, and the ids of its sidechain copies. */
  private readonly messages = new Map<string, { main: boolean; sidechain: Set<string> }>()
  malformed = 0
  /** Copies of a response this run already had (streaming rewrites, resumed sessions, replays). */
  duplicates = 0

  /**
   * `message` groups copies that may carry different ids (a sidechain replay of a message under
   * another requestId): once a non-sidechain copy of the message is seen, its sidechain copies
   * are dropped, whatever order the files were read in.
   */
  add(r: LedgerRecord, message?: string): void {
    if (message) {
      let m = this.messages.get(message)
      if (!m) this.messages.set(message, (m = { main: false, sidechain: new Set() }))
      if (r.sidechain) m.sidechain.add(r.id)
      else m.main = true
    }
    const cur = this.byId.get(r.id)
    if (cur) {
      this.duplicates++
      if (!laterCopyWins(cur, r)) return
    }
    this.byId.set(r.id, r)
  }

  get size(): number { return this.byId.size }

  clear(): void { this.byId.clear(); this.messages.clear() }

  /** The run's records after the sidechain rule. */
  records(): LedgerRecord[] {
    for (const m of this.messages.values()) {
      if (!m.main) continue
      for (const id of m.sidechain) {
        if (this.byId.get(id)?.sidechain) { this.byId.delete(id); this.duplicates++ }
      }
    }
    this.messages.clear()
    return [...this.byId.values()]
  }
}

export interface LineParser {
  /** Called for each complete line (without its newline); `offset` is the line's byte offset. */
  line(line: Buffer, offset: number): void
}

export interface FileSource {
  readonly name: string
  /** Absolute paths of this source's files, and the roots they were found under. */
  discover(env: Env): Array<{ path: string; root: string }>
  /** A parser for one file, continuing from the cursor's ctx. */
  parser(file: { path: string; root: string }, ctx: unknown, batch: Batch, salt: string): LineParser & { ctx(): unknown }
}
