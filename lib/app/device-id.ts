/**
 * A store that writes as another id than before (`--device-id`, `USAGE_LEDGER_DEVICE_ID`, `init
 * --new-device`; DESIGN §3): the id and the name are kept for later runs, and the records of the
 * old id's local branch that the remote lacks move to the new id, so nothing recorded is lost.
 */
import { loadQuarantine, saveQuarantine } from '../store/quarantine.js'
import { writeConfig } from '../store/home.js'
import type { Store } from '../store/store.js'
import { loadVerified, saveVerified } from '../store/verified.js'

/** The old id's branch on the remote, when the caller fetched it; else what this store last pushed or saw. */
export interface PreviousRemote {
  head: string | null
  before: string | null
}

/**
 * Keeps a --device-id (or USAGE_LEDGER_DEVICE_ID) or --name for later runs. An id that replaces
 * this store's id first moves the records of the old id's local branch that the remote lacks to
 * the new id (see `movePreviousRecords`). The caller holds the store lock. Returns the number of
 * records moved.
 */
export async function rememberDevice(
  store: Store,
  opts: { deviceId?: string; name?: string },
  prevRemote?: PreviousRemote,
): Promise<number> {
  const given = Boolean(opts.deviceId) || store.deviceSource === 'env'
  const moved = given ? await movePreviousRecords(store, prevRemote) : 0
  let changed = false
  if (given && store.config.deviceId !== store.device.id) {
    store.config.deviceId = store.device.id
    changed = true
  }
  if (opts.name && store.config.deviceName !== opts.name) {
    store.config.deviceName = opts.name
    changed = true
  }
  if (changed) writeConfig(store.paths.config, store.config)
  return moved
}

/**
 * When this run writes as another id than the store did (`previousId`): appends the records of
 * the old id's local branch that `prevRemote.head` lacks to this device's branch, and resets the
 * old branch to `prevRemote.before` (deleted when none), which the next fetch checks again from
 * there. `hold`: keep the old head for `recoverMoves` instead (the caller appends after a fetch).
 */
export async function movePreviousRecords(store: Store, prevRemote?: PreviousRemote, hold = false): Promise<number> {
  const prev = store.previousId
  if (!prev || prev === store.device.id) return 0
  const git = await store.git()
  // Loaded only here: a `record` that keeps its id never pays for it.
  const { moveRecords, holdForMove } = await import('../branch/move.js')
  const tracking = await git.readRef(`refs/remotes/origin/ledger/${prev}`)
  const { head, before } = prevRemote ?? { head: tracking, before: tracking }
  const verified = loadVerified(store.paths.verified)
  let moved = 0
  if (hold) await holdForMove(git, prev, before)
  else {
    // Witnessing the old id at this store's own head would name a commit the remote may never hold.
    const seen = Object.fromEntries(Object.entries(verified).filter(([id]) => id !== prev))
    moved = (await moveRecords(git, prev, head, before, store.device, store.paths.known, store.env.now(), seen)).moved
  }
  // The old id is another device from now on: the next fetch checks its remote head again.
  delete verified[prev]
  saveVerified(store.paths.verified, verified)
  const proved = loadVerified(store.paths.proved)
  if (prev in proved) {
    delete proved[prev]
    saveVerified(store.paths.proved, proved)
  }
  const q = loadQuarantine(store.paths.quarantine)
  if (prev in q.devices) {
    delete q.devices[prev]
    saveQuarantine(store.paths.quarantine, q)
  }
  store.previousId = undefined
  return moved
}
