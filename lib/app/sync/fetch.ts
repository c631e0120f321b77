/**
 * Bringing in every device (DESIGN §2, §8): fetch all `ledger/*` heads, take a head only when
 * it passes the checks (`trust.ts`: ancestry, witnesses, and what `verify` checks on what is
 * new), advance the local `merged` branch to the union of the good heads' device directories,
 * and run the store's post-merge hooks. A head that fails is quarantined and reported.
 * `fetchInto` does that for a store under its lock and refreshes the index; `fetchRemote` is
 * the `fetch` command.
 */
import { rememberDevice } from '../device-id.js'
import fs from 'node:fs'
import path from 'node:path'
import { spawn } from 'node:child_process'
import { trackingRef, type GitBackend, type RefMove, type Remote, type TreeEntry } from '../../git/backend.js'
import { readEntryAt } from '../../git/tree.js'
import { deviceDir, LEDGER_REF_PREFIX, ledgerRef, MERGED_REF } from '../../ledger/paths.js'
import { listQuarantined, loadTrustState, saveTrustState, type QuarantinedHead } from '../../store/quarantine.js'
import type { Store } from '../../store/store.js'
import { usageError } from '../../errors.js'
import { redactUrl } from '../../git/backend.js'
import { deviceHeads } from '../../index/heads.js'
import { updateIndex } from '../../index/index.js'
import type { Finding } from '../../verify/findings.js'
import { storePrices } from '../query/index.js'
import { resolveDevices } from '../query/device-ref.js'
import { listDevices } from '../query/devices.js'
import { resolveRemote } from './remote.js'
import { liveCacheInUse } from '../../store/live.js'
import { checkHeads, cloneGoodHeads, type DeviceCheck, type TrustResult, type TrustState } from './trust.js'

export type { Finding }

export type DeviceFetch = DeviceCheck

export interface FetchResult {
  devices: DeviceFetch[]
  findings: Finding[]
  merged: { commit: string; tree: string } | null
  hooks: string[]
  /** What `--accept-rewrite` took in, exactly. */
  accepted: TrustResult['accepted']
  /** Devices whose remote head failed the checks, now and from earlier fetches. */
  quarantined: Array<QuarantinedHead & { id: string }>
  /** The good head of every device after the fetch. */
  heads: Map<string, string>
  state: TrustState
}

export interface IntegrateOptions {
  me: string
  state: TrustState
  acceptRewrite: string[]
  now: Date
  /** A native clone (`--repo`): its good heads live in the state files; no branch is moved. */
  clone: boolean
  /** This store's install id: tells its own commits from another store's on this device's branch. */
  install?: string
  /** This device's tracking ref before the fetch: what this store last pushed or saw there. */
  ownBefore?: string | null
  /** `init --continue-device`: take this device's branch in although another store wrote it. */
  adopt?: boolean
  /** This device's id comes from USAGE_LEDGER_DEVICE_ID (the remedies say to unset it). */
  idFromEnv?: boolean
}

/** Fetches every device branch of `remote`, then integrates it (see `integrate`). */
export async function fetchDevices(git: GitBackend, remote: Remote, o: IntegrateOptions): Promise<FetchResult> {
  const refs = await git.listRemoteRefs(remote, LEDGER_REF_PREFIX)
  o = { ...o, ownBefore: await git.readRef(trackingRef(ledgerRef(o.me))) }
  const settled = await resultIfNothingMoved(git, refs, o)
  if (settled) return settled
  const fetched = await fetchMoved(git, remote, refs, o)
  return integrate(git, new Map([...fetched].map(([ref, oid]) => [ref.slice(LEDGER_REF_PREFIX.length), oid])), o)
}

/**
 * Nothing moved since the last verified fetch: no objects to get, nothing to check again. The
 * result of such a fetch, or null when something moved.
 */
async function resultIfNothingMoved(
  git: GitBackend,
  refs: Map<string, string>,
  o: IntegrateOptions,
): Promise<FetchResult | null> {
  const unchanged =
    !o.clone &&
    !Object.keys(o.state.quarantine.devices).length &&
    [...refs].every(([ref, oid]) => {
      const id = ref.slice(LEDGER_REF_PREFIX.length)
      return id === o.me ? oid === o.ownBefore : o.state.verified[id] === oid
    })
  if (!unchanged || !refs.size || !(await git.readRef(MERGED_REF))) return null
  const local = new Map<string, string>()
  for (const ref of refs.keys()) {
    const h = await git.readRef(ref)
    if (h) local.set(ref, h)
  }
  const merged = (await git.readRef(MERGED_REF))!
  const mergedCommit = await git.readCommit(merged)
  // This device's own records since the last merge must reach `merged` too.
  if (local.size !== refs.size || ![...local.values()].every((h) => mergedCommit.parents.includes(h))) return null
  const devices = [...local].map(([ref, head]) => ({
    id: ref.slice(LEDGER_REF_PREFIX.length),
    before: head,
    head,
    remote: refs.get(ref)!,
    status: 'unchanged' as const,
  }))
  return {
    devices,
    findings: [],
    merged: { commit: merged, tree: mergedCommit.tree },
    hooks: [],
    accepted: [],
    quarantined: listQuarantined(o.state.quarantine),
    heads: await localHeads(git),
    state: o.state,
  }
}

/**
 * Fetches the heads that moved since the last verified fetch, and this device's; returns every
 * remote head that is now in the object store (ref → oid).
 */
async function fetchMoved(
  git: GitBackend,
  remote: Remote,
  refs: Map<string, string>,
  o: IntegrateOptions,
): Promise<Map<string, string>> {
  const verified = o.state.verified
  const fetched = await git.fetchRefs(
    remote,
    [...refs.keys()].filter(
      (ref) => refs.get(ref) !== verified[ref.slice(LEDGER_REF_PREFIX.length)] || ref.endsWith(o.me),
    ),
  )
  // Heads that did not move need no fetch; they are checked like the others from the local copy.
  for (const [ref, oid] of refs) if (!fetched.has(ref) && (await git.readRef(ref)) === oid) fetched.set(ref, oid)
  for (const [ref, oid] of refs)
    if (!fetched.has(ref) && verified[ref.slice(LEDGER_REF_PREFIX.length)] === oid) fetched.set(ref, oid)
  return fetched
}

/**
 * Checks the candidate heads (device id → oid, already in the object store; see
 * `checkHeads`), moves the device branches of those that pass, advances `merged` over the
 * good heads and runs the post-merge hooks. The new trust state is the caller's to save.
 */
export async function integrate(
  git: GitBackend,
  candidates: Map<string, string>,
  o: IntegrateOptions,
): Promise<FetchResult> {
  const good = o.clone ? await cloneGoodHeads(git, o.state.verified) : await localHeads(git)
  const r = await checkHeads(git, candidates, o.state, {
    me: o.clone ? null : o.me,
    good,
    acceptRewrite: o.acceptRewrite,
    now: o.now,
    install: o.install,
    ownBefore: o.ownBefore,
    adopt: o.adopt,
    idFromEnv: o.idFromEnv,
  })
  const moves: RefMove[] = []
  if (!o.clone) {
    for (const [id, head] of r.heads) {
      const local = await git.readRef(ledgerRef(id))
      if (local !== head) moves.push({ ref: ledgerRef(id), newOid: head, expectedOld: local })
    }
  }
  // The device branches and `merged` move in one step.
  const merged = await advanceMerged(git, r.heads, o.me, o.now, moves)
  const hooks = merged.changed ? await runPostMerge(git.gitdir) : []
  return {
    devices: r.devices,
    findings: r.findings,
    merged: merged.result,
    hooks,
    accepted: r.accepted,
    quarantined: listQuarantined(r.state.quarantine),
    heads: r.heads,
    state: r.state,
  }
}

async function localHeads(git: GitBackend): Promise<Map<string, string>> {
  return new Map(
    [...(await git.listRefs(LEDGER_REF_PREFIX))].map(([ref, oid]) => [ref.slice(LEDGER_REF_PREFIX.length), oid]),
  )
}

/**
 * The local `merged` branch: one commit whose tree holds the directory of every good head. `moves`: ref moves to make
 * in the same step.
 */
export async function advanceMerged(
  git: GitBackend,
  heads: Map<string, string>,
  me: string,
  now: Date,
  moves: RefMove[] = [],
): Promise<{ result: { commit: string; tree: string } | null; changed: boolean }> {
  const refs = [...heads].sort(([a], [b]) => (a < b ? -1 : 1))
  if (!refs.length) {
    await git.updateRefs(moves)
    return { result: null, changed: false }
  }
  const dirs: TreeEntry[] = []
  for (const [id, head] of refs) {
    const e = await readEntryAt(git, (await git.readCommit(head)).tree, deviceDir(id))
    if (e?.type === 'tree') dirs.push({ ...e, name: id })
  }
  const tree = await git.writeTree([{ mode: '040000', type: 'tree', name: 'devices', oid: await git.writeTree(dirs) }])
  const prev = await git.readRef(MERGED_REF)
  if (prev && (await git.readCommit(prev)).tree === tree) {
    await git.updateRefs(moves)
    return { result: { commit: prev, tree }, changed: false }
  }
  const sig = { name: 'usage-ledger', email: `${me}@usage-ledger`, timestamp: Math.floor(now.getTime() / 1000) }
  const parents = [...(prev ? [prev] : []), ...refs.map(([, h]) => h)]
  const commit = await git.writeCommit({
    tree,
    parents,
    author: sig,
    committer: sig,
    message: `merge: ${refs.length} device${refs.length === 1 ? '' : 's'}\n`,
  })
  await git.updateRefs([...moves, { ref: MERGED_REF, newOid: commit, expectedOld: prev }])
  return { result: { commit, tree }, changed: true }
}

/** Runs `<gitdir>/hooks/post-merge` when it is there and executable; returns what ran. */
export async function runPostMerge(gitdir: string): Promise<string[]> {
  const hook = path.join(gitdir, 'hooks', 'post-merge')
  try {
    fs.accessSync(hook, fs.constants.X_OK)
  } catch {
    return []
  }
  await new Promise<void>((resolve) => {
    const child = spawn(hook, ['0'], { cwd: gitdir, env: { ...process.env, GIT_DIR: gitdir }, stdio: 'ignore' })
    child.on('error', () => resolve())
    child.on('close', () => resolve())
  })
  return [hook]
}

/** Fetch, check and integrate under the store lock; shared by `fetch` and `init --remote`. */
export async function fetchInto(
  store: Store,
  acceptRewrite: string[],
  clone = false,
  adopt = false,
): Promise<FetchResult> {
  const git = await store.git()
  const remote = await resolveRemote(store.config.remote!, store.env)
  return store.locked(async () => {
    // A store now writing as another id (USAGE_LEDGER_DEVICE_ID) first moves its old branch's records.
    if (store.previousId) await rememberDevice(store, {})
    const r = await fetchDevices(git, remote, {
      me: store.device.id,
      state: loadTrustState(store.paths),
      acceptRewrite,
      now: store.env.now(),
      clone,
      install: store.device.installId,
      adopt,
      idFromEnv: store.deviceSource === 'env',
    })
    saveTrustState(store.paths, r.state)
    // What the fetch brought in is indexed now, so the next report starts warm.
    await updateIndex(git, store.paths.index, storePrices(store), { heads: r.heads })
    return r
  })
}

export interface FetchRemoteOptions {
  /** Devices whose rewritten branch is taken, named as `--device` names them. */
  acceptRewrite: string[]
  /** `--repo` as given: the store is a native clone that fetches from its `origin`. */
  repo?: string
}

/** What the `fetch` command did, with the remote it fetched from (redacted). */
export interface FetchSummary extends FetchResult {
  remote: string
}

/** The `fetch` command: every device's branch of the store's remote (a clone's `origin`), checked and integrated. */
export async function fetchRemote(store: Store, opts: FetchRemoteOptions): Promise<FetchSummary> {
  if (opts.repo) {
    const origin = await (await store.git()).remoteUrl('origin')
    if (!origin) throw usageError('NO_REMOTE', `--repo ${opts.repo} has no remote "origin" to fetch from`)
    store.config.remote = origin
  }
  if (!store.config.remote)
    throw usageError('NO_REMOTE', `no remote is set for ${store.paths.home}; run usage-ledger init --remote URL`)
  // --accept-rewrite names a device as --device does, among the branches this store knows
  // (its own and the remote's it fetched); nothing is fetched for a name that is none of them.
  const acceptRewrite = opts.acceptRewrite.length
    ? resolveDevices(
        '--accept-rewrite',
        opts.acceptRewrite,
        store.initialized
          ? await listDevices(await store.git(), store.device.id, await deviceHeads(await store.git(), true))
          : [],
        store.device.id,
      )
    : []
  if (!store.initialized) await store.ensureInit()
  const r = await fetchInto(store, acceptRewrite, Boolean(opts.repo))
  // The statusline's cache (state/live.json), when a head moved and a statusline uses the store.
  if (!opts.repo && r.devices.some((d) => d.status !== 'unchanged') && liveCacheInUse(store.paths.state))
    await (await import('../query/live.js')).refreshLiveCacheIfUsed(store)
  return { ...r, remote: redactUrl(store.config.remote) }
}
