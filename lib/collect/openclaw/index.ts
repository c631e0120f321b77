/**
 * OpenClaw (formerly clawdbot, moltbot) transcripts: `<state>/agents/<agent>/sessions/<id>.jsonl`,
 * written by pi's SessionManager, so the lines are pi's (collect/pi): a `session` header, then
 * entries; an assistant `message` carries pi-ai's `usage`, its model (else the last `model_change`
 * or `model-snapshot` names it) and its own `timestamp` in ms. A reset or deleted session is
 * renamed to `<id>.jsonl.reset.<ts>` / `<id>.jsonl.deleted.<ts>`, and thread sessions of older
 * versions were pi forks that copy the parent's assistant entries: the id is the entry's content
 * (pi's `contentKey`), so a renamed or copied entry folds with the one already read.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { Env } from '../../env.js'
import { normaliseTs } from '../../ledger/record.js'
import { findFiles, looksLikeJsonObject, parseObjectLine } from '../files.js'
import { newSessionCtx, readHeader, sessionRecord, type SessionCtx, type SessionLine } from '../pi/index.js'
import { envDirs, type Batch, type LinesSource, type SourceFile } from '../types.js'

export const SOURCE = 'openclaw'
const ENV_VAR = 'OPENCLAW_DIR'

/** The lines that name a model for the messages after them. */
interface ModelLine {
  type?: unknown
  customType?: unknown
  modelId?: unknown
  model?: unknown
  data?: { modelId?: unknown; model?: unknown }
}

const str = (v: unknown) => (typeof v === 'string' && v ? v : '')

export function openclawLine(o: SessionLine & ModelLine, c: SessionCtx, batch: Batch, salt: string): void {
  if (o.type === 'session') {
    readHeader(o, c)
    return
  }
  if (o.type === 'model_change' || (o.type === 'custom' && o.customType === 'model-snapshot')) {
    const from = o.type === 'custom' && o.data && typeof o.data === 'object' ? o.data : o
    const model = str(from.modelId) || str(from.model)
    if (model) c.model = model
    return
  }
  if (o.type !== 'message') return
  const m = o.message
  if (!m || typeof m !== 'object' || m.role !== 'assistant' || !m.usage) return
  // The message's own time (ms) first, as ccusage; the entry's line time after it.
  const ts = normaliseTs(m.timestamp) ?? normaliseTs(o.timestamp)
  if (!ts) return
  const model = str(m.modelId) || str(m.model) || c.model || 'unknown'
  const r = sessionRecord(SOURCE, o, c, ts, model, salt)
  if (!r) return
  batch.add(r)
  batch.names(r, c.cwd, c.session)
}

/** `<id>.jsonl`, `<id>.jsonl.reset.<ts>`, `<id>.jsonl.deleted.<ts>` → `<id>`; null for other files. */
export function sessionOfFile(name: string): string | null {
  const at = name.indexOf('.jsonl')
  if (at <= 0) return null
  const rest = name.slice(at)
  return rest === '.jsonl' || rest.startsWith('.jsonl.reset.') || rest.startsWith('.jsonl.deleted.')
    ? name.slice(0, at)
    : null
}

/**
 * OPENCLAW_DIR (a comma list), else OpenClaw's state dir (OPENCLAW_STATE_DIR, ~ expanded) and
 * the homes of its names so far, each on every OS under os.homedir().
 */
export function stateDirs(env: Env): string[] {
  const dirs = envDirs(env, ENV_VAR)
  if (dirs.length) return dirs
  const own = env.vars.OPENCLAW_STATE_DIR?.trim()
  const ownDir = own
    ? own === '~' || own.startsWith('~/')
      ? path.join(env.userHome, own.slice(1))
      : path.resolve(env.cwd, own)
    : null
  const homes = ['.openclaw', '.clawdbot', '.moltbot', '.moldbot'].map((d) => path.join(env.userHome, d))
  return [...new Set([...(ownDir ? [ownDir] : []), ...homes])]
}

/** A transcript file; symlinks are not followed (ccusage skips them too). */
const isTranscript = (name: string, e: fs.Dirent) => e.isFile() && sessionOfFile(name) !== null

export const openclaw: LinesSource = {
  name: SOURCE,
  title: 'OpenClaw',
  kind: 'lines',
  envVar: ENV_VAR,
  looksIn: stateDirs,
  /**
   * Only where OpenClaw keeps transcripts, `agents/<agent>/sessions/` (and the single-agent
   * `sessions/` of its first versions): the state dir also holds the agents' workspaces, whole
   * repositories that ccusage walks through too.
   */
  discover(env) {
    const files: SourceFile[] = []
    for (const root of stateDirs(env)) {
      const found: string[] = []
      findFiles(path.join(root, 'sessions'), isTranscript, found)
      let agents: fs.Dirent[] = []
      try {
        agents = fs.readdirSync(path.join(root, 'agents'), { withFileTypes: true })
      } catch {}
      for (const a of agents)
        if (a.isDirectory()) findFiles(path.join(root, 'agents', a.name, 'sessions'), isTranscript, found)
      for (const p of found) files.push({ path: p, root })
    }
    return files
  },
  parser(file, ctx, batch, salt) {
    const c: SessionCtx =
      ctx && typeof ctx === 'object'
        ? { ...newSessionCtx(), ...(ctx as SessionCtx) }
        : // The header's id, else the name before `.jsonl` (ccusage's session; the same in OpenClaw's own files).
          { ...newSessionCtx(), session: sessionOfFile(path.basename(file.path)) ?? '' }
    return {
      line(line) {
        if (!looksLikeJsonObject(line)) {
          batch.malformed++
          return
        }
        const o = parseObjectLine<SessionLine & ModelLine>(line, batch)
        if (o) openclawLine(o, c, batch, salt)
      },
      ctx: () => c,
    }
  },
}
