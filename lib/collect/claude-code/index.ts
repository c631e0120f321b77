/**
 * Claude Code transcripts (DESIGN §5): `projects/**.jsonl` under each config dir. One usable
 * line = one response write; the same response is often written several times (streaming,
 * resumed sessions), which dedupe by `message.id:requestId` folds. A subagent's responses are
 * also written into the parent's transcript inside `agent_progress` lines (Claude Code ≥ 2.1);
 * they are read there too and fold with the subagent file's copies by the same key.
 */
import path from 'node:path'
import fs from 'node:fs'
import type { Env } from '../../env.js'
import { intern, normaliseTs, privacyHash, recordId, type LedgerRecord } from '../../ledger/record.js'
import { findJsonl, looksLikeJsonObject, parseObjectLine } from '../files.js'
import { envDirs, tokenCount as count, type Batch, type Copy, type LinesSource } from '../types.js'
import { extractClaudeLine } from './extract.js'

export const SOURCE = 'claude-code'
const ENV_VAR = 'CLAUDE_CONFIG_DIR'

/**
 * CLAUDE_CONFIG_DIR (comma list), else $XDG_CONFIG_HOME/claude (~/.config/claude) and ~/.claude: where to look, there
 * or not.
 */
function claudeConfigCandidates(env: Env): string[] {
  const dirs = envDirs(env, ENV_VAR)
  return dirs.length
    ? dirs
    : [
        path.join(env.vars.XDG_CONFIG_HOME || path.join(env.userHome, '.config'), 'claude'),
        path.join(env.userHome, '.claude'),
      ]
}

/** The existing ones of those, each real directory once. */
export function claudeConfigDirs(env: Env): string[] {
  const dirs = claudeConfigCandidates(env)
  const seen = new Set<string>()
  const out: string[] = []
  for (const d of dirs) {
    let real: string
    try {
      real = fs.realpathSync(d)
    } catch {
      continue
    }
    if (!seen.has(real)) {
      seen.add(real)
      out.push(d)
    }
  }
  return out
}

export interface ClaudeLine {
  type?: unknown
  timestamp?: unknown
  requestId?: unknown
  sessionId?: unknown
  cwd?: unknown
  isSidechain?: unknown
  costUSD?: unknown
  message?: {
    id?: unknown
    model?: unknown
    usage?: {
      input_tokens?: unknown
      output_tokens?: unknown
      cache_creation_input_tokens?: unknown
      cache_read_input_tokens?: unknown
      cache_creation?: { ephemeral_5m_input_tokens?: unknown; ephemeral_1h_input_tokens?: unknown }
      speed?: unknown
    }
  }
  /** `progress` lines: `data.type` `agent_progress` carries a subagent's line in `data.message`. */
  data?: {
    type?: unknown
    agentId?: unknown
    message?: { timestamp?: unknown; requestId?: unknown; costUSD?: unknown; message?: ClaudeLine['message'] }
  }
}

/**
 * The subagent response an `agent_progress` line carries (Claude Code ≥ 2.1 writes each line
 * of a running subagent into the parent's transcript too), as the line the subagent's own file
 * `<session>/subagents/agent-<agentId>.jsonl` holds: same message, requestId, timestamp, usage,
 * so the same id whichever of the two is read; `sidechain`, as there. Null for other lines.
 * The envelope (`sessionId`, `cwd`) is the parent's, which the subagent's lines also carry.
 */
export function agentProgressLine(o: ClaudeLine): ClaudeLine | null {
  if (o.type !== 'progress') return null
  const d = o.data
  if (!d || typeof d !== 'object' || d.type !== 'agent_progress') return null
  const m = d.message
  if (!m || typeof m !== 'object' || !m.message || typeof m.message !== 'object') return null
  return {
    timestamp: m.timestamp ?? o.timestamp,
    requestId: m.requestId,
    sessionId: o.sessionId,
    cwd: o.cwd,
    isSidechain: true,
    costUSD: m.costUSD,
    message: m.message,
  }
}

/** Whether the subagent's own transcript sits where Claude Code writes it, next to `file`. */
function subagentFileExists(file: string, agentId: unknown): boolean {
  if (typeof agentId !== 'string' || !/^[\w-]+$/.test(agentId)) return false
  const dir = path.dirname(file)
  const name = `agent-${agentId}.jsonl`
  return (
    fs.existsSync(path.join(dir, path.basename(file, '.jsonl'), 'subagents', name)) ||
    fs.existsSync(path.join(dir, name))
  )
}

/** Normalises one transcript line; null when it carries no billed usage. `lineKey` keys lines without message.id. */
export function claudeRecord(o: ClaudeLine, lineKey: string, salt: string): LedgerRecord | null {
  const msg = o.message
  const u = msg?.usage
  if (!u || typeof u !== 'object') return null
  if (typeof u.input_tokens !== 'number' || typeof u.output_tokens !== 'number') return null
  const ts = normaliseTs(o.timestamp)
  if (!ts) return null
  const model = typeof msg!.model === 'string' && msg!.model ? intern(msg!.model) : 'unknown'
  if (model === '<synthetic>') return null
  const cc = u.cache_creation
  const has1h =
    cc &&
    typeof cc === 'object' &&
    (typeof cc.ephemeral_5m_input_tokens === 'number' || typeof cc.ephemeral_1h_input_tokens === 'number')
  const cacheWrite1h = has1h ? count(cc!.ephemeral_1h_input_tokens) : 0
  const cacheWrite = has1h ? count(cc!.ephemeral_5m_input_tokens) + cacheWrite1h : count(u.cache_creation_input_tokens)
  const r: LedgerRecord = {
    v: 1,
    id: '',
    ts,
    source: SOURCE,
    model,
    input: count(u.input_tokens),
    output: count(u.output_tokens),
    cacheWrite,
    cacheRead: count(u.cache_read_input_tokens),
  }
  if (r.input + r.output + r.cacheWrite + r.cacheRead === 0) return null
  const nativeKey =
    typeof msg!.id === 'string' && msg!.id
      ? `${msg!.id}:${typeof o.requestId === 'string' ? o.requestId : ''}`
      : lineKey
  r.id = recordId(SOURCE, nativeKey)
  if (cacheWrite1h) r.cacheWrite1h = cacheWrite1h
  if (u.speed === 'fast') r.speed = 'fast'
  if (typeof o.costUSD === 'number' && Number.isFinite(o.costUSD) && o.costUSD > 0) r.costUSD = o.costUSD
  if (typeof o.sessionId === 'string' && o.sessionId) r.session = privacyHash(o.sessionId, salt)
  if (typeof o.cwd === 'string' && o.cwd) r.project = privacyHash(o.cwd, salt)
  if (o.isSidechain === true) r.sidechain = true
  return r
}

function messageCopy(r: LedgerRecord, messageId: unknown): Copy | undefined {
  return typeof messageId === 'string' && messageId ? { of: messageId, replay: r.sidechain === true } : undefined
}

export const claudeCode: LinesSource = {
  name: SOURCE,
  title: 'Claude Code',
  kind: 'lines',
  envVar: ENV_VAR,
  looksIn(env) {
    return claudeConfigCandidates(env).map((d) => path.join(d, 'projects'))
  },
  discover(env) {
    const files: Array<{ path: string; root: string }> = []
    for (const root of claudeConfigDirs(env))
      for (const p of findJsonl(path.join(root, 'projects'))) files.push({ path: p, root })
    return files
  },
  parser(file, _ctx, batch: Batch, salt) {
    const rel = path.relative(file.root, file.path).split(path.sep).join('/')
    return {
      line(line, offset) {
        let o = extractClaudeLine(line)
        if (o === 'none') {
          if (!looksLikeJsonObject(line)) batch.malformed++
          return
        }
        if (o === null || o.type === 'progress') {
          o = parseObjectLine<ClaudeLine>(line, batch)
          if (!o) return
        }
        const progress = agentProgressLine(o)
        if (progress) {
          // Without a message.id the copy cannot be matched with the one in the subagent's own
          // file: that file, when it exists, is the one counted.
          if (
            !(typeof progress.message?.id === 'string' && progress.message.id) &&
            subagentFileExists(file.path, o.data?.agentId)
          )
            return
          o = progress
        }
        const r = claudeRecord(o, `${rel}@${offset}`, salt)
        // Claude's replay rule (DESIGN §5): a sidechain copy of a message (a subagent's file or
        // a `/btw` side question) may carry another requestId, so another id; the message decides.
        if (r) batch.add(r, messageCopy(r, o.message?.id))
        if (r) batch.names(r, o.cwd, o.sessionId)
      },
      ctx: () => undefined,
    }
  },
}
