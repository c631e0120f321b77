/**
 * The ledger's genesis (DESIGN §2): one commit, the same on every machine, that every device
 * branch and `main` start from, so native git merges them (also several at once) without
 * `--allow-unrelated-histories`. Its tree is empty and its author, committer, time and message
 * are fixed, so every backend computes the same oid offline; writing it twice writes nothing new.
 */
import type { CommitInfo, GitBackend } from './backend.js'

export const EMPTY_TREE = '4b825dc642cb6eb9a060e54bf8d69288fbee4904'

const SIGNATURE = { name: 'usage-ledger', email: 'genesis@usage-ledger', timestamp: 0 }

export const GENESIS_COMMIT: CommitInfo = {
  tree: EMPTY_TREE,
  parents: [],
  author: SIGNATURE,
  committer: SIGNATURE,
  message:
    'usage-ledger: ledger root\n\nThe empty commit every device branch and main start from, so git can merge them.\n',
}

/** The oid of GENESIS_COMMIT (test/git/contract.ts checks both backends and native git agree). */
export const GENESIS_OID = '365b2ae49536cf1397866c1f9fb65613b1df0c64'

/** Writes the empty tree and the genesis commit into the repository; returns the commit's oid. */
export async function writeGenesis(git: GitBackend): Promise<string> {
  await git.writeTree([])
  return git.writeCommit(GENESIS_COMMIT)
}

/**
 * A root commit with the empty tree: the start of a device's history, not a device commit (it
 * adds nothing). Old ledgers have no such commit; their first device commit is the root.
 */
export const isGenesis = (c: Pick<CommitInfo, 'tree' | 'parents'>): boolean =>
  c.parents.length === 0 && c.tree === EMPTY_TREE
