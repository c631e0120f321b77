/**
 * This device's own branch on the remote (README "Concepts", "Troubleshooting"): whether the
 * remote's `ledger/<me>` is this store's history, this store's history moved on by another
 * store writing as the same device (a collision), or rewritten (a force-push by someone else).
 * The evidence: ancestry against the local branch and against the head this store last pushed
 * or fetched (its tracking ref), and the `installId` in `device.json`, which names the store
 * that wrote a commit.
 */
import { descends, trackingRef, type GitBackend, type Remote } from '../../git/backend.js'
import { ledgerRef } from '../../ledger/paths.js'
import { deviceFilesAt, readDeviceJson, readManifest } from '../../branch/device-files.js'
import { LedgerError } from '../../errors.js'

export interface WrittenBy {
  installId?: string
  name?: string
  platform?: string
  lastRecordAt?: string
}

/** Who wrote `commit` of device `id`'s branch, from its device.json and manifest. */
export async function writtenBy(git: GitBackend, commit: string, id: string): Promise<WrittenBy> {
  const out: WrittenBy = {}
  try {
    const files = await deviceFilesAt(git, (await git.readCommit(commit)).tree, id)
    const dev = await readDeviceJson(git, files.device)
    if (dev) for (const k of ['installId', 'name', 'platform'] as const) if (dev[k] !== undefined) out[k] = dev[k]
    const man = await readManifest(git, files.manifest)
    if (man) out.lastRecordAt = man.lastRecordAt ?? undefined
  } catch {
    /* unreadable: no evidence */
  }
  return out
}

/** "store 1a2b3c4d, "laptop" (linux), last record 2026-11-21T10:00:00.000Z" */
export function describeWriter(w: WrittenBy): string {
  const parts = [w.installId ? `store ${w.installId.slice(0, 8)}` : 'a store of an older usage-ledger']
  if (w.name) parts.push(`"${w.name}"${w.platform ? ` (${w.platform})` : ''}`)
  if (w.lastRecordAt) parts.push(`last record ${w.lastRecordAt}`)
  return parts.join(', ')
}

export type OwnBranchState =
  /** the remote has this store's head, or an older one of it (a push is pending) */
  | 'same'
  | 'local-ahead'
  /** the remote is ahead with commits this store wrote (a store restored from a backup) */
  | 'catch-up'
  /** no local branch, and the remote's was written by another store */
  | 'foreign'
  /** another store appended to this device's branch */
  | 'collision'
  /** the remote's branch no longer holds what this store last pushed or saw there */
  | 'rewritten'
  | 'rewound'

/**
 * `local`: this store's branch; `head`: the remote's; `before`: what this store last pushed or
 * fetched of it (its tracking ref before this fetch); `install`: this store's install id.
 */
export async function ownBranchState(
  git: GitBackend,
  id: string,
  o: { local: string | null; head: string; before: string | null; install?: string },
): Promise<OwnBranchState> {
  const { local, head, before } = o
  const ours = async () => o.install === undefined || (await writtenBy(git, head, id)).installId === o.install
  if (!local) return (await ours()) ? 'catch-up' : 'foreign'
  if (local === head) return 'same'
  const lost = before !== null && before !== head && !(await descends(git, before, head))
  if (await descends(git, head, local)) return lost ? 'rewound' : 'local-ahead'
  if (lost) return 'rewritten'
  if (await descends(git, local, head)) return (await ours()) ? 'catch-up' : 'collision'
  return 'collision'
}

/**
 * One line for each state that needs the user; null for the others. `fromEnv`: the id comes from
 * USAGE_LEDGER_DEVICE_ID.
 */
export function ownBranchMessage(
  state: OwnBranchState,
  id: string,
  w: WrittenBy,
  o: { head: string; before: string | null; fromEnv?: boolean; install?: string },
): string | null {
  const NEW_DEVICE = `${o.fromEnv ? 'unset USAGE_LEDGER_DEVICE_ID, then ' : ''}run \`usage-ledger init --new-device\``
  switch (state) {
    case 'collision':
    case 'foreign':
      return `another store writes as this device ${id}: the remote's ledger/${id} has commits this store did not write (last by ${w.installId && w.installId === o.install ? 'a copy of this store: a cloned VM or a copied home, ' : ''}${describeWriter(w)}); nothing is lost: ${NEW_DEVICE} here and this store's records the remote lacks move to a new device id`
    case 'rewritten':
      return `this device's own branch ledger/${id} was rewritten on the remote (force-pushed by someone else): its head ${o.head.slice(0, 12)} does not hold ${o.before!.slice(0, 12)}, which this store pushed or saw there; nothing was pushed over it; protect ledger/* against force pushes, then ${NEW_DEVICE} here: this store's records the rewritten branch lacks move to a new device id`
    case 'rewound':
      return `this device's own branch ledger/${id} was rewritten on the remote (moved back to ${o.head.slice(0, 12)} from ${o.before!.slice(0, 12)}, which this store pushed or saw there); this store still has every commit: run \`usage-ledger push\` to put them back`
    default:
      return null
  }
}

/**
 * Why the remote refused this device's push: fetches its branch, says whether another store
 * writes as this device or the branch was rewritten, and leaves the tracking ref at what this
 * store last pushed, so every later push and fetch says the same.
 */
export async function explainRejectedPush(
  git: GitBackend,
  remote: Remote,
  id: string,
  install: string | undefined,
  fallback: LedgerError,
  fromEnv = false,
): Promise<LedgerError> {
  const ref = ledgerRef(id)
  const before = await git.readRef(trackingRef(ref))
  let head: string | undefined
  try {
    head = (await git.fetchRefs(remote, [ref])).get(ref)
  } catch {
    return fallback
  }
  if (!head) return fallback
  const local = await git.readRef(ref)
  const state = await ownBranchState(git, id, { local, head, before, install })
  const msg = ownBranchMessage(
    state === 'rewound'
      ? 'rewritten'
      : state === 'catch-up' || state === 'same' || state === 'local-ahead'
        ? 'collision'
        : state,
    id,
    await writtenBy(git, head, id),
    { head, before, fromEnv, install },
  )
  if (before && before !== head) await git.updateRef(trackingRef(ref), before, head).catch(() => {})
  if (state === 'rewritten' || state === 'rewound') return new LedgerError('integrity', 'OWN_BRANCH_REWRITTEN', msg!)
  return new LedgerError('operational', 'DEVICE_ID_COLLISION', msg!)
}
