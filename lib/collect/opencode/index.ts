/**
 * OpenCode (docs/sources.md "opencode") and its fork Kilo CLI ("kilo"): one assistant message is
 * one record. Both keep their messages in SQLite (`<data>/opencode.db`, `<data>/kilo.db`), table
 * `message(id, session_id, time_created, time_updated, data)` where `data` is the message JSON
 * without its id and session id. OpenCode before its database (≤ 1.1) wrote the same JSON, one
 * file per message, at `<data>/storage/message/<sessionID>/<messageID>.json`; the database's
 * first start copies them into `message` and leaves the files where they were. Both copies of a
 * message carry one record id (made from the message id), so it counts once.
 *
 * A database is read from where the last run stopped: rows whose `time_updated` is at or after
 * the latest one seen, less a margin for writers whose transactions commit out of order (several
 * OpenCode processes share the file). An assistant message is written when it starts (tokens 0)
 * and rewritten when each step finishes: its `time_updated` moves, it is read again under the
 * same id, and the ledger keeps the copy with the largest total. A message's `tokens` are its
 * last step's only: its usage is the sum of its `step-finish` parts (`stepsOf`). A fork copies
 * messages under new ids: those copies are replays of their originals (`openCodeCopy`).
 */
import path from 'node:path'
import type { Env } from '../../env.js'
import { intern, normaliseTs, privacyHash, recordId, type LedgerRecord } from '../../ledger/record.js'
import { findFiles, isFileOrLink } from '../files.js'
import { requireColumns, type Database } from '../sqlite.js'
import fs from 'node:fs'
import { envDirs, tokenCount as count, type Batch, type Copy, type DatabaseSource, type SourceFile } from '../types.js'

type Obj = Record<string, unknown>
const obj = (v: unknown): Obj | null => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : null)
const text = (v: unknown) => (typeof v === 'string' ? v.trim() : '')

/** How far before the latest `time_updated` seen the next read starts (out-of-order commits, clock steps). */
export const MARGIN_MS = 5 * 60_000

/** Where reading a database stopped: the latest `message.time_updated` read (ms). */
interface Ctx {
  updated: number
}

/** One agent of the OpenCode family: its names and where it keeps its data. */
interface Agent {
  name: string
  title: string
  envVar: string
  /** The directory name under the XDG data home (`xdg-basedir`'s, the same on every OS). */
  app: string
  /** The agent's own variable naming its database file (absolute, or under the data directory). */
  dbVar?: string
}

/**
 * The agent's data directories: its variable (a comma list), else `$XDG_DATA_HOME/<app>` when
 * that is absolute, else `~/.local/share/<app>`. OpenCode and Kilo take their data home from
 * `xdg-basedir`, which has no per-OS defaults: `~/.local/share` on macOS and Windows too
 * (`%USERPROFILE%\.local\share\opencode`).
 */
function dataDirs(env: Env, a: Agent): string[] {
  const dirs = envDirs(env, a.envVar)
  if (dirs.length) return dirs
  const xdg = env.vars.XDG_DATA_HOME
  return [path.join(xdg && path.isAbsolute(xdg) ? xdg : path.join(env.userHome, '.local', 'share'), a.app)]
}

/**
 * The databases of a data directory: `<app>.db` (the latest and beta channels), and those of
 * other release channels, `<app>-<channel>.db` (channel characters other than `[A-Za-z0-9._-]`
 * made `-`, as OpenCode's `Database.getChannelPath`), each holding its own messages.
 */
function databases(dir: string, app: string): string[] {
  let names: string[]
  try {
    names = fs.readdirSync(dir)
  } catch {
    return []
  }
  const re = new RegExp(`^${app}(-[A-Za-z0-9._-]+)?\\.db$`)
  return names
    .filter((n) => re.test(n))
    .sort()
    .map((n) => path.join(dir, n))
    .filter(isFile)
}

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile()
  } catch {
    return false
  }
}

/** The message time: epoch ms (seconds when below 1e12, as some Kilo builds write). */
function epochMs(v: unknown): number | null {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v
  if (typeof n !== 'number' || !Number.isFinite(n) || n <= 0) return null
  return n < 1e12 ? n * 1000 : n
}

/** The five counts of a message's `tokens` block, in the ledger's meaning (DESIGN §4). */
export interface Counts {
  input: number
  output: number
  cacheWrite: number
  cacheRead: number
  reasoning: number
}

/**
 * `tokens: {input, output, reasoning, cache: {read, write}, total?}`: input excludes the cache.
 * OpenCode on AI SDK 6 stores `output` without the reasoning (`outputTokens − reasoningTokens`)
 * and `total` with it; before, on AI SDK 5, `output` held an OpenAI model's reasoning already
 * and `total` counted it once. So when `total` is there the output is what it holds beyond input
 * and cache (never less than `output`), which is right for both; without `total`, output +
 * reasoning, as the current OpenCode means it.
 */
export function openCodeCounts(tokens: Obj): Counts {
  const cache = obj(tokens.cache)
  const input = count(tokens.input)
  const cacheWrite = count(cache?.write)
  const cacheRead = count(cache?.read)
  const out = count(tokens.output)
  const reasoning = count(tokens.reasoning)
  const total = count(tokens.total)
  const output = total > 0 ? Math.max(out, total - input - cacheWrite - cacheRead) : out + reasoning
  return { input, output, cacheWrite, cacheRead, reasoning: Math.min(reasoning, output) }
}

/** What a message is attributed to beyond its JSON: its id and session (the row's or the file's). */
export interface MessageKey {
  id: string
  session: string
  /** The row's `time_created` (ms), used when the JSON has no time. */
  created?: unknown
  /** The session's directory, used when the message has no `path.cwd`. */
  cwd?: string
  /** The message's steps summed (its `step-finish` parts), when the database has them. */
  steps?: Counts
}

/**
 * The record of one message's JSON, or null when it is no usage (a user message, tokens all
 * zero, one still being written); 'malformed' when it has tokens but no model or no time.
 */
export function openCodeRecord(
  source: string,
  data: Obj,
  key: MessageKey,
  salt: string,
): LedgerRecord | null | 'malformed' {
  if (data.role !== undefined && data.role !== 'assistant') return null
  const tokens = obj(data.tokens)
  if (!tokens) return null
  const c = moreOf(openCodeCounts(tokens), key.steps)
  if (c.input + c.output + c.cacheWrite + c.cacheRead === 0) return null
  const model = text(data.modelID) || text(obj(data.model)?.id) || text(obj(data.model)?.modelID)
  const ms = epochMs(obj(data.time)?.created) ?? epochMs(key.created)
  const ts = ms === null ? null : normaliseTs(Math.floor(ms))
  if (!model || !ts || !key.id) return 'malformed'
  const r: LedgerRecord = {
    v: 1,
    id: recordId(source, key.id),
    ts,
    source,
    model: intern(model),
    input: c.input,
    output: c.output,
    cacheWrite: c.cacheWrite,
    cacheRead: c.cacheRead,
  }
  if (c.reasoning) r.reasoning = c.reasoning
  if (typeof data.cost === 'number' && Number.isFinite(data.cost) && data.cost > 0) r.costUSD = data.cost
  if (key.session) r.session = privacyHash(key.session, salt)
  const cwd = text(obj(data.path)?.cwd) || key.cwd || ''
  if (cwd) r.project = privacyHash(cwd, salt)
  return r
}

/** How long after a message's creation an id of it must be made to be a fork's copy. */
export const FORK_GAP_MS = 60_000
const ID_MS_WRAP = 2 ** 36

/**
 * The message a record copies (DESIGN §5 replay rule). `Session.fork` copies a session's messages
 * into a new session under new ids, with the same `time.created`, model and tokens. A message id
 * is `msg_` + 12 hex digits of (creation ms × 4096 + a counter), low 48 bits, + random: an
 * original's id was made when it was created, a fork's copy's when the fork was made. So the
 * item is the creation time and model, and a copy whose id is over a minute younger than its
 * `time.created` is a replay, dropped when the original is recorded (ccusage counts it again).
 */
export function openCodeCopy(source: string, id: string, data: Obj): Copy | undefined {
  const m = /^msg_([0-9a-f]{12})/.exec(id)
  const created = epochMs(obj(data.time)?.created)
  const model = text(data.modelID) || text(obj(data.model)?.id)
  if (!m || created === null) return undefined
  const idMs = Math.floor(Number.parseInt(m[1]!, 16) / 4096)
  const age = (((idMs - (Math.floor(created) % ID_MS_WRAP)) % ID_MS_WRAP) + ID_MS_WRAP) % ID_MS_WRAP
  return {
    of: `${source}:${Math.floor(created)}|${text(data.providerID)}|${model}`,
    replay: age > FORK_GAP_MS && age < ID_MS_WRAP / 2,
  }
}

function add(batch: Batch, source: string, data: Obj, key: MessageKey, salt: string): void {
  const r = openCodeRecord(source, data, key, salt)
  if (r === 'malformed') batch.malformed++
  else if (r) {
    batch.add(r, openCodeCopy(source, key.id, data))
    batch.names(r, text(obj(data.path)?.cwd) || key.cwd, key.session)
  }
}

const REQUIRED = ['id', 'session_id', 'data']

const total = (c: Counts) => c.input + c.output + c.cacheWrite + c.cacheRead

/**
 * A message's usage: its `tokens` are those of its last step only (OpenCode's processor sets
 * `assistantMessage.tokens = usage.tokens` at each `finish-step`, while it adds up the cost), and
 * each step's usage is also a `step-finish` part. So the steps' sum, unless parts are missing
 * and the message says more.
 */
function moreOf(message: Counts, steps: Counts | undefined): Counts {
  return steps && total(steps) >= total(message) ? steps : message
}

/**
 * A step-finish part is a few hundred bytes; a tool part may hold megabytes of output. SQLite's
 * `octet_length` reads a value's size without its overflow pages, so big parts are never loaded.
 */
const STEP_PARTS = 'SELECT data FROM part WHERE message_id = ? AND octet_length(data) < 4096'

/** The sum of the `step-finish` parts of one message, or undefined when it has none. */
function stepsOf(db: Database, messageId: string): Counts | undefined {
  let sum: Counts | undefined
  for (const p of db.iterate(STEP_PARTS, messageId)) {
    const json = String(p.data)
    if (!json.includes('"step-finish"')) continue
    let o: Obj | null
    try {
      o = obj(JSON.parse(json))
    } catch {
      continue
    }
    const tokens = o?.type === 'step-finish' ? obj(o.tokens) : null
    if (!tokens) continue
    const c = openCodeCounts(tokens)
    sum = sum
      ? {
          input: sum.input + c.input,
          output: sum.output + c.output,
          cacheWrite: sum.cacheWrite + c.cacheWrite,
          cacheRead: sum.cacheRead + c.cacheRead,
          reasoning: sum.reasoning + c.reasoning,
        }
      : c
  }
  return sum
}

/** Reads the `message` rows changed since `ctx` into the batch; returns where it stopped. */
function readDatabase(source: string, db: Database, ctx: unknown, batch: Batch, salt: string): Ctx | undefined {
  const cols = requireColumns(db, 'message', REQUIRED, source)
  const incremental = cols.has('time_updated')
  const partCols = db.columns('part')
  const parts = partCols.has('message_id') && partCols.has('data')
  const after = incremental && typeof (ctx as Ctx)?.updated === 'number' ? (ctx as Ctx).updated - MARGIN_MS : null
  const created = cols.has('time_created') ? 'time_created' : 'NULL'
  const updated = incremental ? 'time_updated' : 'NULL'
  const sql = `SELECT id, session_id, ${created} AS created, ${updated} AS updated, data FROM message${after === null ? '' : ' WHERE time_updated >= ?'}`
  let latest = typeof (ctx as Ctx)?.updated === 'number' ? (ctx as Ctx).updated : 0
  let dirs: Map<string, string> | undefined
  const sessionDir = (id: string) => {
    if (!dirs) {
      dirs = new Map()
      if (db.columns('session').has('directory'))
        for (const s of db.iterate('SELECT id, directory FROM session'))
          if (typeof s.directory === 'string') dirs.set(String(s.id), s.directory)
    }
    return dirs.get(id)
  }
  for (const row of after === null ? db.iterate(sql) : db.iterate(sql, after)) {
    if (typeof row.updated === 'number' && row.updated > latest) latest = row.updated
    let data: unknown
    try {
      data = JSON.parse(String(row.data))
    } catch {
      batch.malformed++
      continue
    }
    const o = obj(data)
    if (!o) {
      batch.malformed++
      continue
    }
    // Only what can be usage is looked at further (user messages have no tokens).
    if (!obj(o.tokens)) continue
    const session = text(row.session_id)
    const id = text(row.id)
    const cwd = text(obj(o.path)?.cwd) ? undefined : sessionDir(session)
    const steps = parts && o.role === 'assistant' && id ? stepsOf(db, id) : undefined
    add(batch, source, o, { id, session, created: row.created, cwd, steps }, salt)
  }
  return incremental ? { updated: latest } : undefined
}

/** The source of one agent of the OpenCode family. */
export function openCodeFamily(a: Agent): DatabaseSource {
  return {
    name: a.name,
    title: a.title,
    kind: 'database',
    envVar: a.envVar,
    looksIn(env) {
      return dataDirs(env, a)
    },
    discover(env) {
      const out: SourceFile[] = []
      const seen = new Set<string>()
      // OPENCODE_DB: OpenCode's own override of its database file (absolute, or relative to its
      // data directory); read where it points, beside the data directories' own databases.
      const own = a.dbVar ? env.vars[a.dbVar] : undefined
      for (const root of dataDirs(env, a)) {
        const named = own && own !== ':memory:' ? path.resolve(root, own) : undefined
        const dbs = databases(root, a.app)
        if (named && !dbs.includes(named) && isFile(named)) dbs.push(named)
        for (const p of dbs) {
          if (seen.has(p)) continue
          seen.add(p)
          out.push({ path: p, root })
        }
        for (const p of findFiles(
          path.join(root, 'storage', 'message'),
          (n, e) => n.endsWith('.json') && isFileOrLink(e),
        ))
          out.push({ path: p, root, document: true })
      }
      return out
    },
    database(db, _file, ctx, batch, salt) {
      return readDatabase(a.name, db, ctx, batch, salt)
    },
    document(file, bytes, _ctx, batch, salt) {
      const o = obj(JSON.parse(bytes.toString('utf8')))
      if (!o) throw new Error('not a JSON object')
      if (!obj(o.tokens)) return undefined
      // storage/message/<sessionID>/<messageID>.json: OpenCode's own migration takes the row's
      // id and session from these names, not from the JSON, so the copies share one id.
      const id = path.basename(file.path, '.json')
      const session = path.basename(path.dirname(file.path)) || text(o.sessionID)
      add(batch, a.name, o, { id, session }, salt)
      return undefined
    },
  }
}

export const opencode = openCodeFamily({
  name: 'opencode',
  title: 'OpenCode',
  envVar: 'OPENCODE_DATA_DIR',
  app: 'opencode',
  dbVar: 'OPENCODE_DB',
})
