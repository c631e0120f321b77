/**
 * A store that stops writing as one device id and goes on as another (`init --new-device`,
 * `--device-id` naming another id, `init --continue-device` over commits of its own) keeps
 * every record: the records of its old branch that the remote's branch lacks are appended to
 * the new branch, and only then is the old branch set back to what the remote holds.
 */
import { readEntryAt, walkBlobs } from '../git/tree.js'
import type { GitBackend } from '../git/backend.js'
import { deviceDir, ledgerRef } from '../ledger/paths.js'
import { parseLedgerLine, type LedgerRecord } from '../ledger/record.js'
import { inputError } from '../errors.js'
import type { DeviceInfo } from '../store/device.js'
import { appendRecords } from './writer.js'

/** Every line of every part of `devices/<id>/` at `commit`. */
export async function partLines(git: GitBackend, commit: string | null, id: string): Promise<string[]> {
  if (!commit) return []
  const dir = await readEntryAt(git, (await git.readCommit(commit)).tree, deviceDir(id))
  if (dir?.type !== 'tree') return []
  const lines: string[] = []
  for await (const b of walkBlobs(git, dir.oid)) {
    if (!/^\d{4}-\d{2}\/\d{4}-\d{2}-\d{2}\/\d{6}\.ndjson$/.test(b.path)) continue
    for (const l of (await git.readBlob(b.oid)).toString('utf8').split('\n')) if (l) lines.push(l)
  }
  return lines
}

/** The records of `from`'s branch at `head` that `exclude` (a commit of the same branch) does not hold. */
export async function missingRecords(
  git: GitBackend,
  id: string,
  head: string | null,
  exclude: string | null,
): Promise<LedgerRecord[]> {
  const have = new Set(await partLines(git, exclude, id))
  const out: LedgerRecord[] = []
  for (const line of await partLines(git, head, id)) {
    if (have.has(line)) continue
    const p = parseLedgerLine(line)
    // Never drop what cannot be carried: a line this version cannot read stays where it is.
    if (p.kind !== 'record')
      throw inputError(
        'CANNOT_MOVE_RECORDS',
        `device ${id} holds a line this usage-ledger cannot read (${p.kind === 'newer' ? `schema v${p.v}` : p.problems.join('; ')}); upgrade usage-ledger before changing this store's device id`,
      )
    have.add(line)
    out.push(p.record)
  }
  return out
}

export interface MoveResult {
  /** Records appended to the new device's branch. */
  moved: number
  commit: string | null
}

/**
 * Points the local branch of `id` at `resetTo` (what this store last pushed or saw of it on
 * the remote), or deletes it when null; the next fetch brings the remote's head in and checks it.
 */
export async function resetBranch(git: GitBackend, id: string, resetTo: string | null): Promise<void> {
  const ref = ledgerRef(id)
  const local = await git.readRef(ref)
  if (!local || local === resetTo) return
  if (resetTo) await git.updateRef(ref, resetTo, local)
  else await git.deleteRef(ref, local)
}

/**
 * Appends to `to`'s branch (another id) the records of `fromId`'s local branch that `exclude`
 * (the remote's branch of `fromId`; null when it has none) lacks, then resets the local branch
 * of `fromId` to `resetTo`. The records are committed before the old branch gives way, so a
 * crash in between leaves them in both (dedupe counts them once), never in neither.
 */
export async function moveRecords(
  git: GitBackend,
  fromId: string,
  exclude: string | null,
  resetTo: string | null,
  to: DeviceInfo,
  knownDir: string,
  now: Date,
  seen?: Record<string, string>,
): Promise<MoveResult> {
  const local = await git.readRef(ledgerRef(fromId))
  const records = local && local !== exclude ? await missingRecords(git, fromId, local, exclude) : []
  const r = records.length ? await appendRecords(git, to, knownDir, records, now, { seen }) : null
  await resetBranch(git, fromId, resetTo)
  return { moved: r?.appended ?? 0, commit: r?.commit ?? null }
}

/** Where a local head waits while its records are moved later (see `holdForMove`). */
export const MOVING_PREFIX = 'refs/usage-ledger/moving/'

/**
 * For a move that must wait for a fetch (the records go on top of a branch the fetch brings
 * in): keeps `id`'s local head under `refs/usage-ledger/moving/<id>-<n>`, then resets the branch
 * to `resetTo` (deleted when null). `recoverMoves` appends its records; until it has, the ref
 * keeps them reachable, so a run killed in between loses nothing (the next `init` moves them).
 */
export async function holdForMove(git: GitBackend, id: string, resetTo: string | null): Promise<void> {
  const local = await git.readRef(ledgerRef(id))
  if (!local || local === resetTo) return
  await git.updateRef(
    `${MOVING_PREFIX}${id}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`,
    local,
    null,
  )
  await resetBranch(git, id, resetTo)
}

/**
 * Appends to `to`'s branch the records of every held head that the local branch of its device
 * (as the fetch left it) lacks, then drops the hold. Returns the records appended.
 */
export async function recoverMoves(
  git: GitBackend,
  to: DeviceInfo,
  knownDir: string,
  now: Date,
  seen?: Record<string, string>,
): Promise<number> {
  let n = 0
  for (const [ref, head] of await git.listRefs(MOVING_PREFIX)) {
    const id = ref.slice(MOVING_PREFIX.length, MOVING_PREFIX.length + 32)
    const records = await missingRecords(git, id, head, await git.readRef(ledgerRef(id)))
    if (records.length) n += (await appendRecords(git, to, knownDir, records, now, { seen })).appended
    await git.deleteRef(ref, head)
  }
  return n
}
