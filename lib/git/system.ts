/**
 * The system backend: the `git` binary's plumbing. Reads go through one long-lived
 * `git cat-file --batch`; writes through hash-object, mktree, commit-tree and update-ref.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { opError, LedgerError } from '../errors.js'
import type { CommitInfo, GitBackend, RefMove, Remote, Signature, TreeEntry } from './backend.js'
import { redactUrl, trackingRef, ZERO_OID } from './backend.js'
import { classifyGitError, gitFailed } from './remote-errors.js'
import { parseCommit, parseTree } from './objects.js'

interface RunResult {
  stdout: Buffer
  stderr: string
  code: number
}

export function gitEnv(gitdir: string | undefined, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C', ...extra }
  if (gitdir) env.GIT_DIR = gitdir
  else delete env.GIT_DIR
  return env
}

export function runGit(
  args: string[],
  opts: { gitdir?: string; input?: Uint8Array | string; env?: Record<string, string>; cwd?: string } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, {
      env: gitEnv(opts.gitdir, opts.env),
      cwd: opts.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on('data', (b: Buffer) => out.push(b))
    child.stderr.on('data', (b: Buffer) => err.push(b))
    child.on('error', (e) =>
      reject(opError('GIT_SPAWN', `could not run git (${(e as Error).message}); install git or use --git iso`, e)),
    )
    child.on('close', (code) =>
      resolve({ stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8'), code: code ?? 1 }),
    )
    child.stdin.on('error', () => {})
    child.stdin.end(opts.input ?? '')
  })
}

/**
 * `git credential fill` for the given fields (an HTTPS remote's protocol, host and path; CLIProxyAPI's
 * queue: protocol=redis, host=HOST:PORT): the password a helper keeps, or null when git or every
 * helper has none. Never prompts (no terminal, no askpass); the secret passes through stdin and
 * stdout only.
 */
export function credentialFill(
  fields: Record<string, string>,
  vars: Record<string, string | undefined>,
): Promise<string | null> {
  const input = `${Object.entries(fields)
    .map(([k, v]) => `${k}=${v}\n`)
    .join('')}\n`
  return new Promise((resolve) => {
    const child = spawn('git', ['credential', 'fill'], {
      env: { ...vars, GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: '', SSH_ASKPASS: '' } as NodeJS.ProcessEnv,
      stdio: ['pipe', 'pipe', 'ignore'],
    })
    let out = ''
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString('utf8')
    })
    child.on('error', () => resolve(null))
    child.on('close', (code) => resolve(code === 0 ? (/^password=(.*)$/m.exec(out)?.[1] ?? null) || null : null))
    child.stdin.on('error', () => {})
    child.stdin.end(input)
  })
}

async function git(args: string[], opts: Parameters<typeof runGit>[1] = {}): Promise<Buffer> {
  const r = await runGit(args, opts)
  if (r.code !== 0) throw gitFailed(`git ${args[0]}`, r.stderr, r.code, true)
  return r.stdout
}

function checkOid(s: string, what: string): string {
  if (!/^[0-9a-f]{40}$/.test(s))
    throw opError('GIT_FAILED', `git ${what} answered "${s.slice(0, 80)}" instead of an object id`)
  return s
}

const sigEnv = (prefix: 'AUTHOR' | 'COMMITTER', s: Signature) => ({
  [`GIT_${prefix}_NAME`]: s.name,
  [`GIT_${prefix}_EMAIL`]: s.email,
  [`GIT_${prefix}_DATE`]: `@${s.timestamp} +0000`,
})

type Reply<T> = { value: T; used: number } | { need: number }

/**
 * git writes a loose object through a temporary file in its fan-out directory (`objects/ab/`),
 * making the directory first when it is missing. `git prune-packed` and `git prune`, run by the
 * `git gc` that maintain() starts beside later runs, remove every fan-out directory they find
 * empty: one removed between git's mkdir and its creating the file fails the write with these
 * words (git makes the directory once only). hash-object, commit-tree and unpack-objects (a
 * fetch) then fail; mktree ignores the failure and answers the id of a tree it did not write,
 * which the next mktree naming it, or commit-tree, finds missing (MISSING). Nothing was
 * written, and writing an object again is harmless: such a write is made again, up to
 * WRITE_ATTEMPTS times (each loss needs another removal in that instant; once git's temporary
 * file is in the directory, the directory stays). mktree also finds an entry missing that the
 * gc has just packed, its loose copy pruned, when the pack is newer than the process (it does
 * not look for new packs): a new process finds it.
 */
const FANOUT_GONE = /unable to create temporary file: No such file or directory/
const WRITE_ATTEMPTS = 5
/** git naming an object missing: mktree (an entry of the tree asked for) and commit-tree (its tree). */
const MISSING = /object ([0-9a-f]{40}) is unavailable|([0-9a-f]{40}) is not a valid (?:'tree' )?object/g

/** A request in a GitPipe; an `internal` one (a lost object written again) answers no caller. */
interface Pending<T> {
  input: string | Uint8Array
  resolve: (v: T) => void
  reject: (e: Error) => void
  internal?: boolean
}

/**
 * One long-lived git process answering requests in order (`cat-file --batch`,
 * `hash-object --stdin-paths`, `mktree --batch`): a spawn costs more than the work of a small
 * `record`. Output is kept as a list of chunks and joined only once a reply is complete, so a
 * large object is not copied again on every chunk. A process that dies with requests
 * unanswered fails them, unless `recover`, given what it said, returns the inputs to send first
 * (objects to write again, FANOUT_GONE): then a new process gets those and the unanswered
 * requests, in order, up to WRITE_ATTEMPTS processes in a row without an answer.
 */
class GitPipe<T> {
  private child: ChildProcessWithoutNullStreams | null = null
  private chunks: Buffer[] = []
  private size = 0
  private need = 1
  private queue: Pending<T>[] = []
  /** Processes started again since a caller's request was last answered. */
  private restarts = 0

  constructor(
    private readonly gitdir: string,
    private readonly args: string[],
    private readonly parse: (buf: Buffer) => Reply<T>,
    private readonly recover?: (stderr: string) => Array<string | Uint8Array> | null,
  ) {}

  private start(): ChildProcessWithoutNullStreams {
    const child = spawn('git', this.args, { env: gitEnv(this.gitdir), stdio: ['pipe', 'pipe', 'pipe'] })
    child.stdout.on('data', (b: Buffer) => {
      this.chunks.push(b)
      this.size += b.length
      this.drain()
    })
    let stderr = ''
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString('utf8')
    })
    // A dead process's half-received answer must not be parsed as its successor's reply; and
    // 'error' then 'close' of an old process must not fail requests sent to its successor.
    const fail = (e: Error) => {
      if (this.child !== child) return
      for (const q of this.queue.splice(0)) q.reject(e)
      this.child = null
      this.chunks = []
      this.size = 0
      this.need = 1
    }
    child.on('error', (e) =>
      fail(opError('GIT_SPAWN', `could not run git (${e.message}); install git or use --git iso`, e)),
    )
    child.on('close', () => {
      const first =
        this.child === child && this.queue.length && this.restarts < WRITE_ATTEMPTS - 1 ? this.recover?.(stderr) : null
      if (!first)
        return fail(
          opError('GIT_FAILED', `git ${this.args[0]} exited unexpectedly: ${stderr.trim().split('\n').pop() ?? ''}`),
        )
      // A half-received reply is dropped with the process; its successor answers from the start.
      this.restarts++
      this.child = null
      this.chunks = []
      this.size = 0
      this.need = 1
      const internal = first.map((input) => ({ input, resolve: () => {}, reject: () => {}, internal: true }))
      this.queue = [...internal, ...this.queue.filter((q) => !q.internal)]
      const next = this.start()
      for (const q of this.queue) next.stdin.write(q.input)
    })
    child.stdin.on('error', () => {})
    this.child = child
    return child
  }

  private drain() {
    while (this.queue.length && this.size >= this.need) {
      const buf = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.size)
      const r = this.parse(buf)
      if ('need' in r) {
        this.chunks = [buf]
        this.need = r.need
        return
      }
      const rest = buf.subarray(r.used)
      this.chunks = rest.length ? [rest] : []
      this.size = rest.length
      this.need = 1
      const q = this.queue.shift()!
      if (!q.internal) this.restarts = 0
      q.resolve(r.value)
    }
  }

  request(input: string | Uint8Array): Promise<T> {
    const child = this.child ?? this.start()
    return new Promise((resolve, reject) => {
      this.queue.push({ input, resolve, reject })
      child.stdin.write(input)
    })
  }

  close() {
    const c = this.child
    this.child = null
    if (c) {
      c.removeAllListeners('close')
      c.stdin.end()
    }
  }
}

/** The last `max` values set, by key (a Map's insertion order: the oldest goes first). */
class RecentObjects<V> {
  private readonly map = new Map<string, V>()
  constructor(private readonly max: number) {}
  get(key: string): V | undefined {
    return this.map.get(key)
  }
  set(key: string, value: V): void {
    if (this.map.size >= this.max) this.map.delete(this.map.keys().next().value as string)
    this.map.set(key, value)
  }
}

type CatReply = { oid: string; type: string; data: Buffer } | null

function parseCatFile(buf: Buffer): Reply<CatReply> {
  const nl = buf.indexOf(10)
  if (nl < 0) return { need: buf.length + 1 }
  const header = buf.toString('latin1', 0, nl)
  if (header.endsWith(' missing') || header.endsWith(' ambiguous')) return { value: null, used: nl + 1 }
  const [oid, type, sizeStr] = header.split(' ')
  const end = nl + 1 + Number(sizeStr)
  if (buf.length < end + 1) return { need: end + 1 }
  const data = buf.subarray(nl + 1, end)
  // Copied only when it is the smaller part of `buf` (small replies read together must not keep each other alive): a
  // large object copied would be its bytes twice over until the next collection.
  return {
    value: { oid: oid!, type: type!, data: data.length * 2 >= buf.length ? data : Buffer.from(data) },
    used: end + 1,
  }
}

function parseLine(buf: Buffer): Reply<string> {
  const nl = buf.indexOf(10)
  if (nl < 0) return { need: buf.length + 1 }
  return { value: buf.toString('latin1', 0, nl).trim(), used: nl + 1 }
}

/** git's own `gc --auto` limits (gc.auto, gc.autoPackLimit); gc checks them again with the user's config. */
export const MAINTENANCE_LIMITS = { looseObjects: 6700, packs: 50 }

/**
 * Whether `gc --auto` has work: git's own estimate of the loose objects (those of one of the 256
 * fan-out directories, objects/17, times 256) or more packs than the limit (a pack with a
 * `.keep` file does not count). Two directory reads, so every commit can ask.
 */
export function needsMaintenance(gitdir: string, limits = MAINTENANCE_LIMITS): boolean {
  const list = (dir: string) => {
    try {
      return fs.readdirSync(path.join(gitdir, 'objects', dir))
    } catch {
      return []
    }
  }
  const loose = list('17').filter((n) => /^[0-9a-f]{38}$/.test(n)).length
  if (loose > Math.ceil(limits.looseObjects / 256)) return true
  const files = new Set(list('pack'))
  const packs = [...files].filter((n) => n.endsWith('.pack') && !files.has(`${n.slice(0, -5)}.keep`))
  return packs.length > limits.packs
}

/**
 * The store's housekeeping: `git gc --auto`, run beside other runs of this store and not under
 * its lock, so it must not touch what they rely on: no pack-refs (a writer's ref update clears
 * a `<ref>.lock` it takes for a leftover, and Store.hasPending reads loose refs first), no
 * reflog expiry (it locks refs), and a prune of unreachable objects only when older than two
 * weeks whatever the user's config (a run's new objects are unreachable until its ref moves).
 * Repacking and pruning are git's own, safe beside readers and writers and against a kill.
 */
export const MAINTENANCE_ARGS = [
  ...['-c', 'gc.packRefs=false', '-c', 'gc.reflogExpire=never', '-c', 'gc.reflogExpireUnreachable=never'],
  ...['-c', 'gc.pruneExpire=2.weeks.ago', '-c', 'gc.autoDetach=false'],
  ...['gc', '--auto', '--quiet'],
]

/**
 * The long-lived cat-file's memory, bounded: git's defaults (a 96 MB delta base cache, pack windows mapped up to
 * gigabytes) let it grow with the pack that a first fetch of a large ledger brings, past our own process (257 MB for
 * 3M records, 118 MB for 1M; 85 and under 50 MB with these, and as fast; docs/benchmarks.md).
 */
const CAT_FILE_MEMORY = [
  ...['-c', 'core.deltaBaseCacheLimit=32m', '-c', 'core.packedGitWindowSize=8m', '-c', 'core.packedGitLimit=32m'],
]

export class SystemBackend implements GitBackend {
  readonly name = 'system' as const
  private readonly cat: GitPipe<CatReply>
  private readonly hashObject: GitPipe<string>
  private readonly mktree: GitPipe<string>
  private tmpSeq = 0
  /** mktree's input for the trees it answered lately, by id: one that git lost is written again. */
  private readonly trees = new Map<string, string>()

  constructor(readonly gitdir: string) {
    this.cat = new GitPipe(gitdir, [...CAT_FILE_MEMORY, 'cat-file', '--batch'], parseCatFile)
    this.hashObject = new GitPipe(gitdir, ['hash-object', '-w', '--no-filters', '--stdin-paths'], parseLine, (err) =>
      FANOUT_GONE.test(err) ? [] : null,
    )
    this.mktree = new GitPipe(gitdir, ['mktree', '--batch'], parseLine, (err) =>
      / is unavailable$/m.test(err) ? this.lostTrees(err) : null,
    )
  }

  /** mktree's input for each tree of ours that git says is missing (FANOUT_GONE). */
  private lostTrees(stderr: string): string[] {
    const lost: string[] = []
    for (const m of stderr.matchAll(MISSING)) {
      const input = this.trees.get((m[1] ?? m[2])!)
      if (input) lost.push(input)
    }
    return lost
  }

  async init(): Promise<void> {
    await git(['init', '--bare', '--quiet', '--initial-branch=main', this.gitdir], { gitdir: undefined })
  }

  /** Through a temporary file: `hash-object --stdin-paths` is the batch form git offers. */
  writeBlob(data: Uint8Array): Promise<string> {
    // Not an async function: one would keep `data` alive until git answers (a suspended async
    // function keeps its arguments), and a backfill writes every day's part before awaiting any.
    const dir = path.join(this.gitdir, 'usage-ledger-tmp')
    const file = path.join(dir, `${process.pid}-${this.tmpSeq++}`)
    try {
      fs.mkdirSync(dir, { recursive: true })
      fs.writeFileSync(file, data)
    } catch (e) {
      fs.rmSync(file, { force: true })
      // write(2) names no file: say which one.
      const err = e as NodeJS.ErrnoException
      if (err && typeof err === 'object' && !err.path) err.path = file
      return Promise.reject(e)
    }
    return this.hashTempFile(file)
  }

  /** The oid of the blob git writes from `file`, which is then removed. */
  private async hashTempFile(file: string): Promise<string> {
    try {
      return checkOid(await this.hashObject.request(`${file}\n`), 'hash-object')
    } finally {
      fs.rmSync(file, { force: true })
    }
  }

  async writeTree(entries: TreeEntry[]): Promise<string> {
    const input = `${entries.map((e) => `${e.mode} ${e.type} ${e.oid}\t${e.name}\n`).join('')}\n`
    const oid = checkOid(await this.mktree.request(input), 'mktree')
    // A write needs its tree again within a few requests (its parent's, or its commit's).
    this.trees.delete(oid)
    this.trees.set(oid, input)
    if (this.trees.size > 256) this.trees.delete(this.trees.keys().next().value!)
    return oid
  }

  async writeCommit(c: CommitInfo): Promise<string> {
    const args = ['commit-tree', '--no-gpg-sign', c.tree]
    for (const p of c.parents) args.push('-p', p)
    args.push('-F', '-')
    const env = { ...sigEnv('AUTHOR', c.author), ...sigEnv('COMMITTER', c.committer) }
    for (let attempt = 1; ; attempt++) {
      const r = await runGit(args, { gitdir: this.gitdir, input: c.message, env })
      if (r.code === 0) return r.stdout.toString('latin1').trim()
      if (attempt >= WRITE_ATTEMPTS) throw gitFailed('git commit-tree', r.stderr, r.code, true)
      // Its tree, answered by mktree but lost (FANOUT_GONE): written again first.
      const lost = this.lostTrees(r.stderr)
      if (!lost.length && !FANOUT_GONE.test(r.stderr)) throw gitFailed('git commit-tree', r.stderr, r.code, true)
      for (const input of lost) await this.mktree.request(input)
    }
  }

  async readRef(ref: string): Promise<string | null> {
    // No repository yet (a dry run before the first record) reads as no ref, as in iso.
    if (/\s/.test(ref) || !fs.existsSync(this.gitdir)) return null
    const o = await this.cat.request(`${ref}^{commit}\n`)
    return o ? o.oid : null
  }

  /** A spawn: the cat-file process lists no refs, and their files (loose, packed, reftable) are git's. */
  async listRefs(prefix: string): Promise<Map<string, string>> {
    const out = (
      await git(['for-each-ref', '--format=%(objectname) %(refname)', prefix], { gitdir: this.gitdir })
    ).toString('utf8')
    const refs = new Map<string, string>()
    for (const line of out.split('\n')) {
      if (!line) continue
      const sp = line.indexOf(' ')
      refs.set(line.slice(sp + 1), line.slice(0, sp))
    }
    return refs
  }

  async remoteUrl(name: string): Promise<string | null> {
    const r = await runGit(['config', '--local', '--get', `remote.${name}.url`], { gitdir: this.gitdir })
    if (r.code === 1) return null // not set
    if (r.code !== 0) throw gitFailed('git config', r.stderr, r.code, true)
    return r.stdout.toString('utf8').replace(/\n$/, '')
  }

  /**
   * A git killed while updating `ref` leaves `<ref>.lock`, and every later update of it fails
   * until someone removes the file. Our writes and fetches run under the store lock, so such a
   * file is a leftover, never another run's.
   */
  private clearStaleRefLock(ref: string): void {
    try {
      fs.unlinkSync(path.join(this.gitdir, `${ref}.lock`))
    } catch {
      /* none: the usual case */
    }
  }

  updateRef(ref: string, newOid: string, expectedOld: string | null): Promise<void> {
    return this.updateRefs([{ ref, newOid, expectedOld }])
  }

  /** One `git update-ref --stdin`: git moves every ref in one transaction, or none. */
  async updateRefs(moves: RefMove[]): Promise<void> {
    if (!moves.length) return
    for (const m of moves) this.clearStaleRefLock(m.ref)
    const r = await runGit(['update-ref', '-m', 'usage-ledger', '--stdin'], {
      gitdir: this.gitdir,
      input: moves.map((m) => `update ${m.ref} ${m.newOid} ${m.expectedOld ?? ZERO_OID}\n`).join(''),
    })
    if (r.code !== 0) {
      const why = r.stderr.trim().split('\n').pop() ?? ''
      const refs = moves.map((m) => m.ref).join(', ')
      // git says "cannot lock ref ...: is at X but expected Y" or "...: reference already exists".
      if (/but expected|already exists|unable to resolve reference|reference is missing/.test(why)) {
        const expected = moves.length === 1 ? ` (expected ${moves[0]!.expectedOld ?? 'no ref'})` : ''
        throw new LedgerError('operational', 'REF_STALE', `${refs} moved under us${expected}: ${why}`)
      }
      throw opError('GIT_FAILED', `git update-ref ${refs} failed: ${why}`)
    }
  }

  async deleteRef(ref: string, expectedOld: string): Promise<void> {
    this.clearStaleRefLock(ref)
    if ((await this.readRef(ref)) === null) return
    const r = await runGit(['update-ref', '-m', 'usage-ledger', '-d', ref, expectedOld], { gitdir: this.gitdir })
    if (r.code !== 0) {
      const why = r.stderr.trim().split('\n').pop() ?? ''
      if (/but expected|unable to resolve reference|reference is missing/.test(why))
        throw new LedgerError('operational', 'REF_STALE', `${ref} moved under us (expected ${expectedOld}): ${why}`)
      throw opError('GIT_FAILED', `git update-ref -d ${ref} failed: ${why}`)
    }
  }

  private async object(oid: string, want: string): Promise<Buffer> {
    const o = /^[0-9a-f]{40}$/.test(oid) ? await this.cat.request(`${oid}\n`) : null
    if (!o) throw opError('GIT_MISSING_OBJECT', `git object ${oid} is missing from ${this.gitdir}`)
    if (o.type !== want) throw opError('GIT_BAD_OBJECT', `git object ${oid} is a ${o.type}, expected a ${want}`)
    return o.data
  }

  async readTree(oid: string): Promise<TreeEntry[]> {
    let t = this.readTrees.get(oid)
    if (!t) this.readTrees.set(oid, (t = parseTree(await this.object(oid, 'tree'))))
    return t.map((e) => ({ ...e }))
  }
  async readBlob(oid: string): Promise<Buffer> {
    return this.object(oid, 'blob')
  }
  async readCommit(oid: string): Promise<CommitInfo> {
    let c = this.readCommits.get(oid)
    if (!c) this.readCommits.set(oid, (c = parseCommit(await this.object(oid, 'commit'))))
    return { ...c, parents: [...c.parents], author: { ...c.author }, committer: { ...c.committer } }
  }

  /**
   * Commits and trees read this run, by oid (an object never changes): a fetch's checks, merge and
   * index read the same few hundred again and again (311 cat-file round trips for 120 objects,
   * measured on a fetch of 5 devices' new parts). Bounded (commits 4,096, trees 1,024: a few MB), so a run that reads every tree keeps the
   * last few thousand only.
   */
  private readonly readCommits = new RecentObjects<CommitInfo>(4096)
  private readonly readTrees = new RecentObjects<TreeEntry[]>(1024)

  /**
   * Ledger branches are linear, so walking parents through the long-lived cat-file process
   * answers the usual case without a spawn; long or branching histories ask merge-base.
   */
  async isAncestor(ancestor: string, descendant: string): Promise<boolean> {
    let c: string | undefined = descendant
    for (let steps = 0; c && steps < 64; steps++) {
      if (c === ancestor) return true
      const parents: string[] = (await this.readCommit(c)).parents
      if (parents.length !== 1) break
      c = parents[0]
    }
    if (!c) return false
    const r = await runGit(['merge-base', '--is-ancestor', ancestor, descendant], { gitdir: this.gitdir })
    if (r.code === 0) return true
    if (r.code === 1) return false
    throw opError('GIT_FAILED', `git merge-base failed: ${r.stderr.trim()}`)
  }

  /**
   * The token travels as an HTTP header set through git's environment config, so it is in
   * neither argv (visible in ps) nor any file; without one, git's own credential helpers apply.
   */
  private remoteEnv(remote: Remote): Record<string, string> {
    const env: Record<string, string> = { GIT_TERMINAL_PROMPT: '0' }
    // A remote that sends nothing (less than 1 byte/s) for timeoutSec aborts the transfer
    // (curl 28) instead of hanging a shell hook; git's own variables for http.lowSpeed*.
    if (remote.timeoutSec && remote.timeoutSec > 0) {
      env.GIT_HTTP_LOW_SPEED_LIMIT = '1'
      env.GIT_HTTP_LOW_SPEED_TIME = String(Math.max(1, Math.round(remote.timeoutSec)))
    }
    if (remote.token) {
      env.GIT_CONFIG_COUNT = '1'
      env.GIT_CONFIG_KEY_0 = 'http.extraHeader'
      env.GIT_CONFIG_VALUE_0 = `Authorization: Basic ${Buffer.from(`usage-ledger:${remote.token}`).toString('base64')}`
    }
    return env
  }

  private async remoteGit(remote: Remote, args: string[], ref = ''): Promise<Buffer> {
    const r = await runGit(args, { gitdir: this.gitdir, env: this.remoteEnv(remote) })
    if (r.code === 0) return r.stdout
    throw this.remoteError(remote, args, r, ref)
  }

  private remoteError(remote: Remote, args: string[], r: RunResult, ref = ''): LedgerError {
    // push --porcelain reports a rejected ref on stdout.
    const said = `${r.stderr}\n${r.stdout.toString('utf8')}`
    return classifyGitError(remote.url, said, ref) ?? gitFailed(`git ${args[0]} ${redactUrl(remote.url)}`, said, r.code)
  }

  async listRemoteRefs(remote: Remote, prefix: string): Promise<Map<string, string>> {
    const out = (await this.remoteGit(remote, ['ls-remote', '--', remote.url, `${prefix}*`])).toString('utf8')
    const refs = new Map<string, string>()
    for (const line of out.split('\n')) {
      const [oid, name] = line.split('\t')
      if (oid && name?.startsWith(prefix)) refs.set(name, oid)
    }
    return refs
  }

  async fetchRefs(remote: Remote, refs: string[]): Promise<Map<string, string>> {
    const got = new Map<string, string>()
    if (!refs.length) return got
    for (const r of refs) this.clearStaleRefLock(trackingRef(r))
    let want = refs
    let lostWrites = 0
    while (want.length) {
      const args = ['fetch', '--quiet', '--no-tags', '--no-write-fetch-head', '--', remote.url]
      args.push(...want.map((r) => `+${r}:${trackingRef(r)}`))
      const r = await runGit(args, { gitdir: this.gitdir, env: this.remoteEnv(remote) })
      if (r.code === 0) break
      // A few objects are unpacked loose, beside a gc that may remove their directory.
      if (FANOUT_GONE.test(r.stderr) && ++lostWrites < WRITE_ATTEMPTS) continue
      // A branch deleted since it was listed fails the whole fetch, and git names it: fetch the rest.
      const gone = /couldn't find remote ref (\S+)/.exec(r.stderr)?.[1]
      if (!gone || !want.includes(gone)) throw this.remoteError(remote, args, r)
      want = want.filter((w) => w !== gone)
    }
    for (const r of want) {
      const oid = await this.readRef(trackingRef(r))
      if (oid) got.set(r, oid)
    }
    return got
  }

  async push(remote: Remote, ref: string): Promise<void> {
    await this.remoteGit(remote, ['push', '--quiet', '--porcelain', '--', remote.url, `${ref}:${ref}`], ref)
    const oid = await this.readRef(ref)
    this.clearStaleRefLock(trackingRef(ref))
    if (oid) await runGit(['update-ref', trackingRef(ref), oid], { gitdir: this.gitdir })
  }

  async deleteRemoteRef(remote: Remote, ref: string): Promise<void> {
    await this.remoteGit(remote, ['push', '--quiet', '--porcelain', '--', remote.url, `:${ref}`], ref)
    await runGit(['update-ref', '-d', trackingRef(ref)], { gitdir: this.gitdir })
  }

  async maintain(): Promise<boolean> {
    if (!needsMaintenance(this.gitdir)) return false
    // Its own process group and no stdio: neither a Ctrl-C at the terminal nor a caller
    // reading our output to its end waits for it or stops it.
    const child = spawn('git', MAINTENANCE_ARGS, {
      env: gitEnv(this.gitdir),
      detached: true,
      stdio: 'ignore',
      windowsHide: true,
    })
    child.on('error', () => {})
    child.unref()
    return true
  }

  async close(): Promise<void> {
    this.cat.close()
    this.hashObject.close()
    this.mktree.close()
  }
}
