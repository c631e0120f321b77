/**
 * The iso backend: isomorphic-git in-process, for machines without a git binary.
 * It has no cross-process locking, so callers hold the store lock (lib/store/lock.ts) around
 * every write, and updateRef's compare-and-swap is only atomic under that lock. One shared
 * `cache` object: without it every pack read re-loads and re-checks the whole pack.
 */
import fs from 'node:fs'
import nodeHttp from 'node:http'
import nodeHttps from 'node:https'
import type { Socket } from 'node:net'
import * as git from 'isomorphic-git'
import http from 'isomorphic-git/http/node'
import { LedgerError, opError } from '../errors.js'
import type { CommitInfo, GitBackend, RefMove, Remote, TreeEntry } from './backend.js'
import { redactUrl, trackingRef, ZERO_OID } from './backend.js'
import { authFailed, notFound, pushRejected, timedOut, unreachable } from './remote-errors.js'
import { usageError } from '../errors.js'

const isNotFound = (e: unknown) => (e as { code?: string })?.code === 'NotFoundError'

/**
 * node:fs for isomorphic-git with whole-or-nothing file writes (temporary file, then rename).
 * isomorphic-git writes a loose object in place and never rewrites one that exists, so a write
 * cut short (a full disk) left a truncated object that the next commit of the same content
 * referred to: a corrupt ledger. Temporary files live in `tmpdir` (not beside refs, where a
 * leftover would read as a branch).
 */
function atomicFs(tmpdir: string) {
  let seq = 0
  const p = fs.promises
  return {
    promises: {
      ...p,
      async writeFile(file: string, data: string | Uint8Array, options?: fs.WriteFileOptions) {
        await p.mkdir(tmpdir, { recursive: true })
        const tmp = `${tmpdir}/iso-${process.pid}-${seq++}`
        try {
          await p.writeFile(tmp, data, options)
          await p.rename(tmp, file)
        } catch (e) {
          await p.rm(tmp, { force: true })
          throw e
        }
      },
    },
  }
}

type GuardedHttp = typeof http & { timedOut: boolean; cut: string | null }

/**
 * isomorphic-git's node client with two guards. A connection that carries no byte either way
 * for `sec` seconds is given up (the socket's idle timeout counts reads and writes, so a long
 * upload is not cut). And a body that breaks off is remembered in `cut`: isomorphic-git's
 * pkt-line reader swallows stream errors and reads a cut answer as a complete short one (a ref
 * advertisement cut mid-way lists no refs).
 */
function guardedHttp(sec: number | undefined): GuardedHttp {
  const client: GuardedHttp = { ...http, timedOut: false, cut: null }
  client.request = async (req) => {
    let agent = req.agent
    if (!agent && sec && sec > 0) {
      agent = new (/^https:/i.test(req.url) ? nodeHttps.Agent : nodeHttp.Agent)()
      const create = agent.createConnection.bind(agent) as (o: unknown, cb: unknown) => Socket
      ;(agent as unknown as { createConnection: typeof create }).createConnection = (o, cb) => {
        const socket = create(o, cb)
        socket.setTimeout(sec * 1000, () => {
          client.timedOut = true
          socket.destroy(opError('REMOTE_UNREACHABLE', `no data for ${sec} s`))
        })
        return socket
      }
    }
    const res = await http.request({ ...req, agent })
    const body = res.body
    if (body) {
      res.body = (async function* () {
        try {
          for await (const chunk of body) yield chunk
        } catch (e) {
          client.cut ??= (e as Error).message || 'the connection broke'
          throw e
        }
      })()
    }
    return res
  }
  return client
}

export class IsoBackend implements GitBackend {
  readonly name = 'iso' as const
  private readonly cache: object = {}

  constructor(readonly gitdir: string) {
    this.fs = atomicFs(`${gitdir}/usage-ledger-tmp`)
  }

  private readonly fs: ReturnType<typeof atomicFs>

  private get base() {
    return { fs: this.fs, gitdir: this.gitdir, cache: this.cache }
  }

  async init(): Promise<void> {
    if (fs.existsSync(`${this.gitdir}/HEAD`)) return
    await git.init({ fs: this.fs, dir: this.gitdir, gitdir: this.gitdir, bare: true, defaultBranch: 'main' })
  }

  writeBlob(data: Uint8Array): Promise<string> {
    return this.writing(() => git.writeBlob({ ...this.base, blob: data }))
  }

  writeTree(entries: TreeEntry[]): Promise<string> {
    return this.writing(() =>
      git.writeTree({
        ...this.base,
        tree: entries.map((e) => ({ mode: e.mode, path: e.name, oid: e.oid, type: e.type })),
      }),
    )
  }

  writeCommit(c: CommitInfo): Promise<string> {
    const sig = (s: CommitInfo['author']) => ({
      name: s.name,
      email: s.email,
      timestamp: s.timestamp,
      timezoneOffset: 0,
    })
    return this.writing(() =>
      git.writeCommit({
        ...this.base,
        commit: {
          tree: c.tree,
          parent: c.parents,
          author: sig(c.author),
          committer: sig(c.committer),
          message: c.message,
        },
      }),
    )
  }

  /** A failed write(2) names no file: name the repository (the error is shown to the user). */
  private async writing<T>(f: () => Promise<T>): Promise<T> {
    try {
      return await f()
    } catch (e) {
      if (e && typeof e === 'object' && (e as NodeJS.ErrnoException).code && !(e as NodeJS.ErrnoException).path)
        (e as NodeJS.ErrnoException).path = this.gitdir
      throw e
    }
  }

  async readRef(ref: string): Promise<string | null> {
    try {
      return await git.resolveRef({ ...this.base, ref })
    } catch (e) {
      if (isNotFound(e)) return null
      throw e
    }
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

  async remoteUrl(name: string): Promise<string | null> {
    const url = await git.getConfig({ ...this.base, path: `remote.${name}.url` })
    return typeof url === 'string' ? url : null
  }

  updateRef(ref: string, newOid: string, expectedOld: string | null): Promise<void> {
    return this.updateRefs([{ ref, newOid, expectedOld }])
  }

  /** Every ref checked before any is written: all move or none (as atomic as `updateRef`, under the store lock). */
  async updateRefs(moves: RefMove[]): Promise<void> {
    for (const { ref, expectedOld } of moves) {
      const cur = await this.readRef(ref)
      if (cur !== expectedOld) {
        throw new LedgerError(
          'operational',
          'REF_STALE',
          `${ref} moved under us (expected ${expectedOld ?? 'no ref'}, found ${cur ?? 'no ref'})`,
        )
      }
    }
    for (const { ref, newOid } of moves) await git.writeRef({ ...this.base, ref, value: newOid, force: true })
  }

  async deleteRef(ref: string, expectedOld: string): Promise<void> {
    const cur = await this.readRef(ref)
    if (cur === null) return
    if (cur !== expectedOld)
      throw new LedgerError('operational', 'REF_STALE', `${ref} moved under us (expected ${expectedOld}, found ${cur})`)
    await git.deleteRef({ ...this.base, ref })
  }

  async readTree(oid: string): Promise<TreeEntry[]> {
    const { tree } = await this.wrap(oid, () => git.readTree({ ...this.base, oid }))
    return tree.map((e) => ({
      mode: e.type === 'tree' ? '040000' : '100644',
      type: e.type === 'tree' ? 'tree' : 'blob',
      name: e.path,
      oid: e.oid,
    }))
  }

  async readBlob(oid: string): Promise<Buffer> {
    const { blob } = await this.wrap(oid, () => git.readBlob({ ...this.base, oid }))
    return Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength)
  }

  async readCommit(oid: string): Promise<CommitInfo> {
    const { commit } = await this.wrap(oid, () => git.readCommit({ ...this.base, oid }))
    const sig = (s: { name: string; email: string; timestamp: number }) => ({
      name: s.name,
      email: s.email,
      timestamp: s.timestamp,
    })
    return {
      tree: commit.tree,
      parents: commit.parent,
      author: sig(commit.author),
      committer: sig(commit.committer),
      message: commit.message,
    }
  }

  async isAncestor(ancestor: string, descendant: string): Promise<boolean> {
    if (ancestor === descendant) return true
    return git.isDescendent({ ...this.base, oid: descendant, ancestor, depth: -1 })
  }

  private remoteBase(remote: Remote) {
    if (!/^https?:\/\//i.test(remote.url)) {
      throw usageError(
        'ISO_REMOTE',
        `the iso backend speaks only HTTP(S); ${redactUrl(remote.url)} needs the system backend (install git)`,
      )
    }
    const onAuth = () => (remote.token ? { username: 'usage-ledger', password: remote.token } : { cancel: true })
    return { http: guardedHttp(remote.timeoutSec), url: remote.url, onAuth, onAuthFailure: () => ({ cancel: true }) }
  }

  private async remoteCall<T>(remote: Remote, base: { http: GuardedHttp }, f: () => Promise<T>, ref = ''): Promise<T> {
    let value: T
    try {
      value = await f()
    } catch (e) {
      if (base.http.timedOut) throw timedOut(remote.url, `no data for ${remote.timeoutSec} s`)
      const err = e as { code?: string; data?: { statusCode?: number; reason?: string }; message?: string }
      const status = err.data?.statusCode
      if (err.code === 'UserCanceledError' || status === 401 || status === 403) throw authFailed(remote.url)
      if (err.code === 'PushRejectedError') throw pushRejected(remote.url, ref)
      if (status === 404) throw notFound(remote.url, 'HTTP 404')
      // A connection cut mid-answer surfaces as an empty or unparsable answer.
      if (
        err.code === 'EmptyServerResponseError' ||
        err.code === 'ParseError' ||
        /^aborted$|premature close/i.test(err.message ?? '')
      ) {
        throw unreachable(
          remote.url,
          `its answer was cut short: ${(err.message ?? '').replace(/\.$/, '').slice(0, 160)}`,
        )
      }
      if (
        err.code === 'HttpError' ||
        /ECONNREFUSED|ECONNRESET|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT|socket hang up/.test(err.message ?? '')
      ) {
        throw unreachable(remote.url, status ? `HTTP ${status}` : (err.message ?? 'no answer').slice(0, 200))
      }
      throw e
    }
    // What isomorphic-git read as a complete answer may have been cut (see guardedHttp).
    if (base.http.timedOut) throw timedOut(remote.url, `no data for ${remote.timeoutSec} s`)
    if (base.http.cut !== null)
      throw unreachable(remote.url, `its answer was cut short: ${base.http.cut.slice(0, 160)}`)
    return value
  }

  async listRemoteRefs(remote: Remote, prefix: string): Promise<Map<string, string>> {
    const base = this.remoteBase(remote)
    const refs = await this.remoteCall(remote, base, () => git.listServerRefs({ ...base, prefix, protocolVersion: 2 }))
    return new Map(refs.filter((r) => r.ref.startsWith(prefix)).map((r) => [r.ref, r.oid]))
  }

  /** isomorphic-git fetches one branch per call and ignores `+`: callers keep the old heads. */
  async fetchRefs(remote: Remote, refs: string[]): Promise<Map<string, string>> {
    const base = this.remoteBase(remote)
    const got = new Map<string, string>()
    if (!refs.length) return got
    // isomorphic-git's fetch reads its refspec from the config of a named remote.
    await git.addRemote({ ...this.base, remote: 'origin', url: remote.url, force: true })
    for (const ref of refs) {
      const oid = await this.remoteCall(remote, base, () => this.fetchOne(base, ref))
      if (oid) {
        await git.writeRef({ ...this.base, ref: trackingRef(ref), value: oid, force: true })
        got.set(ref, oid)
      }
    }
    return got
  }

  /**
   * One branch's head, null when the remote lacks it. isomorphic-git says NotFoundError for that
   * and, after fetching the branch and writing its tracking ref, for a remote whose HEAD names
   * no branch (a ledger remote without main).
   */
  private async fetchOne(base: ReturnType<IsoBackend['remoteBase']>, ref: string): Promise<string | null> {
    try {
      const res = await git.fetch({
        ...this.base,
        ...base,
        ref: ref.replace(/^refs\/heads\//, ''),
        remoteRef: ref,
        singleBranch: true,
        tags: false,
      })
      return res.fetchHead
    } catch (e) {
      const what = isNotFound(e) ? (e as { data?: { what?: string } }).data?.what : undefined
      if (what === ref) return null
      if (what === 'HEAD') return this.readRef(trackingRef(ref))
      throw e
    }
  }

  async push(remote: Remote, ref: string): Promise<void> {
    const base = this.remoteBase(remote)
    const oid = await this.readRef(ref)
    // What git push says (GIT_FAILED), not isomorphic-git's bare NotFoundError.
    if (!oid) throw opError('GIT_FAILED', `${ref} is not in ${this.gitdir}; nothing to push`)
    const res = await this.remoteCall(
      remote,
      base,
      () => git.push({ ...this.base, ...base, ref, remoteRef: ref, force: false }),
      ref,
    )
    if (res.ok === false || (res.refs?.[ref] && !res.refs[ref].ok)) throw pushRejected(remote.url, ref)
    await git.writeRef({ ...this.base, ref: trackingRef(ref), value: oid, force: true })
  }

  async deleteRemoteRef(remote: Remote, ref: string): Promise<void> {
    const base = this.remoteBase(remote)
    await this.remoteCall(
      remote,
      base,
      // `ref` names what to push, looked up locally even for a delete: a zero oid needs no branch here.
      () => git.push({ ...this.base, ...base, ref: ZERO_OID, remoteRef: ref, delete: true }),
      ref,
    )
    try {
      await git.deleteRef({ ...this.base, ref: trackingRef(ref) })
    } catch {
      /* was not there */
    }
  }

  /**
   * None: isomorphic-git has no gc, and packing with it (whole objects, no deltas, each new pack
   * loaded and checked whole on its first read) would move the cost to every later run. A loose
   * object costs disk space, and reading one is a file read whatever their number; the system
   * backend packs them at its first commit once git is installed (DESIGN §6).
   */
  async maintain(): Promise<boolean> {
    return false
  }

  async close(): Promise<void> {}

  private async wrap<T>(oid: string, f: () => Promise<T>): Promise<T> {
    try {
      return await f()
    } catch (e) {
      if (isNotFound(e)) throw opError('GIT_MISSING_OBJECT', `git object ${oid} is missing from ${this.gitdir}`)
      throw opError('GIT_BAD_OBJECT', `git object ${oid} could not be read: ${(e as Error).message}`, e)
    }
  }
}
