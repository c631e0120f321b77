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
import { bytesCounter, collectFiles, planFiles, type Progress, type ReadStats } from './files.js'
import { readInWorkers, workersFor } from './parallel.js'
import { stdin } from './stdin/index.js'
import type { Batch, FileSource, LinesSource, SourceCursors } from './types.js'
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
  const result: CollectResult = { changed: false, cursors: { ...cursors }, stats: {} }
  for (const s of sources) {
    const before = batch.malformed
    const prev = cursors[s.name] ?? {}
    tally(result, s, prev, collectFiles(env, s, prev, batch, salt, progress), batch.malformed - before)
  }
  return result
}

/**
 * `collect`, with a big backlog of a `lines` source parsed on worker threads (parallel.ts): the
 * same batch, names and cursors, sooner. A small run starts no worker.
 */
export async function collectInParallel(
  ...[env, sources, cursors, batch, salt, progress]: Parameters<typeof collect>
): Promise<CollectResult> {
  const result: CollectResult = { changed: false, cursors: { ...cursors }, stats: {} }
  for (const s of sources) {
    const before = batch.malformed
    const prev = cursors[s.name] ?? {}
    const plan = planFiles(env, s, prev)
    const workers = workersFor(env, s, plan)
    let r: { cursors: SourceCursors; stats: ReadStats }
    if (workers) {
      await readInWorkers(s as LinesSource, plan, prev, batch, salt, bytesCounter(plan, progress), workers)
      r = { cursors: plan.next, stats: plan.stats }
    } else r = collectFiles(env, s, prev, batch, salt, progress, plan)
    tally(result, s, prev, r, batch.malformed - before)
  }
  return result
}

function tally(
  result: CollectResult,
  s: FileSource,
  prev: SourceCursors,
  r: { cursors: SourceCursors; stats: ReadStats },
  malformed: number,
): void {
  result.cursors[s.name] = r.cursors
  result.stats[s.name] = { ...r.stats, malformed }
  if (r.stats.read > 0 || r.stats.unchanged !== Object.keys(prev).length) result.changed = true
}

export { Batch } from './types.js'
export type { SourceCursors } from './types.js'
