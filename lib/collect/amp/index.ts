/**
 * Amp threads (DESIGN §5): one JSON document per thread, `threads/T-<uuid>.json`, rewritten in
 * place as the thread grows. Usage is the thread's `usageLedger.events[]` where it has one (older
 * Amp; cache tokens come from the assistant message an event ends at), else each assistant
 * message's `usage` block. Input excludes cache reads and writes, as Anthropic counts it. Amp's
 * `credits` are its own billing unit, not USD, and are not recorded.
 */
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Env } from '../../env.js'
import { intern, normaliseTs, privacyHash, recordId, type LedgerRecord } from '../../ledger/record.js'
import { findFiles, isFileOrLink } from '../files.js'
import { envDirs, tokenCount as count, type Batch, type DocumentsSource } from '../types.js'

export const SOURCE = 'amp'
const ENV_VAR = 'AMP_DATA_DIR'

/**
 * AMP_DATA_DIR (comma list), else where Amp keeps its data on every platform: $XDG_DATA_HOME/amp
 * when that is set, and ~/.local/share/amp.
 */
function ampDataDirs(env: Env): string[] {
  const dirs = envDirs(env, ENV_VAR)
  if (dirs.length) return dirs
  const out: string[] = []
  const xdg = env.vars.XDG_DATA_HOME
  if (xdg && path.isAbsolute(xdg)) out.push(path.join(xdg, 'amp'))
  out.push(path.join(env.userHome, '.local', 'share', 'amp'))
  return [...new Set(out)]
}

type Obj = Record<string, unknown>

const obj = (v: unknown): Obj | null => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : null)
const text = (v: unknown) => (typeof v === 'string' ? v.trim() : '')
/** A message or event id as Amp writes it (a number, sometimes a string). */
const idOf = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? String(v) : text(v))

/** The thread's working directory: `env.initial.cwd`, else its first workspace tree. */
function threadCwd(thread: Obj): string {
  const initial = obj(obj(thread.env)?.initial)
  if (!initial) return ''
  const cwd = text(initial.cwd)
  if (cwd) return cwd
  const trees = Array.isArray(initial.trees) ? initial.trees : []
  const uri = text(obj(trees[0])?.uri)
  if (!uri.startsWith('file:')) return uri
  try {
    return fileURLToPath(uri)
  } catch {
    return ''
  }
}

interface Usage {
  key: string
  ts: unknown
  model: string
  input: number
  output: number
  cacheWrite: number
  cacheRead: number
  /** The response's own total, when given: what no bucket explains is output (as ccusage's fallback). */
  total: number
}

/** Reads one thread into the batch; throws (before adding anything) when it is not a whole thread. */
export function ampThread(json: string, batch: Batch, salt: string): void {
  const thread = obj(JSON.parse(json))
  const threadId = text(thread?.id)
  if (!thread || !threadId) throw new Error('not an Amp thread')
  const messages = (Array.isArray(thread.messages) ? thread.messages : []).map(obj)
  const events = obj(thread.usageLedger)?.events
  const usages = Array.isArray(events) ? ledgerUsages(events, messages) : messageUsages(messages)
  const cwd = threadCwd(thread)
  const session = privacyHash(threadId, salt)
  const project = cwd ? privacyHash(cwd, salt) : undefined
  for (const u of usages) {
    const ts = normaliseTs(u.ts)
    if (!ts) continue
    const output = u.output + Math.max(0, u.total - (u.input + u.output + u.cacheWrite + u.cacheRead))
    if (u.input + output + u.cacheWrite + u.cacheRead === 0) continue
    const r: LedgerRecord = {
      v: 1,
      id: recordId(SOURCE, `${threadId}:${u.key}`),
      ts,
      source: SOURCE,
      model: intern(u.model || 'unknown'),
      input: u.input,
      output,
      cacheWrite: u.cacheWrite,
      cacheRead: u.cacheRead,
      session,
    }
    if (project) r.project = project
    batch.add(r)
    batch.names(r, cwd, threadId)
  }
}

/**
 * Older threads: one usage per ledger event. An event is keyed by the assistant message it ends
 * at, as that message's own usage is in the newer schema, so a thread rewritten without its
 * ledger gives the same ids; an event without one (or a second event ending at the same
 * message) is keyed by its own id.
 */
function ledgerUsages(events: unknown[], messages: Array<Obj | null>): Usage[] {
  const byMessage = new Map<string, Obj>()
  for (const m of messages) {
    const id = idOf(m?.messageId)
    if (m?.role === 'assistant' && id) byMessage.set(id, m)
  }
  const keys = new Set<string>()
  const out: Usage[] = []
  events.forEach((v, i) => {
    const e = obj(v)
    const tokens = obj(e?.tokens)
    if (!e || !tokens) return
    const to = idOf(e.toMessageId)
    const usage = obj(byMessage.get(to)?.usage)
    let key = to ? `message:${to}` : ''
    if (!key || keys.has(key)) key = idOf(e.id) ? `event:${idOf(e.id)}` : `event#${i}:${text(e.timestamp)}`
    keys.add(key)
    out.push({
      key,
      ts: e.timestamp,
      model: text(e.model) || text(usage?.model),
      input: count(tokens.input),
      output: count(tokens.output),
      cacheWrite: count(usage?.cacheCreationInputTokens),
      cacheRead: count(usage?.cacheReadInputTokens),
      total: count(tokens.total),
    })
  })
  return out
}

/** Current threads: one usage per assistant message with a `usage` block, keyed by its messageId. */
function messageUsages(messages: Array<Obj | null>): Usage[] {
  const out: Usage[] = []
  messages.forEach((m, i) => {
    const usage = obj(m?.usage)
    if (m?.role !== 'assistant' || !usage) return
    const ts = text(usage.timestamp) || m.timestamp
    const id = idOf(m.messageId)
    out.push({
      key: id ? `message:${id}` : `message#${i}:${String(ts)}`,
      ts,
      model: text(usage.model) || text(m.model),
      input: count(usage.inputTokens),
      output: count(usage.outputTokens),
      cacheWrite: count(usage.cacheCreationInputTokens),
      cacheRead: count(usage.cacheReadInputTokens),
      total: count(usage.totalTokens),
    })
  })
  return out
}

export const amp: DocumentsSource = {
  name: SOURCE,
  title: 'Amp',
  kind: 'documents',
  envVar: ENV_VAR,
  looksIn(env: Env) {
    return ampDataDirs(env).map((d) => path.join(d, 'threads'))
  },
  discover(env: Env) {
    return ampDataDirs(env).flatMap((root) =>
      findFiles(path.join(root, 'threads'), (name, e) => name.endsWith('.json') && isFileOrLink(e)).map((p) => ({
        path: p,
        root,
      })),
    )
  },
  document(_file, text, _ctx, batch, salt) {
    ampThread(text.toString('utf8'), batch, salt)
    return undefined
  },
}
