/**
 * `init`: create the local store (repository, state, config) for this device and, with a
 * remote, join it: refuse what can be refused before anything is saved, take this device's
 * branch when it is this store's (or asked to), seed an empty remote's `main`, fetch every
 * device, then push what this store holds.
 */
import { movePreviousRecords, rememberDevice } from '../device-id.js'
import fs from 'node:fs'
import type { Env } from '../../env.js'
import { isLedgerError, usageError } from '../../errors.js'
import { descends, redactUrl, trackingRef, type GitBackend, type Remote } from '../../git/backend.js'
import { writeGenesis } from '../../git/genesis.js'
import { readEntryAt } from '../../git/tree.js'
import { randomHex } from '../../ledger/hash.js'
import { LEDGER_REF_PREFIX, ledgerRef, MERGED_REF } from '../../ledger/paths.js'
import { holdForMove, recoverMoves, resetBranch } from '../../branch/move.js'
import { loadTrustState, saveTrustState } from '../../store/quarantine.js'
import { Store, type StoreOptions } from '../../store/store.js'
import { loadVerified } from '../../store/verified.js'
import { fetchInto, type FetchResult } from './fetch.js'
import { describeWriter, writtenBy } from './identity.js'
import { pushOrKeep, type PushSummary } from './push.js'
import { checkRemoteUrl, resolveRemote } from './remote.js'

export interface InitOptions {
  name?: string
  deviceId?: string
  remote?: string
  /** Continue this device's branch on the remote although another store wrote it. */
  continueDevice?: boolean
  /** Become a new device: a fresh random id, kept in config. */
  newDevice?: boolean
  /** Move a store that syncs with another remote to this one. */
  switchRemote?: boolean
  /** Use a non-empty repository that is not a ledger. */
  force?: boolean
}

/** What `init` did, for the command to print. */
export interface InitResult {
  home: string
  /** The store did not exist before. */
  created: boolean
  device: { id: string; name: string }
  /** The git backend the store uses. */
  git: string
  /** The remote the store syncs with, redacted, or null. */
  remote: string | null
  /** The fetch of every device, when there is a remote. */
  sync: FetchResult | null
  /** Records of this store moved to this device's id. */
  moved: number
  /** The push of this store's records the remote lacked, when there were any. */
  pushed: PushSummary | null
}

/** The `init` command; what it did comes back, nothing is printed. */
export async function initStore(
  env: Env,
  where: Pick<StoreOptions, 'home' | 'git'>,
  opts: InitOptions,
): Promise<InitResult> {
  refuseClashingOptions(env, opts)
  const given = { deviceId: opts.newDevice ? randomHex(16) : opts.deviceId, name: opts.name }
  const store = Store.open(env, { ...where, ...given })
  try {
    const existed = store.initialized
    const old = store.config.remote
    // Without --remote, a store that has one syncs with it again (the remedies run `init --new-device`).
    const url = opts.remote ?? old
    const switching = url !== undefined && old !== undefined && old !== url
    // Everything that can be refused without the network is refused before anything is saved.
    if (url !== undefined) await refuseRemote(store, url, old, opts)
    await store.ensureInit()
    const git = await store.git()
    const joined =
      url === undefined
        ? { sync: null, moved: await store.locked(() => rememberDevice(store, given)), pushed: null }
        : await joinRemote(env, store, git, { url, switching, given, opts })
    return {
      home: store.paths.home,
      created: !existed,
      device: { id: store.device.id, name: store.device.name },
      git: git.name,
      remote: store.config.remote ? redactUrl(store.config.remote) : null,
      sync: joined.sync,
      moved: joined.moved,
      pushed: joined.pushed,
    }
  } finally {
    await store.close()
  }
}

function refuseClashingOptions(env: Env, opts: InitOptions): void {
  if (opts.newDevice && opts.deviceId)
    throw usageError('NEW_DEVICE_WITH_ID', 'init --new-device makes up a fresh random id: give it without --device-id')
  if (opts.newDevice && opts.continueDevice)
    throw usageError('NEW_DEVICE_WITH_ID', 'init: --new-device and --continue-device exclude each other; give one')
  // The variable overrides config on every command: a new id kept in config would never be used.
  if (opts.newDevice && env.vars.USAGE_LEDGER_DEVICE_ID)
    throw usageError(
      'DEVICE_ID_FROM_ENV',
      'USAGE_LEDGER_DEVICE_ID is set and names the device on every command: unset it, then run usage-ledger init --new-device',
    )
  if ((opts.switchRemote || opts.force) && opts.remote === undefined)
    throw usageError('NO_REMOTE', `init --${opts.switchRemote ? 'switch-remote' : 'force'} needs --remote URL`)
}

/** A remote this store cannot use (its backend, or another remote than it syncs with) is refused. */
async function refuseRemote(store: Store, url: string, old: string | undefined, opts: InitOptions): Promise<void> {
  checkRemoteUrl(url)
  if ((await store.backendName()) === 'iso' && !/^https?:\/\//i.test(url)) {
    throw usageError(
      'ISO_REMOTE',
      `the iso backend speaks only HTTP(S); ${redactUrl(url)} needs the system backend: install git, or pass --git system`,
    )
  }
  if (old !== undefined && old !== url && !opts.switchRemote) {
    throw usageError(
      'REMOTE_DIFFERS',
      `${store.paths.home} already syncs with ${redactUrl(old)}; to move this device to ${redactUrl(url)} (its records go there, the other devices of the old remote leave this store) run usage-ledger init --remote ${redactUrl(url)} --switch-remote`,
    )
  }
}

/** How `init` joins a remote: where, whether it leaves another one, and the id and name given. */
interface Join {
  url: string
  switching: boolean
  given: { deviceId?: string; name?: string }
  opts: InitOptions
}

/** What joining a remote did, as `InitResult` reports it. */
type Joined = Pick<InitResult, 'sync' | 'moved' | 'pushed'>

/**
 * `init --remote`: refuse a repository that is not a ledger, take this store's branches over
 * to the remote under the lock, seed an empty remote's `main`, fetch every device, then put
 * the records held for after the fetch on top and push what the remote lacks.
 */
async function joinRemote(env: Env, store: Store, git: GitBackend, j: Join): Promise<Joined> {
  const remote = await resolveRemote(j.url, env)
  const heads = await git.listRemoteRefs(remote, 'refs/heads/')
  if (!j.opts.force) await checkLedgerRemote(git, remote, heads, j.url)
  const taken = await store.locked(() => takeBranches(store, git, remote, heads, j))
  await seedMain(git, remote, env.now())
  const sync = await fetchInto(store, [], false, taken.adopt)
  // Records held for after the fetch (and any a killed init left held) go on top now.
  const recovered = await store.locked(() =>
    recoverMoves(git, store.device, store.paths.known, env.now(), loadVerified(store.paths.verified)),
  )
  const pushed = store.hasPending() ? await store.locked(() => pushOrKeep(store)) : null
  return { sync, moved: taken.moved + recovered, pushed }
}

/**
 * Under the lock: leave the old remote when switching, take this device's branch when it is
 * this store's (or asked to), move the old id's records, and keep the remote in config.
 */
async function takeBranches(
  store: Store,
  git: GitBackend,
  remote: Remote,
  heads: Map<string, string>,
  j: Join,
): Promise<{ adopt: boolean; moved: number }> {
  if (j.switching) await leaveRemote(store, git)
  const adopt = await takeOwnBranch(store, git, remote, heads, j.url, j.opts)
  const prevRemote = await previousIdRemote(store, git, remote, heads, j.switching)
  // Adopting this device's branch comes first: records moved now would start a branch of their own.
  if (adopt) await movePreviousRecords(store, prevRemote, true)
  const moved = await rememberDevice(store, j.given, prevRemote)
  store.config.remote = j.url
  store.saveConfig()
  return { adopt, moved }
}

/** The old id's records the remote lacks: judged against the remote's branch of it, now. */
async function previousIdRemote(
  store: Store,
  git: GitBackend,
  remote: Remote,
  heads: Map<string, string>,
  switching: boolean,
): Promise<{ head: string | null; before: string | null } | undefined> {
  const prev = store.previousId
  if (!prev) return undefined
  if (switching) return { head: null, before: null } // nothing of the old remote stays
  const ref = ledgerRef(prev)
  const before = await git.readRef(trackingRef(ref))
  const head = heads.has(ref) ? ((await git.fetchRefs(remote, [ref])).get(ref) ?? null) : null
  if (before && head && before !== head) await git.updateRef(trackingRef(ref), before, head)
  // The old branch goes back to what this store pushed, and the next fetch checks the
  // remote's head from there; a rewritten (or deleted) one is fetched afresh instead.
  return { head, before: before && head && (await descends(git, before, head)) ? before : null }
}

/**
 * This device's branch on the remote (README "Concepts"): a store takes it over only when its
 * `device.json` names this store (its `installId`: the same store, its repository lost) or when
 * asked (`--continue-device`); otherwise init stops and names the two ways. With
 * `--continue-device` over commits of this store's own that the remote lacks, the local head
 * is held (lib/branch/move.ts `holdForMove`) and its records go on top of the remote's head
 * after the fetch. Returns whether the fetch is to take the remote's branch in.
 */
async function takeOwnBranch(
  store: Store,
  git: GitBackend,
  remote: Remote,
  heads: Map<string, string>,
  url: string,
  opts: InitOptions,
): Promise<boolean> {
  const me = store.device.id
  const ref = ledgerRef(me)
  if (!heads.has(ref)) return false
  const local = await git.readRef(ref)
  // A branch of this store's own: the fetch judges it (collision, rewrite, catch-up).
  if (local && !opts.continueDevice) return false
  if (local === heads.get(ref)) return false
  const head = (await git.fetchRefs(remote, [ref])).get(ref)
  if (!head) return false
  if (!local) {
    const w = await writtenBy(git, head, me)
    if ((w.installId !== undefined && w.installId === store.device.installId) || opts.continueDevice)
      return forgetOwn(store)
    const u = redactUrl(url)
    const id = store.deviceSource === 'flag' ? ` --device-id ${me}` : ''
    const fresh =
      store.deviceSource === 'env'
        ? `unset USAGE_LEDGER_DEVICE_ID and run usage-ledger init --remote ${u}`
        : `usage-ledger init --remote ${u} --new-device`
    throw usageError(
      'DEVICE_EXISTS',
      `device ${me} already has a branch on ${u}, written by another store (${describeWriter(w)}); nothing was taken over: if this machine is that device reinstalled, run usage-ledger init --remote ${u}${id} --continue-device; otherwise make it a new device: ${fresh}`,
    )
  }
  if (await descends(git, head, local)) return false // the remote only lacks commits of ours: a push delivers them
  if (await descends(git, local, head))
    await resetBranch(git, me, null) // nothing of ours to carry
  else await holdForMove(git, me, null)
  return forgetOwn(store)
}

/**
 * What was verified and proved of this device's local branch is not the remote's history: the fetch checks it afresh.
 */
function forgetOwn(store: Store): true {
  const me = store.device.id
  const t = loadTrustState(store.paths)
  delete t.verified[me]
  delete t.proved[me]
  delete t.quarantine.devices[me]
  saveTrustState(store.paths, t)
  return true
}

/**
 * A non-empty repository is a ledger when it has a device branch or its `main` was seeded by
 * usage-ledger; anything else is refused (`init --force` uses it anyway).
 */
async function checkLedgerRemote(
  git: GitBackend,
  remote: Remote,
  heads: Map<string, string>,
  url: string,
): Promise<void> {
  if (!heads.size || [...heads.keys()].some((r) => r.startsWith(LEDGER_REF_PREFIX))) return
  const main = 'refs/heads/main'
  if (heads.has(main)) {
    const oid = (await git.fetchRefs(remote, [main])).get(main)
    if (oid && (await seededByUs(git, oid))) return
  }
  const names = [...heads.keys()].map((r) => r.slice('refs/heads/'.length))
  throw usageError(
    'NOT_A_LEDGER',
    `${redactUrl(url)} is not a usage ledger: it has branches (${names.slice(0, 5).join(', ')}${names.length > 5 ? ', …' : ''}) but no ledger/* branch, and its main was not made by usage-ledger; give an empty repository, or pass --force to use this one anyway`,
  )
}

async function seededByUs(git: GitBackend, commit: string): Promise<boolean> {
  try {
    const c = await git.readCommit(commit)
    if (c.author.name === 'usage-ledger' && /@usage-ledger$/.test(c.author.email)) return true
    const readme = await readEntryAt(git, c.tree, 'README.md')
    return readme !== null && (await git.readBlob(readme.oid)).toString('utf8').startsWith('# usage-ledger')
  } catch {
    return false
  }
}

/**
 * `init --remote OTHER --switch-remote`: the old remote's devices leave this store (their
 * branches, tracking refs, verified and proved heads, the merged view and the index); this
 * device's own branch stays and is pushed to the new remote.
 */
async function leaveRemote(store: Store, git: GitBackend): Promise<void> {
  const me = store.device.id
  // This store's own branches stay: this device's, and the one of the id it is leaving (moved later).
  const own = new Set([ledgerRef(me), ...(store.previousId ? [ledgerRef(store.previousId)] : [])])
  for (const [ref, oid] of await git.listRefs(LEDGER_REF_PREFIX)) if (!own.has(ref)) await git.deleteRef(ref, oid)
  for (const [ref, oid] of await git.listRefs('refs/remotes/origin/')) await git.deleteRef(ref, oid)
  const merged = await git.readRef(MERGED_REF)
  if (merged) await git.deleteRef(MERGED_REF, merged)
  const t = loadTrustState(store.paths)
  saveTrustState(store.paths, {
    verified: {},
    proved: me in t.proved ? { [me]: t.proved[me]! } : {},
    quarantine: { devices: {}, accepted: me in t.quarantine.accepted ? { [me]: t.quarantine.accepted[me]! } : {} },
  })
  fs.rmSync(store.paths.index, { recursive: true, force: true })
}

const README = `# usage-ledger

This repository is a usage ledger written by [usage-ledger](https://www.npmjs.com/package/usage-ledger).
Each machine ("device") writes only its own branch, \`ledger/<deviceId>\`, and only adds files:

    devices/<deviceId>/device.json                      name, platform, when it started
    devices/<deviceId>/manifest.json                    counts, monthly totals, sealed digest
    devices/<deviceId>/YYYY-MM/YYYY-MM-DD/NNNNNN.ndjson one file per record run and UTC day

Every line of a part is one billed model response. Nothing is ever rewritten; protect the
ledger branches against force pushes (branch protection, \`receive.denyNonFastForwards\`).
`

/**
 * An empty remote gets a \`main\` with a README for humans (some clients need a remote HEAD).
 * Its parent is the genesis every device branch starts from, so a native clone merges the
 * device branches into main (\`git pull\`, several at once) as related histories.
 */
async function seedMain(git: GitBackend, remote: Remote, now: Date): Promise<void> {
  const heads = await git.listRemoteRefs(remote, 'refs/heads/')
  if (heads.size) return
  const tree = await git.writeTree([
    { mode: '100644', type: 'blob', name: 'README.md', oid: await git.writeBlob(Buffer.from(README)) },
  ])
  const sig = { name: 'usage-ledger', email: 'init@usage-ledger', timestamp: Math.floor(now.getTime() / 1000) }
  const commit = await git.writeCommit({
    tree,
    parents: [await writeGenesis(git)],
    author: sig,
    committer: sig,
    message: 'usage-ledger: a ledger of AI tool usage, one branch per device\n',
  })
  const local = await git.readRef('refs/heads/main')
  if (!local) await git.updateRef('refs/heads/main', commit, null)
  try {
    await git.push(remote, 'refs/heads/main')
  } catch (e) {
    // Another machine seeded it at the same moment: theirs is as good as ours.
    if (!isLedgerError(e, 'PUSH_REJECTED')) throw e
  }
}
