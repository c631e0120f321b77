/**
 * Grok Build CLI (docs/sources.md): `sessions/<url-encoded cwd>/<session>/updates.jsonl`, the
 * session's JSON-RPC updates, appended. A `turn_completed` update carries the turn's usage per
 * model (`usage.modelUsage`, else the turn's totals under the session's current model); one
 * record per (event, model). The same event can be written into more than one session's file
 * (an exported or forked session), so the id is the event's, not the file's.
 * `inputTokens` includes `cachedReadTokens` (and `cacheCreationTokens`); reasoning is inside
 * output. `costUsdTicks` is Grok's own cost, in 1e-10 USD.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { Env } from '../../env.js'
import { intern, normaliseTs, privacyHash, recordId, type LedgerRecord } from '../../ledger/record.js'
import { findJsonl, looksLikeJsonObject, parseObjectLine } from '../files.js'
import { envDirs, tokenCount as count, type Batch, type LinesSource, type SourceFile } from '../types.js'

export const SOURCE = 'grok'
const ENV_VAR = 'GROK_HOME'
const TICKS_PER_USD = 1e10

const str = (v: unknown): string | null => (typeof v === 'string' && v.trim() ? v.trim() : null)

/** GROK_HOME (a comma list), else ~/.grok on every platform (%USERPROFILE%\.grok on Windows). */
const grokHomes = (env: Env) => {
  const dirs = envDirs(env, ENV_VAR)
  return dirs.length ? dirs : [path.join(env.userHome, '.grok')]
}

type Usage = Record<string, unknown> & { modelUsage?: Record<string, Record<string, unknown> | undefined> }
interface UpdateLine {
  timestamp?: unknown
  params?: {
    sessionId?: unknown
    update?: { sessionUpdate?: unknown; usage?: Usage }
    _meta?: { eventId?: unknown; agentTimestampMs?: unknown }
  }
}

/** What `summary.json` beside the updates says: the session id, its directory, the current model. */
interface SessionMeta {
  session: string
  cwd: string
  model: string | null
}

function sessionMeta(file: SourceFile): SessionMeta {
  const dir = path.dirname(file.path)
  let cwd = path.basename(path.dirname(dir))
  try {
    cwd = decodeURIComponent(cwd)
  } catch {
    /* not URL-encoded: the name as it is */
  }
  const meta: SessionMeta = { session: path.basename(dir), cwd, model: null }
  let s: { info?: { id?: unknown; cwd?: unknown }; git_root_dir?: unknown; current_model_id?: unknown }
  try {
    s = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8'))
  } catch {
    return meta
  }
  if (!s || typeof s !== 'object') return meta
  meta.session = str(s.info?.id) ?? meta.session
  meta.cwd = str(s.info?.cwd) ?? str(s.git_root_dir) ?? meta.cwd
  meta.model = str(s.current_model_id)
  return meta
}

/** The agent's own time in ms, else the envelope's Unix seconds; null without either. */
function turnTs(o: UpdateLine): string | null {
  const ms = o.params?._meta?.agentTimestampMs
  if (typeof ms === 'number' && ms > 0) return normaliseTs(Math.floor(ms))
  if (typeof o.timestamp === 'number' && o.timestamp > 0) return normaliseTs(Math.floor(o.timestamp) * 1000)
  return null
}

/** The turn's usage per model: `modelUsage`, else its totals under the session's current model. */
function perModel(u: Usage, fallback: string | null): Array<[string, Record<string, unknown>]> {
  const m = u.modelUsage
  if (m && typeof m === 'object' && !Array.isArray(m)) {
    const rows = Object.entries(m).filter(
      (e): e is [string, Record<string, unknown>] => !!e[1] && typeof e[1] === 'object',
    )
    if (rows.length) return rows.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
  }
  return [[fallback ?? 'unknown', u]]
}

export function grokTurn(o: UpdateLine, meta: SessionMeta, batch: Batch, salt: string): void {
  const p = o.params
  const u = p?.update?.usage
  if (p?.update?.sessionUpdate !== 'turn_completed' || !u || typeof u !== 'object') return
  const ts = turnTs(o)
  if (!ts) {
    batch.malformed++
    return
  }
  const event = str(p._meta?.eventId)
  const session = str(p.sessionId) ?? meta.session
  for (const [rawModel, mu] of perModel(u, meta.model)) {
    const model = rawModel.trim() || 'unknown'
    const inTotal = count(mu.inputTokens)
    const cacheRead = Math.min(count(mu.cachedReadTokens), inTotal)
    const cacheWrite = Math.min(count(mu.cacheCreationTokens), inTotal - cacheRead)
    const input = inTotal - cacheRead - cacheWrite
    const output = count(mu.outputTokens)
    if (input + output + cacheRead + cacheWrite === 0) continue
    const nativeKey = event
      ? `${event}|${model}`
      : `${session}|${ts}|${model}|${input}|${output}|${cacheRead}|${cacheWrite}`
    const r: LedgerRecord = {
      v: 1,
      id: recordId(SOURCE, nativeKey),
      ts,
      source: SOURCE,
      model: intern(model),
      input,
      output,
      cacheWrite,
      cacheRead,
    }
    const reasoning = count(mu.reasoningTokens)
    if (reasoning) r.reasoning = Math.min(reasoning, output)
    const ticks = count(mu.costUsdTicks)
    if (ticks) r.costUSD = ticks / TICKS_PER_USD
    r.session = privacyHash(session, salt)
    if (meta.cwd) r.project = privacyHash(meta.cwd, salt)
    batch.add(r)
    batch.names(r, meta.cwd, session)
  }
}

export const grok: LinesSource = {
  name: SOURCE,
  title: 'Grok Build CLI',
  kind: 'lines',
  envVar: ENV_VAR,
  looksIn(env) {
    return grokHomes(env).map((h) => path.join(h, 'sessions'))
  },
  discover(env) {
    return grokHomes(env).flatMap((home) =>
      findJsonl(path.join(home, 'sessions'))
        .filter((p) => path.basename(p) === 'updates.jsonl')
        .map((p) => ({ path: p, root: home })),
    )
  },
  parser(file, _ctx, batch, salt) {
    let meta: SessionMeta | null = null
    return {
      line(line) {
        if (!looksLikeJsonObject(line)) {
          batch.malformed++
          return
        }
        // Only turn_completed updates carry usage; message chunks and tool calls are not parsed.
        if (line.indexOf('"turn_completed"') < 0) return
        const o = parseObjectLine<UpdateLine>(line, batch)
        if (!o) return
        meta ??= sessionMeta(file)
        grokTurn(o, meta, batch, salt)
      },
      ctx: () => undefined,
    }
  },
}
