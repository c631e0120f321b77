/**
 * Device heads that failed the checks (DESIGN §8): a fetched head with any error finding is
 * kept out of `merged`, the index, reports and the witnesses, and stays here — with what was
 * found — so every later `fetch`, `report`, `status` and `verify` keeps saying so. Also the
 * heads taken in by `fetch --accept-rewrite`, the one way past a finding, with what they
 * carried, so `verify --full` names them as accepted rather than failing forever.
 */
import { inputError } from '../errors.js'
import type { Finding } from '../verify/findings.js'
import { readStateV1, writeFileAtomic } from './fsutil.js'
import { loadVerified, saveVerified } from './verified.js'

export interface QuarantinedHead {
  /** The head that failed. */
  head: string
  /** The head this device's data stays at (null: none passed yet). */
  good: string | null
  /** When it was first refused (RFC 3339). */
  since: string
  findings: Finding[]
}

export interface AcceptedHead {
  /** The head before (null: none). */
  before: string | null
  head: string
  at: string
  findings: Finding[]
}

export interface Quarantine {
  devices: Record<string, QuarantinedHead>
  accepted: Record<string, AcceptedHead[]>
}

interface QuarantineFile extends Quarantine {
  v: 1
}

export function loadQuarantine(file: string): Quarantine {
  const f = readStateV1<QuarantineFile>(file, () => {
    throw inputError(
      'BAD_STATE',
      `${file} is damaged; delete it and run usage-ledger fetch to check every device again`,
    )
  })
  return { devices: f?.devices ?? {}, accepted: f?.accepted ?? {} }
}

export function saveQuarantine(file: string, q: Quarantine): void {
  writeFileAtomic(file, `${JSON.stringify({ v: 1, devices: q.devices, accepted: q.accepted }, null, 2)}\n`, {
    unlessSame: true,
  })
}

/** The codes of a quarantined head's error findings, for one line of text. */
export const quarantineCodes = (q: QuarantinedHead) =>
  [...new Set(q.findings.filter((f) => f.severity === 'error').map((f) => f.code))].join(', ')

/** The one line report, status and verify print for a quarantined device. */
export function quarantineLine(id: string, q: QuarantinedHead): string {
  return (
    `device ${id}: the remote head ${q.head.slice(0, 12)} failed the checks (${quarantineCodes(q)}) and is kept out of every total; ` +
    `its data stays at ${q.good ? `the last good head ${q.good.slice(0, 12)}` : 'nothing (no good head yet)'}; ` +
    `run usage-ledger fetch to see the findings, and usage-ledger fetch --accept-rewrite ${id} only if the change was intended`
  )
}

/** What decides which heads are trusted, kept in three state files (verified, proved, quarantine). */
export interface TrustState {
  /** The last good head of every device (`verified.json`); the witnesses this device publishes. */
  verified: Record<string, string>
  /** The heads `verify` last proved (`proved.json`). */
  proved: Record<string, string>
  quarantine: Quarantine
}

export interface TrustPaths {
  verified: string
  proved: string
  quarantine: string
}

export const loadTrustState = (p: TrustPaths): TrustState => ({
  verified: loadVerified(p.verified),
  proved: loadVerified(p.proved),
  quarantine: loadQuarantine(p.quarantine),
})

export function saveTrustState(p: TrustPaths, s: TrustState): void {
  saveVerified(p.verified, s.verified)
  saveVerified(p.proved, s.proved)
  saveQuarantine(p.quarantine, s.quarantine)
}

/** The `warnings[]` entry of `report` and `status` for a quarantined device. */
export function quarantineWarning(id: string, q: QuarantinedHead) {
  return {
    code: 'DEVICE_QUARANTINED',
    device: id,
    head: q.head,
    good: q.good,
    since: q.since,
    findings: q.findings.map(({ code, severity, commit, path, line, detail }) => ({
      code,
      severity,
      commit,
      path,
      line,
      detail,
    })),
    detail: quarantineLine(id, q),
  }
}

export const listQuarantined = (q: Quarantine) =>
  Object.entries(q.devices)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([id, h]) => ({ id, ...h }))
