/**
 * The statusline's cache (`state/live.json`, lib/store/live.ts): the status@1 object of the
 * store, written by `record` and `fetch` while a statusline uses it and by the statusline's
 * background refresh, read by the statusline, which does no git, no index and no network.
 */
import { localTimeIn } from '../../ledger/zone.js'
import { liveCacheInUse, readLiveFile, writeLiveFile, type LiveFile } from '../../store/live.js'
import { homePaths } from '../../store/home.js'
import type { Store } from '../../store/store.js'
import { storeStatus } from './status.js'

export type LiveStatus = Awaited<ReturnType<typeof storeStatus>>
export type LiveCache = LiveFile<LiveStatus>

let writes = 0
/** How many times this process wrote a cache (the refresh writes one only when record and fetch did not). */
export const liveCacheWrites = () => writes

/** Computes the store's status and writes it as the cache; returns it. */
export async function refreshLiveCache(store: Store, clone: boolean): Promise<LiveCache> {
  const status = await storeStatus(store, clone)
  const at = store.env.now()
  const cache: LiveCache = { v: 1, at: at.toISOString(), dayEnd: dayEnd(at.getTime(), status.timezone), status }
  writeLiveFile(store.paths.state, cache)
  writes++
  return cache
}

/** `refreshLiveCache` when a statusline uses the store (its cache exists); what `record` and `fetch` call. Never throws. */
export async function refreshLiveCacheIfUsed(store: Store): Promise<void> {
  if (!liveCacheInUse(store.paths.state)) return
  try {
    await refreshLiveCache(store, false)
  } catch {
    /* the statusline shows the older cache, and its refresh tries again */
  }
}

/** The cache of the store at `home`, or null (missing, damaged or newer). */
export const readLiveCache = (home: string): LiveCache | null => readLiveFile<LiveStatus>(homePaths(home).state)

/** The first instant after `ms` of the next local day in `tz` (a quarter hour at a time: zones move by those). */
export function dayEnd(ms: number, tz: string): string {
  const local = localTimeIn(tz)
  const today = local(ms).slice(0, 10)
  let t = Math.floor(ms / 900_000) * 900_000
  for (let i = 0; i < 200 && local(t).slice(0, 10) === today; i++) t += 900_000
  return new Date(t).toISOString()
}
