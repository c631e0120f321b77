/**
 * manifest.json (DESIGN §2), rewritten by every commit of a device.
 * `records` and `days` count ledger lines as written (what a reader can recount from the parts);
 * `months` sums the device's winners per id (a response written twice counts once), so a
 * person reading it sees real usage. v2 seals per day: each day of the complete UTC-day prefix
 * carries the digest of its lines, and `sealed.root` hashes the list of those digests, so a late
 * record re-seals one day; v1 (read and verified, never written) sealed the prefix with one digest.
 */
import { inputError } from '../errors.js'
import { newSha256 } from './hash.js'
import { CANONICAL_START, canonicalLine, hexDigit, type LedgerRecord } from './record.js'

export const MANIFEST_VERSION = 2

export interface MonthTotals {
  records: number
  input: number
  output: number
  cacheWrite: number
  cacheRead: number
}
export interface DayCounts {
  parts: number
  records: number
  /** v2, sealed days only: sealDigestLines over the day's lines. */
  digest?: string
}
export interface Sealed {
  through: string
  records: number
  /** v1: the digest over every line of the days through `through`. */
  digest?: string
  /** v2: sealRoot over the days' digests. */
  root?: string
}

export interface Manifest {
  v: 1 | 2
  deviceId: string
  updatedAt: string
  records: number
  lastRecordAt: string | null
  days: Record<string, DayCounts>
  months: Record<string, MonthTotals>
  sealed: Sealed
  seen: Record<string, string>
}

export function emptyManifest(deviceId: string, now: string): Manifest {
  return {
    v: MANIFEST_VERSION,
    deviceId,
    updatedAt: now,
    records: 0,
    lastRecordAt: null,
    days: {},
    months: {},
    sealed: { through: '', records: 0, root: sealRoot({}, '') },
    seen: {},
  }
}

/** The days a v2 seal covers: those through `through` that hold records, in order. */
export function sealedDays(days: Manifest['days'], through: string): string[] {
  return Object.keys(days)
    .filter((d) => d <= through && days[d]!.records > 0)
    .sort()
}

/**
 * v2's root: sha256 over "YYYY-MM-DD <digest>\n" for each sealed day in order (a hash list:
 * two machines compare one value, and the days' digests name the day that differs). A sealed
 * day without a digest hashes as an empty one, which no verifier accepts.
 */
export function sealRoot(days: Manifest['days'], through: string): string {
  const h = newSha256()
  for (const d of sealedDays(days, through)) h.update(`${d} ${days[d]!.digest ?? ''}\n`)
  return h.digest('hex')
}

/**
 * On disk a v2 seal is named `seal`, not `sealed`: readers from before v2 check `sealed` when a
 * manifest has one and skip it otherwise, so they keep verifying counts and history instead of
 * failing on a seal they cannot recompute. In memory both versions use `sealed`.
 */
const V2_SEAL_KEY = 'seal'

/** Stable serialisation: sorted day and month keys, two-space indent, trailing newline. */
export function serializeManifest(m: Manifest): string {
  const sortKeys = <T>(o: Record<string, T>) =>
    Object.fromEntries(
      Object.keys(o)
        .sort()
        .map((k) => [k, o[k]]),
    )
  const { sealed, seen, ...rest } = m
  const seal = m.v === 1 ? { sealed } : { [V2_SEAL_KEY]: sealed }
  return `${JSON.stringify({ ...rest, days: sortKeys(m.days), months: sortKeys(m.months), ...seal, seen: sortKeys(seen) }, null, 2)}\n`
}

export function parseManifest(text: string): Manifest {
  const o = JSON.parse(text) as Manifest & { [V2_SEAL_KEY]?: Sealed }
  if (typeof o !== 'object' || o === null || typeof o.deviceId !== 'string' || typeof o.days !== 'object') {
    throw inputError('BAD_MANIFEST', 'manifest.json is not a usage-ledger manifest')
  }
  if (o.v === 1) return o
  const { [V2_SEAL_KEY]: seal, sealed: _ignored, ...rest } = o
  return { ...rest, sealed: seal as Sealed }
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
  const seal = new SealHasher()
  seal.add(lines)
  return seal.digest()
}

/**
 * sealDigestLines in runs: the lines come in groups, every line of a group sorting after every line of the groups
 * before (a device's lines taken by ranges of ids), so no more than one group is held at a time.
 */
export class SealHasher {
  private readonly h = newSha256()

  /** Sorts `lines` in place and hashes them. */
  add(lines: string[]): void {
    sortLines(lines)
    // Thousands of lines per update: one call per line costs more than the hashing.
    for (let i = 0; i < lines.length; i += 4096) this.h.update(`${lines.slice(i, i + 4096).join('\n')}\n`)
  }

  digest(): string {
    return this.h.digest('hex')
  }
}

const ID_AT = CANONICAL_START.length

/**
 * `lines.sort()`, fast for canonical lines: they differ first in the id's hex, so its first
 * eight digits with the line's position make one float per line, sorted natively; only lines
 * whose eight digits tie are compared as strings. Other lines take the plain sort.
 */
function sortLines(lines: string[]): void {
  const n = lines.length
  if (n < 64 || n >= 2 ** 21) {
    lines.sort()
    return
  }
  const keys = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    const l = lines[i]!
    if (!l.startsWith(CANONICAL_START)) {
      lines.sort()
      return
    }
    let k = 0
    for (let c = ID_AT; c < ID_AT + 8; c++) {
      const v = hexDigit(l.charCodeAt(c))
      if (v < 0) {
        lines.sort()
        return
      }
      k = k * 16 + v
    }
    keys[i] = k * 2 ** 21 + i
  }
  keys.sort()
  const sorted = new Array<string>(n)
  for (let i = 0; i < n; i++) sorted[i] = lines[keys[i]! % 2 ** 21]!
  // Runs of equal eight-digit prefixes, put in full string order.
  for (let i = 0; i < n; ) {
    let j = i + 1
    const k = Math.floor(keys[i]! / 2 ** 21)
    while (j < n && Math.floor(keys[j]! / 2 ** 21) === k) j++
    if (j - i > 1) {
      const run = sorted.slice(i, j).sort()
      for (let r = 0; r < run.length; r++) sorted[i + r] = run[r]!
    }
    i = j
  }
  for (let i = 0; i < n; i++) lines[i] = sorted[i]!
}

export function addToMonth(
  m: Manifest,
  month: string,
  r: Pick<LedgerRecord, 'input' | 'output' | 'cacheWrite' | 'cacheRead'>,
  sign: 1 | -1,
): void {
  const t = (m.months[month] ??= { records: 0, input: 0, output: 0, cacheWrite: 0, cacheRead: 0 })
  t.records += sign
  t.input += sign * r.input
  t.output += sign * r.output
  t.cacheWrite += sign * r.cacheWrite
  t.cacheRead += sign * r.cacheRead
}
