/**
 * Source cursors: per source, per file, where reading stopped (DESIGN §5). They describe the
 * sources, so they live beside the readers; the caller names the file (the store's
 * `state/cursors.json`) and saves them last, after the branch moved, so collect itself never
 * decides what the store holds or when. Written atomically, as every state file is.
 */
import { inputError } from '../errors.js'
import type { SourceCursors } from './types.js'
import { readJsonIfExists, writeFileAtomic } from '../store/fsutil.js'

interface CursorsFile {
  v: 1
  sources: Record<string, SourceCursors>
}

export function loadCursors(file: string): Record<string, SourceCursors> {
  let f: CursorsFile | undefined
  try {
    f = readJsonIfExists<CursorsFile>(file)
  } catch {
    // A damaged cursor file costs a re-read of the sources, never data: dedupe folds it.
    return {}
  }
  if (!f) return {}
  if (f.v !== 1) throw inputError('STATE_TOO_NEW', `${file} was written by a newer usage-ledger; upgrade usage-ledger`)
  return f.sources ?? {}
}

export function saveCursors(file: string, sources: Record<string, SourceCursors>): void {
  writeFileAtomic(file, JSON.stringify({ v: 1, sources }))
}
