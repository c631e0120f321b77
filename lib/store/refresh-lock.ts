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
import { readLock, staleLock, takeOverStale, type HeldLock } from './lock.js'

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

/** Who holds the lock now (null when nobody, or the holder is stale). */
export function refreshHolder(state: string, nowMs = Date.now()): RefreshHolder | null {
  const held = readLock<RefreshHolder>(refreshLockFile(state))
  if (!held || isStale(held, nowMs)) return null
  return held.info
}

function isStale(held: HeldLock<RefreshHolder>, nowMs: number): boolean {
  // A holder that names no pid yet is one being written (the statusline creates the file before the spawn).
  const h = held.info && typeof held.info.pid === 'number' ? held.info : null
  if (typeof h?.until === 'string' && nowMs < Date.parse(h.until)) return false
  return staleLock({ ...held, info: h }, { unwrittenMs: 10_000, staleAfterMs: REFRESH_STALE_MS, nowMs })
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
      const held = readLock<RefreshHolder>(file)
      if (held && !isStale(held, nowMs)) return null
      if (held) takeOverStale(file, held.raw, (f) => readLock<RefreshHolder>(f)?.raw)
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
  const held = readLock<RefreshHolder>(refreshLockFile(state))
  if (held?.info?.pid === process.pid && held.info.host === os.hostname()) return true
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
  const held = readLock<RefreshHolder>(file)
  if (held?.info?.pid !== process.pid || held.info.host !== os.hostname()) return
  const holder: RefreshHolder = { ...held.info, until: new Date(untilMs).toISOString() }
  const tmp = `${file}.${process.pid}`
  fs.writeFileSync(tmp, JSON.stringify(holder), { mode: 0o600 })
  fs.renameSync(tmp, file)
}

/** Removes the lock if this process holds it. */
export function releaseRefreshLock(state: string): void {
  const file = refreshLockFile(state)
  const held = readLock<RefreshHolder>(file)
  if (held?.info?.pid === process.pid && held.info.host === os.hostname()) fs.rmSync(file, { force: true })
}
