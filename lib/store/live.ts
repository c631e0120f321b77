/**
 * The statusline's cache (DESIGN §6): `state/live.json`, v1, `{v, at, dayEnd, status}` where
 * `status` is a `status@1` object as `status --json` prints it and `dayEnd` the end of `at`'s local
 * day in the status' zone (the statusline tells a stale "today" without a zone library). Written
 * whole (atomic rename, no fsync: a lost cache is rebuilt by the next refresh); `record` and
 * `fetch` keep it current only while it exists, i.e. while a statusline uses it.
 */
import fs from 'node:fs'
import path from 'node:path'
import { writeFileAtomic } from './fsutil.js'

export const LIVE_VERSION = 1

export interface LiveFile<S = unknown> {
  v: 1
  /** When it was computed (the writer's clock). */
  at: string
  /** The end of `at`'s local day: "today" in `status` holds from `at` until then. */
  dayEnd: string
  status: S
}

export const liveCacheFile = (state: string) => path.join(state, 'live.json')

/** Whether a statusline uses this store (it creates the cache): `record` and `fetch` then keep it current. */
export const liveCacheInUse = (state: string) => fs.existsSync(liveCacheFile(state))

export function writeLiveFile<S>(state: string, f: LiveFile<S>): void {
  writeFileAtomic(liveCacheFile(state), `${JSON.stringify(f)}\n`, { durable: false })
}

/** The cache, or null when it is missing, damaged, or written by a newer usage-ledger (never misread). */
export function readLiveFile<S = unknown>(state: string): LiveFile<S> | null {
  let text: string
  try {
    text = fs.readFileSync(liveCacheFile(state), 'utf8')
  } catch {
    return null
  }
  try {
    const o = JSON.parse(text) as LiveFile<S>
    if (!o || typeof o !== 'object' || o.v !== LIVE_VERSION) return null
    if (typeof o.at !== 'string' || !Number.isFinite(Date.parse(o.at))) return null
    if (typeof o.dayEnd !== 'string' || !o.status || typeof o.status !== 'object') return null
    return o
  } catch {
    return null
  }
}
