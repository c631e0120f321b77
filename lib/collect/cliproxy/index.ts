/**
 * CLIProxyAPI's usage queue (docs/sources.md "cliproxy"): not a file but a Redis-protocol queue on
 * the proxy's own port, one JSON object per upstream call. This module is pure: where the queue is
 * (`cliproxyUrl`), what one payload becomes on its way to the spool (`spoolEntry`: the record id
 * is the hash of the raw payload, the client API key is replaced by its salted hash, and only the
 * fields a record needs are kept), and the ledger record of a spooled entry (`cliproxyRecord`).
 * The queue itself is read by `queue.ts` (the one module that loads the Redis client) and kept
 * durable by `spool.ts`.
 */
import { intern, normaliseTs, privacyHash, recordId, type LedgerRecord } from '../../ledger/record.js'
import { usageError } from '../../errors.js'
import type { Env } from '../../env.js'
import { tokenCount as count, type Batch } from '../types.js'

export const SOURCE = 'cliproxy'
export const URL_VAR = 'USAGE_LEDGER_CLIPROXY_URL'
export const KEY_VAR = 'USAGE_LEDGER_CLIPROXY_KEY'
/** CLIProxyAPI's default port (its HTTP API and the RESP queue share it). */
export const DEFAULT_PORT = 8317
/** The one queue key and Pub/Sub channel CLIProxyAPI serves. */
export const QUEUE_KEY = 'usage'

export interface QueueAddress {
  host: string
  port: number
  /** `host:port` as URLs and git's credential helper write it (`[::1]:8317`). */
  hostPort: string
  /** `redis://host:port`, never with credentials: what messages show. */
  url: string
}

/** The config keys a management key could hide under: refused, never read. */
const KEY_WORDS = ['key', 'password', 'secret', 'managementKey', 'management-key', 'token']

/**
 * The queue's address: USAGE_LEDGER_CLIPROXY_URL, else config `sources.cliproxy.url`; null when
 * neither names one. A URL carrying a password, or a key in config, is refused: the key comes from
 * USAGE_LEDGER_CLIPROXY_KEY or git's credential helper only.
 */
export function cliproxyUrl(
  env: Env,
  config: { sources?: { cliproxy?: Record<string, unknown> } },
): QueueAddress | null {
  const section = config.sources?.cliproxy
  if (section && typeof section === 'object') {
    const bad = KEY_WORDS.find((k) => section[k] !== undefined)
    if (bad)
      throw usageError(
        'CLIPROXY_KEY_REFUSED',
        `config sources.cliproxy.${bad} is refused: the CLIProxyAPI management key never goes into config; remove it and set ${KEY_VAR} or store it with git's credential helper (protocol=redis, host=HOST:PORT)`,
      )
  }
  const fromEnv = env.vars[URL_VAR]?.trim()
  const raw = fromEnv || (typeof section?.url === 'string' ? section.url.trim() : '')
  if (!raw) return null
  return parseQueueUrl(raw, fromEnv ? URL_VAR : 'config sources.cliproxy.url')
}

export function parseQueueUrl(raw: string, where: string): QueueAddress {
  let u: URL
  try {
    u = new URL(raw)
  } catch {
    throw usageError(
      'CLIPROXY_URL',
      `${where} "${raw}" is not a URL; give redis://HOST:PORT (e.g. redis://127.0.0.1:8317)`,
    )
  }
  if (u.username || u.password)
    throw usageError(
      'CLIPROXY_KEY_REFUSED',
      `${where} carries credentials; give redis://HOST:PORT without them and the management key in ${KEY_VAR} (or git's credential helper)`,
    )
  if (u.protocol !== 'redis:')
    throw usageError(
      'CLIPROXY_URL',
      `${where} "${raw}" must be redis://HOST:PORT (CLIProxyAPI's RESP queue on its own port, default ${DEFAULT_PORT})`,
    )
  if (!u.hostname || (u.pathname && u.pathname !== '/') || u.search)
    throw usageError('CLIPROXY_URL', `${where} "${raw}" must be redis://HOST:PORT, with no path or query`)
  const port = u.port ? Number(u.port) : DEFAULT_PORT
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1')
  const hostPort = `${u.hostname}:${port}`
  return { host, port, hostPort, url: `redis://${hostPort}` }
}

/** CLIProxyAPI's Pub/Sub control payloads (`{"support_refresh":true}`, `{"refresh":true}`): no usage. */
export function isControlPayload(raw: string): boolean {
  const s = raw.trim()
  if (!s.startsWith('{') || s.length > 64) return false
  try {
    const o = JSON.parse(s) as Record<string, unknown>
    const keys = Object.keys(o)
    return keys.length === 1 && (keys[0] === 'support_refresh' || keys[0] === 'refresh')
  } catch {
    return false
  }
}

/** The parts of a payload a record needs, as the spool keeps them (never the API key itself). */
export interface SpoolEntry {
  /** The record id: a hash of the raw payload (request_id is not unique: retries share it). */
  id: string
  timestamp?: unknown
  model?: unknown
  alias?: unknown
  provider?: unknown
  executor_type?: unknown
  tokens?: unknown
  token_breakdown?: unknown
  failed?: unknown
  auth_index?: unknown
  /** The client API key's salted hash (the project), when the payload named one. */
  key_hash?: string
}

/**
 * What a queue payload becomes in the spool; 'malformed' when it is no JSON object. The id is
 * the hash of the raw payload, trimmed, as cpa-usage keys it: a re-delivered payload folds.
 */
export function spoolEntry(raw: string, salt: string): SpoolEntry | 'malformed' {
  const text = raw.trim()
  let o: Record<string, unknown>
  try {
    o = JSON.parse(text) as Record<string, unknown>
  } catch {
    return 'malformed'
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return 'malformed'
  const e: SpoolEntry = { id: recordId(SOURCE, text) }
  for (const k of [
    'timestamp',
    'model',
    'alias',
    'provider',
    'executor_type',
    'tokens',
    'token_breakdown',
    'failed',
    'auth_index',
  ] as const)
    if (o[k] !== undefined) e[k] = o[k]
  const key = typeof o.api_key === 'string' ? o.api_key.trim() : ''
  if (key) e.key_hash = privacyHash(`cliproxy/api-key\0${key}`, salt)
  return e
}

/** How a provider's `tokens` overlap, as CLIProxyAPI's own accounting reads them (accounting.go). */
type Semantics = 'subset' | 'independent' | 'separate-reasoning' | 'unknown'

export function semanticsOf(provider: unknown, executor: unknown): Semantics {
  const p = typeof provider === 'string' ? provider.trim().toLowerCase() : ''
  const x = typeof executor === 'string' ? executor.trim().toLowerCase() : ''
  const v = `${p} ${x}`.trim()
  if (v === '' || v === 'unknown' || v === 'unknown unknown') return 'unknown'
  if (x === 'openaicompatexecutor' || p === 'openai-compatibility' || p.startsWith('openai-compatible-'))
    return 'subset'
  if (v.includes('claude') || v.includes('anthropic')) return 'independent'
  if (['gemini', 'aistudio', 'antigravity', 'vertex', 'interaction'].some((m) => v.includes(m)))
    return 'separate-reasoning'
  if (['openai', 'codex', 'xai', 'grok', 'kimi', 'qwen', 'deepseek', 'openrouter'].some((m) => v.includes(m)))
    return 'subset'
  return 'unknown'
}

interface Buckets {
  input: number
  output: number
  cacheWrite: number
  cacheRead: number
  reasoning: number
}

/** v2 `token_breakdown` when CLIProxyAPI classified every token (quality complete, sums consistent). */
function fromBreakdown(b: unknown): Buckets | null {
  if (!b || typeof b !== 'object') return null
  const o = b as Record<string, Record<string, unknown> | unknown>
  if (o.quality !== 'complete' || o.schema_version !== 2) return null
  const i = (o.input ?? {}) as Record<string, unknown>
  const out = (o.output ?? {}) as Record<string, unknown>
  const r: Buckets = {
    input: count(i.uncached_tokens),
    cacheRead: count(i.cache_read_tokens),
    cacheWrite: count(i.cache_write_tokens),
    output: count(out.total_tokens),
    reasoning: count(out.reasoning_tokens),
  }
  // Its own invariants (TokenBreakdown.Valid); a breakdown that breaks them is not trusted.
  if (count(i.total_tokens) !== r.input + r.cacheRead + r.cacheWrite) return null
  if (r.output !== count(out.non_reasoning_tokens) + r.reasoning) return null
  return r
}

/**
 * The legacy `tokens` object (every version; the only one before v7) read with the provider's
 * semantics: OpenAI-style input includes cache reads and writes (and output includes reasoning),
 * Claude's input excludes them, Gemini's input includes cache and reasoning is outside output.
 * A provider CLIProxyAPI does not classify is read as OpenAI-style, clamped (never more tokens
 * than it reported). `cache_read_tokens` (v7) wins over the older `cached_tokens`.
 */
function fromTokens(t: unknown, provider: unknown, executor: unknown): Buckets {
  const o = (t && typeof t === 'object' ? t : {}) as Record<string, unknown>
  const input = count(o.input_tokens)
  const output = count(o.output_tokens)
  const reasoning = count(o.reasoning_tokens)
  const cacheRead =
    o.cache_read_tokens_present === true || count(o.cache_read_tokens) > 0
      ? count(o.cache_read_tokens)
      : count(o.cached_tokens)
  const cacheWrite = count(o.cache_creation_tokens)
  const total = count(o.total_tokens)
  const s = semanticsOf(provider, executor)
  let r: Buckets
  if (s === 'independent') r = { input, output: output + reasoning, cacheRead, cacheWrite, reasoning }
  else {
    const read = Math.min(cacheRead, input)
    const write = Math.min(cacheWrite, input - read)
    r = {
      input: input - read - write,
      cacheRead: read,
      cacheWrite: write,
      output: s === 'separate-reasoning' ? output + reasoning : output,
      reasoning,
    }
  }
  // Only a total, no bucket (an unclassified provider's lower bound): counted as input.
  if (r.input + r.output + r.cacheRead + r.cacheWrite === 0 && total > 0) r.input = total
  return r
}

/** The ledger record of a spooled entry, or 'malformed' when it has no valid time. */
export function cliproxyRecord(e: SpoolEntry, salt: string): LedgerRecord | 'malformed' {
  const ts = normaliseTs(e.timestamp)
  if (!ts || typeof e.id !== 'string' || !/^[0-9a-f]{32}$/.test(e.id)) return 'malformed'
  const name = (v: unknown) => (typeof v === 'string' ? v.trim() : '')
  const model = name(e.alias) || name(e.model) || 'unknown'
  const b = fromBreakdown(e.token_breakdown) ?? fromTokens(e.tokens, e.provider, e.executor_type)
  const r: LedgerRecord = {
    v: 1,
    id: e.id,
    ts,
    source: SOURCE,
    model: intern(model.slice(0, 200)),
    input: b.input,
    output: b.output,
    cacheWrite: b.cacheWrite,
    cacheRead: b.cacheRead,
  }
  if (b.reasoning && b.reasoning <= b.output) r.reasoning = b.reasoning
  const auth = name(e.auth_index)
  if (auth) r.session = privacyHash(`cliproxy/auth\0${auth}`, salt)
  if (typeof e.key_hash === 'string' && /^[0-9a-f]{16}$/.test(e.key_hash)) r.project = e.key_hash
  if (e.failed === true) r.failed = true
  return r
}

/** Adds a spooled entry to the batch, with this machine's names for its hashes (never the key). */
export function addEntry(batch: Batch, e: SpoolEntry, salt: string): void {
  const r = cliproxyRecord(e, salt)
  if (r === 'malformed') {
    batch.malformed++
    return
  }
  const provider = typeof e.provider === 'string' && e.provider.trim() ? e.provider.trim() : 'cliproxy'
  batch.names(
    r,
    r.project ? `cliproxy key ${r.project.slice(0, 8)}` : undefined,
    r.session ? `${provider} auth ${String(e.auth_index).trim()}` : undefined,
  )
  batch.add(r)
}
