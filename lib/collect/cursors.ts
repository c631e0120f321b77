/**
 * Source cursors: per source, per file, where reading stopped (DESIGN §5). They describe the
 * sources, so they live beside the readers; the caller names the file (the store's
 * `state/cursors.json`) and saves them last, after the branch moved, so collect itself never
 * decides what the store holds or when. Written atomically, as every state file is.
 */
import type { SourceCursors } from './types.js'
import { readStateV1, writeFileAtomic } from '../store/fsutil.js'

interface CursorsFile {
  v: 1
  sources: Record<string, SourceCursors>
}

export function loadCursors(file: string): Record<string, SourceCursors> {
  // A damaged cursor file costs a re-read of the sources, never data: dedupe folds it.
  const f = readStateV1<CursorsFile>(file, () => undefined)
  return f?.sources ?? {}
}

export function saveCursors(file: string, sources: Record<string, SourceCursors>): void {
  writeFileAtomic(file, JSON.stringify({ v: 1, sources }))
}
