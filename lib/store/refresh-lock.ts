/**
 * At most one background refresh per store (DESIGN §6): `state/refresh.lock`, created with
 * O_EXCL by the statusline that starts the refresh, before it spawns it, so two statuslines that
 * race cannot both start one; it then names the refresh's pid. The refresh removes it when done.
 * A lock whose process is gone (same host; a zombie counts as gone), or older than
 * `REFRESH_STALE_MS`, or that is still empty after 10 s, is taken over through a mkdir guard (two
 * takers cannot remove each other's fresh lock). Never waits: the statusline must not block.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pidAlive, takeOverStale } from './lock.js'

export const REFRESH_STALE_MS = 10 * 60_000

export interface RefreshHolder {
  v: 1
  pid: number
  host: string
  startedAt: string
  /** Set by a refresh that could not write the cache: no other starts before then, whatever the pid. */
  until?: string
}

export const refreshLockFile = (state: string) => path.join(state, 'refresh.lock')

/** A lock just created: `hold(pid)` writes who holds it (the refresh's pid) and closes it. */
export interface TakenRefreshLock {
  hold(pid: number): void
  /** Gives it back (the spawn failed). */
  drop(): void
}

function readHolder(file: string): { raw: string; holder: RefreshHolder | null; mtimeMs: number } | null {
  try {
    const raw = fs.readFileSync(file, 'utf8')
    const mtimeMs = fs.statSync(file).mtimeMs
    let holder: RefreshHolder | null = null
    try {
      holder = JSON.parse(raw) as RefreshHolder
    } catch {
      /* being written, or torn */
    }
    return { raw, holder, mtimeMs }
  } catch {
    return null
  }
}

/** Who holds the lock now (null when nobody, or the holder is stale). */
export function refreshHolder(state: string, nowMs = Date.now()): RefreshHolder | null {
  const held = readHolder(refreshLockFile(state))
  if (!held || isStale(held, nowMs)) return null
  return held.holder
}

function isStale(held: { holder: RefreshHolder | null; mtimeMs: number }, nowMs: number): boolean {
  const h = held.holder
  if (!h || typeof h.pid !== 'number') return nowMs - held.mtimeMs > 10_000
  if (typeof h.until === 'string' && nowMs < Date.parse(h.until)) return false
  if (h.host === os.hostname() && !pidAlive(h.pid)) return true
  const started = Date.parse(h.startedAt)
  return !Number.isFinite(started) || nowMs - started > REFRESH_STALE_MS
}

/** Takes the lock when it is free or stale; null when a refresh holds it (or state/ is unwritable). */
export function takeRefreshLock(state: string, nowMs = Date.now()): TakenRefreshLock | null {
  const file = refreshLockFile(state)
  try {
    fs.mkdirSync(state, { recursive: true })
  } catch {
    return null
  }
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number
    try {
      fd = fs.openSync(file, 'wx', 0o600)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') return null
      const held = readHolder(file)
      if (held && !isStale(held, nowMs)) return null
      if (held) takeOverStale(file, held.raw, (f) => readHolder(f)?.raw)
      continue
    }
    let open = true
    return {
      hold(pid: number) {
        if (!open) return
        const holder: RefreshHolder = { v: 1, pid, host: os.hostname(), startedAt: new Date(nowMs).toISOString() }
        try {
          fs.writeSync(fd, JSON.stringify(holder))
        } finally {
          fs.closeSync(fd)
          open = false
        }
      },
      drop() {
        if (open) fs.closeSync(fd)
        open = false
        fs.rmSync(file, { force: true })
      },
    }
  }
  return null
}

/** Takes the lock for this process itself (a refresh run by hand); false when another refresh holds it. */
export function holdRefreshLock(state: string): boolean {
  const held = readHolder(refreshLockFile(state))
  if (held?.holder?.pid === process.pid && held.holder.host === os.hostname()) return true
  const taken = takeRefreshLock(state)
  if (!taken) return false
  taken.hold(process.pid)
  return true
}

/**
 * A refresh that failed keeps the lock, released, until `untilMs`: the statuslines that find the
 * cache still missing or old start no other before then (each would fail alike).
 */
export function backOffRefreshLock(state: string, untilMs: number): void {
  const file = refreshLockFile(state)
  const held = readHolder(file)
  if (held?.holder?.pid !== process.pid || held.holder.host !== os.hostname()) return
  const holder: RefreshHolder = { ...held.holder, until: new Date(untilMs).toISOString() }
  const tmp = `${file}.${process.pid}`
  fs.writeFileSync(tmp, JSON.stringify(holder), { mode: 0o600 })
  fs.renameSync(tmp, file)
}

/** Removes the lock if this process holds it. */
export function releaseRefreshLock(state: string): void {
  const file = refreshLockFile(state)
  const held = readHolder(file)
  if (held?.holder?.pid === process.pid && held.holder.host === os.hostname()) fs.rmSync(file, { force: true })
}
