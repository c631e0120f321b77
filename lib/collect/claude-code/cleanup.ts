/**
 * Claude Code deletes transcripts older than `cleanupPeriodDays` (settings.json, default 30).
 * Usage in a file that is close to that age and not fully read yet is about to be lost.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { Env } from '../../env.js'
import type { SourceCursors } from '../types.js'
import { claudeCode, claudeConfigDirs } from './index.js'

const DAY = 86_400_000

export interface CleanupRisk {
  cleanupPeriodDays: number
  /** Files within 3 days of deletion whose usage is not (fully) recorded. */
  files: string[]
}

function cleanupDays(env: Env): number {
  for (const dir of claudeConfigDirs(env)) {
    try {
      const s = JSON.parse(fs.readFileSync(path.join(dir, 'settings.json'), 'utf8')) as { cleanupPeriodDays?: unknown }
      if (typeof s.cleanupPeriodDays === 'number' && s.cleanupPeriodDays > 0) return s.cleanupPeriodDays
    } catch {
      /* no settings there */
    }
  }
  return 30
}

export function claudeCleanupRisk(env: Env, cursors: SourceCursors, marginDays = 3): CleanupRisk {
  const days = cleanupDays(env)
  const cutoff = env.now().getTime() - (days - marginDays) * DAY
  const files: string[] = []
  for (const f of claudeCode.discover(env)) {
    let st: fs.Stats
    try {
      st = fs.statSync(f.path)
    } catch {
      continue
    }
    if (st.mtimeMs > cutoff) continue
    const c = cursors[f.path]
    if (!c || c.offset < st.size || c.ino !== st.ino) files.push(f.path)
  }
  return { cleanupPeriodDays: days, files }
}
