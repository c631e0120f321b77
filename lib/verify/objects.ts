/**
 * Git's object ids recomputed from content (DESIGN §8 "objects"): sha1 over "<type> <size>\0"
 * and the bytes. Trees are re-serialised from their parsed entries, which is exact for the
 * two modes a ledger tree may hold; any other mode makes the hash differ, which is a finding too.
 */
import type { TreeEntry } from '../git/backend.js'
import { newSha1 as sha1 } from '../ledger/hash.js'

export function blobOid(data: Uint8Array): string {
  return sha1().update(`blob ${data.length}\0`).update(data).digest('hex')
}

export function treeBytes(entries: readonly TreeEntry[]): Buffer {
  return Buffer.concat(
    entries.flatMap((e) => [
      Buffer.from(`${e.type === 'tree' ? '40000' : '100644'} ${e.name}\0`),
      Buffer.from(e.oid, 'hex'),
    ]),
  )
}

export function treeOid(entries: readonly TreeEntry[]): string {
  const body = treeBytes(entries)
  return sha1().update(`tree ${body.length}\0`).update(body).digest('hex')
}

/** Git's order of tree entries: by name, a tree's name compared as if it ended in "/". */
export function sortTreeEntries(entries: TreeEntry[]): TreeEntry[] {
  const key = (e: TreeEntry) => (e.type === 'tree' ? `${e.name}/` : e.name)
  return entries.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0))
}
