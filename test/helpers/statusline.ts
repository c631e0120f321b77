/** For the statusline's tests: Claude Code's stdin as it sends it, and waiting on the background refresh. */
import fs from 'node:fs'
import path from 'node:path'
import { pollUntil } from './spawn.js'

/** `pollUntil` (helpers/spawn.ts) with this file's bound (60 s: a background refresh runs record and fetch). */
export const until = (what: string, check: () => boolean, ms = 60_000) => pollUntil(what, check, ms)

/** Waits until the store's background refresh is done: no refresh lock, and the cache written. */
export function refreshDone(store: string, ms?: number): Promise<void> {
  const state = path.join(store, 'state')
  return until(
    'the background refresh',
    () => !fs.existsSync(path.join(state, 'refresh.lock')) && fs.existsSync(path.join(state, 'live.json')),
    ms,
  )
}

/**
 * What Claude Code 2.1.x writes on a statusline command's stdin (its documented fields), with
 * `rate_limits` as a Pro/Max subscriber gets them when `limits` is given (`resets_at` in Unix seconds).
 */
export function claudeInput(
  dir: string,
  limits?: { fiveHour?: [number, number]; sevenDay?: [number, number] },
): string {
  const o: Record<string, unknown> = {
    hook_event_name: 'Status',
    session_id: '3f1c2a8e-6b7d-4e21-9a0c-5d2f8b7e1c44',
    transcript_path: path.join(dir, 'claude/projects/-work-app/3f1c2a8e-6b7d-4e21-9a0c-5d2f8b7e1c44.jsonl'),
    cwd: '/work/app',
    model: { id: 'claude-opus-4-5-20251101', display_name: 'Opus 4.5' },
    workspace: { current_dir: '/work/app', project_dir: '/work/app' },
    version: '2.1.84',
    output_style: { name: 'default' },
    cost: {
      total_cost_usd: 1.2345,
      total_duration_ms: 754_000,
      total_api_duration_ms: 231_000,
      total_lines_added: 120,
      total_lines_removed: 31,
    },
    exceeds_200k_tokens: false,
  }
  if (limits) {
    const w = (p?: [number, number]) => (p ? { used_percentage: p[0], resets_at: p[1] } : undefined)
    o.rate_limits = { five_hour: w(limits.fiveHour), seven_day: w(limits.sevenDay) }
  }
  return JSON.stringify(o)
}
