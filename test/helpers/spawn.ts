/**
 * The tests' one way to run a child process (the CLI, native git, npm, a shell). Always
 * asynchronous: a test process may be serving an in-process git server (scripts/git-server.ts),
 * and a blocking spawn would stall it.
 */
import { type ChildProcess, spawn } from 'node:child_process'

export interface Proc {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  /** Killed by the watchdog. */
  killed: boolean
}

export interface RunOptions {
  /** The whole environment (variables set to undefined are left out); PATH alone by default. */
  env?: Record<string, string | undefined>
  cwd?: string
  /** Written to stdin, then closed (empty by default). */
  input?: string | Buffer
  /** 'ignore': stdin is /dev/null, not a pipe. */
  stdin?: 'pipe' | 'ignore'
  /** SIGKILL after this long: a hang shows as a failed assertion, not as the file timing out. */
  watchdogMs?: number
  /** In a process group of its own, so that killGroup takes its children with it. */
  detached?: boolean
}

export interface Started {
  child: ChildProcess
  done: Promise<Proc>
}

export function start(cmd: string, args: string[], opts: RunOptions = {}): Started {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(opts.env ?? { PATH: process.env.PATH })) if (v !== undefined) env[k] = v
  const child = spawn(cmd, args, {
    env,
    cwd: opts.cwd,
    detached: opts.detached,
    stdio: [opts.stdin ?? 'pipe', 'pipe', 'pipe'],
  })
  const done = new Promise<Proc>((resolve, reject) => {
    const out: Buffer[] = [],
      err: Buffer[] = []
    let killed = false
    const timer =
      opts.watchdogMs === undefined
        ? undefined
        : setTimeout(() => {
            killed = true
            child.kill('SIGKILL')
          }, opts.watchdogMs)
    child.stdout!.on('data', (b: Buffer) => out.push(b))
    child.stderr!.on('data', (b: Buffer) => err.push(b))
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        killed,
      })
    })
  })
  if (child.stdin) {
    child.stdin.on('error', () => {}) // a child that exits without reading its input
    child.stdin.end(opts.input ?? '')
  }
  return { child, done }
}

export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<Proc> {
  return start(cmd, args, opts).done
}

/** SIGKILL to a detached child's whole process group; false when the group was already gone. */
export function killGroup(child: ChildProcess): boolean {
  try {
    process.kill(-child.pid!, 'SIGKILL')
    return true
  } catch {
    return false
  }
}

/** The environment of native git in `gitdir`: no user or system config, messages in English. */
export const gitEnv = (gitdir: string): Record<string, string | undefined> => ({
  PATH: process.env.PATH,
  GIT_DIR: gitdir,
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  HOME: gitdir,
  LC_ALL: 'C',
})

export function gitAsync(gitdir: string, args: string[], input?: string | Buffer): Promise<Proc> {
  return run('git', args, { env: gitEnv(gitdir), input })
}

/** git in `gitdir`, its stdout; throws on a non-zero exit. */
export async function gitA(gitdir: string, args: string[], input?: string | Buffer): Promise<string> {
  const r = await gitAsync(gitdir, args, input)
  if (r.code !== 0) throw new Error(`git ${args.join(' ')} (${gitdir}) exited ${r.code}: ${r.stderr}`)
  return r.stdout
}

/** Polls `check` every 50 ms; throws after `ms` (a hang shows as a failure, not as the file timing out). */
export async function pollUntil(what: string, check: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`timed out waiting for ${what}`)
}
