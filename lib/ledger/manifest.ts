/**
 * manifest.json (DESIGN §2), rewritten by every commit of a device.
 * `records` and `days` count ledger lines as written (what a reader can recount from the parts);
 * `months` sums the device's winners per id (a response written twice counts once), so a
 * person reading it sees real usage. `sealed` is the digest over the complete UTC-day prefix.
 */
import { newSha256 } from './hash.js'
import { canonicalLine, type LedgerRecord } from './record.js'

export const MANIFEST_VERSION = 1

export interface MonthTotals { records: number; input: number; output: number; cacheWrite: number; cacheRead: number }
export interface Sealed { through: string; records: number; digest: string }

export interface Manifest {
  v: 1
  deviceId: string
  updatedAt: string
  records: number
  lastRecordAt: string | null
  days: Record<string, { parts: number; records: number }>
  months: Record<string, MonthTotals>
  sealed: Sealed
  seen: Record<string, string>
}

export function emptyManifest(deviceId: string, now: string): Manifest {
  return {
    v: 1, deviceId, updatedAt: now, records: 0, lastRecordAt: null, days: {}, months: {},
    sealed: { through: '', records: 0, digest: sealDigest([]) }, seen: {},
  }
}

/** Stable serialisation: sorted day and month keys, two-space indent, trailing newline. */
export function serializeManifest(m: Manifest): string {
  const sortKeys = <T>(o: Record<string, T>) => Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]]))
  return JSON.stringify({ ...m, days: sortKeys(m.days), months: sortKeys(m.months), seen: sortKeys(m.seen) }, null, 2) + '\n'
}

export function parseManifest(text: string): Manifest {
  const o = JSON.parse(text) as Manifest
  if (typeof o !== 'object' || o === null || typeof o.deviceId !== 'string' || typeof o.days !== 'object') {
    throw new Error('manifest.json is not a usage-ledger manifest')
  }
  return o
}

/**
 * sha256 over the canonical lines sorted by id, then by line, each ending in "\n". Every
 * canonical v1 line starts with `{"v":1,"id":"<id>"`, so a plain string sort is that order.
 */
export function sealDigest(records: LedgerRecord[]): string {
  return sealDigestLines(records.map(canonicalLine))
}

/** The same digest over lines already in canonical form; sorts `lines` in place. */
export function sealDigestLines(lines: string[]): string {
  lines.sort()
  const h = newSha256()
  for (const l of lines) { h.update(l); h.update('\n') }
  return h.digest('hex')
}

export function addToMonth(m: Manifest, month: string, r: Pick<LedgerRecord, 'input' | 'output' | 'cacheWrite' | 'cacheRead'>, sign: 1 | -1): void {
  const t = (m.months[month] ??= { records: 0, input: 0, output: 0, cacheWrite: 0, cacheRead: 0 })
  t.records += sign
  t.input += sign * r.input
  t.output += sign * r.output
  t.cacheWrite += sign * r.cacheWrite
  t.cacheRead += sign * r.cacheRead
}

