/** Atomic state files: readers never see a half-written file (write temp, fsync, rename). */
import { inputError } from '../errors.js'
import fs from 'node:fs'
import path from 'node:path'

let tmpSeq = 0

/**
 * Writes `file` whole through a temporary file and a rename, so a reader sees the old content or
 * the new. `durable: false` skips the fsync, for a hint whose loss in a crash costs nothing (a
 * rename without it may leave an empty file after a power cut, which readers take as absent).
 */
export function writeFileAtomic(
  file: string,
  data: string | Uint8Array | readonly Uint8Array[],
  { durable = true, unlessSame = false } = {},
): void {
  // A state file most runs leave as it was: reading it back costs less than a durable write.
  if (unlessSame && !Array.isArray(data) && sameContent(file, data as string | Uint8Array)) return
  fs.mkdirSync(path.dirname(file), { recursive: true })
  const tmp = `${file}.tmp-${process.pid}-${(tmpSeq++).toString(36)}-${Math.random().toString(36).slice(2, 8)}`
  try {
    const fd = fs.openSync(tmp, 'w', 0o600)
    try {
      // Pieces written in order: the file is their concatenation.
      for (const piece of Array.isArray(data) ? data : [data]) {
        const bytes = typeof piece === 'string' ? Buffer.from(piece) : piece
        for (let at = 0; at < bytes.byteLength; ) at += fs.writeSync(fd, bytes, at)
      }
      if (durable) fs.fsyncSync(fd)
    } finally {
      fs.closeSync(fd)
    }
    fs.renameSync(tmp, file)
  } catch (e) {
    fs.rmSync(tmp, { force: true })
    // A failed write(2) names no file: say which one (the error is shown to the user).
    if (e && typeof e === 'object' && !(e as NodeJS.ErrnoException).path) (e as NodeJS.ErrnoException).path = file
    throw e
  }
}

/** Appends `data` to `file` and syncs it (a crash may leave a prefix of it: readers check the end). */
export function appendFileDurable(file: string, data: string): void {
  const fd = fs.openSync(file, 'a', 0o600)
  try {
    fs.writeSync(fd, data)
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
}

function sameContent(file: string, data: string | Uint8Array): boolean {
  try {
    return fs.readFileSync(file).equals(typeof data === 'string' ? Buffer.from(data) : data)
  } catch {
    return false
  }
}

export function readJsonIfExists<T>(file: string): T | undefined {
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw e
  }
  return JSON.parse(text) as T
}

/**
 * A state file of format v1: undefined when absent, `damaged()`'s answer when it is no JSON; one
 * written by a newer usage-ledger is refused (STATE_TOO_NEW) rather than read wrong.
 */
export function readStateV1<T extends { v: number }>(file: string, damaged: () => T | undefined): T | undefined {
  let f: T | undefined
  try {
    f = readJsonIfExists<T>(file)
  } catch {
    return damaged()
  }
  if (f && f.v !== 1)
    throw inputError('STATE_TOO_NEW', `${file} was written by a newer usage-ledger; upgrade usage-ledger`)
  return f
}
