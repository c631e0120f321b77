/**
 * Test helpers: native git as the referee, and git object ids computed by hand with
 * node:crypto, so the backends are checked against something that is neither of them.
 */
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface NativeResult {
  code: number
  out: Buffer
  stdout: string
  stderr: string
}

/** Runs `git` with GIT_DIR = gitdir (unless undefined), isolated from system/global config. */
export function nativeGit(
  gitdir: string | undefined,
  args: string[],
  opts: { input?: string | Uint8Array; env?: Record<string, string>; cwd?: string } = {},
): NativeResult {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    LC_ALL: 'C',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    ...opts.env,
  }
  if (gitdir) env.GIT_DIR = gitdir
  else delete env.GIT_DIR
  const r = spawnSync('git', args, { env, input: opts.input ?? '', cwd: opts.cwd, maxBuffer: 256 * 1024 * 1024 })
  if (r.error) throw r.error
  return { code: r.status ?? -1, out: r.stdout, stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8') }
}

/** Like nativeGit but throws on a non-zero exit and returns trimmed stdout. */
export function git(gitdir: string | undefined, args: string[], opts: Parameters<typeof nativeGit>[2] = {}): string {
  const r = nativeGit(gitdir, args, opts)
  if (r.code !== 0) throw new Error(`git ${args.join(' ')} exited ${r.code}: ${r.stderr}`)
  return r.stdout.trim()
}

/**
 * `git fsck --strict --full` output without its `notice:` lines (an unborn HEAD or no refs is normal for a
 * store); '' with exit 0 means clean.
 */
export function fsck(gitdir: string): { code: number; output: string } {
  const r = nativeGit(gitdir, ['fsck', '--strict', '--full', '--no-dangling', '--no-progress'])
  const output = (r.stdout + r.stderr)
    .split('\n')
    .filter((l) => l.trim() && !l.startsWith('notice: '))
    .join('\n')
  return { code: r.code, output }
}

/** A scratch bare repository made by native git, for computing expected oids independently. */
export function scratchRepo(): { gitdir: string; dispose: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'ul-native-'))
  const gitdir = join(dir, 'ref.git')
  git(undefined, ['init', '--bare', '--quiet', gitdir])
  return { gitdir, dispose: () => rmSync(dir, { recursive: true, force: true }) }
}

export const sha1 = (...parts: Array<string | Uint8Array>) => {
  const h = createHash('sha1')
  for (const p of parts) h.update(p)
  return h.digest('hex')
}

/** Object id of a blob, by hand. */
export const blobOid = (data: Uint8Array | string) => {
  const b = typeof data === 'string' ? Buffer.from(data) : Buffer.from(data)
  return sha1(`blob ${b.length}\0`, b)
}

/**
 * Object id of a tree whose entries are given IN THE ORDER GIT STORES THEM (the caller states
 * that order, so a test can see a backend that sorts differently).
 */
export function treeOidInOrder(entries: Array<{ name: string; type: 'blob' | 'tree'; oid: string }>): string {
  const body = Buffer.concat(
    entries.map((e) =>
      Buffer.concat([Buffer.from(`${e.type === 'tree' ? '40000' : '100644'} ${e.name}\0`), Buffer.from(e.oid, 'hex')]),
    ),
  )
  return sha1(`tree ${body.length}\0`, body)
}

export interface Sig {
  name: string
  email: string
  timestamp: number
}

/** The exact bytes of a commit as git writes it (UTC signatures). */
export function commitText(c: {
  tree: string
  parents: string[]
  author: Sig
  committer: Sig
  message: string
}): string {
  let s = `tree ${c.tree}\n`
  for (const p of c.parents) s += `parent ${p}\n`
  s += `author ${c.author.name} <${c.author.email}> ${c.author.timestamp} +0000\n`
  s += `committer ${c.committer.name} <${c.committer.email}> ${c.committer.timestamp} +0000\n`
  return `${s}\n${c.message}`
}

export const commitOid = (c: Parameters<typeof commitText>[0]) => {
  const b = Buffer.from(commitText(c))
  return sha1(`commit ${b.length}\0`, b)
}

/** Native `git commit-tree` with fixed identities and dates, in `gitdir`. */
export function nativeCommitTree(
  gitdir: string,
  c: { tree: string; parents: string[]; author: Sig; committer: Sig; message: string },
): string {
  const args = ['commit-tree', '--no-gpg-sign', c.tree]
  for (const p of c.parents) args.push('-p', p)
  args.push('-F', '-')
  return git(gitdir, args, {
    input: c.message,
    env: {
      GIT_AUTHOR_NAME: c.author.name,
      GIT_AUTHOR_EMAIL: c.author.email,
      GIT_AUTHOR_DATE: `@${c.author.timestamp} +0000`,
      GIT_COMMITTER_NAME: c.committer.name,
      GIT_COMMITTER_EMAIL: c.committer.email,
      GIT_COMMITTER_DATE: `@${c.committer.timestamp} +0000`,
    },
  })
}

/**
 * Root tree oid native git computes for `files` (path → blob oid, blobs already in gitdir),
 * through the index and write-tree: a different code path from mktree.
 */
export function nativeTreeOf(gitdir: string, files: Map<string, string>, indexFile: string): string {
  const env = { GIT_INDEX_FILE: indexFile }
  git(gitdir, ['read-tree', '--empty'], { env })
  const info = [...files].map(([p, oid]) => `100644 ${oid}\t${p}\n`).join('')
  git(gitdir, ['update-index', '--add', '--index-info'], { input: info, env })
  return git(gitdir, ['write-tree'], { env })
}

/** Deterministic pseudo-random bytes. */
export function prng(n: number, seed = 1): Buffer {
  const b = Buffer.alloc(n)
  let x = seed >>> 0 || 1
  for (let i = 0; i < n; i++) {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    b[i] = x & 0xff
  }
  return b
}
