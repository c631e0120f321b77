/**
 * One writer per store (DESIGN §6): an O_EXCL lock file holding pid, host and start time.
 * A lock whose process is gone (same host) or that is older than `staleAfterMs` is taken
 * over; a live one is waited for up to `waitMs`, then reported. Taking over goes through a
 * short-lived mkdir guard so two waiters cannot both remove the same stale lock and then
 * delete each other's fresh one.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { opError } from '../errors.js'

export interface LockInfo {
  pid: number
  host: string
  startedAt: string
  nonce: string
}

export interface LockOptions {
  waitMs?: number
  staleAfterMs?: number
  now?: () => number
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * Whether `pid` runs on this host. A killed process that nobody reaped (a zombie: its parent
 * exited and the container's init does not reap, as a detached statusline refresh's) still
 * answers signal 0, but holds nothing: Linux's /proc tells.
 */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
  try {
    return !/^\d+ \(.*\) [ZX] /s.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return true
  }
}

/** A lock file as read: what it says (null: not JSON yet, or torn), its text and its mtime. */
export interface HeldLock<T = LockInfo> {
  info: T | null
  raw: string
  mtimeMs: number
}

export function readLock<T = LockInfo>(file: string): HeldLock<T> | null {
  let raw: string, mtimeMs: number
  try {
    raw = fs.readFileSync(file, 'utf8')
    mtimeMs = fs.statSync(file).mtimeMs
  } catch {
    return null
  }
  try {
    return { info: JSON.parse(raw) as T, raw, mtimeMs }
  } catch {
    return { info: null, raw, mtimeMs }
  }
}

export class StoreLock {
  private constructor(
    private readonly file: string,
    private readonly token: string,
  ) {}

  static async acquire(file: string, opts: LockOptions = {}): Promise<StoreLock> {
    const waitMs = opts.waitMs ?? 120_000
    const staleAfterMs = opts.staleAfterMs ?? 30 * 60_000
    const now = opts.now ?? Date.now
    const deadline = now() + waitMs
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true })
    } catch (e) {
      throw opError(
        'HOME_UNWRITABLE',
        `cannot create ${path.dirname(file)}: ${(e as Error).message}; pass a writable --home`,
        e,
      )
    }
    let delay = 5
    for (;;) {
      // The nonce makes every holder's token unique, even two in one process in one millisecond.
      const info: LockInfo = {
        pid: process.pid,
        host: os.hostname(),
        startedAt: new Date(now()).toISOString(),
        nonce: `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`,
      }
      const token = JSON.stringify(info)
      try {
        const fd = fs.openSync(file, 'wx', 0o600)
        fs.writeSync(fd, token)
        fs.closeSync(fd)
        return new StoreLock(file, token)
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST')
          throw opError('LOCK_FAILED', `cannot create lock ${file}: ${(e as Error).message}`, e)
      }
      const held = readLock(file)
      // Unreadable: half-written by a process killed between create and write, or still being written.
      if (held && staleLock(held, { unwrittenMs: 5_000, staleAfterMs, nowMs: now(), mtimeNowMs: Date.now() }))
        takeOverStale(file, held.raw, (f) => readLock(f)?.raw)
      else if (now() > deadline) {
        const who = held?.info
          ? `pid ${held.info.pid} on ${held.info.host} since ${held.info.startedAt}`
          : 'another process'
        throw opError(
          'LOCKED',
          `the store is locked by ${who} (${file}); wait for it to finish, or remove the file if that process is gone`,
        )
      } else {
        await sleep(delay)
        delay = Math.min(delay * 2, 100)
      }
    }
  }

  release(): void {
    const held = readLock(this.file)
    if (held?.raw === this.token) fs.rmSync(this.file, { force: true })
  }
}

/**
 * Whether a held lock is stale: not written yet `unwrittenMs` after its mtime (a process killed
 * between create and write; `mtimeNowMs` is that clock), its process gone (same host), or held
 * longer than `staleAfterMs`.
 */
export function staleLock(
  { info, mtimeMs }: HeldLock<Pick<LockInfo, 'pid' | 'host' | 'startedAt'>>,
  o: { unwrittenMs: number; staleAfterMs: number; nowMs: number; mtimeNowMs?: number },
): boolean {
  if (!info) return (o.mtimeNowMs ?? o.nowMs) - mtimeMs > o.unwrittenMs
  if (info.host === os.hostname() && !pidAlive(info.pid)) return true
  const started = Date.parse(info.startedAt)
  return !Number.isFinite(started) || o.nowMs - started > o.staleAfterMs
}

/**
 * Removes a stale lock file, if it still holds `staleRaw` (what `rawNow` reads), under a guard
 * directory so two processes taking it over do not remove each other's fresh lock.
 */
export function takeOverStale(file: string, staleRaw: string, rawNow: (file: string) => string | undefined): void {
  const guard = `${file}.takeover`
  try {
    fs.mkdirSync(guard)
  } catch {
    // Another process is taking over; a guard left by a killed process is removed when old.
    try {
      if (Date.now() - fs.statSync(guard).mtimeMs > 10_000) fs.rmdirSync(guard)
    } catch {
      /* gone already */
    }
    return
  }
  try {
    if (rawNow(file) === staleRaw) fs.rmSync(file, { force: true })
  } finally {
    fs.rmdirSync(guard)
  }
}
