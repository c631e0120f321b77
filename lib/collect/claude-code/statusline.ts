/**
 * What Claude Code passes a statusline command on stdin (JSON: model, session, cost, and for Pro
 * and Max subscribers since v2.1.80 `rate_limits.five_hour` / `seven_day`, each
 * `{used_percentage, resets_at}` with `resets_at` in Unix seconds), its limit readings, and the
 * account they describe: `oauthAccount.accountUuid` of Claude Code's global config file, hashed
 * (the raw id is never kept).
 */
import path from 'node:path'
import { accountHash, instantOf, makeReading, type LimitReading } from '../../ledger/limits.js'

export interface StatuslineWindow {
  used_percentage?: unknown
  resets_at?: unknown
}

export interface StatuslineInput {
  session_id?: unknown
  model?: { id?: unknown; display_name?: unknown }
  workspace?: { current_dir?: unknown; project_dir?: unknown }
  cost?: { total_cost_usd?: unknown }
  rate_limits?: { five_hour?: StatuslineWindow | null; seven_day?: StatuslineWindow | null } | null
}

export const CLAUDE_SOURCE = 'claude-code'

/** The input as an object, or null when it is none (bad JSON is ignored, never an error). */
export function parseStatuslineInput(text: string): StatuslineInput | null {
  if (!text.trim()) return null
  try {
    const o = JSON.parse(text) as unknown
    return o && typeof o === 'object' && !Array.isArray(o) ? (o as StatuslineInput) : null
  } catch {
    return null
  }
}

/** A window of `rate_limits` with the values a reading of it would hold (percent rounded, reset as an instant). */
export interface StatuslineWindowValues {
  minutes: 300 | 10_080
  usedPercent: number
  resetsAt?: string
}

/**
 * The windows of `rate_limits` (one absent or without a number is none), as `makeReading` would
 * keep them, but without its id: the statusline hashes only a reading it spools.
 */
export function statuslineWindows(input: StatuslineInput | null): StatuslineWindowValues[] {
  const limits = input?.rate_limits
  if (!limits || typeof limits !== 'object') return []
  const out: StatuslineWindowValues[] = []
  for (const [w, minutes] of [
    [limits.five_hour, 300],
    [limits.seven_day, 10_080],
  ] as const) {
    if (!w || typeof w !== 'object') continue
    const used = w.used_percentage
    // makeReading's bounds: over 10× a limit is no reading.
    if (typeof used !== 'number' || !Number.isFinite(used) || used < 0 || used > 1000) continue
    const v: StatuslineWindowValues = { minutes, usedPercent: Math.round(used * 100) / 100 }
    const resets = w.resets_at === undefined || w.resets_at === null ? null : instantOf(w.resets_at)
    if (resets) v.resetsAt = resets
    out.push(v)
  }
  return out
}

/** A window as the limit reading taken at `ts` (null when the values are no reading). */
export const statuslineReading = (w: StatuslineWindowValues, ts: string, account: string): LimitReading | null =>
  makeReading({
    ts,
    source: CLAUDE_SOURCE,
    account,
    minutes: w.minutes,
    usedPercent: w.usedPercent,
    resetsAt: w.resetsAt,
  })

/**
 * Claude Code's global config file: `.claude.json` in the first CLAUDE_CONFIG_DIR entry when
 * that is set (Claude Code reads it there), else `~/.claude.json`.
 */
export function claudeConfigFile(vars: Record<string, string | undefined>, userHome: string): string {
  const dir = vars.CLAUDE_CONFIG_DIR?.split(',')[0]?.trim()
  return path.join(dir || userHome, '.claude.json')
}

/**
 * The account hash in Claude Code's config text: only the `oauthAccount` object is parsed (the
 * file holds every project's history and can be megabytes). Null when it names no account.
 */
export function accountOfClaudeConfig(text: string): string | null {
  const key = '"oauthAccount"'
  for (let at = text.indexOf(key); at >= 0; at = text.indexOf(key, at + key.length)) {
    const m = /^\s*:\s*\{/.exec(text.slice(at + key.length, at + key.length + 64))
    if (!m) continue
    const start = at + key.length + m[0].length - 1
    const end = objectEnd(text, start)
    if (end < 0) return null
    try {
      const uuid = (JSON.parse(text.slice(start, end + 1)) as { accountUuid?: unknown }).accountUuid
      return typeof uuid === 'string' && uuid ? accountHash(uuid) : null
    } catch {
      return null
    }
  }
  return null
}

/** The index of the `}` closing the object opened at `start` (strings skipped), or -1. */
function objectEnd(text: string, start: number): number {
  let depth = 0
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 34 /* " */) {
      for (i++; i < text.length && text.charCodeAt(i) !== 34; i++) if (text.charCodeAt(i) === 92 /* \ */) i++
    } else if (c === 123 /* { */) depth++
    else if (c === 125 /* } */ && --depth === 0) return i
  }
  return -1
}
