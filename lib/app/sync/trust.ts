/**
 * Which device heads are trusted (DESIGN §8). A candidate head — fetched from the remote, or
 * moved by a native `git fetch` in a clone — is taken only when it descends from the device's
 * last good head and passes every check `verify` makes on what is new (history, parts,
 * records, manifest, seal, witnesses). Otherwise it is quarantined: the device's data stays at
 * its last good head, out of `merged`, the index, reports and the witnesses, until the branch
 * returns to a good descendant or `fetch --accept-rewrite` takes it as it is.
 */
import { descends, trackingRef, type CommitInfo, type GitBackend } from '../../git/backend.js'
import { GENESIS_OID } from '../../git/genesis.js'
import { deviceFilesAt, readManifest } from '../../branch/device-files.js'
import { DEVICE_ID_RE, ledgerRef } from '../../ledger/paths.js'
import {
  loadTrustState,
  saveTrustState,
  type AcceptedHead,
  type Quarantine,
  type TrustPaths,
  type TrustState,
} from '../../store/quarantine.js'
import { deviceHeads } from '../../index/heads.js'
import { finding, type Finding } from '../../verify/findings.js'
import { verifyLedger } from '../../verify/verify.js'
import { ownBranchMessage, ownBranchState, writtenBy } from './identity.js'
import { plural } from '../../text.js'

export type { TrustState }

export interface DeviceCheck {
  id: string
  /** The good head before this check. */
  before: string | null
  /** The good head after it: the device's data in `merged`, the index and reports. */
  head: string | null
  /** The candidate that was checked. */
  remote: string
  status: 'new' | 'updated' | 'unchanged' | 'rewritten' | 'quarantined' | 'accepted' | 'local-ahead'
}

export interface TrustOptions {
  /** This device, whose own branch is written locally (null: a clone's read side). */
  me: string | null
  /** The good heads now: the store's device branches, or a clone's last verified heads. */
  good: Map<string, string>
  /** Devices whose candidate is taken whatever the checks find (`fetch --accept-rewrite`). */
  acceptRewrite: string[]
  now: Date
  /**
   * This store's install id, its tracking ref of its own branch before the fetch, and how its id was given (see
   * lib/app/sync/identity.ts).
   */
  install?: string
  ownBefore?: string | null
  /** `init --continue-device`: take this device's branch in although another store wrote it. */
  adopt?: boolean
  idFromEnv?: boolean
}

export interface TrustResult {
  devices: DeviceCheck[]
  findings: Finding[]
  /** The good heads after the check, every device. */
  heads: Map<string, string>
  state: TrustState
  /** What `--accept-rewrite` took in this run, to be printed exactly. */
  accepted: Array<AcceptedHead & { id: string }>
}

/** Devices whose errors fetch acts on; the others are `verify`'s to report. */
const ACTS_ON_ALL = new Set(['WITNESS_MISSING'])

/** A candidate head the checks judge; `accept`: taken whatever they find (`--accept-rewrite`). */
interface Pending {
  before: string | null
  head: string
  accept: boolean
}

/** What the first look at the candidates leaves: what is settled already, and what the checks judge. */
interface Triage {
  findings: Finding[]
  devices: DeviceCheck[]
  /** The good heads with every pending candidate in their place: the heads the checks see. */
  trial: Map<string, string>
  pending: Map<string, Pending>
  /** Devices whose candidate does not descend from their last good head, with that finding. */
  rewritten: Map<string, Finding[]>
}

/** Where the pending candidates leave every device: the result's heads, proved heads and quarantine. */
interface Settlement {
  heads: Map<string, string>
  proved: Record<string, string>
  quarantine: Quarantine
  accepted: TrustResult['accepted']
  /** When this check ran, as the quarantine and accepted records keep it. */
  stamp: string
}

/**
 * Triages the candidates, checks the pending ones as `verify` does, then settles each: taken,
 * accepted on request or quarantined.
 */
export async function checkHeads(
  git: GitBackend,
  candidates: Map<string, string>,
  state: TrustState,
  o: TrustOptions,
): Promise<TrustResult> {
  const t: Triage = { findings: [], devices: [], trial: new Map(o.good), pending: new Map(), rewritten: new Map() }
  for (const [id, head] of byId(candidates)) await triage(git, t, id, head, state, o)
  const superseded = supersededHeads(state.quarantine)
  const { errors, proved } = await verifyPending(git, t, state, superseded)
  const s: Settlement = {
    heads: new Map(o.good),
    proved,
    quarantine: { devices: { ...state.quarantine.devices }, accepted: { ...state.quarantine.accepted } },
    accepted: [],
    stamp: o.now.toISOString(),
  }
  for (const [id, p] of byId(t.pending)) {
    const found = [...(t.rewritten.get(id) ?? []), ...(errors.get(id) ?? [])]
    if (p.accept) acceptOnRequest(t, s, id, p, found)
    else if (!found.length) takeHead(t, s, id, p)
    else await quarantineHead(git, t, s, id, p, found, state.verified, superseded)
  }
  settleQuarantine(t, s.quarantine, candidates, o.good, s.stamp)
  const verified = { ...state.verified }
  for (const [id, head] of s.heads) verified[id] = head
  for (const id of Object.keys(verified)) if (!s.heads.has(id)) delete verified[id]
  return {
    devices: t.devices,
    findings: t.findings,
    heads: s.heads,
    state: { verified, proved: s.proved, quarantine: s.quarantine },
    accepted: s.accepted,
  }
}

function byId<T>(m: Map<string, T>): Array<[string, T]> {
  return [...m].sort(([a], [b]) => (a < b ? -1 : 1))
}

/** Settles what needs no check (a bad name, this device's own branch, a rewrite, no move); the rest is pending. */
async function triage(
  git: GitBackend,
  t: Triage,
  id: string,
  head: string,
  state: TrustState,
  o: TrustOptions,
): Promise<void> {
  if (!DEVICE_ID_RE.test(id)) {
    t.findings.push(
      finding('BAD_DEVICE_BRANCH', id, `ledger/${id} is not a device branch (32 hex); ignored`, {
        commit: head,
        severity: 'warning',
      }),
    )
    return
  }
  const before = o.good.get(id) ?? null
  if (id === o.me) return triageOwn(git, t, id, head, before, o)
  const base = state.verified[id] ?? before
  if (base && base !== head && !(await descends(git, base, head))) {
    const f = finding(
      'HISTORY_REWRITTEN',
      id,
      `the remote head ${head.slice(0, 12)} does not descend from the last good head ${base.slice(0, 12)}: the branch was rewritten; the old data is kept; if this was intended, run fetch --accept-rewrite ${id}`,
      { commit: head },
    )
    t.rewritten.set(id, [f])
    if (o.acceptRewrite.includes(id)) return checkLater(t, id, { before, head, accept: true })
    t.findings.push(f)
    t.devices.push({ id, before, head: before, remote: head, status: 'rewritten' })
    return
  }
  if (head === before) t.devices.push({ id, before, head, remote: head, status: 'unchanged' })
  else checkLater(t, id, { before, head, accept: o.acceptRewrite.includes(id) })
}

function checkLater(t: Triage, id: string, p: Pending): void {
  t.pending.set(id, p)
  t.trial.set(id, p.head)
}

/** Only this store's own history is taken in (README "Concepts"): see lib/app/sync/identity.ts. */
async function triageOwn(
  git: GitBackend,
  t: Triage,
  id: string,
  head: string,
  before: string | null,
  o: TrustOptions,
): Promise<void> {
  const tracked = o.ownBefore ?? null
  const own = await ownBranchState(git, id, { local: before, head, before: tracked, install: o.install })
  // This store restored from a backup catching up, or asked to continue: checked like any other.
  if (own === 'catch-up' || (o.adopt && own === 'foreign')) return checkLater(t, id, { before, head, accept: false })
  const rewrite = own === 'rewritten' || own === 'rewound'
  if (own !== 'same' && own !== 'local-ahead') {
    const detail = ownBranchMessage(own, id, await writtenBy(git, head, id), {
      head,
      before: tracked,
      fromEnv: o.idFromEnv,
      install: o.install,
    })!
    t.findings.push(finding(rewrite ? 'HISTORY_REWRITTEN' : 'DEVICE_ID_COLLISION', id, detail, { commit: head }))
    // What this store pushed stays its reference, so every later fetch and push says the same.
    if (own !== 'rewound' && tracked && tracked !== head)
      await git.updateRef(trackingRef(ledgerRef(id)), tracked, head).catch(() => {})
  }
  const status = before === head ? 'unchanged' : rewrite ? 'rewritten' : 'local-ahead'
  t.devices.push({ id, before, head: before, remote: head, status })
}

/**
 * What is new is checked as `verify` checks it; every device's manifest is a witness. Returns
 * the errors per pending device and the proved heads after the check.
 */
async function verifyPending(
  git: GitBackend,
  t: Triage,
  state: TrustState,
  superseded: Record<string, string[]>,
): Promise<{ errors: Map<string, Finding[]>; proved: Record<string, string> }> {
  const errors = new Map<string, Finding[]>()
  const proved = { ...state.proved }
  if (!t.pending.size) return { errors, proved }
  const fetched = { ...state.verified }
  for (const [id, p] of t.pending)
    if (p.accept) {
      delete proved[id]
      delete fetched[id]
    }
  const v = await verifyLedger(git, {
    heads: t.trial,
    refused: new Map(),
    only: [...t.trial.keys()],
    full: false,
    fingerprints: false,
    proved,
    fetched,
    index: null,
    superseded,
  })
  for (const f of v.findings) {
    if (!t.pending.has(f.device) && !ACTS_ON_ALL.has(f.code)) continue
    t.findings.push(f)
    if (f.severity === 'error') errors.set(f.device, [...(errors.get(f.device) ?? []), f])
  }
  return { errors, proved: v.proved }
}

/** `--accept-rewrite`: the candidate is taken with what the checks found, and that is kept on record. */
function acceptOnRequest(t: Triage, s: Settlement, id: string, p: Pending, found: Finding[]): void {
  const a = { before: p.before, head: p.head, at: s.stamp, findings: found }
  s.accepted.push({ id, ...a })
  if (found.length) s.quarantine.accepted[id] = [...(s.quarantine.accepted[id] ?? []), a]
  t.findings.push(
    finding(
      'REWRITE_ACCEPTED',
      id,
      `accepted on request: ${p.before ? `from ${p.before.slice(0, 12)}` : 'as a new device'} to ${p.head.slice(0, 12)}${found.length ? ` with ${plural(found.length, 'finding')} (${[...new Set(found.map((f) => f.code))].join(', ')})` : ''}`,
      { commit: p.head, severity: 'warning' },
    ),
  )
  // Errors taken in on request are warnings from now on; what was accepted is proved.
  for (const f of found) f.severity = 'warning'
  s.heads.set(id, p.head)
  s.proved[id] = p.head
  delete s.quarantine.devices[id]
  t.devices.push({ id, before: p.before, head: p.head, remote: p.head, status: 'accepted' })
}

function takeHead(t: Triage, s: Settlement, id: string, p: Pending): void {
  s.heads.set(id, p.head)
  delete s.quarantine.devices[id]
  t.devices.push({ id, before: p.before, head: p.head, remote: p.head, status: p.before ? 'updated' : 'new' })
}

/**
 * A candidate that fails stays out. A device never seen good before (a new machine) keeps the
 * newest part of its history that passes: the parent of the oldest commit the checks blame, if
 * that one passes.
 */
async function quarantineHead(
  git: GitBackend,
  t: Triage,
  s: Settlement,
  id: string,
  p: Pending,
  found: Finding[],
  verified: Record<string, string>,
  superseded: Record<string, string[]>,
): Promise<void> {
  let good = p.before
  if (!good) {
    good = await lastGoodAncestor(git, id, p.head, found, t.trial, s.proved, verified, superseded)
    if (good) s.proved[id] = good
  }
  if (good) s.heads.set(id, good)
  else s.heads.delete(id)
  const prev = s.quarantine.devices[id]
  s.quarantine.devices[id] = {
    head: p.head,
    good,
    since: prev?.head === p.head ? prev.since : s.stamp,
    findings: found,
  }
  t.devices.push({ id, before: p.before, head: good, remote: p.head, status: 'quarantined' })
}

/**
 * A rewritten branch not taken on request is quarantined at its last good head; a device back
 * on a good head, or whose branch is gone, is no longer quarantined.
 */
function settleQuarantine(
  t: Triage,
  quarantine: Quarantine,
  candidates: Map<string, string>,
  good: Map<string, string>,
  stamp: string,
): void {
  for (const [id, f] of t.rewritten) {
    if (t.pending.has(id)) continue
    const prev = quarantine.devices[id]
    const head = candidates.get(id)!
    quarantine.devices[id] = {
      head,
      good: good.get(id) ?? null,
      since: prev?.head === head ? prev.since : stamp,
      findings: f,
    }
  }
  for (const id of Object.keys(quarantine.devices)) {
    if (!candidates.has(id) || (!t.pending.has(id) && !t.rewritten.has(id))) delete quarantine.devices[id]
  }
}

/** Per device, the heads an accepted rewrite replaced: a witness of them is no longer a finding. */
export function supersededHeads(q: Quarantine): Record<string, string[]> {
  const out: Record<string, string[]> = {}
  for (const [id, list] of Object.entries(q.accepted))
    out[id] = list.map((a) => a.before).filter((b): b is string => Boolean(b))
  return out
}

/**
 * For a device never seen good here: the parent of the oldest commit the checks blame, else
 * the newest head another device witnessed for it, whichever passes the checks first.
 */
async function lastGoodAncestor(
  git: GitBackend,
  id: string,
  head: string,
  found: Finding[],
  trial: Map<string, string>,
  proved: Record<string, string>,
  fetched: Record<string, string>,
  superseded: Record<string, string[]>,
): Promise<string | null> {
  const tries: string[] = []
  const oldest = await oldestBlamed(git, head, found)
  const parent = oldest ? (await git.readCommit(oldest)).parents[0] : undefined
  // The shared root holds no device: nothing to keep there.
  if (parent && parent !== GENESIS_OID) tries.push(parent)
  tries.push(...(await newestFirst(git, await witnessedHeads(git, id, trial))))
  for (const t of tries) {
    const heads = new Map(trial)
    heads.set(id, t)
    const p = { ...proved }
    delete p[id]
    const v = await verifyLedger(git, {
      heads,
      refused: new Map(),
      only: [id],
      full: false,
      fingerprints: false,
      proved: p,
      fetched: { ...fetched, [id]: t },
      index: null,
      superseded,
    })
    if (!v.findings.some((f) => f.device === id && f.severity === 'error')) return t
  }
  return null
}

/** The oldest commit of `head`'s first-parent history that a finding names. */
async function oldestBlamed(git: GitBackend, head: string, found: Finding[]): Promise<string | null> {
  const blamed = new Set(found.map((f) => f.commit).filter((c): c is string => Boolean(c)))
  let oldest: string | null = null
  for (let c: string | null = head; c; ) {
    const info: CommitInfo | null = await git.readCommit(c).catch(() => null)
    if (!info) break
    if (blamed.has(c)) oldest = c
    c = info.parents[0] ?? null
  }
  return oldest
}

/** The heads of device `id` that the other devices' manifests witnessed and this store holds. */
async function witnessedHeads(git: GitBackend, id: string, trial: Map<string, string>): Promise<string[]> {
  const witnessed: string[] = []
  for (const [w, wHead] of trial) {
    if (w === id) continue
    const seen = (await seenBy(git, w, wHead))[id]
    if (
      seen &&
      !witnessed.includes(seen) &&
      (await git.readCommit(seen).then(
        () => true,
        () => false,
      ))
    )
      witnessed.push(seen)
  }
  return witnessed
}

/** The newest witness first: one that descends from every other. */
async function newestFirst(git: GitBackend, witnessed: string[]): Promise<string[]> {
  const rank = new Map<string, number>()
  for (const c of witnessed) {
    let n = 0
    for (const o of witnessed) if (o !== c && (await descends(git, o, c))) n++
    rank.set(c, n)
  }
  return witnessed.sort((a, b) => rank.get(b)! - rank.get(a)!)
}

/** The other devices' heads a device witnessed in its manifest (`seen`). */
async function seenBy(git: GitBackend, device: string, head: string): Promise<Record<string, string>> {
  try {
    const files = await deviceFilesAt(git, (await git.readCommit(head)).tree, device)
    return (await readManifest(git, files.manifest))?.seen ?? {}
  } catch {
    return {}
  }
}

/** The last good heads of a clone (`--repo`): those of its verified heads it still holds. */
export async function cloneGoodHeads(git: GitBackend, verified: Record<string, string>): Promise<Map<string, string>> {
  const good = new Map<string, string>()
  for (const [id, head] of Object.entries(verified))
    if (
      await git.readCommit(head).then(
        () => true,
        () => false,
      )
    )
      good.set(id, head)
  return good
}

/**
 * The heads the read side may use. A store's device branches only ever hold good heads
 * (`fetch` moves them after the checks). A native clone's branches move with plain git, so
 * whatever moved since the last check is checked now, and what fails stays out.
 */
export async function trustedHeads(
  git: GitBackend,
  paths: TrustPaths,
  clone: boolean,
  now: Date,
): Promise<{ heads: Map<string, string>; state: TrustState; findings: Finding[] }> {
  const listed = deviceHeads(git, clone) // git starts listing while the state files are read
  listed.catch(() => {}) // observed below, unless reading the state throws first
  const state = loadTrustState(paths)
  if (!clone) return { heads: await listed, state, findings: [] }
  const candidates = await listed
  const settled = !Object.keys(state.quarantine.devices).length
  if (
    settled &&
    [...candidates].every(([id, head]) => state.verified[id] === head) &&
    Object.keys(state.verified).every((id) => candidates.has(id))
  ) {
    return { heads: candidates, state, findings: [] }
  }
  const r = await checkHeads(git, candidates, state, {
    me: null,
    good: await cloneGoodHeads(git, state.verified),
    acceptRewrite: [],
    now,
  })
  saveTrustState(paths, r.state)
  return { heads: r.heads, state: r.state, findings: r.findings }
}
