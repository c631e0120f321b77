/**
 * Shared by the fault tests (network, fuzz, input, secrets): running the built CLI with a
 * watchdog and keeping every run's output, the one-line error check, ledger totals, native git
 * run asynchronously (a test process may be serving the HTTP remote: a blocking spawn would
 * stall it), and the search for a token in output and files.
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { Test } from 'tap'
import { BIN, FIXTURES, ROOT, isolatedEnv, pick, type Totals } from '../helpers/cli.js'

/**
 * A fresh directory under the system temp dir, removed when `t` ends. Not t.testdir(): its
 * path is fixed per test file, so two runs of the suite in one working tree would share it.
 */
export function tempRoot(t: Pick<Test, 'teardown'>, name: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `ul-${name}-`))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** A token per test process; it must appear in no output and no file (DESIGN §6). */
export const TOKEN = `ul-fault-${randomBytes(12).toString('hex')}`

/** The token and the forms it travels in (the Basic header both backends send). */
export function needles(token: string = TOKEN): string[] {
  return [token, Buffer.from(`usage-ledger:${token}`).toString('base64'), encodeURIComponent(token)].filter(
    (n, i, all) => all.indexOf(n) === i,
  )
}

export interface Run {
  args: string[]
  code: number
  stdout: string
  stderr: string
  killed: boolean
  ms: number
}

/** Every CLI run of this process, for the leak checks. */
export const transcript: Run[] = []

/**
 * The built CLI as a subprocess. A watchdog kills it after `watchdogMs` (code -1, killed):
 * a hang shows as a failed assertion, not as the whole file timing out. No timing is asserted.
 */
export function ul(
  args: string[],
  env: Record<string, string | undefined>,
  opts: { input?: string; watchdogMs?: number; onSpawn?: (pid: number) => void } = {},
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const clean: NodeJS.ProcessEnv = {}
    for (const [k, v] of Object.entries(env)) if (v !== undefined) clean[k] = v
    const child = spawn(process.execPath, [BIN, ...args], { env: clean, cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] })
    if (child.pid !== undefined) opts.onSpawn?.(child.pid)
    const out: Buffer[] = [],
      err: Buffer[] = []
    let killed = false
    const started = Date.now()
    const timer = setTimeout(() => {
      killed = true
      child.kill('SIGKILL')
    }, opts.watchdogMs ?? 90_000)
    child.stdout.on('data', (b: Buffer) => out.push(b))
    child.stderr.on('data', (b: Buffer) => err.push(b))
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      const r = {
        args,
        code: killed ? -1 : (code ?? -1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        killed,
        ms: Date.now() - started,
      }
      transcript.push(r)
      resolve(r)
    })
    child.stdin.on('error', () => {})
    child.stdin.end(opts.input ?? '')
  })
}

type T = Pick<Test, 'equal' | 'match' | 'notMatch'>

const show = (r: Run) =>
  `usage-ledger ${r.args.join(' ')} -> ${r.code}${r.killed ? ' (killed by the watchdog)' : ''}\nstdout: ${r.stdout.slice(0, 2000)}\nstderr: ${r.stderr.slice(0, 2000)}`

/**
 * A failure as DESIGN §7 wants it: the documented exit code and exactly one line on stderr,
 * `usage-ledger: …`, matching `what`, with no stack trace.
 */
export function failsWithOneLine(t: T, r: Run, code: number, what: RegExp, label = r.args.join(' ')): void {
  t.equal(r.code, code, `${label}: exit ${code}${r.code === code ? '' : `\n${show(r)}`}`)
  const lines = r.stderr.split('\n').filter((l) => l.trim())
  t.equal(lines.length, 1, `${label}: one line on stderr${lines.length === 1 ? '' : `\n${show(r)}`}`)
  t.match(lines[0] ?? '', /^usage-ledger: \S/, `${label}: the line says who speaks`)
  t.match(lines[0] ?? '', what, `${label}: the line says what and what to do`)
  t.notMatch(r.stderr, /^\s+at |\bat [\w.<>]+ \(|node:internal|\.ts:\d+|\.cjs:\d+/m, `${label}: no stack trace`)
  t.notMatch(r.stderr, /unexpected error/, `${label}: an error we anticipated, not an unexpected one`)
}

/** A run that must succeed; returns it. */
export function succeeded(t: T, r: Run, label = r.args.join(' ')): Run {
  t.equal(r.code, 0, `${label}: exit 0${r.code === 0 ? '' : `\n${show(r)}`}`)
  return r
}

export const ZERO: Totals = { records: 0, input: 0, output: 0, cacheWrite: 0, cacheRead: 0, totalTokens: 0 }

export function addTotals(a: Totals, b: Partial<Totals>): Totals {
  const out = { ...a }
  for (const k of Object.keys(ZERO) as Array<keyof Totals>) out[k] += b[k] ?? 0
  return out
}

/** `report --json` totals of a store (every device it holds), in UTC. */
export async function storeTotals(env: Record<string, string | undefined>, extra: string[] = []): Promise<Totals> {
  const r = await ul(['report', 'monthly', '--json', '--tz', 'UTC', ...extra], env)
  if (r.code !== 0) throw new Error(show(r))
  return pick(JSON.parse(r.stdout).totals)
}

/** Per device totals of a store. */
export async function deviceTotals(
  env: Record<string, string | undefined>,
  extra: string[] = [],
): Promise<Record<string, Totals>> {
  const r = await ul(['report', 'monthly', '--json', '--tz', 'UTC', '--by', 'device', ...extra], env)
  if (r.code !== 0) throw new Error(show(r))
  const out: Record<string, Totals> = {}
  for (const row of JSON.parse(r.stdout).rows as Array<Record<string, unknown>>)
    out[row.device as string] = addTotals(out[row.device as string] ?? ZERO, pick(row))
  return out
}

export interface Proc {
  code: number | null
  stdout: string
  stderr: string
}

/** Native git, asynchronously, in `gitdir` (no user or system config). */
export function gitAsync(gitdir: string, args: string[]): Promise<Proc> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, {
      env: {
        PATH: process.env.PATH,
        GIT_DIR: gitdir,
        GIT_CONFIG_NOSYSTEM: '1',
        GIT_CONFIG_GLOBAL: '/dev/null',
        HOME: gitdir,
        LC_ALL: 'C',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = '',
      stderr = ''
    child.stdout.on('data', (b) => (stdout += b))
    child.stderr.on('data', (b) => (stderr += b))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

/** A ref's oid, or null. */
export async function refOf(gitdir: string, ref: string): Promise<string | null> {
  const r = await gitAsync(gitdir, ['rev-parse', '--verify', '--quiet', ref])
  return r.code === 0 ? r.stdout.trim() : null
}

/** `git fsck --strict` problems of a repository ('' = clean). */
export async function fsckProblems(gitdir: string): Promise<string> {
  const r = await gitAsync(gitdir, ['fsck', '--strict', '--no-progress', '--no-dangling'])
  // A store's HEAD names main, which only a remote's first device seeds: that is no problem.
  const said = (r.stderr + r.stdout)
    .split('\n')
    .filter((l) => l.trim() && !/^notice: HEAD points to an unborn branch/.test(l))
  return r.code === 0 && !said.length ? '' : `exit ${r.code}: ${said.join('\n')}`
}

/** A machine: its own home, store and sources under `root/name`. */
export interface Machine {
  name: string
  dir: string
  gitdir: string
  env: Record<string, string | undefined>
}

export function machine(
  root: string,
  name: string,
  deviceId: string,
  sources: Array<'claude' | 'codex'> = [],
  extra: Record<string, string | undefined> = {},
): Machine {
  const dir = path.join(root, name)
  fs.mkdirSync(path.join(dir, 'home'), { recursive: true })
  for (const s of sources) fs.cpSync(path.join(FIXTURES, s), path.join(dir, s), { recursive: true })
  return {
    name,
    dir,
    gitdir: path.join(dir, 'store', 'repo.git'),
    env: isolatedEnv(dir, { USAGE_LEDGER_DEVICE_ID: deviceId, USAGE_LEDGER_TOKEN: TOKEN, ...extra }),
  }
}

/** Texts (outputs, messages) that contain one of the needles, as `label: needle`. */
export function leaksInText(runs: Run[], ns: string[] = needles()): string[] {
  const hits: string[] = []
  for (const r of runs)
    for (const n of ns)
      if (r.stdout.includes(n) || r.stderr.includes(n)) hits.push(`usage-ledger ${r.args.join(' ')}: ${n}`)
  return hits
}

/**
 * Files under `dir` (recursively, symlinks not followed, `skip` directories left out) whose
 * bytes contain one of the needles; read in chunks, so a huge file costs no memory.
 */
export function leaksInFiles(
  dir: string,
  skip: string[] = [],
  ns: string[] = needles(),
): { files: number; hits: string[] } {
  const bufs = ns.map((n) => Buffer.from(n))
  const overlap = Math.max(...bufs.map((b) => b.length))
  const chunk = Buffer.allocUnsafe(1 << 20)
  let files = 0
  const hits: string[] = []
  const walk = (d: string) => {
    let entries: fs.Dirent[]
    try {
      entries = fs.readdirSync(d, { withFileTypes: true })
    } catch {
      return
    }
    for (const e of entries) {
      const p = path.join(d, e.name)
      if (e.isDirectory()) {
        if (!skip.includes(p)) walk(p)
        continue
      }
      if (!e.isFile()) continue
      files++
      let fd: number
      try {
        fd = fs.openSync(p, 'r')
      } catch {
        continue
      }
      try {
        let carry = Buffer.alloc(0)
        for (;;) {
          const n = fs.readSync(fd, chunk, 0, chunk.length, null)
          if (n === 0) break
          const window = carry.length ? Buffer.concat([carry, chunk.subarray(0, n)]) : chunk.subarray(0, n)
          for (let i = 0; i < bufs.length; i++) if (window.includes(bufs[i]!)) hits.push(`${p}: ${ns[i]}`)
          carry = Buffer.from(window.subarray(Math.max(0, window.length - overlap)))
        }
      } finally {
        fs.closeSync(fd)
      }
    }
  }
  walk(dir)
  return { files, hits: [...new Set(hits)] }
}

/** One stdin record (schema v1, snake_case accepted) and what it adds to the totals. */
export function stdinRecord(
  ts: string,
  input: number,
  output: number,
  cacheRead = 0,
): { line: string; totals: Totals } {
  return {
    line: `${JSON.stringify({
      ts,
      model: 'gpt-5',
      input_tokens: input,
      output_tokens: output,
      cache_read_input_tokens: cacheRead,
    })}\n`,
    totals: { records: 1, input, output, cacheWrite: 0, cacheRead, totalTokens: input + output + cacheRead },
  }
}
