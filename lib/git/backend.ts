/**
 * The narrow repository interface every git backend implements (DESIGN §6). Everything above
 * lib/git talks to a store through this and nothing else; test/git/contract.ts is the one
 * suite both implementations must pass.
 *
 * The remote operations fail alike in both: AUTH_FAILED, REMOTE_NOT_FOUND, REMOTE_UNREACHABLE,
 * PUSH_REJECTED (lib/git/remote-errors.ts). Two differences are intended: the iso backend speaks
 * only HTTP(S), any other remote (a path, ssh) is ISO_REMOTE; and its fetchRefs records the
 * remote as `origin` in the repository's config (isomorphic-git fetches through a named remote).
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

/** A remote and how to authenticate to it; the token never reaches argv, files or output. */
export interface Remote {
  url: string
  token?: string
  /** Give up when the remote sends nothing for this many seconds (absent or 0: never). */
  timeoutSec?: number
}

/** A compare-and-swap of one ref (`GitBackend.updateRefs`). */
export interface RefMove {
  ref: string
  newOid: string
  /** null: the ref must not exist */
  expectedOld: string | null
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
  /** `updateRef` of several refs in one step: when one is not at its expected old, REF_STALE and none moves. */
  updateRefs(moves: RefMove[]): Promise<void>
  /** Deletes a local ref if it is at `expectedOld` (REF_STALE otherwise); an absent ref is fine. */
  deleteRef(ref: string, expectedOld: string): Promise<void>
  readTree(oid: string): Promise<TreeEntry[]>
  readBlob(oid: string): Promise<Buffer>
  readCommit(oid: string): Promise<CommitInfo>
  /** True when `ancestor` is `descendant` or one of its ancestors. */
  isAncestor(ancestor: string, descendant: string): Promise<boolean>
  /** The URL of remote `name` in this repository's own config (a native clone's `origin`), or null. */
  remoteUrl(name: string): Promise<string | null>
  /** Branch heads on the remote under `prefix` (e.g. `refs/heads/`), full name → oid. */
  listRemoteRefs(remote: Remote, prefix: string): Promise<Map<string, string>>
  /**
   * Fetches `refs` (full remote names) into `refs/remotes/origin/…`, overwriting whatever was
   * there: callers check ancestry themselves (rewrite detection) before trusting them. A ref the
   * remote lacks (deleted since it was listed) is left out of the answer.
   */
  fetchRefs(remote: Remote, refs: string[]): Promise<Map<string, string>>
  /**
   * Pushes a local branch to the same name on the remote (creating it there if need be),
   * fast-forward only (PUSH_REJECTED); its tracking ref then follows.
   */
  push(remote: Remote, ref: string): Promise<void>
  /**
   * Deletes a branch on the remote (`devices forget`) and its tracking ref; a branch the remote
   * lacks is fine, and so is one this repository lacks.
   */
  deleteRemoteRef(remote: Remote, ref: string): Promise<void>
  /**
   * Housekeeping after this store committed (DESIGN §6): when the repository holds more loose
   * objects or packs than git's own `gc --auto` limits, packs them in a process of its own that
   * the run does not wait for; it keeps every reachable object and leaves refs alone. Says
   * whether it started one (a backend without housekeeping, iso, never does).
   */
  maintain(): Promise<boolean>
  close(): Promise<void>
}

/** Where a fetched remote branch lands locally. */
export const trackingRef = (ref: string) => ref.replace(/^refs\/heads\//, 'refs/remotes/origin/')

/** A URL safe to print: no user, password or token. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/]*@/i, '$1')
}

export const ZERO_OID = '0'.repeat(40)

/** `git.isAncestor`, where a commit missing from the store is simply not in the history. */
export async function descends(git: GitBackend, ancestor: string, head: string): Promise<boolean> {
  try {
    return await git.isAncestor(ancestor, head)
  } catch {
    return false
  }
}
