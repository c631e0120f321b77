/** Path-level operations over any backend's trees: look up a path, write a set of files. */
import type { GitBackend, TreeEntry } from './backend.js'

/** Entries of the tree at `path` ('' = root), or null when it does not exist. */
export async function readTreeAt(git: GitBackend, root: string | null, path: string): Promise<TreeEntry[] | null> {
  if (!root) return null
  let entries = await git.readTree(root)
  for (const seg of path.split('/').filter(Boolean)) {
    const e = entries.find((x) => x.name === seg && x.type === 'tree')
    if (!e) return null
    entries = await git.readTree(e.oid)
  }
  return entries
}

export async function readEntryAt(git: GitBackend, root: string | null, path: string): Promise<TreeEntry | null> {
  const slash = path.lastIndexOf('/')
  const entries = await readTreeAt(git, root, slash < 0 ? '' : path.slice(0, slash))
  return entries?.find((e) => e.name === path.slice(slash + 1)) ?? null
}

/**
 * Writes `files` (path → blob oid) on top of `base` and returns the new root tree oid.
 * Only the trees on the changed paths are read and rewritten.
 */
export async function writeFiles(git: GitBackend, base: string | null, files: Map<string, string>): Promise<string> {
  return writeLevel(
    git,
    base,
    [...files].map(([path, oid]) => ({ segs: path.split('/'), oid })),
  )
}

async function writeLevel(
  git: GitBackend,
  base: string | null,
  changes: Array<{ segs: string[]; oid: string }>,
): Promise<string> {
  const entries = new Map<string, TreeEntry>()
  if (base) for (const e of await git.readTree(base)) entries.set(e.name, e)
  const sub = new Map<string, Array<{ segs: string[]; oid: string }>>()
  for (const c of changes) {
    const [head, ...rest] = c.segs
    if (rest.length === 0) entries.set(head!, { mode: '100644', type: 'blob', name: head!, oid: c.oid })
    else {
      let list = sub.get(head!)
      if (!list) sub.set(head!, (list = []))
      list.push({ segs: rest, oid: c.oid })
    }
  }
  for (const [name, list] of sub) {
    const cur = entries.get(name)
    const oid = await writeLevel(git, cur?.type === 'tree' ? cur.oid : null, list)
    entries.set(name, { mode: '040000', type: 'tree', name, oid })
  }
  return git.writeTree([...entries.values()])
}

/** Every blob under `root`/`path`, depth first in name order, with its path relative to `path`. */
export async function* walkBlobs(
  git: GitBackend,
  tree: string,
  prefix = '',
): AsyncGenerator<{ path: string; oid: string }> {
  const entries = (await git.readTree(tree)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  for (const e of entries) {
    const p = prefix ? `${prefix}/${e.name}` : e.name
    if (e.type === 'tree') yield* walkBlobs(git, e.oid, p)
    else yield { path: p, oid: e.oid }
  }
}
