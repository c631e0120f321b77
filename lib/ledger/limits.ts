/**
 * Limit readings v1 (DESIGN §2, §4a): what an agent's provider said of an account's usage limit
 * (Claude's `rate_limits` in the statusline input, Codex's in `token_count` events). A reading
 * describes the account, not a device: never summed; per account and window the newest wins.
 * The canonical line is what is written and checked, so its key order is fixed here only.
 */
import { sha256prefix } from './hash.js'

export const READING_VERSION = 1

export interface LimitReading {
  v: 1
  id: string
  /** When the reading was taken (the statusline call, the rollout line). */
  ts: string
  source: string
  /** 16-hex hash of the provider's account id, or `unknown` when the machine cannot tell. */
  account: string
  /** The window as its length says: `5h`, `7d`, else `<minutes>m` (never by the provider's name). */
  window: string
  minutes: number
  /** 0–100 as the provider reports it (it can pass 100 when over the limit). */
  usedPercent: number
  /** When the window resets, when the provider said. */
  resetsAt?: string
  /** The plan the provider named (`pro`, `max`, `plus`, …). */
  plan?: string
  /** The provider's limit bucket when it has several (Codex's `limit_id` other than its default). */
  limit?: string
}

/** A reading as shown: with the device that saw it. */
export interface ShownReading extends LimitReading {
  device: string
  deviceName: string
}

export const UNKNOWN_ACCOUNT = 'unknown'

const ID_RE = /^[0-9a-f]{32}$/
const ACCOUNT_RE = /^(?:[0-9a-f]{16}|unknown)$/
const TS_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/
const SOURCE_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/
const WINDOW_RE = /^(?:5h|7d|\d{1,7}m)$/
const PLAN_RE = /^[A-Za-z0-9._ -]{1,40}$/
/** Over 10× a limit is no reading, it is garbage. */
const MAX_PERCENT = 1000

/** `5h` for 300 minutes, `7d` for 10080, else `<minutes>m`. */
export function windowName(minutes: number): string {
  return minutes === 300 ? '5h' : minutes === 10_080 ? '7d' : `${minutes}m`
}

/** `hex(sha256("usage-ledger/account/v1\0" + providerAccountId))[0:16]`: equal on every machine of one account. */
export function accountHash(providerAccountId: string): string {
  return sha256prefix(`usage-ledger/account/v1\0${providerAccountId}`, 8)
}

/** The reading's key: one account's one window of one source. */
export const readingKey = (r: Pick<LimitReading, 'source' | 'account' | 'minutes' | 'limit'>) =>
  `${r.source}\n${r.account}\n${r.limit ?? ''}\n${r.minutes}`

/** An RFC 3339 UTC instant with milliseconds from Unix seconds (or an ISO string), or null. */
export function instantOf(value: unknown): string | null {
  let ms = NaN
  if (typeof value === 'number' && Number.isFinite(value)) ms = value > 1e12 ? value : value * 1000
  else if (typeof value === 'string' && value)
    ms = /^\d+(?:\.\d+)?$/.test(value) ? Number(value) * 1000 : Date.parse(value)
  if (!Number.isFinite(ms) || ms < 0 || ms > 8.64e15) return null
  return new Date(Math.round(ms)).toISOString()
}

/** A reading from what a source read; null when the values are no reading (no window length, no percent). */
export function makeReading(p: {
  ts: string
  source: string
  account: string
  minutes: unknown
  usedPercent: unknown
  resetsAt?: unknown
  plan?: unknown
  limit?: unknown
}): LimitReading | null {
  const minutes = typeof p.minutes === 'number' ? p.minutes : Number.NaN
  const used = typeof p.usedPercent === 'number' ? p.usedPercent : Number.NaN
  if (!Number.isSafeInteger(minutes) || minutes <= 0 || minutes > 9_999_999) return null
  if (!Number.isFinite(used) || used < 0 || used > MAX_PERCENT) return null
  const limit = typeof p.limit === 'string' && PLAN_RE.test(p.limit) ? p.limit : undefined
  const r: LimitReading = {
    v: 1,
    id: sha256prefix(`${p.source}\n${p.account}\n${limit ?? ''}\n${minutes}\n${p.ts}`, 16),
    ts: p.ts,
    source: p.source,
    account: p.account,
    window: windowName(minutes),
    minutes,
    usedPercent: Math.round(used * 100) / 100,
  }
  const resets = p.resetsAt === undefined || p.resetsAt === null ? null : instantOf(p.resetsAt)
  if (resets) r.resetsAt = resets
  if (typeof p.plan === 'string' && PLAN_RE.test(p.plan)) r.plan = p.plan
  if (limit) r.limit = limit
  return validateReading(r).length ? null : r
}

/** The one line written for a reading: keys in this order, optional ones omitted. */
export const readingLine = (r: LimitReading): string => JSON.stringify(readingFrom(r))

/** What is wrong with a reading (empty when it is valid). */
export function validateReading(o: unknown): string[] {
  if (!o || typeof o !== 'object' || Array.isArray(o)) return ['not a JSON object']
  const r = o as Record<string, unknown>
  const problems: string[] = []
  const bad = (key: string, what: string) => problems.push(`"${key}" ${what}`)
  if (r.v !== 1) bad('v', 'must be 1')
  if (typeof r.id !== 'string' || !ID_RE.test(r.id)) bad('id', 'must be 32 lowercase hex')
  if (typeof r.ts !== 'string' || !TS_RE.test(r.ts) || Number.isNaN(Date.parse(r.ts)))
    bad('ts', 'must be an RFC 3339 UTC time with milliseconds')
  if (typeof r.source !== 'string' || !SOURCE_RE.test(r.source)) bad('source', 'must be a source name')
  if (typeof r.account !== 'string' || !ACCOUNT_RE.test(r.account)) bad('account', 'must be 16 hex or "unknown"')
  if (typeof r.minutes !== 'number' || !Number.isSafeInteger(r.minutes) || r.minutes <= 0)
    bad('minutes', 'must be a positive integer')
  else if (r.window !== windowName(r.minutes))
    bad('window', `must be "${windowName(r.minutes)}" for ${r.minutes} minutes`)
  if (typeof r.window !== 'string' || !WINDOW_RE.test(r.window)) bad('window', 'must be 5h, 7d or <minutes>m')
  if (
    typeof r.usedPercent !== 'number' ||
    !Number.isFinite(r.usedPercent) ||
    r.usedPercent < 0 ||
    r.usedPercent > MAX_PERCENT
  )
    bad('usedPercent', `must be a number from 0 to ${MAX_PERCENT}`)
  if (r.resetsAt !== undefined && (typeof r.resetsAt !== 'string' || !TS_RE.test(r.resetsAt)))
    bad('resetsAt', 'must be an RFC 3339 UTC time with milliseconds')
  if (r.plan !== undefined && (typeof r.plan !== 'string' || !PLAN_RE.test(r.plan))) bad('plan', 'must be a short name')
  if (r.limit !== undefined && (typeof r.limit !== 'string' || !PLAN_RE.test(r.limit)))
    bad('limit', 'must be a short name')
  return problems
}

export type ParsedReading =
  | { kind: 'reading'; reading: LimitReading }
  | { kind: 'newer'; v: number }
  | { kind: 'invalid'; problems: string[] }

/** Parses one line of a limits part as a reader must: skip higher versions, report invalid ones. */
export function parseReadingLine(line: string): ParsedReading {
  let o: unknown
  try {
    o = JSON.parse(line)
  } catch {
    return { kind: 'invalid', problems: ['not valid JSON'] }
  }
  const v = (o as { v?: unknown } | null)?.v
  if (typeof v === 'number' && v > READING_VERSION) return { kind: 'newer', v }
  const problems = validateReading(o)
  if (problems.length) return { kind: 'invalid', problems }
  const r = o as LimitReading
  return { kind: 'reading', reading: readingFrom(r) }
}

/** Only the keys of v1, in the canonical order (a reader ignores unknown keys; a writer writes no other). */
function readingFrom(r: LimitReading): LimitReading {
  const out: LimitReading = {
    v: 1,
    id: r.id,
    ts: r.ts,
    source: r.source,
    account: r.account,
    window: r.window,
    minutes: r.minutes,
    usedPercent: r.usedPercent,
  }
  if (r.resetsAt !== undefined) out.resetsAt = r.resetsAt
  if (r.plan !== undefined) out.plan = r.plan
  if (r.limit !== undefined) out.limit = r.limit
  return out
}

/** The order readings are written and shown in: by source, account, bucket, then window length. */
export function byKey(a: LimitReading, b: LimitReading): number {
  if (a.source !== b.source) return a.source < b.source ? -1 : 1
  if (a.account !== b.account) return a.account < b.account ? -1 : 1
  if ((a.limit ?? '') !== (b.limit ?? '')) return (a.limit ?? '') < (b.limit ?? '') ? -1 : 1
  return a.minutes - b.minutes
}

/** Whether `a` replaces `b` as its key's newest: a later `ts`, then (one instant) the lower id. */
export const newerReading = (a: LimitReading, b: LimitReading) => a.ts > b.ts || (a.ts === b.ts && a.id < b.id)

/** Per key the newest reading of `readings` (DESIGN §4a: never summed). */
export function newestByKey<R extends LimitReading>(readings: Iterable<R>): Map<string, R> {
  const best = new Map<string, R>()
  for (const r of readings) {
    const k = readingKey(r)
    const cur = best.get(k)
    if (!cur || newerReading(r, cur)) best.set(k, r)
  }
  return best
}

/** Days a reader looks back for readings: every window of a week or less has reset since. */
export const READING_LOOKBACK_DAYS = 8
