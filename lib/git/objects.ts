/** Parsers for raw git objects, shared by the backends and by verify. */
import type { CommitInfo, Signature, TreeEntry } from './backend.js'
import { opError } from '../errors.js'

export function parseTree(data: Buffer): TreeEntry[] {
  const entries: TreeEntry[] = []
  let i = 0
  while (i < data.length) {
    const sp = data.indexOf(32, i)
    const nul = data.indexOf(0, sp)
    if (sp < 0 || nul < 0 || nul + 21 > data.length) throw opError('GIT_BAD_OBJECT', 'malformed tree object')
    const mode = data.toString('latin1', i, sp)
    const name = data.toString('utf8', sp + 1, nul)
    const oid = data.toString('hex', nul + 1, nul + 21)
    const isTree = mode === '40000' || mode === '040000'
    entries.push({ mode: isTree ? '040000' : '100644', type: isTree ? 'tree' : 'blob', name, oid })
    i = nul + 21
  }
  return entries
}

function parseSignature(s: string): Signature {
  const m = /^(.*) <(.*)> (\d+) [+-]\d{4}$/.exec(s)
  if (!m) throw opError('GIT_BAD_OBJECT', `malformed commit signature: ${s}`)
  return { name: m[1]!, email: m[2]!, timestamp: Number(m[3]) }
}

export function parseCommit(data: Buffer): CommitInfo {
  const text = data.toString('utf8')
  const end = text.indexOf('\n\n')
  const headers = (end < 0 ? text : text.slice(0, end)).split('\n')
  const c: CommitInfo = {
    tree: '',
    parents: [],
    author: { name: '', email: '', timestamp: 0 },
    committer: { name: '', email: '', timestamp: 0 },
    message: end < 0 ? '' : text.slice(end + 2),
  }
  for (const h of headers) {
    const sp = h.indexOf(' ')
    const key = h.slice(0, sp),
      val = h.slice(sp + 1)
    if (key === 'tree') c.tree = val
    else if (key === 'parent') c.parents.push(val)
    else if (key === 'author') c.author = parseSignature(val)
    else if (key === 'committer') c.committer = parseSignature(val)
  }
  return c
}
