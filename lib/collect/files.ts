/**
 * Incremental reading of source files (DESIGN §5). A file whose (dev, ino, size, mtime) match its
 * cursor is not opened. A `lines` file is read from its cursor's offset; one that shrank or
 * changed inode is read again from the start, which dedupe makes harmless; an unfinished last
 * line (no newline yet) is left for a later run. A changed `documents` file is read whole. A
 * `database` is unchanged only when its `-wal` is too, and is read from its cursor's ctx.
 */
import fs from 'node:fs'
import { isLedgerError } from '../errors.js'
import { openDatabase } from './sqlite.js'
import type {
  Batch,
  DatabaseSource,
  DocumentsSource,
  FileCursor,
  FileSource,
  LinesSource,
  SourceCursors,
  SourceFile,
} from './types.js'
import type { Env } from '../env.js'

const CHUNK = 4 << 20
/**
 * Longer lines are skipped and counted as malformed: no usage line comes near this, and a
 * runaway line (a 200 MB paste, a corrupt file) must not be held whole in memory.
 */
export const MAX_LINE = 64 << 20

export interface ReadStats {
  files: number
  unchanged: number
  read: number
  bytes: number
  /** Why this source's files could not be read at all on this machine (its databases' reader missing). */
  unreadable?: string
}

export type Progress = (doneBytes: number, totalBytes: number, files: number) => void

export function collectFiles(
  env: Env,
  source: FileSource,
  cursors: SourceCursors,
  batch: Batch,
  salt: string,
  progress?: Progress,
  plan: FilesPlan = planFiles(env, source, cursors),
): { cursors: SourceCursors; stats: ReadStats } {
  const onBytes = bytesCounter(plan, progress)
  for (const w of plan.work) {
    let read: ReturnType<typeof readChanged>
    try {
      read = readChanged(source, w, batch, salt, onBytes)
    } catch (e) {
      // No reader for this machine's databases: every one of them keeps its cursor, and `record`
      // says why instead of failing the other sources.
      if (!isLedgerError(e, 'SQLITE_UNAVAILABLE')) throw e
      plan.stats.unreadable = e.message
      for (const v of plan.work) if (cursors[v.file.path]) plan.next[v.file.path] = cursors[v.file.path]!
      break
    }
    settleFile(plan, cursors, w, read)
  }
  return { cursors: plan.next, stats: plan.stats }
}

/** A source's files: the unchanged ones' cursors already in `next`, the changed ones to read in `work`. */
export interface FilesPlan {
  next: SourceCursors
  stats: ReadStats
  work: Work[]
  /** Bytes the work will read. */
  total: number
}

export function planFiles(env: Env, source: FileSource, cursors: SourceCursors): FilesPlan {
  const next: SourceCursors = {}
  const stats: ReadStats = { files: 0, unchanged: 0, read: 0, bytes: 0 }
  const work: Work[] = []
  for (const file of source.discover(env)) {
    let st: fs.Stats
    try {
      st = fs.statSync(file.path)
    } catch {
      continue
    }
    stats.files++
    const cur = cursors[file.path]
    // Taken before the database is read: a write during the read changes it, so the next run reads again.
    const wal = source.kind === 'database' && !file.document ? walOf(file.path) : undefined
    if (
      cur &&
      cur.dev === st.dev &&
      cur.ino === st.ino &&
      cur.size === st.size &&
      cur.mtimeMs === st.mtimeMs &&
      (wal === undefined || sameWal(cur.wal, wal))
    ) {
      next[file.path] = cur
      stats.unchanged++
      continue
    }
    const restart = source.kind !== 'lines' || !cur || cur.dev !== st.dev || cur.ino !== st.ino || st.size < cur.offset
    // A document is read whole every time, but keeps its ctx (a counter's totals so far); a
    // database keeps its ctx (where its rows stopped) while it is the same file.
    const sameFile = cur && cur.dev === st.dev && cur.ino === st.ino
    const ctx =
      source.kind === 'documents' || file.document
        ? cur?.ctx
        : source.kind === 'database'
          ? sameFile
            ? cur!.ctx
            : undefined
          : restart
            ? undefined
            : cur!.ctx
    work.push({ file, st, from: restart ? 0 : cur!.offset, ctx, wal })
  }
  const total = work.reduce((n, w) => n + (w.st.size - w.from), 0)
  return { next, stats, work, total }
}

/** Counts read bytes into the progress callback. */
export function bytesCounter(plan: FilesPlan, progress?: Progress): (n: number) => void {
  let done = 0
  return (n: number) => {
    done += n
    progress?.(done, plan.total, plan.stats.read)
  }
}

/** A read file's new cursor into the plan (null: the file keeps its old one). */
export function settleFile(
  plan: FilesPlan,
  cursors: SourceCursors,
  w: Work,
  read: { offset: number; ctx: unknown } | null,
): void {
  if (!read) {
    // A document caught mid-write or broken: the old cursor stays, so the next run reads it again.
    const cur = cursors[w.file.path]
    if (cur) plan.next[w.file.path] = cur
    return
  }
  plan.stats.read++
  plan.stats.bytes += read.offset - w.from
  const { st } = w
  plan.next[w.file.path] = {
    dev: st.dev,
    ino: st.ino,
    size: st.size,
    mtimeMs: st.mtimeMs,
    ...read,
    ...(w.wal !== undefined ? { wal: w.wal } : {}),
  }
}

export interface Work {
  file: SourceFile
  st: fs.Stats
  from: number
  ctx: unknown
  wal: FileCursor['wal']
}

/** The size and mtime of a database's write-ahead log, null when it has none. */
function walOf(dbPath: string): { size: number; mtimeMs: number } | null {
  try {
    const st = fs.statSync(`${dbPath}-wal`)
    return { size: st.size, mtimeMs: st.mtimeMs }
  } catch {
    return null
  }
}

/**
 * Whether a database's -wal is as it was. An empty -wal holds no rows: opening a database in WAL
 * mode that has none (the agent not running, its last connection checkpointed and deleted it)
 * makes an empty one, even read-only, and that must not make the next run read it again.
 */
const sameWal = (a: FileCursor['wal'], b: FileCursor['wal']) =>
  a === b ||
  ((a == null || a.size === 0) && (b == null || b.size === 0)) ||
  (a != null && b != null && a.size === b.size && a.mtimeMs === b.mtimeMs)

/**
 * Calls `onLine` for every complete line in [from, size) and returns the offset after the last
 * one (a byte-order mark at the start of the file is not passed on; offsets stay file offsets).
 * Lines longer than a chunk grow the buffer rather than being split, up to `maxLine` bytes: a
 * longer line is dropped as it is read (`onSkip` is told once its newline arrives), and while it
 * is unfinished the returned offset stays at its start.
 */
export function readLines(
  path: string,
  from: number,
  size: number,
  onLine: (line: Buffer, offset: number) => void,
  onBytes?: (n: number) => void,
  onSkip?: (offset: number, length: number) => void,
  maxLine = MAX_LINE,
): number {
  const fd = fs.openSync(path, 'r')
  try {
    let buf = Buffer.allocUnsafe(Math.min(CHUNK, maxLine, Math.max(size - from, 1)))
    let filled = 0 // bytes in buf not yet consumed, starting at buf[0]
    let pos = from // file offset of buf[filled]
    let lineStart = from // file offset of buf[0]
    let skipFrom = -1 // file offset of an over-long line being dropped, or -1
    while (pos < size) {
      if (filled === buf.length) {
        if (buf.length >= maxLine) {
          // No newline within maxLine bytes: drop what is held of this line and read on.
          if (skipFrom < 0) skipFrom = lineStart
          lineStart += filled
          filled = 0
        } else {
          const bigger = Buffer.allocUnsafe(Math.min(buf.length * 2, maxLine))
          buf.copy(bigger, 0, 0, filled)
          buf = bigger
        }
      }
      const n = fs.readSync(fd, buf, filled, Math.min(buf.length - filled, size - pos), pos)
      if (n === 0) break
      pos += n
      filled += n
      onBytes?.(n)
      let start = 0
      for (let nl = buf.indexOf(10, start); nl >= 0 && nl < filled; nl = buf.indexOf(10, start)) {
        if (skipFrom >= 0) {
          onSkip?.(skipFrom, lineStart + nl - skipFrom)
          skipFrom = -1
          start = nl + 1
          continue
        }
        let end = nl
        if (end > start && buf[end - 1] === 13) end--
        // A UTF-8 byte-order mark before the first line of a file (editors on Windows write
        // one) is not part of the JSON; the line's offset is then that of its first byte after it.
        let first = start
        if (lineStart + start === 0 && end - start >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf)
          first += 3
        if (end > first) onLine(buf.subarray(first, end), lineStart + first)
        start = nl + 1
      }
      if (start > 0) {
        buf.copy(buf, 0, start, filled)
        filled -= start
        lineStart += start
      }
    }
    return skipFrom >= 0 ? skipFrom : lineStart
  } finally {
    fs.closeSync(fd)
  }
}

/** A changed file through its source, by kind: where reading stopped and the ctx to keep, or null. */
function readChanged(
  source: FileSource,
  w: Work,
  batch: Batch,
  salt: string,
  onBytes: (n: number) => void,
): { offset: number; ctx: unknown } | null {
  if (source.kind === 'database' && !w.file.document) {
    const read = readDatabase(source, w.file, w.ctx, batch, salt)
    onBytes(w.st.size)
    return read && { offset: 0, ctx: read.ctx }
  }
  if (source.kind !== 'lines') {
    // A documents source's file, or one a database source marked as a document.
    const read = readDocument(source, w.file, w.st.size, w.ctx, batch, salt)
    onBytes(w.st.size)
    return read && { offset: w.st.size, ctx: read.ctx }
  }
  return readLinesFile(source, w.file, w.from, w.st.size, w.ctx, batch, salt, onBytes)
}

/** A `lines` file from `from` to `size` through its source's parser: where reading stopped, and the ctx to keep. */
export function readLinesFile(
  source: LinesSource,
  file: SourceFile,
  from: number,
  size: number,
  ctx: unknown,
  batch: Batch,
  salt: string,
  onBytes?: (n: number) => void,
): { offset: number; ctx: unknown } {
  const parser = source.parser(file, ctx, batch, salt)
  const offset = readLines(file.path, from, size, parser.line.bind(parser), onBytes, () => {
    batch.malformed++
  })
  return { offset, ctx: parser.ctx() }
}

/**
 * One whole document through its source, or null (counted malformed) when it cannot be read or
 * parsed. Bigger than MAX_LINE is refused as a runaway line is.
 */
function readDocument(
  source: { document?: DocumentsSource['document'] },
  file: SourceFile,
  size: number,
  ctx: unknown,
  batch: Batch,
  salt: string,
): { ctx: unknown } | null {
  if (size > MAX_LINE) {
    batch.malformed++
    return null
  }
  let text: Buffer
  try {
    text = fs.readFileSync(file.path)
  } catch {
    return null
  }
  try {
    return { ctx: source.document!(file, stripBom(text), ctx, batch, salt) }
  } catch {
    batch.malformed++
    return null
  }
}

/**
 * One changed database through its source, or null (counted malformed) when it cannot be opened
 * or its source cannot read it; the loaded reader's absence is thrown to the caller.
 */
function readDatabase(
  source: DatabaseSource,
  file: SourceFile,
  ctx: unknown,
  batch: Batch,
  salt: string,
): { ctx: unknown } | null {
  let db: ReturnType<typeof openDatabase>
  try {
    db = openDatabase(file.path)
  } catch (e) {
    if (isLedgerError(e, 'SQLITE_UNAVAILABLE')) throw e
    batch.malformed++
    return null
  }
  try {
    return { ctx: source.database(db, file, ctx, batch, salt) }
  } catch {
    batch.malformed++
    return null
  } finally {
    db.close()
  }
}

const stripBom = (b: Buffer) => (b.length >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf ? b.subarray(3) : b)

/**
 * Every file under `dir`, recursively, that `keep` accepts by its name and entry (a file or a
 * symlink to one, unless `keep` says otherwise); a missing dir yields nothing.
 */
export function findFiles(dir: string, keep: (name: string, e: fs.Dirent) => boolean, out: string[] = []): string[] {
  let entries: fs.Dirent[]
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true })
  } catch {
    return out
  }
  for (const e of entries) {
    const p = `${dir}/${e.name}`
    if (e.isDirectory()) findFiles(p, keep, out)
    else if (keep(e.name, e)) out.push(p)
  }
  return out
}

export const isFileOrLink = (e: fs.Dirent) => e.isFile() || e.isSymbolicLink()

/** Every `*.jsonl` under `dir`, recursively. */
export const findJsonl = (dir: string, out: string[] = []) =>
  findFiles(dir, (name, e) => name.endsWith('.jsonl') && isFileOrLink(e), out)

/** Cheap test for a line that cannot be JSON at all (truncated, garbage). */
export function looksLikeJsonObject(line: Buffer): boolean {
  let i = 0
  while (i < line.length && (line[i] === 32 || line[i] === 9)) i++
  let j = line.length - 1
  while (j > i && (line[j] === 32 || line[j] === 9)) j--
  return line[i] === 123 && line[j] === 125
}

/** A line parsed as a JSON object, or null after counting it as malformed. */
export function parseObjectLine<T extends object>(line: Buffer, batch: { malformed: number }): T | null {
  let o: unknown
  try {
    o = JSON.parse(line.toString('utf8'))
  } catch {
    batch.malformed++
    return null
  }
  if (typeof o !== 'object' || o === null) {
    batch.malformed++
    return null
  }
  return o as T
}

export type { FileCursor }
