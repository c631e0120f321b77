/**
 * Qwen Code chats (DESIGN §5): `projects/<project>/chats/<sessionId>.jsonl`, append-only, one
 * `type:"assistant"` record per model response carrying `usageMetadata` (qwen-code
 * `chatRecordingService.recordAssistantTurn`). Every record has its own `uuid`; `/branch` copies
 * a session's records verbatim into a new session (same `uuid`, a new `sessionId`, and
 * `forkedFrom`), so the `uuid` alone names a response wherever it is copied to.
 */
import path from 'node:path'
import fs from 'node:fs'
import type { Env } from '../../env.js'
import { intern, normaliseTs, privacyHash, recordId, type LedgerRecord } from '../../ledger/record.js'
import { looksLikeJsonObject, parseObjectLine } from '../files.js'
import { envDirs, tokenCount as count, type LinesSource, type SourceFile } from '../types.js'

export const SOURCE = 'qwen'
const ENV_VAR = 'QWEN_DATA_DIR'

interface UsageMetadata {
  promptTokenCount?: unknown
  candidatesTokenCount?: unknown
  thoughtsTokenCount?: unknown
  cachedContentTokenCount?: unknown
  toolUsePromptTokenCount?: unknown
  totalTokenCount?: unknown
}

export interface QwenLine {
  uuid?: unknown
  sessionId?: unknown
  timestamp?: unknown
  type?: unknown
  cwd?: unknown
  model?: unknown
  usageMetadata?: UsageMetadata
  forkedFrom?: { sessionId?: unknown }
}

/**
 * The ledger's buckets of one `usageMetadata`. qwen-code fills it in the Gemini shape from every
 * provider: `promptTokenCount` includes `cachedContentTokenCount` (OpenAI `prompt_tokens`,
 * Anthropic input + cache read + cache write, Gemini's own), so input is the rest. Whether
 * `thoughtsTokenCount` is inside `candidatesTokenCount` depends on the provider, and the total
 * tells: OpenAI-compatible and Anthropic responses have `total = prompt + candidates` (reasoning
 * already inside completion_tokens), Gemini's have `total = prompt + candidates + thoughts + tool`.
 */
export function qwenTokens(u: UsageMetadata): {
  input: number
  output: number
  cacheRead: number
  reasoning: number
} {
  const prompt = count(u.promptTokenCount)
  const candidates = count(u.candidatesTokenCount)
  const thoughts = count(u.thoughtsTokenCount)
  const tool = count(u.toolUsePromptTokenCount)
  const total = count(u.totalTokenCount)
  const cacheRead = Math.min(count(u.cachedContentTokenCount), prompt)
  const thoughtsApart = thoughts > 0 && total >= prompt + candidates + thoughts + tool
  let output = thoughtsApart ? candidates + thoughts : candidates
  let input = prompt - cacheRead + tool
  // Only a total (qwen-code estimates the split itself; this is for older writers): all output.
  if (input + output + cacheRead === 0 && total > 0) output = total
  if (input < 0) input = 0
  return { input, output, cacheRead, reasoning: Math.min(thoughts, output) }
}

/** One assistant line as a ledger record, or null when it carries no usage or no valid time. */
export function qwenRecord(o: QwenLine, fileSession: string, salt: string): LedgerRecord | null {
  if (o.type !== 'assistant') return null
  const u = o.usageMetadata
  if (!u || typeof u !== 'object') return null
  const ts = normaliseTs(o.timestamp)
  if (!ts) return null
  const t = qwenTokens(u)
  if (t.input + t.output + t.cacheRead === 0) return null
  const session = sessionOf(o, fileSession)
  const nativeKey =
    typeof o.uuid === 'string' && o.uuid
      ? o.uuid
      : `${session}:${ts}:${t.input}:${t.output}:${t.cacheRead}:${t.reasoning}`
  const r: LedgerRecord = {
    v: 1,
    id: recordId(SOURCE, nativeKey),
    ts,
    source: SOURCE,
    model: typeof o.model === 'string' && o.model ? intern(o.model) : 'unknown',
    input: t.input,
    output: t.output,
    cacheWrite: 0,
    cacheRead: t.cacheRead,
  }
  if (t.reasoning) r.reasoning = t.reasoning
  if (session) r.session = privacyHash(session, salt)
  if (typeof o.cwd === 'string' && o.cwd) r.project = privacyHash(o.cwd, salt)
  return r
}

/**
 * The session a response belongs to: a `/branch` copy keeps the session it was made in
 * (`forkedFrom.sessionId`), so both copies of a response are the same record.
 */
function sessionOf(o: QwenLine, fileSession: string): string {
  const from = o.forkedFrom
  if (from && typeof from === 'object' && typeof from.sessionId === 'string' && from.sessionId) return from.sessionId
  return typeof o.sessionId === 'string' && o.sessionId ? o.sessionId : fileSession
}

/** QWEN_DATA_DIR (comma list), else $QWEN_RUNTIME_DIR (where qwen-code then writes) and ~/.qwen. */
function qwenHomes(env: Env): string[] {
  const dirs = envDirs(env, ENV_VAR)
  if (dirs.length) return dirs
  const runtime = env.vars.QWEN_RUNTIME_DIR ? [path.resolve(env.cwd, env.vars.QWEN_RUNTIME_DIR)] : []
  return [...new Set([...runtime, path.join(env.userHome, '.qwen')])]
}

const readDir = (dir: string): fs.Dirent[] => {
  try {
    return fs.readdirSync(dir, { withFileTypes: true })
  } catch {
    return []
  }
}

export const qwen: LinesSource = {
  name: SOURCE,
  title: 'Qwen Code',
  kind: 'lines',
  envVar: ENV_VAR,
  looksIn(env) {
    return qwenHomes(env).map((home) => path.join(home, 'projects'))
  },
  /** Exactly `projects/<project>/chats/<file>.jsonl`, as qwen-code writes and ccusage reads. */
  discover(env) {
    const files: SourceFile[] = []
    for (const home of qwenHomes(env)) {
      const projects = path.join(home, 'projects')
      for (const p of readDir(projects)) {
        if (!p.isDirectory()) continue
        const chats = path.join(projects, p.name, 'chats')
        for (const f of readDir(chats))
          if (f.name.endsWith('.jsonl') && (f.isFile() || f.isSymbolicLink()))
            files.push({ path: path.join(chats, f.name), root: home })
      }
    }
    return files
  },
  parser(file, _ctx, batch, salt) {
    // A line without `sessionId` belongs to the file's session (qwen-code names the file after it).
    const fileSession = path.basename(file.path, '.jsonl')
    return {
      line(line) {
        if (!looksLikeJsonObject(line)) {
          batch.malformed++
          return
        }
        // Most lines are user turns, tool results and system records: skip them unparsed.
        if (line.indexOf('"usageMetadata"') < 0) return
        const o = parseObjectLine<QwenLine>(line, batch)
        if (!o) return
        const r = qwenRecord(o, fileSession, salt)
        if (!r) return
        batch.add(r)
        batch.names(r, o.cwd, sessionOf(o, fileSession))
      },
      ctx: () => undefined,
    }
  },
}
