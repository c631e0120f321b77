/**
 * The last verified head of every device (DESIGN §8): a fetched head must descend from it, or
 * it is a rewrite. Also what this device witnessed of the others, written into its next
 * manifest as `seen`.
 */
import { inputError } from '../errors.js'
import { readStateV1, writeFileAtomic } from './fsutil.js'

interface VerifiedFile {
  v: 1
  heads: Record<string, string>
}

export function loadVerified(file: string): Record<string, string> {
  const f = readStateV1<VerifiedFile>(file, () => {
    throw inputError(
      'BAD_STATE',
      `${file} is damaged; delete it and run usage-ledger fetch to verify every device again`,
    )
  })
  return f?.heads ?? {}
}

export function saveVerified(file: string, heads: Record<string, string>): void {
  writeFileAtomic(file, `${JSON.stringify({ v: 1, heads }, null, 2)}\n`, { unlessSame: true })
}
