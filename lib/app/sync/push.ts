/** Delivering this device's commits (DESIGN §2, §7): fast-forward only; offline keeps them. */
import path from 'node:path'
import type { GitBackend, Remote } from '../../git/backend.js'
import { redactUrl, trackingRef } from '../../git/backend.js'
import { isGenesis } from '../../git/genesis.js'
import { isLedgerError, type LedgerError, usageError } from '../../errors.js'
import { ledgerRef } from '../../ledger/paths.js'
import { readJsonIfExists, writeFileAtomic } from '../../store/fsutil.js'
import type { Store } from '../../store/store.js'
import { explainRejectedPush } from './identity.js'
import { resolveRemote } from './remote.js'

export interface PushResult {
  pushed: boolean
  /** Commits of this device's branch the remote does not have yet. */
  pending: number
  /** Why the push did not happen (unreachable, auth), when it did not. */
  error?: LedgerError
}

/**
 * Commits on `ref` not reachable from `base` (walks first parents; the branch is linear; the genesis is no device
 * commit).
 */
export async function commitsAhead(git: GitBackend, head: string | null, base: string | null): Promise<number> {
  let n = 0
  for (let c = head; c && c !== base; n++) {
    const info = await git.readCommit(c)
    if (isGenesis(info)) break
    c = info.parents[0] ?? null
  }
  return n
}

export async function pushDevice(git: GitBackend, remote: Remote, deviceId: string): Promise<PushResult> {
  const ref = ledgerRef(deviceId)
  const head = await git.readRef(ref)
  const known = await git.readRef(trackingRef(ref))
  if (!head || head === known) return { pushed: false, pending: 0 }
  try {
    await git.push(remote, ref)
    return { pushed: true, pending: 0 }
  } catch (e) {
    // A rejected push (another machine on this id) is the caller's to report loudly;
    // an unreachable or refusing remote just leaves the commits pending.
    if (isLedgerError(e, 'PUSH_REJECTED')) throw e
    if (isLedgerError(e, 'REMOTE_UNREACHABLE', 'AUTH_FAILED', 'REMOTE_NOT_FOUND', 'GIT_FAILED')) {
      return { pushed: false, pending: await commitsAhead(git, head, known), error: e }
    }
    throw e
  }
}

/**
 * The last push that failed for a reason other than being offline (refused credentials, no
 * such repository, a rejection, git failing): kept in `state/push.json` until a push
 * succeeds, so `status` and `record --json` can say so long after a quiet hook ran into it.
 */
export interface PushFailure {
  /** When it failed (ISO 8601). */
  at: string
  code: string
  message: string
  /** git's own words, when it said more than the message holds. */
  details: string[]
}

const PUSH_STATE_VERSION = 1
interface PushStateFile {
  v: number
  lastFailure: PushFailure | null
}

/** Offline (unreachable, timed out, the server failing) is the normal state of a laptop: not kept. */
export const isKeptFailure = (e: LedgerError) => e.code !== 'REMOTE_UNREACHABLE'

export function loadPushFailure(file: string): PushFailure | null {
  let f: PushStateFile | undefined
  try {
    f = readJsonIfExists<PushStateFile>(file)
  } catch {
    return null
  } // damaged: only a hint is lost
  // A newer version's file is left alone (and not shown).
  if (!f || f.v !== PUSH_STATE_VERSION || !f.lastFailure || typeof f.lastFailure.message !== 'string') return null
  return {
    at: String(f.lastFailure.at),
    code: String(f.lastFailure.code),
    message: f.lastFailure.message,
    details: Array.isArray(f.lastFailure.details) ? f.lastFailure.details.map(String) : [],
  }
}

/** Records a failure, or (null) clears it after a push that succeeded or found nothing to deliver. */
export function savePushFailure(file: string, failure: PushFailure | null): void {
  let had: PushStateFile | undefined
  try {
    had = readJsonIfExists<PushStateFile>(file)
  } catch {
    /* damaged: rewritten */
  }
  if (had && had.v > PUSH_STATE_VERSION) return // a newer usage-ledger's file is left as it is
  if (!failure && !had?.lastFailure) return // nothing to clear: no write on every push
  writeFileAtomic(file, `${JSON.stringify({ v: PUSH_STATE_VERSION, lastFailure: failure })}\n`)
}

export interface PushSummary {
  remote: string
  pushed: boolean
  pending: number
  rejected: boolean
  error?: string
  /** The rejection is an integrity failure (this device's branch was rewritten on the remote): exit 3. */
  integrity?: boolean
  /** git's own words about this push's failure, when it said more than `error`. */
  details?: string[]
  /** The last push that failed other than offline, until one succeeds (state/push.json). */
  lastPushFailure: PushFailure | null
}

/** Where the last failed push is kept (DESIGN: persisted state carries "v"). */
export const pushStateFile = (store: Store) => path.join(store.paths.state, 'push.json')

/** The last failed push of a store, or null (also in --repo mode, which never pushes). */
export const lastPushFailure = (store: Store, repoMode = false): PushFailure | null =>
  repoMode ? null : loadPushFailure(pushStateFile(store))

/**
 * Pushes (the caller holds the store lock); an unreachable or refusing remote leaves the
 * commits pending, a rejection is reported as such.
 */
export async function pushOrKeep(store: Store): Promise<PushSummary> {
  const url = store.config.remote!
  const git = await store.git()
  const remote = await resolveRemote(url, store.env)
  const file = pushStateFile(store)
  // A failure other than being offline is kept until a push succeeds (or finds nothing to do).
  const keep = (e: LedgerError | undefined): PushFailure | null => {
    if (!e) {
      savePushFailure(file, null)
      return null
    }
    if (!isKeptFailure(e)) return loadPushFailure(file)
    const failure = { at: store.env.now().toISOString(), code: e.code, message: e.message, details: e.details }
    savePushFailure(file, failure)
    return failure
  }
  try {
    const r = await pushDevice(git, remote, store.device.id)
    return {
      remote: redactUrl(url),
      pushed: r.pushed,
      pending: r.pending,
      rejected: false,
      error: r.error?.message,
      details: r.error?.details.length ? r.error.details : undefined,
      lastPushFailure: keep(r.error),
    }
  } catch (e) {
    if (isLedgerError(e, 'PUSH_REJECTED')) {
      // Another store writing as this device, or this device's branch rewritten: say which.
      const why = await explainRejectedPush(
        git,
        remote,
        store.device.id,
        store.device.installId,
        e,
        store.deviceSource === 'env',
      )
      return {
        remote: redactUrl(url),
        pushed: false,
        pending: -1,
        rejected: true,
        error: why.message,
        lastPushFailure: keep(why),
        ...(why.kind === 'integrity' ? { integrity: true } : {}),
      }
    }
    throw e
  }
}

/** The `push` command: this device's pending commits, delivered under the store lock. */
export async function pushPending(store: Store): Promise<PushSummary> {
  if (!store.config.remote)
    throw usageError('NO_REMOTE', `no remote is set for ${store.paths.home}; run usage-ledger init --remote URL`)
  return store.locked(() => pushOrKeep(store))
}
