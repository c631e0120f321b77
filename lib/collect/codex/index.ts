/**
 * Codex rollouts (DESIGN §5, fixtures/FORMATS.md §2): usage is in `token_count` events; the
 * model comes from the latest `turn_context`. Re-emitted events (total did not advance) and
 * the parent history a fork replays at its top are not counted again; that copy ends at the
 * fork's first own `turn_context`, or at its first `token_count` after the copy burst.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { Env } from '../../env.js'
import { intern, normaliseTs, privacyHash, recordId, type LedgerRecord } from '../../ledger/record.js'
import { findJsonl, looksLikeJsonObject, parseObjectLine } from '../files.js'
import { envDirs, tokenCount as num, type Batch, type LinesSource } from '../types.js'
import { accountHash, makeReading, UNKNOWN_ACCOUNT } from '../../ledger/limits.js'

export const SOURCE = 'codex'

/** [input_tokens, cached_input_tokens, output_tokens, reasoning_output_tokens] */
type Counts = [number, number, number, number]

/** What a file's earlier lines taught us; kept in its cursor between runs. */
export interface CodexCtx {
  session: string
  cwd: string
  model: string
  /** The running total the next event is compared with. */
  prev: Counts | null
  /** In a fork, lines are replayed parent history until the fork's first own turn. */
  replay: boolean
  forkIdMs: number | null
  firstLineMs: number
  lines: number
  /**
   * In a fork: the timestamp of the copy burst's latest line (the copied parent history is
   * written within milliseconds from line 2 on), and whether a line came ≥ 1 s after it.
   */
  burstMs?: number
  burstOver?: boolean
}

/** A pause this long between two lines of a fork ends the copied block. */
const BURST_GAP_MS = 1000

const newCtx = (): CodexCtx => ({
  session: '',
  cwd: '',
  model: 'unknown',
  prev: null,
  replay: false,
  forkIdMs: null,
  firstLineMs: 0,
  lines: 0,
})

function counts(u: unknown): Counts | null {
  if (!u || typeof u !== 'object') return null
  const o = u as Record<string, unknown>
  return [num(o.input_tokens), num(o.cached_input_tokens), num(o.output_tokens), num(o.reasoning_output_tokens)]
}

const same = (a: Counts, b: Counts) => a[0] === b[0] && a[1] === b[1] && a[2] === b[2] && a[3] === b[3]

/** Milliseconds in a UUIDv7's 48-bit prefix, or null for other UUIDs. */
export function uuidV7Ms(id: unknown): number | null {
  if (typeof id !== 'string' || !/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i.test(id))
    return null
  return parseInt(id.slice(0, 8) + id.slice(9, 13), 16)
}

interface Line {
  timestamp?: unknown
  type?: unknown
  payload?: Record<string, unknown>
}

type TokenInfo = { total_token_usage?: unknown; last_token_usage?: unknown; model?: unknown; model_name?: unknown }

export function codexLine(o: Line, c: CodexCtx, batch: Batch, salt: string, account = UNKNOWN_ACCOUNT): void {
  const p = o.payload
  c.lines++
  const lineMs = typeof o.timestamp === 'string' ? Date.parse(o.timestamp) : NaN
  if (c.lines === 1) {
    c.firstLineMs = Number.isFinite(lineMs) ? lineMs : 0
    if (o.type === 'session_meta' && p) readSessionMeta(c, p)
    return
  }
  if (c.replay && !c.burstOver && Number.isFinite(lineMs)) trackCopyBurst(c, lineMs)
  if (!p) return
  if (o.type === 'turn_context') {
    readTurnContext(c, p, lineMs)
    return
  }
  if (o.type !== 'event_msg' || p.type !== 'token_count') return
  // A replayed parent's readings are older than the fork's own: the newest per window wins anyway.
  if (p.rate_limits && typeof p.rate_limits === 'object')
    limitReadings(p.rate_limits as Record<string, unknown>, o.timestamp, batch, account)
  const info = p.info as TokenInfo | null | undefined
  if (!info || typeof info !== 'object') return
  const r = usageRecord(c, o.timestamp, info, salt)
  if (!r) return
  batch.add(r)
  batch.names(r, c.cwd, c.session)
}

interface RateLimitWindow {
  used_percent?: unknown
  window_minutes?: unknown
  resets_at?: unknown
  resets_in_seconds?: unknown
}

/**
 * The account's limit readings in a `token_count` event's `rate_limits` (DESIGN §4a): `primary`
 * and `secondary`, each classified by its `window_minutes`, never by its name; `resets_at` (Unix
 * seconds) or, in older rollouts, `resets_in_seconds` from the event's time. A window without a
 * length or a percent is no reading.
 */
function limitReadings(rl: Record<string, unknown>, timestamp: unknown, batch: Batch, account: string): void {
  const ts = normaliseTs(timestamp)
  if (!ts) return
  const bucket = typeof rl.limit_id === 'string' && rl.limit_id !== SOURCE ? rl.limit_id : undefined
  for (const key of ['primary', 'secondary']) {
    const w = rl[key] as RateLimitWindow | null | undefined
    if (!w || typeof w !== 'object') continue
    const resetsAt =
      w.resets_at ??
      (typeof w.resets_in_seconds === 'number' && Number.isFinite(w.resets_in_seconds)
        ? Date.parse(ts) + w.resets_in_seconds * 1000
        : undefined)
    const r = makeReading({
      ts,
      source: SOURCE,
      account,
      minutes: w.window_minutes,
      usedPercent: w.used_percent,
      resetsAt,
      plan: rl.plan_type,
      limit: bucket,
    })
    if (r) batch.addReading(r)
  }
}

/**
 * The account a Codex home is logged in with: `auth.json`'s `tokens.account_id` (ChatGPT sign-in),
 * hashed (DESIGN §4a); unknown with an API key or no file. Read once per home and process.
 */
const accounts = new Map<string, string>()
export function codexAccount(home: string): string {
  let a = accounts.get(home)
  if (a === undefined) {
    a = UNKNOWN_ACCOUNT
    try {
      const auth = JSON.parse(fs.readFileSync(path.join(home, 'auth.json'), 'utf8')) as {
        tokens?: { account_id?: unknown }
      }
      const id = auth?.tokens?.account_id
      if (typeof id === 'string' && id) a = accountHash(id)
    } catch {
      /* no sign-in here */
    }
    accounts.set(home, a)
  }
  return a
}

/** Line 1: the session, its directory, and whether it is a fork (its top replays the parent's history). */
function readSessionMeta(c: CodexCtx, p: Record<string, unknown>): void {
  c.session = typeof p.id === 'string' ? p.id : ''
  c.cwd = typeof p.cwd === 'string' ? p.cwd : ''
  const source = p.source as { subagent?: { thread_spawn?: { parent_thread_id?: unknown } } } | undefined
  const parent =
    typeof p.forked_from_id === 'string' && p.forked_from_id
      ? p.forked_from_id
      : source?.subagent?.thread_spawn?.parent_thread_id
  if (typeof parent === 'string' && parent) {
    c.replay = true
    c.forkIdMs = uuidV7Ms(c.session)
  }
}

/** In a fork: the copied block is over at the first pause of ≥ 1 s. */
function trackCopyBurst(c: CodexCtx, lineMs: number): void {
  // Never before line 1's time + 1 s: copied lines that kept an older timestamp stay copies.
  if (c.burstMs === undefined) c.burstMs = lineMs
  if (lineMs >= Math.max(c.burstMs, c.firstLineMs) + BURST_GAP_MS) c.burstOver = true
  else if (lineMs > c.burstMs) c.burstMs = lineMs
}

/** A turn: its model counts from here on; in a fork, the fork's first own turn ends the replay. */
function readTurnContext(c: CodexCtx, p: Record<string, unknown>, lineMs: number): void {
  if (c.replay) {
    const turnMs = uuidV7Ms(p.turn_id)
    const own =
      c.forkIdMs !== null && turnMs !== null
        ? turnMs >= c.forkIdMs
        : Number.isFinite(lineMs) && lineMs >= c.firstLineMs + 1000
    if (own) c.replay = false
  }
  if (typeof p.model === 'string' && p.model) c.model = intern(p.model)
}

/**
 * What a `token_count` event adds: its `last_token_usage`, else the advance of the running
 * total; null for a re-emitted event, a replayed one, or one that adds nothing.
 */
function newUsage(c: CodexCtx, total: Counts | null, last: Counts | null): Counts | null {
  // A fork that writes no turn_context of its own: its first token_count after the copied
  // block (a pause of ≥ 1 s since the block's last line) is its own. Its model is the last
  // one the copied history named (else the event's own, else unknown: priced 0 and warned).
  if (c.replay && c.burstOver) c.replay = false
  if (c.replay) {
    if (total) c.prev = total
    return null
  }
  let use: Counts | null = last
  if (total) {
    const prev = c.prev
    if (prev && same(total, prev)) return null // re-emitted
    const dropped =
      prev !== null && (total[0] < prev[0] || total[1] < prev[1] || total[2] < prev[2] || total[3] < prev[3])
    use =
      last ??
      (dropped ? null : prev ? [total[0] - prev[0], total[1] - prev[1], total[2] - prev[2], total[3] - prev[3]] : total)
    c.prev = total
  }
  if (!use || (use[0] === 0 && use[1] === 0 && use[2] === 0 && use[3] === 0)) return null
  return use
}

/** The ledger record of a `token_count` event, or null when it adds nothing or has no valid time. */
function usageRecord(c: CodexCtx, timestamp: unknown, info: TokenInfo, salt: string): LedgerRecord | null {
  const total = counts(info.total_token_usage)
  const use = newUsage(c, total, counts(info.last_token_usage))
  if (!use) return null
  const ts = normaliseTs(timestamp)
  if (!ts) return null
  const cached = Math.min(use[1], use[0])
  const model =
    c.model !== 'unknown'
      ? c.model
      : typeof info.model === 'string'
        ? info.model
        : typeof info.model_name === 'string'
          ? info.model_name
          : 'unknown'
  const keyCounts = total ?? use
  const nativeKey = `${c.session}:${total ? '' : `${ts}:`}${keyCounts.join(':')}`
  const r: LedgerRecord = {
    v: 1,
    id: recordId(SOURCE, nativeKey),
    ts,
    source: SOURCE,
    model,
    input: use[0] - cached,
    output: use[2],
    cacheWrite: 0,
    cacheRead: cached,
  }
  if (use[3]) r.reasoning = Math.min(use[3], use[2])
  if (c.session) r.session = privacyHash(c.session, salt)
  if (c.cwd) r.project = privacyHash(c.cwd, salt)
  return r
}

/** CODEX_HOME (a comma list, as ccusage reads it), else ~/.codex. */
const codexHomes = (env: Env) => {
  const dirs = envDirs(env, 'CODEX_HOME')
  return dirs.length ? dirs : [path.join(env.userHome, '.codex')]
}

export const codex: LinesSource = {
  name: SOURCE,
  title: 'Codex CLI',
  kind: 'lines',
  envVar: 'CODEX_HOME',
  discover(env: Env) {
    return codexHomes(env).flatMap((home) =>
      ['sessions', 'archived_sessions'].flatMap((d) =>
        findJsonl(path.join(home, d)).map((p) => ({ path: p, root: home })),
      ),
    )
  },
  looksIn(env: Env) {
    return codexHomes(env).flatMap((home) => ['sessions', 'archived_sessions'].map((d) => path.join(home, d)))
  },
  parser(file, ctx, batch, salt) {
    const c: CodexCtx = ctx && typeof ctx === 'object' ? { ...newCtx(), ...(ctx as CodexCtx) } : newCtx()
    const account = codexAccount(file.root)
    return {
      line(line) {
        if (!looksLikeJsonObject(line)) {
          batch.malformed++
          return
        }
        const o = parseObjectLine<Line>(line, batch)
        if (o) codexLine(o, c, batch, salt, account)
      },
      ctx: () => c,
    }
  },
}
