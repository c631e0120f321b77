/**
 * The spool (DESIGN §5 "cliproxy"): popping CLIProxyAPI's queue is destructive and a Pub/Sub
 * message is delivered once, so every payload taken is appended and fsynced here before anything
 * else happens to it, and leaves only after the ledger commit that holds it.
 *
 * In `state/cliproxy/`: `spool.ndjson`, where takers append, and `taken-*.ndjson`, segments a
 * commit has taken (renamed away from the takers, read, committed, then deleted). One line per
 * payload, `{"v":1,"e":<SpoolEntry>}` (the entry keeps the record id, the hash of the raw payload,
 * and the API key's salted hash, never the key). A kill at any moment loses nothing taken and
 * doubles nothing: a segment left behind is committed again by the next run, and its ids fold
 * (the writer appends only new ids). A torn last line (a kill inside write(2)) is skipped. A line of
 * a newer version stops the commit (STATE_TOO_NEW) and keeps the files.
 *
 * Appends and the rename that takes a segment hold `spool.lock` (milliseconds, never while idle),
 * so an append never lands in a segment already being committed.
 */
import fs from 'node:fs'
import path from 'node:path'
import { inputError } from '../../errors.js'
import { StoreLock } from '../../store/lock.js'
import type { SpoolEntry } from './index.js'

export const SPOOL_VERSION = 1
const ACTIVE = 'spool.ndjson'
const TAKEN_RE = /^taken-[0-9a-z-]+\.ndjson$/

export interface SpoolRead {
  entries: SpoolEntry[]
  /** The segment files read (to delete once committed). */
  files: string[]
  /** Lines that were not whole JSON (a kill inside write(2)). */
  torn: number
}

export class Spool {
  readonly dir: string
  constructor(stateDir: string) {
    this.dir = path.join(stateDir, 'cliproxy')
  }

  get activeFile(): string {
    return path.join(this.dir, ACTIVE)
  }

  private async withLock<T>(job: () => T): Promise<T> {
    fs.mkdirSync(this.dir, { recursive: true })
    const lock = await StoreLock.acquire(path.join(this.dir, 'spool.lock'), { waitMs: 60_000, staleAfterMs: 60_000 })
    try {
      return job()
    } finally {
      lock.release()
    }
  }

  /** Appends the entries and fsyncs them: when this resolves they survive a kill and a power cut. */
  async append(entries: SpoolEntry[]): Promise<void> {
    if (!entries.length) return
    const text = entries.map((e) => `${JSON.stringify({ v: SPOOL_VERSION, e })}\n`).join('')
    await this.withLock(() => {
      const created = !fs.existsSync(this.activeFile)
      const fd = fs.openSync(this.activeFile, 'a', 0o600)
      try {
        fs.writeSync(fd, text)
        fs.fsyncSync(fd)
      } finally {
        fs.closeSync(fd)
      }
      if (created) syncDir(this.dir)
    })
  }

  /** Whether anything waits for a commit (a cheap look: no lock, no read). */
  pending(): boolean {
    let names: string[]
    try {
      names = fs.readdirSync(this.dir)
    } catch {
      return false
    }
    // A segment another process commits may go between the listing and the stat.
    const size = (n: string) => fs.statSync(path.join(this.dir, n), { throwIfNoEntry: false })?.size ?? 0
    return names.some((n) => (n === ACTIVE || TAKEN_RE.test(n)) && size(n) > 0)
  }

  /**
   * Moves what takers appended so far into a segment of its own, and reads every segment (those
   * that earlier runs took and did not finish too). Delete them with `done` after the commit.
   */
  async take(): Promise<SpoolRead> {
    if (!fs.existsSync(this.dir)) return { entries: [], files: [], torn: 0 }
    await this.withLock(() => {
      if (!fs.existsSync(this.activeFile)) return
      const seg = `taken-${Date.now().toString(36)}-${process.pid.toString(36)}-${Math.random().toString(36).slice(2, 8)}.ndjson`
      fs.renameSync(this.activeFile, path.join(this.dir, seg))
      syncDir(this.dir)
    })
    return this.read(false)
  }

  /** Every spooled entry, segments first, without moving anything (a dry run). */
  read(withActive = true): SpoolRead {
    let names: string[]
    try {
      names = fs.readdirSync(this.dir)
    } catch {
      return { entries: [], files: [], torn: 0 }
    }
    const files = names
      .filter((n) => TAKEN_RE.test(n))
      .sort()
      .map((n) => path.join(this.dir, n))
    const out: SpoolRead = { entries: [], files, torn: 0 }
    const toRead = withActive && names.includes(ACTIVE) ? [...files, this.activeFile] : files
    for (const f of toRead) readSegment(f, out)
    return out
  }

  /** Deletes segments whose entries are in the ledger now. */
  done(files: string[]): void {
    for (const f of files) fs.rmSync(f, { force: true })
    if (files.length) syncDir(this.dir)
  }
}

function readSegment(file: string, out: SpoolRead): void {
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return
    throw e
  }
  const lines = text.split('\n')
  // The text after the last newline is a line whose write did not finish.
  if (lines[lines.length - 1] !== '') out.torn++
  lines.pop()
  for (const line of lines) {
    if (!line) continue
    let o: { v?: unknown; e?: SpoolEntry }
    try {
      o = JSON.parse(line)
    } catch {
      out.torn++
      continue
    }
    if (typeof o.v === 'number' && o.v > SPOOL_VERSION)
      throw inputError(
        'STATE_TOO_NEW',
        `${file} was written by a newer usage-ledger (spool v${o.v}); upgrade usage-ledger (the file is kept)`,
      )
    if (o.e && typeof o.e === 'object') out.entries.push(o.e)
    else out.torn++
  }
}

/** Makes a created, renamed or deleted name durable (a no-op where directories cannot be opened). */
function syncDir(dir: string): void {
  let fd: number | undefined
  try {
    fd = fs.openSync(dir, 'r')
    fs.fsyncSync(fd)
  } catch {
    /* Windows */
  } finally {
    if (fd !== undefined) fs.closeSync(fd)
  }
}
