/** The device heads a repository holds: the store's own branches, or a clone's as well. */
import type { GitBackend } from '../git/backend.js'
import { LEDGER_REF_PREFIX } from '../ledger/paths.js'

/**
 * Device heads of a repository: its own `ledger/*` branches, and in a native clone (`--repo`)
 * also the remote-tracking ones; of two heads of one device the one that descends wins.
 */
export async function deviceHeads(git: GitBackend, withTracking: boolean): Promise<Map<string, string>> {
  const heads = new Map<string, string>()
  for (const [ref, oid] of await git.listRefs(LEDGER_REF_PREFIX)) heads.set(ref.slice(LEDGER_REF_PREFIX.length), oid)
  if (withTracking) {
    for (const [ref, oid] of await git.listRefs('refs/remotes/')) {
      const m = /^refs\/remotes\/[^/]+\/ledger\/([0-9a-f]{32})$/.exec(ref)
      if (!m) continue
      const cur = heads.get(m[1]!)
      if (!cur || (cur !== oid && (await git.isAncestor(cur, oid)))) heads.set(m[1]!, oid)
    }
  }
  return heads
}
