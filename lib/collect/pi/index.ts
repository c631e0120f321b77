/**
 * pi-agent sessions (badlogic/pi-mono, packages/coding-agent/src/core/session-manager.ts):
 * `<sessions>/--<cwd>--/<ts>_<uuid>.jsonl`, a `session` header line, then entries appended one a
 * line; an assistant `message` entry carries pi-ai's `usage` (input without cache, cacheRead and
 * cacheWrite apart, output with reasoning inside). A fork (`/fork`, `--fork`) is a new file whose
 * header names `parentSession` and which first copies the parent's entries verbatim (same entry
 * line, same `timestamp`); a v1 session is rewritten in place when pi migrates it (entry ids
 * added). So a record's id is the content both copies share, never the file, the session or the
 * entry id: a copy folds with its original whichever is read first, and counts once when the
 * parent file is gone.
 */
import path from 'node:path'
import type { Env } from '../../env.js'
import { intern, normaliseTs, privacyHash, recordId, type LedgerRecord } from '../../ledger/record.js'
import { findJsonl, looksLikeJsonObject, parseObjectLine } from '../files.js'
import { envDirs, tokenCount as count, type Batch, type LinesSource } from '../types.js'

export const SOURCE = 'pi'
const ENV_VAR = 'PI_AGENT_DIR'

/** One line of a pi (or OpenClaw) session file, as far as usage goes. */
export interface SessionLine {
  type?: unknown
  id?: unknown
  timestamp?: unknown
  cwd?: unknown
  parentSession?: unknown
  message?: {
    role?: unknown
    api?: unknown
    model?: unknown
    modelId?: unknown
    timestamp?: unknown
    usage?: {
      input?: unknown
      output?: unknown
      cacheRead?: unknown
      cacheWrite?: unknown
      totalTokens?: unknown
      cost?: { total?: unknown } | unknown
    }
  }
}

/** What a file's header taught us; kept in its cursor between runs. */
export interface SessionCtx {
  session: string
  cwd: string
  /** In a fork, the header's time: entries dated before it are copies of the parent's. */
  forkMs: number | null
  /** The model the last `model_change` named (OpenClaw's messages may omit theirs). */
  model: string
}

export const newSessionCtx = (): SessionCtx => ({ session: '', cwd: '', forkMs: null, model: '' })

/** The header line: the session, its directory and, in a fork, from when entries are its own. */
export function readHeader(o: SessionLine, c: SessionCtx): void {
  if (typeof o.id === 'string' && o.id) c.session = o.id
  if (typeof o.cwd === 'string' && o.cwd) c.cwd = o.cwd
  const ms = typeof o.timestamp === 'string' ? Date.parse(o.timestamp) : NaN
  c.forkMs = typeof o.parentSession === 'string' && o.parentSession && Number.isFinite(ms) ? ms : null
}

/** pi-ai's providers that store Gemini's cache-inclusive promptTokenCount as `input` (google.ts, google-vertex.ts). */
const CACHE_IN_INPUT_APIS = new Set(['google-generative-ai', 'google-vertex'])

export interface Usage {
  input: number
  output: number
  cacheWrite: number
  cacheRead: number
  costUSD?: number
}

/**
 * The ledger's buckets of a pi-ai `usage`, or null when it holds no tokens. Two corrections:
 * - pi-ai's Gemini providers put promptTokenCount, which includes the cached tokens, into
 *   `input` and the same cached tokens into `cacheRead`; their `totalTokens` (Gemini's own)
 *   then falls short of the buckets' sum, which is how such a record is told from one of a
 *   later pi-ai that subtracts them. The cached tokens leave `input`, and pi's cost, computed
 *   over the doubled input, is not kept.
 * - Tokens `totalTokens` shows but no bucket explains are output (ccusage's total fallback:
 *   output when it is 0, else its `extra`, which its totalTokens includes).
 */
export function usageOf(message: NonNullable<SessionLine['message']>): Usage | null {
  const u = message.usage
  if (!u || typeof u !== 'object') return null
  let input = count(u.input)
  let output = count(u.output)
  const cacheRead = count(u.cacheRead)
  const cacheWrite = count(u.cacheWrite)
  const total = count(u.totalTokens)
  const cost = u.cost && typeof u.cost === 'object' ? (u.cost as { total?: unknown }).total : undefined
  let costUSD = typeof cost === 'number' && Number.isFinite(cost) && cost > 0 ? cost : undefined
  if (
    CACHE_IN_INPUT_APIS.has(message.api as string) &&
    cacheRead > 0 &&
    total > 0 &&
    input >= cacheRead &&
    input + output + cacheRead + cacheWrite > total
  ) {
    input -= cacheRead
    costUSD = undefined
  }
  const sum = input + output + cacheRead + cacheWrite
  if (total > sum) output += total - sum
  if (input + output + cacheRead + cacheWrite === 0) return null
  return costUSD === undefined
    ? { input, output, cacheWrite, cacheRead }
    : { input, output, cacheWrite, cacheRead, costUSD }
}

/**
 * What every copy of one assistant entry shares: the entry's and the message's times and the
 * raw usage. Not the session (a fork's copy is in another), not the entry id (pi's v1→v2
 * migration adds ids to a written file), not the file (OpenClaw renames it).
 */
export function contentKey(o: SessionLine): string {
  const m = o.message!
  const u = m.usage as Record<string, unknown>
  return [
    typeof o.timestamp === 'string' ? o.timestamp : '',
    typeof m.timestamp === 'string' || typeof m.timestamp === 'number' ? m.timestamp : '',
    count(u.input),
    count(u.output),
    count(u.cacheRead),
    count(u.cacheWrite),
    count(u.totalTokens),
  ].join('|')
}

/**
 * The record of an assistant entry dated `ts` under `model`. A fork's copy of its parent's
 * entry carries no session or project: it is the parent's usage, and without them it loses to
 * the parent's own copy of the same id in every run (DESIGN §4: equal totals and times, the
 * smaller canonical line wins) while still counting once when the parent file is gone.
 */
export function sessionRecord(
  source: string,
  o: SessionLine,
  c: SessionCtx,
  ts: string,
  model: string,
  salt: string,
): LedgerRecord | null {
  const use = usageOf(o.message!)
  if (!use) return null
  const r: LedgerRecord = {
    v: 1,
    id: recordId(source, contentKey(o)),
    ts,
    source,
    model: intern(model),
    input: use.input,
    output: use.output,
    cacheWrite: use.cacheWrite,
    cacheRead: use.cacheRead,
  }
  if (use.costUSD !== undefined) r.costUSD = use.costUSD
  const copy = c.forkMs !== null && Date.parse(typeof o.timestamp === 'string' ? o.timestamp : ts) < c.forkMs
  if (!copy) {
    if (c.session) r.session = privacyHash(c.session, salt)
    if (c.cwd) r.project = privacyHash(c.cwd, salt)
  }
  return r
}

/** `2026-11-19T10-00-00-000Z_<uuid>.jsonl` → the uuid (the header's id, when a file has none). */
const sessionOfFile = (file: string) => {
  const stem = path.basename(file, '.jsonl')
  const at = stem.indexOf('_')
  return at >= 0 ? stem.slice(at + 1) : stem
}

export function piLine(o: SessionLine, c: SessionCtx, batch: Batch, salt: string): void {
  if (o.type === 'session') {
    readHeader(o, c)
    return
  }
  // pi v1 wrote message entries without a type; ccusage reads those too.
  if (o.type !== undefined && o.type !== 'message') return
  const m = o.message
  if (!m || typeof m !== 'object' || m.role !== 'assistant' || !m.usage) return
  const ts = normaliseTs(o.timestamp)
  if (!ts) return
  const model = typeof m.model === 'string' && m.model ? m.model : 'unknown'
  const r = sessionRecord(SOURCE, o, c, ts, model, salt)
  if (!r) return
  batch.add(r)
  batch.names(r, c.cwd, c.session)
}

/** `~` and `~/…` as pi expands them in PI_CODING_AGENT_DIR. */
const expandHome = (env: Env, p: string) =>
  p === '~' ? env.userHome : p.startsWith('~/') ? path.join(env.userHome, p.slice(2)) : path.resolve(env.cwd, p)

/**
 * PI_AGENT_DIR (ccusage's: the sessions directories, a comma list), else pi's own agent dir
 * (PI_CODING_AGENT_DIR) and ~/.pi/agent, each with `sessions/` (pi takes os.homedir() on every OS).
 */
function sessionDirs(env: Env): string[] {
  const dirs = envDirs(env, ENV_VAR)
  if (dirs.length) return dirs
  const own = env.vars.PI_CODING_AGENT_DIR
  const agentDirs = [...(own ? [expandHome(env, own)] : []), path.join(env.userHome, '.pi', 'agent')]
  return [...new Set(agentDirs.map((d) => path.join(d, 'sessions')))]
}

export const pi: LinesSource = {
  name: SOURCE,
  title: 'pi-agent',
  kind: 'lines',
  envVar: ENV_VAR,
  looksIn: sessionDirs,
  discover(env) {
    return sessionDirs(env).flatMap((root) => findJsonl(root).map((p) => ({ path: p, root })))
  },
  parser(file, ctx, batch, salt) {
    const c: SessionCtx =
      ctx && typeof ctx === 'object'
        ? { ...newSessionCtx(), ...(ctx as SessionCtx) }
        : { ...newSessionCtx(), session: sessionOfFile(file.path) }
    return {
      line(line) {
        if (!looksLikeJsonObject(line)) {
          batch.malformed++
          return
        }
        const o = parseObjectLine<SessionLine>(line, batch)
        if (o) piLine(o, c, batch, salt)
      },
      ctx: () => c,
    }
  },
}
