/**
 * The source registry: every source usage-ledger reads, in the order `record` reads them and
 * `sources` lists them. A new source is a folder of its own, listed here (lib/ARCHITECTURE.md).
 */
import { usageError } from '../errors.js'
import type { Env } from '../env.js'
import { claudeCode } from './claude-code/index.js'
import { codex } from './codex/index.js'
import { gemini } from './gemini/index.js'
import { qwen } from './qwen/index.js'
import { copilot } from './copilot/index.js'
import { amp } from './amp/index.js'
import { droid } from './droid/index.js'
import { pi } from './pi/index.js'
import { kimi } from './kimi/index.js'
import { codebuff } from './codebuff/index.js'
import { openclaw } from './openclaw/index.js'
import { grok } from './grok/index.js'
import { antigravity } from './antigravity/index.js'
import { zcode } from './zcode/index.js'
import { openclawDb } from './openclaw-db/index.js'
import { goose } from './goose/index.js'
import { hermes } from './hermes/index.js'
import { opencode } from './opencode/index.js'
import { kilo } from './kilo/index.js'
import { collectFiles, type Progress, type ReadStats } from './files.js'
import { stdin } from './stdin/index.js'
import type { Batch, FileSource, SourceCursors } from './types.js'
export const FILE_SOURCES: readonly FileSource[] = [
  claudeCode,
  codex,
  gemini,
  qwen,
  copilot,
  amp,
  droid,
  pi,
  kimi,
  codebuff,
  openclaw,
  grok,
  antigravity,
  zcode,
  openclawDb,
  goose,
  hermes,
  opencode,
  kilo,
]

/** Every registered source: the file sources, then stdin (records other tools send). */
export const SOURCES = [...FILE_SOURCES, stdin] as const

export function fileSources(names: string[] | undefined): FileSource[] {
  if (!names?.length) return [...FILE_SOURCES]
  return names.map((n) => {
    const s = FILE_SOURCES.find((x) => x.name === n)
    if (!s)
      throw usageError(
        'UNKNOWN_SOURCE',
        `unknown source "${n}"; known: ${FILE_SOURCES.map((x) => x.name).join(', ')}, cliproxy (or --stdin --source NAME)`,
      )
    return s
  })
}

export interface CollectResult {
  /** False when every file was unchanged and none disappeared: the cursors need no write. */
  changed: boolean
  cursors: Record<string, SourceCursors>
  stats: Record<string, ReadStats & { malformed: number }>
}

export function collect(
  env: Env,
  sources: FileSource[],
  cursors: Record<string, SourceCursors>,
  batch: Batch,
  salt: string,
  progress?: Progress,
): CollectResult {
  const next: Record<string, SourceCursors> = { ...cursors }
  const stats: CollectResult['stats'] = {}
  let changed = false
  for (const s of sources) {
    const before = batch.malformed
    const prev = cursors[s.name] ?? {}
    const r = collectFiles(env, s, prev, batch, salt, progress)
    next[s.name] = r.cursors
    stats[s.name] = { ...r.stats, malformed: batch.malformed - before }
    if (r.stats.read > 0 || r.stats.unchanged !== Object.keys(prev).length) changed = true
  }
  return { changed, cursors: next, stats }
}

export { Batch } from './types.js'
export type { SourceCursors } from './types.js'
