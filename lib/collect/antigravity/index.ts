/**
 * Google Antigravity (CLI and IDE) conversation databases (docs/sources.md "antigravity"): one
 * SQLite database per conversation, `<conversation id>.db`, whose usage sits in protobuf blobs
 * (`protobuf.ts` reads them by field number):
 * - `steps.metadata` (CortexStepMetadata): field 9 the step's ModelUsageStats, 28 its retry infos
 *   (each: field 2 a ModelUsageStats), 24 its model info (12 or 8 name, 1 model id), 8 or 1 its
 *   Timestamp;
 * - `gen_metadata.data`: field 1 a ChatModelMetadata (4 ModelUsageStats, 17 retry infos, 9
 *   generation info whose field 4 is the request's Timestamp, 19 or 21 model name, 3 model id);
 * - `trajectory_metadata_blob.data`: field 2 the conversation's Timestamp, for a call with none.
 * ModelUsageStats: 1 model id, 2 input (cache reads apart), 3 output (thinking included), 4 cache
 * write, 5 cache read, 9 thinking, 10 visible output, 7 message id, 11 response id, 12 provider's
 * message id. One call is written in several places (its step, its generation, a retry list, a
 * sub-conversation's database): its id is its response id (else the provider's, else the message
 * id), so the copies fold, and re-reading a database reproduces every id.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { Env } from '../../env.js'
import { inputError } from '../../errors.js'
import { intern, normaliseTs, privacyHash, recordId, type LedgerRecord } from '../../ledger/record.js'
import { findFiles, isFileOrLink } from '../files.js'
import type { Database } from '../sqlite.js'
import { envDirs, type Batch, type DatabaseSource, type SourceFile } from '../types.js'
import { Message } from './protobuf.js'

export const SOURCE = 'antigravity'
const ENV_VAR = 'ANTIGRAVITY_DATA_DIR'
/** ccusage's name for a call no blob names the model of. */
export const DEFAULT_MODEL = 'gemini-internal-model'

/** Databases in a root that hold no conversation (the picker's index, Chromium's and VS Code's own). */
const NOT_CONVERSATIONS = new Set(['conversation_summaries.db', 'heavy_ad_intervention_opt_out.db'])

/**
 * ANTIGRAVITY_DATA_DIR (a comma list), else every place Antigravity's CLI, IDE and desktop app
 * keep their data on this OS (docs/sources.md). Roots that are one directory (a case-insensitive
 * file system) are listed once.
 */
export function antigravityRoots(env: Env): string[] {
  const dirs = envDirs(env, ENV_VAR)
  if (dirs.length) return dirs
  const home = env.userHome
  const out = [
    ...['antigravity', 'antigravity-cli', 'antigravity-ide', 'Antigravity', 'antigravity-backup'].map((d) =>
      path.join(home, '.gemini', d),
    ),
    ...['antigravity', 'Antigravity', 'Antigravity IDE'].map((d) => path.join(home, '.config', d)),
  ]
  if (env.platform === 'darwin')
    out.push(...['Antigravity', 'Antigravity IDE'].map((d) => path.join(home, 'Library', 'Application Support', d)))
  if (env.platform === 'win32' && env.vars.APPDATA)
    out.push(...['Antigravity', 'Antigravity IDE'].map((d) => path.join(env.vars.APPDATA!, d)))
  return out
}

/** The conversation databases of a root: `*.db` under `conversations/` and `brain/`, and in the root itself. */
function databasesIn(root: string): string[] {
  const keep = (name: string, e: fs.Dirent) =>
    name.endsWith('.db') && !NOT_CONVERSATIONS.has(name.toLowerCase()) && isFileOrLink(e)
  const out: string[] = []
  findFiles(path.join(root, 'conversations'), keep, out)
  findFiles(path.join(root, 'brain'), keep, out)
  let top: fs.Dirent[] = []
  try {
    top = fs.readdirSync(root, { withFileTypes: true })
  } catch {}
  for (const e of top) if (!e.isDirectory() && keep(e.name, e)) out.push(path.join(root, e.name))
  return out.sort()
}

function discover(env: Env): SourceFile[] {
  const seen = new Set<string>()
  const out: SourceFile[] = []
  for (const root of antigravityRoots(env)) {
    let real: string
    try {
      real = fs.realpathSync.native(root)
    } catch {
      continue
    }
    if (seen.has(real)) continue
    seen.add(real)
    for (const p of databasesIn(root)) out.push({ path: p, root })
  }
  return out
}

/** One ModelUsageStats: a model call's counts and ids. */
export interface Usage {
  modelId?: number
  input: number
  /** Field 3: every output token, thinking included. */
  output: number
  cacheWrite: number
  cacheRead: number
  thinking: number
  visible: number
  messageId?: string
  responseId?: string
  providerMessageId?: string
}

export function readUsage(blob: Buffer): Usage {
  const m = new Message(blob)
  const n = (no: number) => m.varint(no) ?? 0
  const u: Usage = {
    input: n(2),
    output: n(3),
    cacheWrite: n(4),
    cacheRead: n(5),
    thinking: n(9),
    visible: n(10),
  }
  const id = m.varint(1)
  if (id) u.modelId = id
  const message = m.text(7)
  if (message) u.messageId = message
  const response = m.text(11)
  if (response) u.responseId = response
  const provider = m.text(12)
  if (provider) u.providerMessageId = provider
  return u
}

/** A call's identities, the most specific first: the response id, the provider's message id, the message id. */
export function identities(u: Usage): string[] {
  const out: string[] = []
  if (u.responseId) out.push(`response:${u.responseId}`)
  if (u.providerMessageId) out.push(`provider:${u.providerMessageId}`)
  if (u.messageId) out.push(`message:${u.messageId}`)
  return out
}

/** A google.protobuf.Timestamp (1 seconds, 2 nanos) as epoch ms; unset or ≤ 0 seconds is none. */
export function readTimestamp(blob: Buffer | undefined): number | undefined {
  if (!blob) return undefined
  const m = new Message(blob)
  const s = m.varint(1)
  if (!s || s <= 0) return undefined
  return s * 1000 + Math.floor(Math.min(m.varint(2) ?? 0, 999_999_999) / 1e6)
}

/** The usage of each RetryInfo (its field 2). */
const retryUsages = (blobs: Buffer[]): Usage[] =>
  blobs.flatMap((b) => {
    const u = new Message(b).bytes(2)
    return u ? [readUsage(u)] : []
  })

/** What one `steps.metadata` blob says. */
export interface StepMetadata {
  model?: string
  modelId?: number
  usages: Usage[]
  ts?: number
}

export function readStepMetadata(blob: Buffer): StepMetadata {
  const m = new Message(blob)
  const usage = m.bytes(9)
  const step: StepMetadata = { usages: [...(usage ? [readUsage(usage)] : []), ...retryUsages(m.bytesAll(28))] }
  const info = m.message(24)
  if (info) {
    const name = info.text(12) ?? info.text(8)
    if (name) step.model = name
    const id = info.varint(1)
    if (id) step.modelId = id
  }
  const ts = readTimestamp(m.bytes(8) ?? m.bytes(1))
  if (ts !== undefined) step.ts = ts
  return step
}

/** What one `gen_metadata.data` blob says (its ChatModelMetadata, field 1). */
export interface GenMetadata {
  model?: string
  modelId?: number
  usages: Usage[]
  ts?: number
}

export function readGenMetadata(blob: Buffer): GenMetadata {
  const chat = new Message(blob).message(1)
  if (!chat) throw new Error('gen_metadata blob without its ChatModelMetadata (field 1)')
  const usage = chat.bytes(4)
  const gen: GenMetadata = { usages: [...(usage ? [readUsage(usage)] : []), ...retryUsages(chat.bytesAll(17))] }
  const name = chat.text(19) ?? chat.text(21)
  if (name) gen.model = name
  const id = chat.varint(3)
  if (id) gen.modelId = id
  const ts = readTimestamp(chat.message(9)?.bytes(4))
  if (ts !== undefined) gen.ts = ts
  return gen
}

/** Antigravity's model ids that name a model (its descriptor names the others MODEL_PLACEHOLDER_M<n>). */
const MODEL_IDS = new Map<number, string>(
  Object.entries({
    246: 'gemini-2.5-pro',
    312: 'gemini-2.5-flash',
    313: 'gemini-2.5-flash-thinking',
    329: 'gemini-2.5-flash-thinking',
    330: 'gemini-2.5-flash-lite',
    281: 'claude-4-sonnet',
    282: 'claude-4-sonnet',
    290: 'claude-4-opus',
    291: 'claude-4-opus',
    333: 'claude-4.5-sonnet',
    334: 'claude-4.5-sonnet',
    340: 'claude-4.5-haiku',
    341: 'claude-4.5-haiku',
    342: 'model_openai_gpt_oss_120b_medium',
    1318: 'gemini-3.8-flash-high',
    1319: 'gemini-3.8-flash-medium',
    1320: 'gemini-3.8-flash-low',
    1298: 'gemini-3.7-flash-high',
    1299: 'gemini-3.7-flash-medium',
    1300: 'gemini-3.7-flash-low',
    1071: 'gemini-3.6-flash-high',
    1072: 'gemini-3.6-flash-medium',
    1073: 'gemini-3.6-flash-low',
  }).map(([id, name]) => [Number(id), name]),
)

/** A model id's name: a known model, else `model_placeholder_m<id − 1000>` (≥ 1000) or `antigravity-model-<id>`. */
export function modelFromId(id: number): string {
  return MODEL_IDS.get(id) ?? (id >= 1000 ? `model_placeholder_m${id - 1000}` : `antigravity-model-${id}`)
}

/** Display names with an effort level that is part of the API model's name. */
const EFFORT_NAMES = new Map<string, string>()
for (const v of ['3.8', '3.7', '3.6'])
  for (const e of ['high', 'medium', 'low']) EFFORT_NAMES.set(`gemini ${v} flash (${e})`, `gemini-${v}-flash-${e}`)

/** A name (lower case, without a parenthesised suffix) → the model it is priced as. */
const MODEL_NAMES = new Map<string, string>(
  Object.entries({
    'gemini 3.8 flash': 'gemini-3.8-flash',
    'gemini 3.8 flash thinking': 'gemini-3.8-flash',
    'gemini 3.7 flash': 'gemini-3.7-flash',
    'gemini 3.7 flash thinking': 'gemini-3.7-flash',
    'gemini 3.7 pro': 'gemini-3.7-pro',
    'gemini 3.7 pro thinking': 'gemini-3.7-pro',
    'gemini 3.6 flash': 'gemini-3.6-flash',
    'gemini 3 flash': 'gemini-3.6-flash',
    'gemini 3.6 pro': 'gemini-3.6-pro',
    'gemini 3 pro': 'gemini-3-pro',
    'gemini 3 pro thinking': 'gemini-3-pro',
    'gemini 2.5 flash': 'gemini-2.5-flash',
    'gemini 2.5 pro': 'gemini-2.5-pro',
    'gemini 2.0 flash': 'gemini-2.0-flash',
    'gemini 2 flash': 'gemini-2.0-flash',
    'gemini 2.0 pro': 'gemini-2.0-pro',
    'gemini 1.5 flash': 'gemini-1.5-flash',
    'gemini 1.5 pro': 'gemini-1.5-pro',
    model_placeholder_m318: 'gemini-3.8-flash-high',
    model_placeholder_m319: 'gemini-3.8-flash-medium',
    model_placeholder_m320: 'gemini-3.8-flash-low',
    model_placeholder_m298: 'gemini-3.7-flash-high',
    model_placeholder_m299: 'gemini-3.7-flash-medium',
    model_placeholder_m300: 'gemini-3.7-flash-low',
    model_placeholder_m71: 'gemini-3.6-flash-high',
    model_placeholder_m72: 'gemini-3.6-flash-medium',
    model_placeholder_m73: 'gemini-3.6-flash-low',
    model_placeholder_m26: 'claude-opus-4-6',
    model_placeholder_m35: 'claude-sonnet-4-6',
    model_placeholder_m36: 'gemini-3.1-pro',
    model_placeholder_m37: 'gemini-3.1-pro',
    model_placeholder_m16: 'gemini-3.1-pro',
    model_placeholder_m18: 'gemini-3-flash-preview',
    model_placeholder_m84: 'gemini-3-flash-preview',
    model_placeholder_m47: 'gemini-3-flash-preview',
    model_placeholder_m132: 'gemini-3.5-flash-high',
    model_placeholder_m133: 'gemini-3.5-flash-high',
    model_placeholder_m187: 'gemini-3.5-flash-extra-low',
    model_placeholder_m20: 'gemini-3.5-flash-medium',
    model_openai_gpt_oss_120b_medium: 'gpt-oss-120b-medium',
    'gemini-pro-default': 'gemini-3.1-pro',
    'gemini-pro-agent': 'gemini-3.1-pro',
    'gemini-3-flash-agent': 'gemini-3.5-flash-high',
    'gemini-3-flash-agent-a': 'gemini-3.5-flash-high',
    'gemini-3-flash-agent-b': 'gemini-3.5-flash-high',
    'gemini-3-flash-a': 'gemini-3.5-flash-high',
    'gemini-3-flash-b': 'gemini-3.5-flash-high',
    'gemini-3-flash-c': 'gemini-3-flash-preview',
    'gemini-3-flash': 'gemini-3-flash-preview',
    'gemini-3.5-flash-low': 'gemini-3.5-flash-medium',
    'gemini-3.1-pro-high': 'gemini-3.1-pro',
    'gemini-3.1-pro-low': 'gemini-3.1-pro',
    'gemini-3-pro-high': 'gemini-3-pro',
    'gemini-3-pro-low': 'gemini-3-pro',
    'claude 3.7 sonnet': 'claude-3-7-sonnet',
    'claude 3.7 sonnet thinking': 'claude-3-7-sonnet',
    'claude 3.5 sonnet': 'claude-3-5-sonnet',
    'claude 3.5 haiku': 'claude-3-5-haiku',
    'claude 3 opus': 'claude-3-opus',
  }),
)

/**
 * The model a name Antigravity wrote is priced as, as ccusage 20.0.24 names it: "Gemini 3 Pro
 * (High)" → gemini-3-pro, placeholders and internal aliases → their API model, any other
 * gemini/claude/gpt name with its spaces as dashes; anything else as written. Blank: undefined.
 */
export function normaliseModel(raw: string | undefined): string | undefined {
  const trimmed = raw?.trim()
  if (!trimmed) return undefined
  const lower = trimmed.toLowerCase()
  const effort = EFFORT_NAMES.get(lower)
  if (effort) return effort
  const paren = lower.indexOf('(')
  const base = paren >= 0 ? lower.slice(0, paren).trim() : lower
  const known = MODEL_NAMES.get(base)
  if (known) return known
  const dashed = base.replaceAll(' ', '-')
  return /^(gemini|claude|gpt)-/.test(dashed) ? dashed : trimmed
}

const nameOf = (name: string | undefined, id: number | undefined) =>
  normaliseModel(name) ?? (id ? normaliseModel(modelFromId(id)) : undefined)

/** The ledger buckets of one call: output holds the thinking; `reasoning` is that part. */
export function callTokens(u: Usage): {
  input: number
  output: number
  cacheWrite: number
  cacheRead: number
  reasoning: number
} {
  // Field 3 is the whole output; a blob without it is rebuilt from visible + thinking.
  const output = Math.max(u.output, u.visible + u.thinking)
  const visible = Math.max(u.visible, output - u.thinking)
  return { input: u.input, output, cacheWrite: u.cacheWrite, cacheRead: u.cacheRead, reasoning: output - visible }
}

/** A call of a database in the order ccusage reads them, before its time is settled. */
interface Call {
  usage: Usage
  model: string | undefined
  ts: number | undefined
  /** Where it was written: `steps:<idx>:<n>` or `gen:<idx>:<n>` (n = 0 the call, then its retries). */
  at: string
}

/** Timestamps ranked: a call's own (3) beats the conversation's (1). */
type Dated = { ts: number; rank: number }

/**
 * Every call of one conversation database, with its model and time settled the way ccusage
 * 20.0.24 settles them: a step's model is its own, else the last model gen_metadata names; a
 * generation's is the last one named in gen_metadata up to it; a model id in the call itself
 * wins over both. A call with no time of its own takes that of an earlier copy of it, else the
 * conversation's. Blobs that do not decode are counted in `malformed` and skipped.
 */
export function conversationCalls(db: Database): {
  calls: Array<{ usage: Usage; model: string; ts: number | undefined; at: string }>
  malformed: number
} {
  const gen = db.columns('gen_metadata')
  const steps = db.columns('steps')
  const calls: Call[] = []
  let malformed = 0
  if (gen.size === 0 && steps.size === 0) return { calls: [], malformed }
  if (gen.size && !(gen.has('idx') && gen.has('data'))) throw schemaError(db, 'gen_metadata', gen)
  if (steps.size && !(steps.has('idx') && steps.has('metadata'))) throw schemaError(db, 'steps', steps)

  let conversationTs: number | undefined
  const traj = db.columns('trajectory_metadata_blob')
  if (traj.has('data')) {
    for (const r of db.iterate('SELECT data FROM trajectory_metadata_blob ORDER BY rowid')) {
      if (!Buffer.isBuffer(r.data)) continue
      try {
        const ts = readTimestamp(new Message(r.data).bytes(2))
        conversationTs ??= ts
      } catch {
        malformed++
      }
    }
  }

  const genRows: Array<[number, GenMetadata]> = []
  if (gen.size) {
    for (const r of db.iterate('SELECT idx, data FROM gen_metadata ORDER BY idx')) {
      try {
        if (!Buffer.isBuffer(r.data)) throw new Error('not a blob')
        genRows.push([Number(r.idx), readGenMetadata(r.data)])
      } catch {
        malformed++
      }
    }
  }
  let lastNamed: string | undefined
  for (let i = genRows.length - 1; i >= 0 && !lastNamed; i--)
    lastNamed = nameOf(genRows[i]![1].model, genRows[i]![1].modelId)

  if (steps.size) {
    for (const r of db.iterate('SELECT idx, metadata FROM steps WHERE metadata IS NOT NULL ORDER BY idx')) {
      let step: StepMetadata
      try {
        if (!Buffer.isBuffer(r.metadata)) throw new Error('not a blob')
        step = readStepMetadata(r.metadata)
      } catch {
        malformed++
        continue
      }
      const model = nameOf(step.model, step.modelId) ?? lastNamed
      step.usages.forEach((usage, n) => {
        calls.push({ usage, model, ts: step.ts, at: `steps:${r.idx}:${n}` })
      })
    }
  }
  let current: string | undefined
  for (const [idx, g] of genRows) {
    current =
      nameOf(g.model, g.modelId) ??
      (g.usages[0]?.modelId ? nameOf(undefined, g.usages[0].modelId) : undefined) ??
      current
    const model = current
    g.usages.forEach((usage, n) => {
      calls.push({ usage, model, ts: g.ts, at: `gen:${idx}:${n}` })
    })
  }

  // Times: in reading order, a call without one takes that of an earlier copy, else the conversation's.
  const byIdentity = new Map<string, Dated>()
  const out: Array<{ usage: Usage; model: string; ts: number | undefined; at: string }> = []
  for (const c of calls) {
    const t = callTokens(c.usage)
    if (t.input + t.output + t.cacheWrite + t.cacheRead === 0) continue
    const keys = identities(c.usage)
    let dated: Dated | undefined = c.ts !== undefined ? { ts: c.ts, rank: 3 } : undefined
    if (!dated) for (const k of keys) if ((dated = byIdentity.get(k))) break
    if (!dated && conversationTs !== undefined) dated = { ts: conversationTs, rank: 1 }
    if (dated) {
      for (const k of keys) {
        const old = byIdentity.get(k)
        if (!old || dated.rank > old.rank || (dated.rank === old.rank && dated.ts < old.ts)) byIdentity.set(k, dated)
      }
    }
    const model = (c.usage.modelId ? nameOf(undefined, c.usage.modelId) : undefined) ?? c.model ?? DEFAULT_MODEL
    out.push({ usage: c.usage, model, ts: dated?.ts, at: c.at })
  }
  return { calls: out, malformed }
}

function schemaError(db: Database, table: string, columns: Set<string>) {
  return inputError(
    'UNKNOWN_SCHEMA',
    `${db.path}: Antigravity's ${table} table has columns (${[...columns].join(', ')}) this version does not know; update usage-ledger`,
  )
}

/** The conversation id: the database's file name without `.db`. */
export const conversationId = (file: string) => path.basename(file).replace(/\.db$/, '')

/** The record of one call, or null (counted malformed by the caller) when nothing dates it. */
export function callRecord(
  call: { usage: Usage; model: string; ts: number | undefined; at: string },
  conversation: string,
  salt: string,
): LedgerRecord | null {
  const ts = call.ts === undefined ? null : normaliseTs(call.ts)
  if (!ts) return null
  const t = callTokens(call.usage)
  // Copies of a call (its step, its generation, a retry list, a sub-conversation) share its id;
  // a call without any id is the one at its place in this conversation.
  const key = identities(call.usage)[0] ?? `${conversation}:${call.at}`
  const r: LedgerRecord = {
    v: 1,
    id: recordId(SOURCE, key),
    ts,
    source: SOURCE,
    model: intern(call.model),
    input: t.input,
    output: t.output,
    cacheWrite: t.cacheWrite,
    cacheRead: t.cacheRead,
  }
  if (t.reasoning) r.reasoning = t.reasoning
  r.session = privacyHash(conversation, salt)
  return r
}

export const antigravity: DatabaseSource = {
  name: SOURCE,
  title: 'Google Antigravity',
  kind: 'database',
  envVar: ENV_VAR,
  looksIn(env) {
    return antigravityRoots(env).map((root) => path.join(root, 'conversations'))
  },
  discover,
  /**
   * A changed database is read whole: steps are rewritten in place as they complete, and a
   * conversation is small. Its records keep their ids, so what an earlier run had folds.
   */
  database(db, file, _ctx, batch: Batch, salt) {
    const { calls, malformed } = conversationCalls(db)
    batch.malformed += malformed
    const conversation = conversationId(file.path)
    for (const c of calls) {
      const r = callRecord(c, conversation, salt)
      if (!r) {
        batch.malformed++
        continue
      }
      batch.add(r)
      batch.names(r, undefined, conversation)
    }
    return null
  },
}
