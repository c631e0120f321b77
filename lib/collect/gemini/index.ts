/**
 * Gemini CLI chats (DESIGN §5), as gemini-cli's `ChatRecordingService` writes them under
 * `~/.gemini/tmp/<project>/chats/`: before April 2026 one JSON document per session
 * (`session-<time>-<id8>.json`, rewritten whole on every message); since, JSONL
 * (`session-<time>-<id8>.jsonl`, subagents in `chats/<parentSessionId>/<sessionId>.jsonl`) where a
 * message is appended again, whole, each time it changes (its tokens arrive after its text) and
 * the file is sometimes rewritten. Either way a file is read whole when it changed, and a response
 * is one `type:"gemini"` message with `tokens`, named by its `id` (a random UUID): the same message
 * in a resumed legacy session's `.json` and its `.jsonl` continuation, or in the copy gemini-cli
 * makes when it moves a project's directory from its hash to its short name, is one record.
 */
import path from 'node:path'
import fs from 'node:fs'
import type { Env } from '../../env.js'
import { intern, normaliseTs, privacyHash, recordId, type LedgerRecord } from '../../ledger/record.js'
import { envDirs, tokenCount as count, type Batch, type DocumentsSource, type SourceFile } from '../types.js'
import { findFiles, isFileOrLink } from '../files.js'

export const SOURCE = 'gemini'
const ENV_VAR = 'GEMINI_DATA_DIR'

const str = (s: unknown) => (typeof s === 'string' && s ? s : '')

/** What the lines or fields before a message said about its session. */
interface Session {
  id: string
  projectHash: string
  startTime: unknown
  lastUpdated: unknown
  /** The last model named, for a message that names none. */
  model: string
  projectRoot: string
}

interface Tokens {
  input?: unknown
  output?: unknown
  cached?: unknown
  thoughts?: unknown
  tool?: unknown
  total?: unknown
}

interface Message {
  id?: unknown
  timestamp?: unknown
  type?: unknown
  model?: unknown
  tokens?: Tokens | null
}

/**
 * The ledger's buckets of one message's `tokens` (gemini-cli copies the API's usageMetadata):
 * `input` (promptTokenCount) includes `cached`; `tool` (toolUsePromptTokenCount) is input billed
 * apart from it; `thoughts` are billed as output but not in `output` (candidatesTokenCount).
 */
export function geminiTokens(t: Tokens): { input: number; output: number; cacheRead: number; reasoning: number } {
  const prompt = count(t.input)
  const cacheRead = Math.min(count(t.cached), prompt)
  const thoughts = count(t.thoughts)
  let output = count(t.output) + thoughts
  const input = prompt - cacheRead + count(t.tool)
  // Only a total: all of it output, as ccusage reads it.
  if (input + output + cacheRead === 0) output = count(t.total)
  return { input, output, cacheRead, reasoning: thoughts }
}

function geminiMessage(m: Message, s: Session, batch: Batch, salt: string): void {
  const model = str(m.model)
  if (model) s.model = intern(model)
  if (m.type !== 'gemini' || !m.tokens || typeof m.tokens !== 'object') return
  // A message without its own time takes the session's start (stable across rewrites).
  const ts = normaliseTs(m.timestamp) ?? normaliseTs(s.startTime) ?? normaliseTs(s.lastUpdated)
  if (!ts) return
  const t = geminiTokens(m.tokens)
  if (t.input + t.output + t.cacheRead === 0) return
  const id = str(m.id)
  const r: LedgerRecord = {
    v: 1,
    id: recordId(SOURCE, id || `${s.id}:${ts}:${t.input}:${t.output}:${t.cacheRead}`),
    ts,
    source: SOURCE,
    model: s.model || 'unknown',
    input: t.input,
    output: t.output,
    cacheWrite: 0,
    cacheRead: t.cacheRead,
  }
  if (t.reasoning) r.reasoning = t.reasoning
  if (s.id) r.session = privacyHash(s.id, salt)
  if (s.projectHash) r.project = privacyHash(s.projectHash, salt)
  batch.add(r)
  batch.names(r, s.projectRoot, s.id)
}

/** Session fields of a document or a metadata line (`{sessionId, projectHash, startTime, …}`). */
function readSession(o: Record<string, unknown>, s: Session): void {
  if (str(o.sessionId)) s.id = o.sessionId as string
  if (str(o.projectHash)) s.projectHash = o.projectHash as string
  if (o.startTime !== undefined) s.startTime = o.startTime
  if (o.lastUpdated !== undefined) s.lastUpdated = o.lastUpdated
}

function messagesOf(o: Record<string, unknown>): Message[] {
  return Array.isArray(o.messages) ? o.messages.filter((m): m is Message => !!m && typeof m === 'object') : []
}

/**
 * One JSONL line: a metadata line (the first, or a whole legacy record on one line), a
 * `$set` update (a checkpoint may carry the messages again), a `$rewindTo` (the rewound
 * responses were billed and stay counted), or a message.
 */
function jsonlLine(o: Record<string, unknown>, s: Session, batch: Batch, salt: string): void {
  const set = o.$set
  if (set && typeof set === 'object') {
    readSession(set as Record<string, unknown>, s)
    for (const m of messagesOf(set as Record<string, unknown>)) geminiMessage(m, s, batch, salt)
    return
  }
  if (typeof o.id === 'string') {
    geminiMessage(o as Message, s, batch, salt)
    return
  }
  readSession(o, s)
  for (const m of messagesOf(o)) geminiMessage(m, s, batch, salt)
}

const projectRoots = new Map<string, string>()

/**
 * The project directory a chats file is in (`<root>/<project>/chats/…`) names its project in
 * `.project_root` (gemini-cli since February 2026, `6fb3b09003`); older hash-named directories do not.
 */
function projectRootOf(file: string): string {
  let dir = path.dirname(file)
  while (path.basename(dir) !== 'chats') {
    const up = path.dirname(dir)
    if (up === dir) return ''
    dir = up
  }
  const project = path.dirname(dir)
  let root = projectRoots.get(project)
  if (root === undefined) {
    try {
      root = fs.readFileSync(path.join(project, '.project_root'), 'utf8').trim()
    } catch {
      root = ''
    }
    if (projectRoots.size > 1000) projectRoots.clear()
    projectRoots.set(project, root)
  }
  return root
}

/** GEMINI_DATA_DIR (comma list), else `~/.gemini/tmp` under GEMINI_CLI_HOME when set (as gemini-cli). */
function geminiRoots(env: Env): string[] {
  const dirs = envDirs(env, ENV_VAR)
  if (dirs.length) return dirs
  const home = env.vars.GEMINI_CLI_HOME ? path.resolve(env.cwd, env.vars.GEMINI_CLI_HOME) : env.userHome
  return [path.join(home, '.gemini', 'tmp')]
}

/** `*.jsonl` and legacy `session-*.json`; logs.json, checkpoints and the like are not chats. */
const isChat = (name: string, e: fs.Dirent) =>
  isFileOrLink(e) && (name.endsWith('.jsonl') || (name.startsWith('session-') && name.endsWith('.json')))

export const gemini: DocumentsSource = {
  name: SOURCE,
  title: 'Gemini CLI',
  kind: 'documents',
  envVar: ENV_VAR,
  looksIn: geminiRoots,
  discover(env) {
    const files: SourceFile[] = []
    for (const root of geminiRoots(env)) {
      for (const p of findFiles(root, isChat)) files.push({ path: p, root })
    }
    return files
  },
  document(file, text, _ctx, batch, salt) {
    const s: Session = {
      id: path.basename(file.path).replace(/\.jsonl?$/, ''),
      projectHash: '',
      startTime: undefined,
      lastUpdated: undefined,
      model: '',
      projectRoot: projectRootOf(file.path),
    }
    if (!file.path.endsWith('.jsonl')) {
      // A legacy document: one JSON value, rewritten whole (a half-written one throws, and is read again).
      const o = JSON.parse(text.toString('utf8')) as unknown
      if (!o || typeof o !== 'object' || Array.isArray(o)) return undefined
      readSession(o as Record<string, unknown>, s)
      for (const m of messagesOf(o as Record<string, unknown>)) geminiMessage(m, s, batch, salt)
      return undefined
    }
    // A last line without its newline is being written: the file changes again when it is done.
    const lines = text.toString('utf8').split('\n')
    lines.pop()
    for (const raw of lines) {
      const line = raw.trim()
      if (!line) continue
      let o: unknown
      try {
        o = JSON.parse(line)
      } catch {
        batch.malformed++
        continue
      }
      if (o && typeof o === 'object' && !Array.isArray(o)) jsonlLine(o as Record<string, unknown>, s, batch, salt)
      else batch.malformed++
    }
    return undefined
  },
}
