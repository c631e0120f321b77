/**
 * The system backend: the `git` binary's plumbing. Reads go through one long-lived
 * `git cat-file --batch`; writes through hash-object, mktree, commit-tree and update-ref.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { opError, LedgerError } from '../errors.js'
import type { CommitInfo, GitBackend, Signature, TreeEntry } from './backend.js'
import { ZERO_OID } from './backend.js'
import { parseCommit, parseTree } from './objects.js'

interface RunResult { stdout: Buffer; stderr: string; code: number }

export function gitEnv(gitdir: string | undefined, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C', ...extra }
  if (gitdir) env.GIT_DIR = gitdir
  else delete env.GIT_DIR
  return env
}

export function runGit(args: string[], opts: { gitdir?: string; input?: Uint8Array | string; env?: Record<string, string>; cwd?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, { env: gitEnv(opts.gitdir, opts.env), cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on('data', (b: Buffer) => out.push(b))
    child.stderr.on('data', (b: Buffer) => err.push(b))
    child.on('error', (e) => reject(opError('GIT_SPAWN', `could not run git (${(e as Error).message}); install git or use --git iso`, e)))
    child.on('close', (code) => resolve({ stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8'), code: code ?? 1 }))
    child.stdin.on('error', () => {})
    child.stdin.end(opts.input ?? '')
  })
}

async function git(args: string[], opts: Parameters<typeof runGit>[1] = {}): Promise<Buffer> {
  const r = await runGit(args, opts)
  if (r.code !== 0) {
    const line = r.stderr.trim().split('\n').pop() ?? ''
    throw opError('GIT_FAILED', `git ${args[0]} failed: ${line || `exit ${r.code}`}`)
  }
  return r.stdout
}

const sigEnv = (prefix: 'AUTHOR' | 'COMMITTER', s: Signature) => ({
  [`GIT_${prefix}_NAME`]: s.name,
  [`GIT_${prefix}_EMAIL`]: s.email,
  [`GIT_${prefix}_DATE`]: `@${s.timestamp} +0000`,
})

/** One `git cat-file --batch` process answering requests in order. */
class CatFile {
  private child: ChildProcessWithoutNullStreams | null = null
  private buf: Buffer = Buffer.alloc(0)
  private queue: Array<{ resolve: (v: { type: string; data: Buffer } | null) => void; reject: (e: Error) => void }> = []

  constructor(private readonly gitdir: string) {}

  private start(): ChildProcessWithoutNullStreams {
    const child = spawn('git', ['cat-file', '--batch'], { env: gitEnv(this.gitdir), stdio: ['pipe', 'pipe', 'pipe'] })
    child.stdout.on('data', (b: Buffer) => { this.buf = this.buf.length ? Buffer.concat([this.buf, b]) : b; this.drain() })
    child.stderr.resume()
    // A dead reader's half-received answer must not be parsed as the next process's reply; and
    // 'error' then 'close' of an old process must not fail requests sent to its successor.
    const fail = (e: Error) => {
      if (this.child !== child) return
      for (const q of this.queue.splice(0)) q.reject(e)
      this.child = null
      this.buf = Buffer.alloc(0)
    }
    child.on('error', (e) => fail(opError('GIT_SPAWN', `could not run git (${e.message}); install git or use --git iso`, e)))
    child.on('close', () => fail(opError('GIT_FAILED', 'git cat-file exited unexpectedly')))
    child.stdin.on('error', () => {})
    this.child = child
    return child
  }

  private drain() {
    while (this.queue.length) {
      const nl = this.buf.indexOf(10)
      if (nl < 0) return
      const header = this.buf.subarray(0, nl).toString('latin1')
      if (header.endsWith(' missing') || header.endsWith(' ambiguous')) {
        this.buf = this.buf.subarray(nl + 1)
        this.queue.shift()!.resolve(null)
        continue
      }
      const [, type, sizeStr] = header.split(' ')
      const size = Number(sizeStr)
      if (this.buf.length < nl + 1 + size + 1) return
      const data = Buffer.from(this.buf.subarray(nl + 1, nl + 1 + size))
      this.buf = this.buf.subarray(nl + 1 + size + 1)
      this.queue.shift()!.resolve({ type: type!, data })
    }
  }

  get(spec: string): Promise<{ type: string; data: Buffer } | null> {
    const child = this.child ?? this.start()
    return new Promise((resolve, reject) => {
      this.queue.push({ resolve, reject })
      child.stdin.write(spec + '\n')
    })
  }

  close() {
    const c = this.child
    this.child = null
    if (c) { c.removeAllListeners('close'); c.stdin.end() }
  }
}

export class SystemBackend implements GitBackend {
  readonly name = 'system' as const
  private readonly cat: CatFile

  constructor(readonly gitdir: string) {
    this.cat = new CatFile(gitdir)
  }

  async init(): Promise<void> {
    await git(['init', '--bare', '--quiet', '--initial-branch=main', this.gitdir], { gitdir: undefined })
  }

  async writeBlob(data: Uint8Array): Promise<string> {
    return (await git(['hash-object', '-w', '--stdin'], { gitdir: this.gitdir, input: data })).toString('latin1').trim()
  }

  async writeTree(entries: TreeEntry[]): Promise<string> {
    const input = entries.map((e) => `${e.mode} ${e.type} ${e.oid}\t${e.name}\n`).join('')
    return (await git(['mktree'], { gitdir: this.gitdir, input })).toString('latin1').trim()
  }

  async writeCommit(c: CommitInfo): Promise<string> {
    const args = ['commit-tree', '--no-gpg-sign', c.tree]
    for (const p of c.parents) args.push('-p', p)
    args.push('-F', '-')
    const env = { ...sigEnv('AUTHOR', c.author), ...sigEnv('COMMITTER', c.committer) }
    return (await git(args, { gitdir: this.gitdir, input: c.message, env })).toString('latin1').trim()
  }

  async readRef(ref: string): Promise<string | null> {
    const r = await runGit(['rev-parse', '--verify', '--quiet', ref + '^{commit}'], { gitdir: this.gitdir })
    return r.code === 0 ? r.stdout.toString('latin1').trim() : null
  }

  async listRefs(prefix: string): Promise<Map<string, string>> {
    const out = (await git(['for-each-ref', '--format=%(objectname) %(refname)', prefix], { gitdir: this.gitdir })).toString('utf8')
    const refs = new Map<string, string>()
    for (const line of out.split('\n')) {
      if (!line) continue
      const sp = line.indexOf(' ')
      refs.set(line.slice(sp + 1), line.slice(0, sp))
    }
    return refs
  }

  async updateRef(ref: string, newOid: string, expectedOld: string | null): Promise<void> {
    const r = await runGit(['update-ref', '-m', 'usage-ledger', ref, newOid, expectedOld ?? ZERO_OID], { gitdir: this.gitdir })
    if (r.code !== 0) {
      throw new LedgerError('operational', 'REF_STALE', `${ref} moved under us (expected ${expectedOld ?? 'no ref'}): ${r.stderr.trim().split('\n').pop()}`)
    }
  }

  private async object(oid: string, want: string): Promise<Buffer> {
    const o = await this.cat.get(oid)
    if (!o) throw opError('GIT_MISSING_OBJECT', `git object ${oid} is missing from ${this.gitdir}`)
    if (o.type !== want) throw opError('GIT_BAD_OBJECT', `git object ${oid} is a ${o.type}, expected a ${want}`)
    return o.data
  }

  async readTree(oid: string): Promise<TreeEntry[]> { return parseTree(await this.object(oid, 'tree')) }
  async readBlob(oid: string): Promise<Buffer> { return this.object(oid, 'blob') }
  async readCommit(oid: string): Promise<CommitInfo> { return parseCommit(await this.object(oid, 'commit')) }

  async isAncestor(ancestor: string, descendant: string): Promise<boolean> {
    const r = await runGit(['merge-base', '--is-ancestor', ancestor, descendant], { gitdir: this.gitdir })
    if (r.code === 0) return true
    if (r.code === 1) return false
    throw opError('GIT_FAILED', `git merge-base failed: ${r.stderr.trim()}`)
  }

  async close(): Promise<void> { this.cat.close() }
}
