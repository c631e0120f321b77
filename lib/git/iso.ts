/**
 * The iso backend: isomorphic-git in-process, for machines without a git binary.
 * It has no cross-process locking, so callers hold the store lock (lib/store/lock.ts) around
 * every write, and updateRef's compare-and-swap is only atomic under that lock. One shared
 * `cache` object: without it every pack read re-loads and re-checks the whole pack.
 */
import fs from 'node:fs'
import * as git from 'isomorphic-git'
import { LedgerError, opError } from '../errors.js'
import type { CommitInfo, GitBackend, TreeEntry } from './backend.js'

const isNotFound = (e: unknown) => (e as { code?: string })?.code === 'NotFoundError'

export class IsoBackend implements GitBackend {
  readonly name = 'iso' as const
  private readonly cache: object = {}

  constructor(readonly gitdir: string) {}

  private get base() { return { fs, gitdir: this.gitdir, cache: this.cache } }

  async init(): Promise<void> {
    if (fs.existsSync(`${this.gitdir}/HEAD`)) return
    await git.init({ fs, dir: this.gitdir, gitdir: this.gitdir, bare: true, defaultBranch: 'main' })
  }

  writeBlob(data: Uint8Array): Promise<string> {
    return git.writeBlob({ ...this.base, blob: data })
  }

  writeTree(entries: TreeEntry[]): Promise<string> {
    return git.writeTree({ ...this.base, tree: entries.map((e) => ({ mode: e.mode, path: e.name, oid: e.oid, type: e.type })) })
  }

  writeCommit(c: CommitInfo): Promise<string> {
    const sig = (s: CommitInfo['author']) => ({ name: s.name, email: s.email, timestamp: s.timestamp, timezoneOffset: 0 })
    return git.writeCommit({ ...this.base, commit: { tree: c.tree, parent: c.parents, author: sig(c.author), committer: sig(c.committer), message: c.message } })
  }

  async readRef(ref: string): Promise<string | null> {
    try { return await git.resolveRef({ ...this.base, ref }) } catch (e) { if (isNotFound(e)) return null; throw e }
  }

  async listRefs(prefix: string): Promise<Map<string, string>> {
    const dir = prefix.replace(/\/$/, '')
    const names = await git.listRefs({ ...this.base, filepath: dir })
    const refs = new Map<string, string>()
    for (const name of names.sort()) {
      const full = `${dir}/${name}`
      const oid = await this.readRef(full)
      if (oid) refs.set(full, oid)
    }
    return refs
  }

  async updateRef(ref: string, newOid: string, expectedOld: string | null): Promise<void> {
    const cur = await this.readRef(ref)
    if (cur !== expectedOld) {
      throw new LedgerError('operational', 'REF_STALE', `${ref} moved under us (expected ${expectedOld ?? 'no ref'}, found ${cur ?? 'no ref'})`)
    }
    await git.writeRef({ ...this.base, ref, value: newOid, force: true })
  }

  async readTree(oid: string): Promise<TreeEntry[]> {
    const { tree } = await this.wrap(oid, () => git.readTree({ ...this.base, oid }))
    return tree.map((e) => ({ mode: e.type === 'tree' ? '040000' : '100644', type: e.type === 'tree' ? 'tree' : 'blob', name: e.path, oid: e.oid }))
  }

  async readBlob(oid: string): Promise<Buffer> {
    const { blob } = await this.wrap(oid, () => git.readBlob({ ...this.base, oid }))
    return Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength)
  }

  async readCommit(oid: string): Promise<CommitInfo> {
    const { commit } = await this.wrap(oid, () => git.readCommit({ ...this.base, oid }))
    const sig = (s: { name: string; email: string; timestamp: number }) => ({ name: s.name, email: s.email, timestamp: s.timestamp })
    return { tree: commit.tree, parents: commit.parent, author: sig(commit.author), committer: sig(commit.committer), message: commit.message }
  }

  async isAncestor(ancestor: string, descendant: string): Promise<boolean> {
    if (ancestor === descendant) return true
    return git.isDescendent({ ...this.base, oid: descendant, ancestor, depth: -1 })
  }

  async close(): Promise<void> {}

  private async wrap<T>(oid: string, f: () => Promise<T>): Promise<T> {
    try { return await f() } catch (e) {
      if (isNotFound(e)) throw opError('GIT_MISSING_OBJECT', `git object ${oid} is missing from ${this.gitdir}`)
      throw opError('GIT_BAD_OBJECT', `git object ${oid} could not be read: ${(e as Error).message}`, e)
    }
  }
}
