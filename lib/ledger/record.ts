/**
 * Record schema v1 (DESIGN §4): validation, the canonical line, id derivation.
 * The canonical line is what we write and what digests are computed over, so its key order
 * is fixed here and nowhere else.
 */
import { sha256hex, sha256prefix } from './hash.js'

export const SCHEMA_VERSION = 1

export interface LedgerRecord {
  v: 1
  id: string
  ts: string
  source: string
  model: string
  input: number
  output: number
  cacheWrite: number
  cacheRead: number
  cacheWrite1h?: number
  reasoning?: number
  speed?: 'fast'
  costUSD?: number
  session?: string
  project?: string
  sidechain?: true
  /** The upstream call failed (a proxy's record): kept, never priced, out of token totals unless asked. */
  failed?: true
}

const ID_RE = /^[0-9a-f]{32}$/
const HASH16_RE = /^[0-9a-f]{16}$/
const TS_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/
const SOURCE_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/
const TOKEN_KEYS = ['input', 'output', 'cacheWrite', 'cacheRead'] as const

export { sha256hex }

export function recordId(source: string, nativeKey: string): string {
  return sha256prefix(`${source}\n${nativeKey}`, 16)
}

const interned = new Map<string, string>()

/** One shared copy of a value that repeats on every record (model names). */
export function intern(s: string): string {
  let v = interned.get(s)
  if (v === undefined) {
    if (interned.size > 10_000) interned.clear()
    interned.set(s, (v = s))
  }
  return v
}

const privacyCaches = new Map<string, Map<string, string>>()

/** `hex(sha256("usage-ledger/project/v1\0" + salt + value))[0:16]` for projects and sessions. */
export function privacyHash(value: string, salt = ''): string {
  let cache = privacyCaches.get(salt)
  if (!cache) privacyCaches.set(salt, (cache = new Map()))
  let h = cache.get(value)
  if (h === undefined) {
    h = sha256prefix(`usage-ledger/project/v1\0${salt}${value}`, 8)
    if (cache.size > 100_000) cache.clear()
    cache.set(value, h)
  }
  return h
}

export const totalTokens = (r: Pick<LedgerRecord, 'input' | 'output' | 'cacheWrite' | 'cacheRead'>) =>
  r.input + r.output + r.cacheWrite + r.cacheRead

/** RFC 3339 UTC with milliseconds, or null when the value is not a valid instant. */
export function normaliseTs(value: unknown): string | null {
  if (typeof value === 'string' && value.length === 24 && TS_RE.test(value)) {
    // Already canonical when no field can overflow (a day past 28, hour 24); else check.
    if (value.charCodeAt(8) < 50 || (value.charCodeAt(8) === 50 && value.charCodeAt(9) < 57)) {
      if (value.charCodeAt(11) < 50 || (value.charCodeAt(11) === 50 && value.charCodeAt(12) < 52)) {
        return Number.isFinite(Date.parse(value)) ? value : null
      }
    }
  }
  if (typeof value !== 'string' && typeof value !== 'number') return null
  const d = new Date(value)
  const ms = d.getTime()
  if (!Number.isFinite(ms)) return null
  const iso = d.toISOString()
  // A string naming an impossible instant (2026-02-30, 24:00) is not silently moved.
  if (typeof value === 'string' && TS_RE.test(value) && iso !== value) return null
  return iso
}

/**
 * The canonical line: keys in schema order, optional keys omitted when absent or zero. Built
 * by JSON.stringify of an object in that order, which yields one flat string (a backfill holds
 * hundreds of thousands of them).
 */
export function canonicalLine(r: LedgerRecord): string {
  const o: Record<string, unknown> = {
    v: 1,
    id: r.id,
    ts: r.ts,
    source: r.source,
    model: r.model,
    input: r.input,
    output: r.output,
    cacheWrite: r.cacheWrite,
    cacheRead: r.cacheRead,
  }
  if (r.cacheWrite1h) o.cacheWrite1h = r.cacheWrite1h
  if (r.reasoning) o.reasoning = r.reasoning
  if (r.speed === 'fast') o.speed = 'fast'
  if (r.costUSD) o.costUSD = r.costUSD
  if (r.session) o.session = r.session
  if (r.project) o.project = r.project
  if (r.sidechain) o.sidechain = true
  if (r.failed) o.failed = true
  return JSON.stringify(o)
}

const INT = '(?:0|[1-9]\\d{0,14})'
const POS = '[1-9]\\d{0,14}'
/**
 * A line exactly as `canonicalLine` writes a valid record: schema order, no zero optional keys,
 * counts of at most 15 digits (safe integers), a model without escapes. Lines that fail it are
 * not necessarily invalid; they take the full parse.
 */
const CANONICAL_RE = new RegExp(
  '^\\{"v":1,"id":"[0-9a-f]{32}","ts":"\\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\\d|3[01])T(?:[01]\\d|2[0-3]):[0-5]\\d:[0-5]\\d\\.\\d{3}Z",' +
    '"source":"[a-z0-9][a-z0-9._-]{0,63}","model":"[^"\\\\\\x00-\\x1f]{1,200}",' +
    `"input":${INT},"output":${INT},"cacheWrite":(${INT}),"cacheRead":${INT}` +
    `(?:,"cacheWrite1h":(${POS}))?(?:,"reasoning":${POS})?(?:,"speed":"fast")?(?:,"costUSD":([0-9][0-9.e+-]*))?` +
    '(?:,"session":"[0-9a-f]{16}")?(?:,"project":"[0-9a-f]{16}")?(?:,"sidechain":true)?(?:,"failed":true)?\\}$',
)
/** How every canonical line starts; its id follows. */
export const CANONICAL_START = '{"v":1,"id":"'
/** Where the `ts` of a canonical line starts: after `{"v":1,"id":"<32 hex>","ts":"`. */
export const CANONICAL_TS_AT = 53

/** The value of a lowercase hex digit's character code; -1 for any other. */
export const hexDigit = (c: number): number => (c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : -1)

/**
 * True when `line` is the canonical line of a valid v1 record, so that parsing it and writing it
 * again gives the same line: what a reader of our own parts can check without parsing.
 */
export function isCanonicalLine(line: string): boolean {
  const m = CANONICAL_RE.exec(line)
  if (!m) return false
  if (m[2] !== undefined && Number(m[2]) > Number(m[1])) return false // cacheWrite1h within cacheWrite
  if (m[3] !== undefined) {
    const cost = Number(m[3])
    if (!(cost > 0) || !Number.isFinite(cost) || String(cost) !== m[3]) return false
  }
  // Days past the 28th may not exist in that month.
  if (line.charCodeAt(61) > 50 || (line.charCodeAt(61) === 50 && line.charCodeAt(62) > 56)) {
    const day = line.slice(CANONICAL_TS_AT, CANONICAL_TS_AT + 10)
    let ok = lateDays.get(day)
    if (ok === undefined) lateDays.set(day, (ok = normaliseTs(`${day}T00:00:00.000Z`) !== null))
    return ok
  }
  return true
}
const lateDays = new Map<string, boolean>()

export const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0

/**
 * Checks a parsed line against schema v1 and returns the problems (empty = valid).
 * Unknown keys are allowed (a newer writer may add some); a higher `v` is the caller's concern.
 */
export function validateRecord(o: unknown): string[] {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return ['not a JSON object']
  const r = o as Record<string, unknown>
  const errs: string[] = []
  if (r.v !== 1) errs.push(`"v" must be 1`)
  if (typeof r.id !== 'string' || !ID_RE.test(r.id)) errs.push(`"id" must be 32 lowercase hex`)
  if (typeof r.ts !== 'string' || !TS_RE.test(r.ts) || normaliseTs(r.ts) !== r.ts)
    errs.push(`"ts" must be RFC 3339 UTC with milliseconds`)
  if (typeof r.source !== 'string' || !SOURCE_RE.test(r.source)) errs.push(`"source" must be a short lowercase name`)
  if (typeof r.model !== 'string' || r.model.length === 0 || r.model.length > 200)
    errs.push(`"model" must be a non-empty string`)
  for (const k of TOKEN_KEYS) if (!isCount(r[k])) errs.push(`"${k}" must be a non-negative integer`)
  for (const k of ['cacheWrite1h', 'reasoning'] as const)
    if (r[k] !== undefined && !isCount(r[k])) errs.push(`"${k}" must be a non-negative integer`)
  if (isCount(r.cacheWrite1h) && isCount(r.cacheWrite) && r.cacheWrite1h > r.cacheWrite)
    errs.push(`"cacheWrite1h" exceeds "cacheWrite"`)
  if (r.speed !== undefined && r.speed !== 'fast') errs.push(`"speed" must be "fast" when present`)
  if (r.costUSD !== undefined && !(typeof r.costUSD === 'number' && Number.isFinite(r.costUSD) && r.costUSD >= 0))
    errs.push(`"costUSD" must be a non-negative number`)
  for (const k of ['session', 'project'] as const)
    if (r[k] !== undefined && !(typeof r[k] === 'string' && HASH16_RE.test(r[k] as string)))
      errs.push(`"${k}" must be 16 lowercase hex`)
  if (r.sidechain !== undefined && r.sidechain !== true) errs.push(`"sidechain" must be true when present`)
  if (r.failed !== undefined && r.failed !== true) errs.push(`"failed" must be true when present`)
  return errs
}

/** Keeps only schema keys, so a record read back canonicalises identically. */
export function toRecord(o: Record<string, unknown>): LedgerRecord {
  const r: LedgerRecord = {
    v: 1,
    id: o.id as string,
    ts: o.ts as string,
    source: o.source as string,
    model: o.model as string,
    input: o.input as number,
    output: o.output as number,
    cacheWrite: o.cacheWrite as number,
    cacheRead: o.cacheRead as number,
  }
  if (o.cacheWrite1h) r.cacheWrite1h = o.cacheWrite1h as number
  if (o.reasoning) r.reasoning = o.reasoning as number
  if (o.speed === 'fast') r.speed = 'fast'
  if (o.costUSD) r.costUSD = o.costUSD as number
  if (o.session) r.session = o.session as string
  if (o.project) r.project = o.project as string
  if (o.sidechain === true) r.sidechain = true
  if (o.failed === true) r.failed = true
  return r
}

export type ParsedLine =
  | { kind: 'record'; record: LedgerRecord }
  | { kind: 'newer'; v: number }
  | { kind: 'invalid'; problems: string[] }

/** Parses one ledger line as a reader must: skip higher versions, report invalid ones. */
export function parseLedgerLine(line: string): ParsedLine {
  // Our writers write canonical lines, which the one match proves valid: parsed, they are the record as it is.
  if (isCanonicalLine(line)) return { kind: 'record', record: JSON.parse(line) as LedgerRecord }
  let o: unknown
  try {
    o = JSON.parse(line)
  } catch {
    return { kind: 'invalid', problems: ['not valid JSON'] }
  }
  if (
    typeof o === 'object' &&
    o !== null &&
    typeof (o as { v?: unknown }).v === 'number' &&
    (o as { v: number }).v > SCHEMA_VERSION
  ) {
    return { kind: 'newer', v: (o as { v: number }).v }
  }
  const problems = validateRecord(o)
  if (problems.length) return { kind: 'invalid', problems }
  return { kind: 'record', record: toRecord(o as Record<string, unknown>) }
}
