/**
 * The statusline's background refresh (`statusline --refresh`, started detached by the
 * statusline, lib/app/statusline.ts): `record` as `record --quiet` runs it (record.minInterval
 * holds it back), `fetch` when a remote is set, then the cache, under the refresh lock the
 * statusline took for it. Each step takes the store lock as it always does; a kill anywhere loses
 * nothing (record is crash-safe: the sources keep what was not committed).
 */
import type { Store } from '../store/store.js'
import { backOffRefreshLock, holdRefreshLock, releaseRefreshLock } from '../store/refresh-lock.js'
import { recordUsage } from './record.js'
import { fetchRemote } from './sync/fetch.js'
import { liveCacheWrites, refreshLiveCache } from './query/live.js'

export interface RefreshResult {
  /** False when another refresh held the lock. */
  ran: boolean
  /** The steps that failed, with why (nobody waits for a detached run: kept for tests and --json). */
  errors: Array<{ step: 'record' | 'fetch' | 'cache'; message: string }>
}

/** After a refresh that could not write the cache, none starts for this long. */
export const REFRESH_BACKOFF_MS = 60_000

export async function refreshLive(store: Store): Promise<RefreshResult> {
  const state = store.paths.state
  if (!holdRefreshLock(state)) return { ran: false, errors: [] }
  const errors: RefreshResult['errors'] = []
  const before = liveCacheWrites()
  let wrote = false
  try {
    try {
      await recordUsage(store, { sources: [], stdin: false, push: true, dryRun: false })
    } catch (e) {
      errors.push({ step: 'record', message: (e as Error).message })
    }
    if (store.config.remote) {
      try {
        await fetchRemote(store, { acceptRewrite: [] })
      } catch (e) {
        errors.push({ step: 'fetch', message: (e as Error).message })
      }
    }
    // record and fetch wrote the cache when they changed something; the clock moved anyway.
    if (liveCacheWrites() === before) {
      try {
        if (!store.initialized) throw new Error(`no ledger at ${store.paths.gitdir}`)
        await refreshLiveCache(store, false)
      } catch (e) {
        errors.push({ step: 'cache', message: (e as Error).message })
      }
    }
    wrote = liveCacheWrites() > before
    return { ran: true, errors }
  } finally {
    if (wrote) releaseRefreshLock(state)
    else backOffRefreshLock(state, Date.now() + REFRESH_BACKOFF_MS)
  }
}
