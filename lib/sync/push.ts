/** Delivering this device's commits (DESIGN §6/§7): fast-forward only; offline keeps them. */
import type { GitBackend, Remote } from '../git/backend.js'
import { trackingRef } from '../git/backend.js'
import { isGenesis } from '../git/genesis.js'
import { LedgerError } from '../errors.js'
import { ledgerRef } from '../ledger/paths.js'

export interface PushResult {
  pushed: boolean
  /** Commits of this device's branch the remote does not have yet. */
  pending: number
  /** Why the push did not happen (unreachable, auth), when it did not. */
  error?: LedgerError
}

/** Commits on `ref` not reachable from `base` (walks first parents; the branch is linear; the genesis is no device commit). */
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
    if (e instanceof LedgerError && e.code === 'PUSH_REJECTED') throw e
    if (e instanceof LedgerError && (e.code === 'REMOTE_UNREACHABLE' || e.code === 'AUTH_FAILED' || e.code === 'GIT_FAILED')) {
      return { pushed: false, pending: await commitsAhead(git, head, known), error: e }
    }
    throw e
  }
}
