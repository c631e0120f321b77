/**
 * Kimi CLI and Kimi Code wire logs (docs/sources.md "kimi"): every `wire.jsonl` under a root's
 * `sessions/`. Kimi CLI writes one `StatusUpdate` per LLM step (`token_usage`, `message_id`, epoch
 * seconds); Kimi Code writes `usage.record` lines (epoch ms; `usageScope: "session"` lines are
 * running totals of the turns and are not read). `/fork` and `/undo` copy a session's wire lines
 * verbatim into a new session, so the id leaves the session out and the copies fold.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { Env } from '../../env.js'
import { md5hex } from '../../ledger/hash.js'
import { intern, normaliseTs, privacyHash, recordId, type LedgerRecord } from '../../ledger/record.js'
import { findJsonl, looksLikeJsonObject, parseObjectLine } from '../files.js'
import { envDirs, tokenCount as count, type Batch, type LinesSource, type SourceFile } from '../types.js'

export const SOURCE = 'kimi'
const ENV_VAR = 'KIMI_DATA_DIR'
/** The model Kimi CLI's wire never names; ccusage's fallback too (prices it by date). */
export const DEFAULT_MODEL = 'kimi-for-coding'

/**
 * KIMI_DATA_DIR (a comma list), else the two agents' own homes: Kimi CLI's `KIMI_SHARE_DIR` or
 * ~/.kimi, Kimi Code's `KIMI_CODE_HOME` or ~/.kimi-code (`Path.home()` on every OS).
 */
function kimiRoots(env: Env): string[] {
  const dirs = envDirs(env, ENV_VAR)
  if (dirs.length) return dirs
  return [
    env.vars.KIMI_SHARE_DIR ? path.resolve(env.cwd, env.vars.KIMI_SHARE_DIR) : path.join(env.userHome, '.kimi'),
    env.vars.KIMI_CODE_HOME ? path.resolve(env.cwd, env.vars.KIMI_CODE_HOME) : path.join(env.userHome, '.kimi-code'),
  ]
}

/** [input (no cache), output, cacheWrite, cacheRead] */
type Buckets = [number, number, number, number]

/**
 * The model a root's Kimi CLI lines are attributed to: `config.json`'s `model` as ccusage reads
 * it, else kimi-for-coding. Kimi CLI's own config (config.toml, `default_model` naming an entry
 * of `models`) is not read: it is today's choice, not the one a past line was written under.
 */
function configModel(root: string): string {
  return (
    readCached(path.join(root, 'config.json'), (text) => {
      const o = JSON.parse(text) as { model?: unknown }
      return typeof o.model === 'string' && o.model.trim() ? o.model.trim() : DEFAULT_MODEL
    }) ?? DEFAULT_MODEL
  )
}

/** Work-directory hash → path, from Kimi CLI's `kimi.json` (names for this machine's reports only). */
function workDirs(root: string): Map<string, string> {
  return (
    readCached(path.join(root, 'kimi.json'), (text) => {
      const out = new Map<string, string>()
      const o = JSON.parse(text) as { work_dirs?: unknown }
      if (!Array.isArray(o.work_dirs)) return out
      for (const wd of o.work_dirs as Array<{ path?: unknown; kaos?: unknown }>) {
        if (typeof wd?.path !== 'string') continue
        const md5 = md5hex(wd.path)
        out.set(typeof wd.kaos === 'string' && wd.kaos !== 'local' ? `${wd.kaos}_${md5}` : md5, wd.path)
      }
      return out
    }) ?? new Map()
  )
}

/** A root's small JSON file, parsed once per version (every wire file of the root needs it). */
const cache = new Map<string, { version: string; value: unknown }>()
function readCached<T>(file: string, parse: (text: string) => T): T | undefined {
  let version: string
  try {
    const st = fs.statSync(file)
    version = `${st.mtimeMs}:${st.size}:${st.ino}`
  } catch {
    return undefined
  }
  const hit = cache.get(file)
  if (hit?.version === version) return hit.value as T | undefined
  let value: T | undefined
  try {
    value = parse(fs.readFileSync(file, 'utf8'))
  } catch {}
  cache.set(file, { version, value })
  return value
}

interface WireLine {
  type?: unknown
  timestamp?: unknown
  message?: { type?: unknown; payload?: { token_usage?: Record<string, unknown>; message_id?: unknown } }
  model?: unknown
  usageScope?: unknown
  time?: unknown
  usage?: Record<string, unknown>
}

/** What one wire file's lines are attributed to. */
export interface KimiFile {
  session: string
  project: string
  /** The project's path when kimi.json names it, else its directory. */
  cwd: string
  model: string
}

/** A file's session (the directory under `sessions/<work dir>/`) and project (the work dir). */
export function kimiFile(file: SourceFile): KimiFile {
  const parts = path.relative(path.join(file.root, 'sessions'), file.path).split(path.sep)
  const project = parts.length >= 3 ? parts[0]! : ''
  const session = parts.length >= 3 ? parts[1]! : (parts[parts.length - 2] ?? '')
  return {
    session,
    project,
    cwd: (project && workDirs(file.root).get(project)) || project,
    model: configModel(file.root),
  }
}

/** The ledger record of one wire line, or null when it carries no usage; 'malformed' when unusable. */
export function kimiRecord(o: WireLine, f: KimiFile, salt: string): LedgerRecord | null | 'malformed' {
  let b: Buckets
  let total = 0
  let ts: string | null
  let model: string
  /** With the time and the counts, the line's identity in any session it was copied into. */
  let item: string
  if (o.type === 'usage.record') {
    // Kimi Code: one line per turn; the session-scope lines repeat the turns' running total.
    if (o.usageScope !== 'turn' || !o.usage || typeof o.usage !== 'object') return null
    const u = o.usage
    b = [count(u.inputOther), count(u.output), count(u.inputCacheCreation), count(u.inputCacheRead)]
    ts = typeof o.time === 'number' ? normaliseTs(Math.floor(o.time)) : normaliseTs(o.time ?? o.timestamp)
    const raw = typeof o.model === 'string' && o.model.trim() ? o.model.trim() : DEFAULT_MODEL
    // `kimi-code/<model>` is Kimi Code's alias of the API model `<model>` (its llm.request lines).
    model = raw.startsWith('kimi-code/') ? raw.slice(10) : raw
    item = 'usage.record'
  } else {
    const p = o.message?.type === 'StatusUpdate' ? o.message.payload : undefined
    const u = p?.token_usage
    if (!u || typeof u !== 'object') return null
    b = [count(u.input_other), count(u.output), count(u.input_cache_creation), count(u.input_cache_read)]
    total = count(u.total)
    const sec = typeof o.timestamp === 'string' ? Number(o.timestamp) : o.timestamp
    // Epoch seconds with microseconds; truncated to the millisecond as ccusage does.
    ts = typeof sec === 'number' && Number.isFinite(sec) && sec > 0 ? normaliseTs(Math.floor(sec * 1000)) : null
    model = f.model
    item = typeof p.message_id === 'string' ? p.message_id : ''
  }
  // A total no bucket explains (ccusage's `extra`) is output.
  const missing = total - (b[0] + b[1] + b[2] + b[3])
  if (missing > 0) b[1] += missing
  if (b[0] + b[1] + b[2] + b[3] === 0) return null
  if (!ts) return 'malformed'
  const r: LedgerRecord = {
    v: 1,
    id: recordId(SOURCE, `${item}|${ts}|${b.join(':')}`),
    ts,
    source: SOURCE,
    model: intern(model),
    input: b[0],
    output: b[1],
    cacheWrite: b[2],
    cacheRead: b[3],
  }
  if (f.session) r.session = privacyHash(f.session, salt)
  if (f.project) r.project = privacyHash(f.project, salt)
  return r
}

const USAGE_MARKS = [Buffer.from('"token_usage"'), Buffer.from('"usage.record"')]

export const kimi: LinesSource = {
  name: SOURCE,
  title: 'Kimi CLI / Kimi Code',
  kind: 'lines',
  envVar: ENV_VAR,
  looksIn(env) {
    return kimiRoots(env).map((root) => path.join(root, 'sessions'))
  },
  discover(env) {
    return kimiRoots(env).flatMap((root) =>
      findJsonl(path.join(root, 'sessions'))
        .filter((p) => path.basename(p) === 'wire.jsonl')
        .map((p) => ({ path: p, root })),
    )
  },
  parser(file, _ctx, batch: Batch, salt) {
    let f: KimiFile | undefined
    return {
      line(line) {
        if (!looksLikeJsonObject(line)) {
          batch.malformed++
          return
        }
        // Most wire lines are content and tool events: only lines naming usage are parsed.
        if (!line.includes(USAGE_MARKS[0]!) && !line.includes(USAGE_MARKS[1]!)) return
        const o = parseObjectLine<WireLine>(line, batch)
        if (!o) return
        f ??= kimiFile(file)
        const r = kimiRecord(o, f, salt)
        if (r === 'malformed') batch.malformed++
        else if (r) {
          batch.add(r)
          batch.names(r, f.cwd, f.session)
        }
      },
      ctx: () => undefined,
    }
  },
}
