/** The integrity checks of DESIGN §8 over a store's (or a --repo clone's) devices. */
import { usageError } from '../../errors.js'
import { trustedHeads, supersededHeads } from '../sync/trust.js'
import { listQuarantined, quarantineLine, type Quarantine } from '../../store/quarantine.js'
import type { GitBackend } from '../../git/backend.js'
import { readIndexSources } from '../../index/index.js'
import { DEVICE_ID_RE } from '../../ledger/paths.js'
import type { Store } from '../../store/store.js'
import { saveVerified } from '../../store/verified.js'
import { verifyLedger, type VerifyResult } from '../../verify/verify.js'
import { finding } from '../../verify/findings.js'
import { resolveDevices } from './device-ref.js'
import { listDevices } from './devices.js'

export interface VerifyStoreOptions {
  /** Only these devices, by id, a unique id prefix or name (device-ref.ts). */
  device: string[]
  full: boolean
  /** Keep a per-record fingerprint per device (`verify --transcript`). */
  fingerprints: boolean
  /** The store is a --repo clone. */
  clone: boolean
}

/** `verify`: checks the devices, records the proved heads, and adds what quarantine holds as findings. */
export async function verifyStore(store: Store, opts: VerifyStoreOptions): Promise<VerifyResult> {
  if (!store.initialized)
    throw usageError('NO_STORE', `no ledger at ${store.paths.home}; run usage-ledger record (or pass --repo CLONE)`)
  const git = await store.git()
  // A clone's heads moved by plain git are checked first; a head that fails is not verified.
  const trusted = await trustedHeads(git, store.paths, opts.clone, store.env.now())
  const heads = trusted.heads
  // Branches fetch refused to take (a rewrite): still checked against the witnesses.
  const refused = new Map<string, string>()
  for (const [ref, oid] of await git.listRefs('refs/remotes/origin/ledger/')) {
    const id = ref.slice('refs/remotes/origin/ledger/'.length)
    if (DEVICE_ID_RE.test(id) && !heads.has(id)) refused.set(id, oid)
  }
  const only = opts.device.length
    ? resolveDevices('--device', opts.device, await listDevices(git, store.device.id, heads), store.device.id)
    : []
  const result = await verifyLedger(git, {
    heads,
    refused,
    only,
    full: opts.full,
    fingerprints: opts.fingerprints,
    proved: trusted.state.proved,
    fetched: trusted.state.verified,
    index: readIndexSources(store.paths.index),
    superseded: supersededHeads(trusted.state.quarantine),
  })
  saveVerified(store.paths.proved, result.proved)
  await markAccepted(git, result, trusted.state.quarantine)
  // A quarantined head stays an error until its branch is good again or accepted.
  for (const q of listQuarantined(trusted.state.quarantine)) {
    if (only.length && !only.includes(q.id)) continue
    result.findings.push(finding('QUARANTINED', q.id, quarantineLine(q.id, q), { commit: q.head }))
    for (const f of q.findings)
      result.findings.push({ ...f, detail: `(quarantined head ${q.head.slice(0, 12)}) ${f.detail}` })
  }
  return result
}

/** Findings in history a person took in with `fetch --accept-rewrite` are warnings, named so. */
async function markAccepted(git: GitBackend, r: VerifyResult, q: Quarantine): Promise<void> {
  for (const f of r.findings) {
    if (f.severity !== 'error' || !f.commit) continue
    for (const a of q.accepted[f.device] ?? []) {
      if (f.commit === a.head || (await git.isAncestor(f.commit, a.head).catch(() => false))) {
        f.severity = 'warning'
        f.detail += ` (accepted by fetch --accept-rewrite at ${a.at})`
        break
      }
    }
  }
}
