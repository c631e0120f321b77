/**
 * GitHub Copilot CLI (docs/sources.md): two append-only kinds of file under each Copilot home.
 * - `session-state/<session>/events.jsonl`: `session.shutdown` events carry per-model running
 *   totals (`data.modelMetrics`), one more event per resume. Cumulative counters
 *   (collect/counters.ts): each event becomes what it added per model since the previous one
 *   in the same file.
 * - OpenTelemetry JSONL (`otel/**.jsonl`, or the file COPILOT_OTEL_FILE_EXPORTER_PATH names):
 *   per-call `chat` spans, and lower-priority copies of the same calls (inference and agent-turn
 *   logs, `invoke_agent` summary spans) that count only when no higher copy of their trace or
 *   response was seen.
 * Both describe the same calls when both are on. Session-state is always written, so it is the
 * record of a session: an OTel row of a session that has a session-state directory in the same
 * home is not counted (DESIGN §5; ccusage drops those rows only up to the session's latest
 * shutdown, which in an append-only ledger would count a resumed session's calls twice).
 * `inputTokens` includes cache reads and writes; reasoning is inside output.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { Env } from '../../env.js'
import { intern, normaliseTs, privacyHash, recordId, type LedgerRecord } from '../../ledger/record.js'
import { Counters, type CountersCtx, type Totals } from '../counters.js'
import { findJsonl, looksLikeJsonObject, parseObjectLine } from '../files.js'
import { envDirs, tokenCount as count, type Batch, type LinesSource, type SourceFile } from '../types.js'

export const SOURCE = 'copilot'
const ENV_VAR = 'COPILOT_HOME'
const OTEL_FILE_VAR = 'COPILOT_OTEL_FILE_EXPORTER_PATH'

const str = (v: unknown): string | null => (typeof v === 'string' && v.trim() ? v.trim() : null)

/** COPILOT_HOME (a comma list), else ~/.copilot on every platform (%USERPROFILE%\.copilot on Windows). */
const copilotHomes = (env: Env) => {
  const dirs = envDirs(env, ENV_VAR)
  return dirs.length ? dirs : [path.join(env.userHome, '.copilot')]
}

/** The one OTel file COPILOT_OTEL_FILE_EXPORTER_PATH names, as ccusage reads it. */
const otelFile = (env: Env) => {
  const v = env.vars[OTEL_FILE_VAR]?.trim()
  return v ? path.resolve(env.cwd, v) : null
}

/** `session-state/<session>/events.jsonl`, exactly that depth. */
function sessionStateFiles(home: string): string[] {
  const dir = path.join(home, 'session-state')
  let entries: fs.Dirent[]
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true })
  } catch {
    return []
  }
  const out: string[] = []
  for (const e of entries) {
    if (!e.isDirectory()) continue
    const p = path.join(dir, e.name, 'events.jsonl')
    if (fs.existsSync(p)) out.push(p)
  }
  return out
}

// ---- session-state ---------------------------------------------------------------------------

interface SessionEvent {
  type?: unknown
  id?: unknown
  timestamp?: unknown
  data?: {
    context?: { cwd?: unknown }
    modelMetrics?: Record<string, { usage?: Record<string, unknown> } | undefined>
  }
}

/** A session-state file's cursor ctx: each model's totals so far, and the session's directory. */
interface SessionCtx {
  totals: CountersCtx
  cwd: string
}

/** One `session.shutdown` event: per model, what its totals added since the previous event. */
function shutdownRecords(
  o: SessionEvent,
  session: string,
  cwd: string,
  counters: Counters,
  batch: Batch,
  salt: string,
): void {
  const ts = normaliseTs(o.timestamp)
  const metrics = o.data?.modelMetrics
  if (!ts || !metrics || typeof metrics !== 'object') return
  const event = str(o.id) ?? ts
  for (const [rawModel, m] of Object.entries(metrics)) {
    const model = rawModel.trim()
    const u = m?.usage
    if (!model || !u || typeof u !== 'object') continue
    const cacheRead = count(u.cacheReadTokens)
    const cacheWrite = count(u.cacheWriteTokens)
    const totals: Totals = [
      Math.max(0, count(u.inputTokens) - cacheRead - cacheWrite),
      count(u.outputTokens),
      cacheWrite,
      cacheRead,
      count(u.reasoningTokens),
    ]
    const d = counters.advance(model, totals)
    if (!d || d[0] + d[1] + d[2] + d[3] === 0) continue
    const r: LedgerRecord = {
      v: 1,
      id: recordId(SOURCE, `${session}:${event}:${model}`),
      ts,
      source: SOURCE,
      model: intern(model),
      input: d[0],
      output: d[1],
      cacheWrite: d[2],
      cacheRead: d[3],
      session: privacyHash(session, salt),
    }
    if (d[4]) r.reasoning = Math.min(d[4], d[1])
    if (cwd) r.project = privacyHash(cwd, salt)
    batch.add(r)
    batch.names(r, cwd, session)
  }
}

// ---- OpenTelemetry ---------------------------------------------------------------------------

type Attrs = Record<string, unknown>
interface OtelLine {
  type?: unknown
  name?: unknown
  traceId?: unknown
  spanId?: unknown
  spanContext?: { traceId?: unknown; spanId?: unknown }
  startTime?: unknown
  endTime?: unknown
  duration?: unknown
  kind?: unknown
  hrTime?: unknown
  _hrTime?: unknown
  time?: unknown
  timestamp?: unknown
  observedTimestamp?: unknown
  timeUnixNano?: unknown
  body?: unknown
  _body?: unknown
  attributes?: Attrs
}

/** Copies of one call, best first: a chat span, an inference log, an agent-turn log, an agent summary span. */
const Kind = { Summary: 0, AgentTurn: 1, Inference: 2, Chat: 3 } as const
type Kind = (typeof Kind)[keyof typeof Kind]

/** What earlier lines of an OTel file taught: per trace (or response), its best copy and context. */
export interface OtelCtx {
  best: Record<string, Kind>
  traces: Record<string, { model?: string; session?: string; priority?: number }>
}
/** Traces remembered per file: a call's copies lie close together; older ones are forgotten. */
const MAX_REMEMBERED = 256

const SESSION_ATTRS: Array<[string, number]> = [
  ['gen_ai.conversation.id', 3],
  ['copilot_chat.session_id', 3],
  ['copilot_chat.chat_session_id', 3],
  ['session.id', 3],
  ['github.copilot.interaction_id', 2],
  ['gen_ai.response.id', 1],
]

/** The session attribute of highest priority (the last of equals, as ccusage picks it). */
function sessionAttr(a: Attrs): [string, number] | null {
  let best: [string, number] | null = null
  for (const [k, p] of SESSION_ATTRS) {
    const v = str(a[k])
    if (v && (!best || p >= best[1])) best = [v, p]
  }
  return best
}

const modelAttr = (a: Attrs) => str(a['gen_ai.response.model']) ?? str(a['gen_ai.request.model'])
const firstCount = (a: Attrs, keys: string[]) => keys.map((k) => count(a[k])).find((n) => n > 0) ?? 0

function isSpan(o: OtelLine): boolean {
  if (typeof o.type === 'string') return o.type === 'span'
  return (
    str(o.name) !== null &&
    (str(o.spanId) !== null ||
      str(o.traceId) !== null ||
      o.startTime !== undefined ||
      o.endTime !== undefined ||
      o.duration !== undefined ||
      o.kind !== undefined)
  )
}

function kindOf(o: OtelLine, a: Attrs): Kind | null {
  const op = str(a['gen_ai.operation.name'])
  const name = str(o.name) ?? ''
  if (isSpan(o)) {
    if (op === 'chat' || name.startsWith('chat ')) return Kind.Chat
    if (op === 'invoke_agent' || name.startsWith('invoke_agent ')) return Kind.Summary
    return null
  }
  const event = str(a['event.name'])
  const body = str(o.body) ?? str(o._body) ?? ''
  if (event === 'gen_ai.client.inference.operation.details' || body.startsWith('GenAI inference:'))
    return Kind.Inference
  if (event === 'copilot_chat.agent.turn' || body.startsWith('copilot_chat.agent.turn')) return Kind.AgentTurn
  return null
}

/** `[seconds, nanos]`, an epoch scalar in s/ms/µs/ns, or `timeUnixNano`, as ccusage reads them. */
function otelTs(o: OtelLine): string | null {
  const parts = (v: unknown) =>
    Array.isArray(v) && v.length >= 2 && typeof v[0] === 'number' && typeof v[1] === 'number'
      ? v[0] * 1000 + Math.floor(v[1] / 1e6)
      : null
  const scalar = (v: unknown) => {
    const n = typeof v === 'string' ? Number(v) : v
    if (typeof n !== 'number' || !Number.isFinite(n) || n <= 0) return null
    return n >= 1e17 ? n / 1e6 : n >= 1e14 ? n / 1e3 : n >= 1e11 ? n : n * 1000
  }
  const nanos = (v: unknown) => {
    const n = typeof v === 'string' ? Number(v) : v
    return typeof n === 'number' && Number.isFinite(n) && n > 0 ? n / 1e6 : null
  }
  const ms =
    parts(o.endTime) ??
    parts(o.startTime) ??
    parts(o.hrTime) ??
    parts(o._hrTime) ??
    parts(o.time) ??
    scalar(o.timestamp) ??
    scalar(o.observedTimestamp) ??
    nanos(o.timeUnixNano)
  return ms === null ? null : normaliseTs(Math.floor(ms))
}

function remember(c: OtelCtx, key: string, kind: Kind): void {
  if (!(key in c.best)) {
    const keys = Object.keys(c.best)
    if (keys.length >= MAX_REMEMBERED) delete c.best[keys[0]!]
  }
  c.best[key] = Math.max(c.best[key] ?? Kind.Summary, kind) as Kind
}

function traceContext(c: OtelCtx, trace: string | null, a: Attrs) {
  if (!trace) return undefined
  let t = c.traces[trace]
  if (!t) {
    const keys = Object.keys(c.traces)
    if (keys.length >= MAX_REMEMBERED) delete c.traces[keys[0]!]
    t = c.traces[trace] = {}
  }
  const model = modelAttr(a)
  if (!t.model && model) t.model = model
  const s = sessionAttr(a)
  if (s && s[1] > (t.priority ?? 0)) {
    t.session = s[0]
    t.priority = s[1]
  }
  return t
}

function otelRecord(
  o: OtelLine,
  lineKey: string,
  c: OtelCtx,
  hasSessionState: (session: string) => boolean,
  batch: Batch,
  salt: string,
): void {
  const a = o.attributes
  if (!a || typeof a !== 'object') return
  const trace = str(o.traceId) ?? str(o.spanContext?.traceId)
  const span = str(o.spanId) ?? str(o.spanContext?.spanId)
  const tctx = traceContext(c, trace, a)
  const kind = kindOf(o, a)
  if (kind === null) return
  const response = str(a['gen_ai.response.id'])
  // A lower copy of a call counts only when no better copy of its trace or response came first.
  const outranked = [trace && `t:${trace}`, response && `r:${response}`].some((k) => k && (c.best[k] ?? -1) > kind)
  if (trace) remember(c, `t:${trace}`, kind)
  if (response) remember(c, `r:${response}`, kind)
  if (outranked) return

  const cacheRead = count(a['gen_ai.usage.cache_read.input_tokens'])
  const cacheWrite = firstCount(a, [
    'gen_ai.usage.cache_write.input_tokens',
    'gen_ai.usage.cache_creation.input_tokens',
  ])
  const input = Math.max(0, count(a['gen_ai.usage.input_tokens']) - cacheRead - cacheWrite)
  let output = count(a['gen_ai.usage.output_tokens'])
  const reasoning = firstCount(a, ['gen_ai.usage.reasoning.output_tokens', 'gen_ai.usage.reasoning_tokens'])
  const total = firstCount(a, ['gen_ai.usage.total_tokens', 'gen_ai.usage.total.token_count'])
  // A total beyond the buckets is output the buckets did not name (reasoning reported apart).
  const missing = total - (input + output + cacheRead + cacheWrite)
  if (missing > 0) output += missing
  if (input + output + cacheRead + cacheWrite === 0) return
  const ts = otelTs(o)
  if (!ts) return
  const model = modelAttr(a) ?? tctx?.model ?? 'unknown'
  const session = sessionAttr(a)?.[0] ?? tctx?.session ?? trace ?? 'unknown-session'
  if (hasSessionState(session)) return

  let nativeKey: string
  if (kind === Kind.Chat && response)
    nativeKey = `chat:${response}:${model}:${input}:${output}:${cacheWrite}:${cacheRead}`
  else if (trace && span) nativeKey = `${kind}:${trace}:${span}`
  else if (kind === Kind.AgentTurn && trace)
    nativeKey = `turn:${trace}:${count(a['turn.index'] ?? a['copilot_chat.turn.index'])}`
  else nativeKey = lineKey
  const r: LedgerRecord = {
    v: 1,
    id: recordId(SOURCE, `otel:${nativeKey}`),
    ts,
    source: SOURCE,
    model: intern(model),
    input,
    output,
    cacheWrite,
    cacheRead,
    session: privacyHash(session, salt),
  }
  if (reasoning) r.reasoning = Math.min(reasoning, output)
  batch.add(r)
  batch.names(r, undefined, session)
}

// ---- the source ------------------------------------------------------------------------------

const isSessionState = (file: SourceFile) =>
  path.basename(file.path) === 'events.jsonl' &&
  path.basename(path.dirname(path.dirname(file.path))) === 'session-state'

export const copilot: LinesSource = {
  name: SOURCE,
  title: 'GitHub Copilot CLI',
  kind: 'lines',
  envVar: ENV_VAR,
  looksIn(env) {
    const places = copilotHomes(env).flatMap((h) => [path.join(h, 'session-state'), path.join(h, 'otel')])
    const f = otelFile(env)
    return f ? [...places, f] : places
  },
  discover(env) {
    const homes = copilotHomes(env)
    const files: SourceFile[] = []
    const seen = new Set<string>()
    const add = (p: string, root: string) => {
      if (!seen.has(p)) {
        seen.add(p)
        files.push({ path: p, root })
      }
    }
    for (const home of homes) {
      for (const p of sessionStateFiles(home)) add(p, home)
      for (const p of findJsonl(path.join(home, 'otel'))) add(p, home)
    }
    const f = otelFile(env)
    if (f && fs.existsSync(f)) add(f, homes[0]!)
    return files
  },
  parser(file, ctx, batch, salt) {
    if (isSessionState(file)) {
      const session = path.basename(path.dirname(file.path))
      const prev = ctx && typeof ctx === 'object' ? (ctx as Partial<SessionCtx>) : {}
      const counters = new Counters(prev.totals)
      let cwd = typeof prev.cwd === 'string' ? prev.cwd : ''
      return {
        line(line) {
          if (!looksLikeJsonObject(line)) {
            batch.malformed++
            return
          }
          // Only the start (the directory) and shutdowns (usage) matter; the transcript is not parsed.
          const shutdown = line.indexOf('"session.shutdown"') >= 0
          if (!shutdown && (cwd || line.indexOf('"session.start"') < 0)) return
          const o = parseObjectLine<SessionEvent>(line, batch)
          if (o?.type === 'session.start') cwd = str(o.data?.context?.cwd) ?? cwd
          else if (o?.type === 'session.shutdown') shutdownRecords(o, session, cwd, counters, batch, salt)
        },
        ctx: (): SessionCtx => ({ totals: counters.reached, cwd }),
      }
    }
    const prev = ctx && typeof ctx === 'object' ? (ctx as Partial<OtelCtx>) : {}
    const c: OtelCtx = { best: { ...prev.best }, traces: { ...prev.traces } }
    const rel = path.relative(file.root, file.path).split(path.sep).join('/')
    const known = new Map<string, boolean>()
    const hasSessionState = (session: string) => {
      let v = known.get(session)
      if (v === undefined) {
        v = /^[\w.-]+$/.test(session) && fs.existsSync(path.join(file.root, 'session-state', session))
        known.set(session, v)
      }
      return v
    }
    return {
      line(line, offset) {
        if (!looksLikeJsonObject(line)) {
          batch.malformed++
          return
        }
        if (line.indexOf('"attributes"') < 0) return
        const o = parseObjectLine<OtelLine>(line, batch)
        if (o) otelRecord(o, `${rel}@${offset}`, c, hasSessionState, batch, salt)
      },
      ctx: () => c,
    }
  },
}
