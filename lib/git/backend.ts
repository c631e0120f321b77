/**
 * The narrow repository interface every git backend implements (DESIGN §6). Everything above
 * lib/git talks to a store through this and nothing else; test/git/contract.ts is the one
 * suite both implementations must pass.
 */
export type BackendName = 'system' | 'iso'

export interface TreeEntry {
  mode: '100644' | '040000'
  type: 'blob' | 'tree'
  name: string
  oid: string
}

export interface Signature {
  name: string
  email: string
  /** Seconds since the epoch. */
  timestamp: number
}

export interface CommitInfo {
  tree: string
  parents: string[]
  author: Signature
  committer: Signature
  /** Always ends in "\n" so both backends hash the same bytes. */
  message: string
}

export interface GitBackend {
  readonly name: BackendName
  readonly gitdir: string
  /** Creates a bare repository when there is none; idempotent. */
  init(): Promise<void>
  writeBlob(data: Uint8Array): Promise<string>
  writeTree(entries: TreeEntry[]): Promise<string>
  writeCommit(commit: CommitInfo): Promise<string>
  readRef(ref: string): Promise<string | null>
  /** Full ref names under `prefix` (e.g. `refs/heads/ledger/`) → commit oid. */
  listRefs(prefix: string): Promise<Map<string, string>>
  /** Compare-and-swap: fails with code REF_STALE unless the ref is at `expectedOld` (null = absent). */
  updateRef(ref: string, newOid: string, expectedOld: string | null): Promise<void>
  readTree(oid: string): Promise<TreeEntry[]>
  readBlob(oid: string): Promise<Buffer>
  readCommit(oid: string): Promise<CommitInfo>
  /** True when `ancestor` is `descendant` or one of its ancestors. */
  isAncestor(ancestor: string, descendant: string): Promise<boolean>
  close(): Promise<void>
}

export const ZERO_OID = '0'.repeat(40)
