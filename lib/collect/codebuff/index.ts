/**
 * Codebuff chats (docs/sources.md "codebuff"): `projects/<project>/chats/<chatId>/chat-messages.json`
 * under each config dir, one JSON array the CLI rewrites whole after every change. An assistant
 * message (`variant` ai/agent, or `role` assistant) with usage is one record, keyed by the chat
 * and its message `id` (else its place in the array), which rewriting does not change. `credits`
 * are Codebuff's own unit, not dollars: no cost is recorded.
 */
import { findFiles, isFileOrLink } from '../files.js'
import path from 'node:path'
import type { Env } from '../../env.js'
import { intern, normaliseTs, privacyHash, recordId, type LedgerRecord } from '../../ledger/record.js'
import { envDirs, tokenCount as count, type Batch, type DocumentsSource, type SourceFile } from '../types.js'

export const SOURCE = 'codebuff'
const ENV_VAR = 'CODEBUFF_DATA_DIR'
const FILE = 'chat-messages.json'
/** The CLI's config dir per environment: `~/.config/manicode[-dev|-staging]` (os.homedir() on every OS). */
const CHANNELS = ['manicode', 'manicode-dev', 'manicode-staging']

/** The `projects` dirs: each CODEBUFF_DATA_DIR entry (itself when named `projects`), else the channels'. */
function projectDirs(env: Env): string[] {
  const dirs = envDirs(env, ENV_VAR)
  const roots = dirs.length ? dirs : CHANNELS.map((c) => path.join(env.userHome, '.config', c))
  return [...new Set(roots.map((r) => (path.basename(r) === 'projects' ? r : path.join(r, 'projects'))))]
}

const str = (v: unknown) => (typeof v === 'string' && v.trim() ? v.trim() : undefined)
const obj = (v: unknown) =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined
const first = (o: Record<string, unknown>, keys: string[]) => {
  for (const k of keys) {
    const n = count(o[k])
    if (n) return n
  }
  return 0
}

/** One message's usage in the ledger's buckets; `extra` is a total no bucket explains. */
interface Usage {
  input: number
  output: number
  cacheWrite: number
  cacheRead: number
  extra: number
  model?: string
}

const none = (): Usage => ({ input: 0, output: 0, cacheWrite: 0, cacheRead: 0, extra: 0 })

/**
 * A usage object under any of the key spellings Codebuff's providers use (ccusage's list). An
 * OpenAI-style `prompt_tokens` includes its `prompt_tokens_details.cached_tokens`, so those are
 * taken out of input; ccusage counts them in both.
 */
export function usageOf(v: unknown): Usage {
  const u = none()
  const o = obj(v)
  if (!o) return u
  const prompt = first(o, ['promptTokens', 'prompt_tokens'])
  const input = first(o, ['inputTokens', 'input_tokens'])
  const details = Math.max(
    count(obj(o.promptTokensDetails)?.cachedTokens),
    count(obj(o.prompt_tokens_details)?.cached_tokens),
  )
  u.cacheRead = Math.max(first(o, ['cacheReadInputTokens', 'cache_read_input_tokens']), details)
  u.input = input || Math.max(0, prompt - Math.min(details, prompt))
  u.output = first(o, ['outputTokens', 'output_tokens', 'completionTokens', 'completion_tokens'])
  u.cacheWrite = first(o, [
    'cacheCreationInputTokens',
    'cache_creation_input_tokens',
    'cacheCreationTokens',
    'cache_creation_tokens',
    'cachedTokensCreated',
    'cached_tokens_created',
  ])
  const missing = first(o, ['totalTokens', 'total_tokens', 'total']) - (u.input + u.output + u.cacheWrite + u.cacheRead)
  if (missing > 0) u.extra = missing
  u.model = str(o.model)
  return u
}

/** Fills what `target` lacks from `fallback`, bucket by bucket (ccusage's merge). */
function fill(target: Usage, fallback: Usage): void {
  if (!target.input) target.input = fallback.input
  if (!target.output) target.output = fallback.output
  if (!target.cacheWrite) target.cacheWrite = fallback.cacheWrite
  if (!target.cacheRead) target.cacheRead = fallback.cacheRead
  if (!target.extra) target.extra = fallback.extra
  target.model ??= fallback.model
}

const any = (u: Usage) => u.input + u.output + u.cacheWrite + u.cacheRead + u.extra > 0

/**
 * A message's usage: `metadata.usage`, then `metadata.codebuff.usage`, then the assistant turns
 * of the run state saved with it (newest first), as ccusage reads them.
 */
export function messageUsage(m: Record<string, unknown>): Usage {
  const u = none()
  const meta = obj(m.metadata)
  if (!meta) return u
  u.model = str(meta.model)
  fill(u, usageOf(meta.usage))
  fill(u, usageOf(obj(meta.codebuff)?.usage))
  const history = obj(obj(obj(meta.runState)?.sessionState)?.mainAgentState)?.messageHistory
  if (Array.isArray(history)) {
    for (let i = history.length - 1; i >= 0; i--) {
      const h = obj(history[i])
      const opts = h?.role === 'assistant' ? obj(h.providerOptions) : undefined
      if (!opts) continue
      const turn = usageOf(opts.usage)
      const cb = obj(opts.codebuff)
      if (cb) {
        fill(turn, usageOf(cb.usage))
        turn.model = str(cb.model) ?? turn.model
      }
      fill(u, turn)
    }
  }
  return u
}

const ISO_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})$/

/** A time as Codebuff writes one: ISO text (never a local-time string), or epoch seconds or ms. */
function timeOf(v: unknown): string | null {
  if (typeof v === 'number' && Number.isFinite(v) && v > 0) return normaliseTs(Math.floor(v < 1e10 ? v * 1000 : v))
  return typeof v === 'string' && ISO_RE.test(v) ? normaliseTs(v) : null
}

/** A chat id is the chat's start, `new Date().toISOString()` with `:` made `-`. */
export function chatIdTime(chatId: string): string | null {
  const m = /^(\d{4}-\d{2}-\d{2}T)(\d{2})-(\d{2})-(\d{2}(?:\.\d+)?Z?)$/.exec(chatId)
  return m ? normaliseTs(`${m[1]}${m[2]}:${m[3]}:${m[4]}`) : null
}

/** The project (the directory under `projects/`) and chat (the directory holding the file). */
export function chatOf(file: SourceFile): { project: string; chatId: string } {
  const projects = path.basename(file.root) === 'projects' ? file.root : path.join(file.root, 'projects')
  const parts = path.relative(projects, file.path).split(path.sep)
  return { project: parts.length > 1 ? parts[0]! : '', chatId: parts[parts.length - 2] ?? '' }
}

export const codebuff: DocumentsSource = {
  name: SOURCE,
  title: 'Codebuff',
  kind: 'documents',
  envVar: ENV_VAR,
  looksIn: projectDirs,
  discover(env) {
    return projectDirs(env).flatMap((dir) =>
      findFiles(dir, (name, e) => name === FILE && isFileOrLink(e)).map((p) => ({ path: p, root: dir })),
    )
  },
  document(file, text, _ctx, batch: Batch, salt) {
    const messages = JSON.parse(text.toString('utf8')) as unknown
    if (!Array.isArray(messages)) throw new Error(`${file.path}: not an array of messages`)
    const { project, chatId } = chatOf(file)
    const chat = `${project}/${chatId}`
    const started = chatIdTime(chatId)
    messages.forEach((v, ordinal) => {
      const m = obj(v)
      const role = m && (str(m.variant) ?? str(m.role))
      if (!m || (role !== 'ai' && role !== 'agent' && role !== 'assistant')) return
      const u = messageUsage(m)
      if (!any(u)) return
      const meta = obj(m.metadata)
      const ts = timeOf(m.timestamp) ?? timeOf(m.createdAt) ?? timeOf(meta?.timestamp) ?? started
      if (!ts) {
        batch.malformed++
        return
      }
      const id = str(m.id)
      const r: LedgerRecord = {
        v: 1,
        id: recordId(SOURCE, id ? `${chat}/${id}` : `${chat}#${ordinal}`),
        ts,
        source: SOURCE,
        model: intern(u.model ?? 'unknown'),
        input: u.input,
        // ccusage's `extra` (a total no bucket explains) is billed as output.
        output: u.output + u.extra,
        cacheWrite: u.cacheWrite,
        cacheRead: u.cacheRead,
        session: privacyHash(chat, salt),
      }
      if (project) r.project = privacyHash(project, salt)
      batch.add(r)
      batch.names(r, project, chatId)
    })
    return undefined
  },
}
