/**
 * Bringing in every device (DESIGN §2, §8): fetch all `ledger/*` heads, accept a head only if
 * it descends from the last verified head and from every head another device witnessed
 * (`manifest.seen`), advance the local `merged` branch to the union of device directories,
 * and run the store's post-merge hooks. A rewrite keeps the old data and is reported.
 */
import fs from 'node:fs'
import path from 'node:path'
import { spawn } from 'node:child_process'
import { descends, trackingRef, type GitBackend, type Remote, type TreeEntry } from '../git/backend.js'
import { readEntryAt } from '../git/tree.js'
import { DEVICE_ID_RE, deviceDir, LEDGER_REF_PREFIX, ledgerRef, MERGED_REF } from '../ledger/paths.js'
import { parseManifest } from '../ledger/manifest.js'
import { finding as makeFinding, type Finding } from '../verify/findings.js'
import { ownBranchMessage, ownBranchState, writtenBy } from './identity.js'

export type { Finding }

export interface DeviceFetch {
  id: string
  before: string | null
  head: string | null
  status: 'new' | 'updated' | 'unchanged' | 'rewritten' | 'accepted' | 'local-ahead'
}

export interface FetchResult {
  devices: DeviceFetch[]
  findings: Finding[]
  merged: { commit: string; tree: string } | null
  hooks: string[]
}

const finding = (code: string, device: string, commit: string | null, detail: string, severity: Finding['severity'] = 'error'): Finding =>
  makeFinding(code, device, detail, { commit, severity })


async function seenBy(git: GitBackend, device: string, head: string): Promise<Record<string, string>> {
  try {
    const tree = (await git.readCommit(head)).tree
    const e = await readEntryAt(git, tree, `${deviceDir(device)}/manifest.json`)
    return e ? parseManifest((await git.readBlob(e.oid)).toString('utf8')).seen ?? {} : {}
  } catch {
    return {}
  }
}

export interface IntegrateOptions {
  me: string
  verified: Record<string, string>
  acceptRewrite: string[]
  now: Date
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
export async function fetchDevices(git: GitBackend, remote: Remote, o: IntegrateOptions): Promise<FetchResult & { verified: Record<string, string> }> {
  const refs = await git.listRemoteRefs(remote, LEDGER_REF_PREFIX)
  o = { ...o, ownBefore: await git.readRef(trackingRef(ledgerRef(o.me))) }
  // Nothing moved since the last verified fetch: no objects to get, nothing to check again.
  const unchanged = [...refs].every(([ref, oid]) => {
    const id = ref.slice(LEDGER_REF_PREFIX.length)
    return id === o.me ? oid === o.ownBefore : o.verified[id] === oid
  })
  if (unchanged && refs.size && (await git.readRef(MERGED_REF))) {
    const local = new Map<string, string>()
    for (const ref of refs.keys()) { const h = await git.readRef(ref); if (h) local.set(ref, h) }
    const merged = (await git.readRef(MERGED_REF))!
    const mergedCommit = await git.readCommit(merged)
    // This device's own records since the last merge must reach `merged` too.
    if (local.size === refs.size && [...local.values()].every((h) => mergedCommit.parents.includes(h))) {
      const devices = [...local].map(([ref, head]) => ({ id: ref.slice(LEDGER_REF_PREFIX.length), before: head, head, status: 'unchanged' as const }))
      return { devices, findings: [], merged: { commit: merged, tree: mergedCommit.tree }, hooks: [], verified: o.verified }
    }
  }
  const fetched = await git.fetchRefs(remote, [...refs.keys()].filter((ref) => refs.get(ref) !== o.verified[ref.slice(LEDGER_REF_PREFIX.length)] || ref.endsWith(o.me)))
  // Heads that did not move need no fetch; they are checked like the others from the local copy.
  for (const [ref, oid] of refs) if (!fetched.has(ref) && (await git.readRef(ref)) === oid) fetched.set(ref, oid)
  return integrate(git, fetched, o)
}

/**
 * Checks the candidate heads (`refs/heads/ledger/<id>` → oid, already in the object store) and
 * moves the local device branches that pass. Returns the new verified heads for the caller to save.
 */
export async function integrate(git: GitBackend, candidates: Map<string, string>, o: IntegrateOptions): Promise<FetchResult & { verified: Record<string, string> }> {
  const findings: Finding[] = []
  const devices: DeviceFetch[] = []
  const verified = { ...o.verified }
  const accepted = new Map<string, string>()
  for (const [ref, head] of [...candidates].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const id = ref.slice(LEDGER_REF_PREFIX.length)
    if (!DEVICE_ID_RE.test(id)) {
      findings.push(finding('BAD_DEVICE_BRANCH', id, head, `${ref} is not a device branch (32 hex); ignored`, 'warning'))
      continue
    }
    const local = await git.readRef(ledgerRef(id))
    if (id === o.me) {
      // Only this store's own history is taken in (DESIGN §3): see lib/sync/identity.ts.
      const before = o.ownBefore ?? null
      const state = await ownBranchState(git, id, { local, head, before, install: o.install })
      if (state === 'catch-up' || (o.adopt && state === 'foreign')) accepted.set(id, head) // a store restored from a backup catching up, or asked to
      const needsUser = !accepted.has(id) && state !== 'same' && state !== 'local-ahead'
      const msg = needsUser ? ownBranchMessage(state, id, await writtenBy(git, head, id), { head, before, fromEnv: o.idFromEnv, install: o.install }) : null
      if (msg) {
        const rewrite = state === 'rewritten' || state === 'rewound'
        findings.push(finding(rewrite ? 'HISTORY_REWRITTEN' : 'DEVICE_ID_COLLISION', id, head, msg))
        // What this store pushed stays its reference, so every later fetch and push says the same.
        if (state !== 'rewound' && before && before !== head) await git.updateRef(trackingRef(ref), before, head).catch(() => {})
      }
      devices.push({ id, before: local, head: accepted.get(id) ?? local, status: accepted.has(id) ? 'updated' : local === head ? 'unchanged' : state === 'rewritten' || state === 'rewound' ? 'rewritten' : 'local-ahead' })
      continue
    }
    const base = verified[id] ?? local
    if (base && base !== head && !(await descends(git, base, head))) {
      if (o.acceptRewrite.includes(id)) {
        findings.push(finding('REWRITE_ACCEPTED', id, head, `history of ${id} was rewritten (last verified ${base.slice(0, 12)}); accepted on request`, 'warning'))
        accepted.set(id, head)
        devices.push({ id, before: local, head, status: 'accepted' })
      } else {
        findings.push(finding('HISTORY_REWRITTEN', id, head, `the remote head ${head.slice(0, 12)} does not descend from the last verified head ${base.slice(0, 12)}: the branch was rewritten; the old data is kept; if this was intended, run fetch --accept-rewrite ${id}`))
        devices.push({ id, before: local, head: local, status: 'rewritten' })
      }
      continue
    }
    accepted.set(id, head)
    devices.push({ id, before: local, head, status: !local ? 'new' : local === head ? 'unchanged' : 'updated' })
  }

  // Witnesses: a head another device saw at its last fetch must still be in the history.
  const heads = new Map<string, string>()
  for (const d of devices) if (d.head) heads.set(d.id, accepted.get(d.id) ?? d.head)
  for (const [witness, wHead] of heads) {
    for (const [id, seen] of Object.entries(await seenBy(git, witness, wHead))) {
      const head = heads.get(id)
      // A witness equal to a head verified before needs no walk: the base check covered it.
      if (!head || id === witness || o.acceptRewrite.includes(id) || head === seen || o.verified[id] === seen) continue
      if (await descends(git, seen, head)) continue
      findings.push(finding('WITNESS_MISSING', id, head, `device ${witness} saw ${id} at ${seen.slice(0, 12)}, which is not in its history now: the branch was rewritten; the old data is kept; if this was intended, run fetch --accept-rewrite ${id}`))
      const d = devices.find((x) => x.id === id)!
      if (accepted.has(id) && d.before !== accepted.get(id)) {
        accepted.delete(id)
        d.head = d.before
        d.status = 'rewritten'
      }
    }
  }

  for (const [id, head] of accepted) {
    const local = await git.readRef(ledgerRef(id))
    if (local !== head) await git.updateRef(ledgerRef(id), head, local)
    verified[id] = head
  }
  for (const d of devices) if (d.status === 'unchanged' && d.head) verified[d.id] = d.head
  const merged = await advanceMerged(git, o.me, o.now)
  const hooks = merged.changed ? await runPostMerge(git.gitdir) : []
  return { devices, findings, merged: merged.result, hooks, verified }
}

/** The local `merged` branch: one commit whose tree holds every device's directory. */
export async function advanceMerged(git: GitBackend, me: string, now: Date): Promise<{ result: { commit: string; tree: string } | null; changed: boolean }> {
  const refs = [...(await git.listRefs(LEDGER_REF_PREFIX))].sort(([a], [b]) => (a < b ? -1 : 1))
  if (!refs.length) return { result: null, changed: false }
  const dirs: TreeEntry[] = []
  for (const [ref, head] of refs) {
    const id = ref.slice(LEDGER_REF_PREFIX.length)
    const e = await readEntryAt(git, (await git.readCommit(head)).tree, deviceDir(id))
    if (e?.type === 'tree') dirs.push({ ...e, name: id })
  }
  const tree = await git.writeTree([{ mode: '040000', type: 'tree', name: 'devices', oid: await git.writeTree(dirs) }])
  const prev = await git.readRef(MERGED_REF)
  if (prev && (await git.readCommit(prev)).tree === tree) return { result: { commit: prev, tree }, changed: false }
  const sig = { name: 'usage-ledger', email: `${me}@usage-ledger`, timestamp: Math.floor(now.getTime() / 1000) }
  const parents = [...(prev ? [prev] : []), ...refs.map(([, h]) => h)]
  const commit = await git.writeCommit({ tree, parents, author: sig, committer: sig, message: `merge: ${refs.length} device${refs.length === 1 ? '' : 's'}\n` })
  await git.updateRef(MERGED_REF, commit, prev)
  return { result: { commit, tree }, changed: true }
}

/** Runs `<gitdir>/hooks/post-merge` when it is there and executable; returns what ran. */
export async function runPostMerge(gitdir: string): Promise<string[]> {
  const hook = path.join(gitdir, 'hooks', 'post-merge')
  try { fs.accessSync(hook, fs.constants.X_OK) } catch { return [] }
  await new Promise<void>((resolve) => {
    const child = spawn(hook, ['0'], { cwd: gitdir, env: { ...process.env, GIT_DIR: gitdir }, stdio: 'ignore' })
    child.on('error', () => resolve())
    child.on('close', () => resolve())
  })
  return [hook]
}

