/** Source cursors: per source, per file, where reading stopped (DESIGN §5). Saved last. */
import { inputError } from '../errors.js'
import type { SourceCursors } from '../collect/types.js'
import { readJsonIfExists, writeFileAtomic } from './fsutil.js'

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
