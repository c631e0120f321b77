/**
 * Factory Droid sessions (DESIGN §5): `<workspace>/<session>.settings.json`, rewritten in place,
 * holds the session's running total `tokenUsage`, and nothing per response. The session is one
 * cumulative counter (collect/counters.ts): one record with an id and `ts` that never change,
 * carrying the whole total; when the total grows the larger copy replaces it. So the whole
 * session lands on the day it started, as in ccusage. The sidecar `<session>.jsonl` gives the
 * working directory, and the model and start time when the settings lack them.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { Env } from '../../env.js'
import { intern, normaliseTs, privacyHash, recordId, type LedgerRecord } from '../../ledger/record.js'
import { findFiles, isFileOrLink } from '../files.js'
import { envDirs, tokenCount as count, type Batch, type DocumentsSource, type SourceFile } from '../types.js'

export const SOURCE = 'droid'
const ENV_VAR = 'DROID_SESSIONS_DIR'
const SETTINGS = '.settings.json'

/** DROID_SESSIONS_DIR (comma list), else ~/.factory/sessions (%USERPROFILE%\.factory\sessions). */
function sessionDirs(env: Env): string[] {
  const dirs = envDirs(env, ENV_VAR)
  return dirs.length ? dirs : [path.join(env.userHome, '.factory', 'sessions')]
}

type Obj = Record<string, unknown>

const obj = (v: unknown): Obj | null => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : null)
const text = (v: unknown) => (typeof v === 'string' ? v.trim() : '')

/**
 * A model name as Droid shows it, made comparable as ccusage does (the `custom:` prefix and
 * `[Provider]` tags dropped, lower case, spaces and dashes as one `-`), but keeping its dots
 * (`gemini-2.5-pro`, not ccusage's `gemini-2-5-pro`): pricing matches the raw name. A custom
 * (BYOK) model's id ends in its index in the user's list (`custom:GLM-4.6-[Z.AI]-0`), which is
 * no part of the model.
 */
export function droidModel(raw: string): string {
  let m = raw.trim()
  if (m.startsWith('custom:')) m = m.slice('custom:'.length).replace(/\]-\d+$/, ']')
  let depth = 0
  let bare = ''
  for (const ch of m) {
    if (ch === '[') depth++
    else if (ch === ']') depth = Math.max(0, depth - 1)
    else if (depth === 0) bare += ch
  }
  return bare
    .toLowerCase()
    .replace(/[\s-]+/g, '-')
    .replace(/^-+|-+$/g, '')
}

/** ccusage's stand-in when neither the settings nor the sidecar name the model. */
function providerDefault(provider: string): string {
  const p = provider.toLowerCase().replace(/-/g, '_')
  if (p === 'anthropic' || p === 'claude') return 'claude-unknown'
  if (p === 'openai') return 'gpt-unknown'
  if (['google', 'google_ai', 'gemini', 'vertex', 'vertex_ai'].includes(p)) return 'gemini-unknown'
  if (p === 'xai' || p === 'x_ai' || p === 'grok') return 'grok-unknown'
  return 'unknown'
}

/** What the sidecar's first lines tell: its `session_start` cwd, the first time, a `Model:` line. */
interface Sidecar {
  cwd: string
  ts: string | null
  model: string
}

/** Head of the sidecar read: its first 500 lines, as ccusage searches them, within 1 MiB. */
const SIDECAR_BYTES = 1 << 20
const SIDECAR_LINES = 500

function readSidecar(settingsPath: string): Sidecar {
  const out: Sidecar = { cwd: '', ts: null, model: '' }
  let head: string
  try {
    const fd = fs.openSync(`${settingsPath.slice(0, -SETTINGS.length)}.jsonl`, 'r')
    try {
      const buf = Buffer.allocUnsafe(SIDECAR_BYTES)
      head = buf.toString('utf8', 0, fs.readSync(fd, buf, 0, SIDECAR_BYTES, 0))
    } finally {
      fs.closeSync(fd)
    }
  } catch {
    return out
  }
  for (const line of head.split('\n').slice(0, SIDECAR_LINES)) {
    if (!out.cwd || !out.ts) {
      let o: Obj | null = null
      try {
        o = obj(JSON.parse(line))
      } catch {}
      if (o?.type === 'session_start' && !out.cwd) out.cwd = text(o.cwd)
      out.ts ??= normaliseTs(o?.timestamp)
    }
    if (!out.model) {
      const at = line.indexOf('Model:')
      // The model's name runs to the end of its line in the message text (`\n` in the JSON).
      const name =
        at < 0
          ? ''
          : line
              .slice(at + 'Model:'.length)
              .split(/["\\[]/)[0]!
              .trim()
      if (name) out.model = droidModel(name)
    }
    if (out.cwd && out.ts && out.model) break
  }
  return out
}

/** What a session's cursor keeps: the time its record was given when only the file's mtime had one. */
interface DroidCtx {
  ts?: string
}

/**
 * The session's record, or null when it has used nothing. The time is the settings'
 * `providerLockTimestamp` (when the session's provider was fixed, at its start), else the
 * sidecar's first time, else the file's mtime as first seen (kept in the cursor so that a
 * rewrite does not move it).
 */
export function droidSession(file: SourceFile, json: string, ctx: DroidCtx, batch: Batch, salt: string): DroidCtx {
  const settings = obj(JSON.parse(json))
  if (!settings) throw new Error('not Droid settings')
  const usage = obj(settings.tokenUsage)
  if (!usage) return ctx
  const input = count(usage.inputTokens)
  const cacheWrite = count(usage.cacheCreationTokens)
  const cacheRead = count(usage.cacheReadTokens)
  const thinking = count(usage.thinkingTokens)
  const parts = input + count(usage.outputTokens) + cacheWrite + cacheRead + thinking
  // Thinking is billed as output; what a reported total has beyond the buckets is output too.
  const output = count(usage.outputTokens) + thinking + Math.max(0, count(usage.totalTokens) - parts)
  if (input + output + cacheWrite + cacheRead === 0) return ctx

  const sessionId = path.basename(file.path).slice(0, -SETTINGS.length)
  const sidecar = readSidecar(file.path)
  const model =
    (text(settings.model) && droidModel(text(settings.model))) ||
    sidecar.model ||
    providerDefault(text(settings.providerLock))
  let ts = normaliseTs(text(settings.providerLockTimestamp)) ?? sidecar.ts
  let next: DroidCtx = {}
  if (!ts) {
    ts = ctx.ts ?? new Date(fs.statSync(file.path).mtimeMs).toISOString()
    next = { ts }
  }
  const r: LedgerRecord = {
    v: 1,
    id: recordId(SOURCE, sessionId),
    ts,
    source: SOURCE,
    model: intern(model),
    input,
    output,
    cacheWrite,
    cacheRead,
    session: privacyHash(sessionId, salt),
  }
  if (thinking) r.reasoning = thinking
  if (sidecar.cwd) r.project = privacyHash(sidecar.cwd, salt)
  batch.add(r)
  batch.names(r, sidecar.cwd, sessionId)
  return next
}

export const droid: DocumentsSource = {
  name: SOURCE,
  title: 'Factory Droid',
  kind: 'documents',
  envVar: ENV_VAR,
  looksIn: sessionDirs,
  discover(env: Env) {
    return sessionDirs(env).flatMap((root) =>
      findFiles(root, (name, e) => name.endsWith(SETTINGS) && isFileOrLink(e)).map((p) => ({ path: p, root })),
    )
  },
  document(file, text, ctx, batch, salt) {
    return droidSession(file, text.toString('utf8'), obj(ctx) ?? {}, batch, salt)
  },
}
