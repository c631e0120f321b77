/**
 * OpenClaw's per-agent SQLite store, `<state>/agents/<agent>/agent/openclaw-agent.sqlite`, table
 * `transcript_events(session_id, seq, event_json, created_at)`: newer OpenClaw versions append
 * each transcript entry there instead of (or, after `openclaw doctor --fix` migrated a legacy
 * session, besides) its `agents/<agent>/sessions/<id>.jsonl` line. `event_json` is that same entry
 * (the `session` header, `model_change`, `message`…), so each row goes through the JSONL source's
 * own reader (collect/openclaw) with one session state per `session_id`: a record has the source
 * `openclaw` and the same id as the JSONL line it copies, and an entry in both counts once.
 * Rows later versions store compressed (`event_json` NULL, `event_zstd`) are read where this Node
 * has zstd, else counted malformed.
 *
 * Incremental: the rows after the last rowid read (the table is append-only; a rewrite inserts
 * new rows, which fold by id). The header and model of the sessions read last are kept in the ctx;
 * another session's are rebuilt from its earlier header and model rows. The rowid is kept with the
 * (session_id, seq) it named, so a database whose rowids moved is read whole again.
 */
import fs from 'node:fs'
import path from 'node:path'
import { createRequire } from 'node:module'
import { newSessionCtx, type SessionCtx, type SessionLine } from '../pi/index.js'
import { openclawLine, stateDirs } from '../openclaw/index.js'
import { requireColumns } from '../sqlite.js'
import type { DatabaseSource, SourceFile } from '../types.js'

export const SOURCE = 'openclaw-db'
const DB_NAME = 'openclaw-agent.sqlite'

export interface OpenclawDbCtx {
  rowid: number
  /** `session_id` and `seq` of the row at `rowid`. */
  at: [string, number] | null
  /** The state (header, model) of the sessions read last, at most MAX_SESSIONS, oldest first. */
  sessions: Record<string, SessionCtx>
}

/** Sessions whose state the cursor keeps; another one's is rebuilt from its earlier rows. */
const MAX_SESSIONS = 64

const newCtx = (): OpenclawDbCtx => ({ rowid: 0, at: null, sessions: {} })

function asCtx(ctx: unknown): OpenclawDbCtx {
  if (!ctx || typeof ctx !== 'object') return newCtx()
  const c = ctx as Partial<OpenclawDbCtx>
  return typeof c.rowid === 'number' && c.sessions && typeof c.sessions === 'object'
    ? { rowid: c.rowid, at: Array.isArray(c.at) ? c.at : null, sessions: { ...c.sessions } }
    : newCtx()
}

/** A directory or file that is itself one, not a symlink to one (OpenClaw's and ccusage's rule). */
const isReal = (p: string, dir: boolean) => {
  try {
    const st = fs.lstatSync(p)
    return dir ? st.isDirectory() : st.isFile()
  } catch {
    return false
  }
}

type Zstd = (b: Buffer) => Buffer
let zstdOf: Zstd | null | undefined
/** Node's zstd (22.15+), loaded at the first compressed row; null where this Node has none. */
const zstd = () =>
  zstdOf !== undefined
    ? zstdOf
    : (zstdOf =
        (createRequire(import.meta.url)('node:zlib') as { zstdDecompressSync?: Zstd }).zstdDecompressSync ?? null)

/** A row's event text: `event_json`, else its zstd-compressed copy; null when neither can be read. */
function eventText(row: Record<string, unknown>): string | null {
  if (typeof row.event_json === 'string') return row.event_json
  const unzstd = Buffer.isBuffer(row.event_zstd) ? zstd() : null
  if (unzstd) {
    try {
      return unzstd(row.event_zstd as Buffer).toString('utf8')
    } catch {}
  }
  return null
}

export const openclawDb: DatabaseSource = {
  name: SOURCE,
  title: 'OpenClaw (agent database)',
  kind: 'database',
  envVar: 'OPENCLAW_DIR',
  looksIn: stateDirs,
  discover(env) {
    const files: SourceFile[] = []
    for (const root of stateDirs(env)) {
      const agents = path.join(root, 'agents')
      if (!isReal(agents, true)) continue
      let names: string[] = []
      try {
        names = fs.readdirSync(agents).sort()
      } catch {}
      for (const a of names) {
        const dir = path.join(agents, a, 'agent')
        const p = path.join(dir, DB_NAME)
        if (isReal(path.join(agents, a), true) && isReal(dir, true) && isReal(p, false)) files.push({ path: p, root })
      }
    }
    return files
  },
  database(db, _file, ctx, batch, salt) {
    const cols = db.columns('transcript_events')
    // A store without transcripts yet (another table set) has nothing to read.
    if (!cols.size) return asCtx(ctx)
    requireColumns(db, 'transcript_events', ['session_id', 'seq', 'event_json', 'created_at'], 'OpenClaw', cols)
    let c = asCtx(ctx)
    if (c.rowid > 0) {
      const at = db.all('SELECT session_id, seq FROM transcript_events WHERE rowid = ?', c.rowid)[0]
      if (!at || !c.at || at.session_id !== c.at[0] || at.seq !== c.at[1]) c = newCtx()
    }
    const zstdCol = cols.has('event_zstd') ? 'event_zstd' : 'NULL AS event_zstd'
    const readBefore = c.rowid
    /** A session's state from its rows already read: only its header and model lines matter. */
    const rebuild = (sid: string): SessionCtx => {
      const st: SessionCtx = { ...newSessionCtx(), session: sid }
      if (readBefore === 0) return st
      const earlier = db.iterate(
        `SELECT event_json, ${zstdCol} FROM transcript_events WHERE session_id = ? AND rowid <= ?
         AND (event_json IS NULL OR event_json LIKE '%"session"%' OR event_json LIKE '%model%') ORDER BY seq`,
        sid,
        readBefore,
      )
      for (const row of earlier) {
        const text = eventText(row)
        let o: (SessionLine & { customType?: unknown }) | null = null
        try {
          o = text === null ? null : JSON.parse(text)
        } catch {}
        if (!o || typeof o !== 'object') continue
        if (
          o.type === 'session' ||
          o.type === 'model_change' ||
          (o.type === 'custom' && o.customType === 'model-snapshot')
        )
          openclawLine(o, st, batch, salt)
      }
      return st
    }
    const rows = db.iterate(
      `SELECT rowid AS rowid_, session_id, seq, event_json, ${zstdCol}, created_at FROM transcript_events WHERE rowid > ? ORDER BY rowid`,
      c.rowid,
    )
    for (const row of rows) {
      c.rowid = row.rowid_ as number
      const sid = String(row.session_id)
      c.at = [sid, row.seq as number]
      const text = eventText(row)
      let o: unknown
      try {
        o = text === null ? null : JSON.parse(text)
      } catch {}
      if (!o || typeof o !== 'object' || Array.isArray(o)) {
        batch.malformed++
        continue
      }
      const s = c.sessions[sid] ?? rebuild(sid)
      // The session read last goes last (the ones kept are the most recent).
      delete c.sessions[sid]
      c.sessions[sid] = s
      const e = o as SessionLine
      // An entry without any time of its own is dated by its row (ccusage's fallback); one with
      // a time keeps its content as the JSONL line has it, so both copies share their id.
      if (
        e.timestamp === undefined &&
        (e.message?.timestamp ?? undefined) === undefined &&
        typeof row.created_at === 'number' &&
        row.created_at > 0
      )
        e.timestamp = new Date(row.created_at).toISOString()
      openclawLine(e, s, batch, salt)
    }
    const keys = Object.keys(c.sessions)
    for (const k of keys.slice(0, Math.max(0, keys.length - MAX_SESSIONS))) delete c.sessions[k]
    return c
  },
}
