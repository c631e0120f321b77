/**
 * Shared by the fault tests (network, fuzz, input, secrets): running the built CLI with a
 * watchdog and keeping every run's output, the one-line error check, ledger totals, and the
 * search for a token in output and files.
 */
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import type { Test } from 'tap'
import { pick, startCli, type Totals } from '../helpers/cli.js'
import { gitAsync } from '../helpers/spawn.js'

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
export async function ul(
  args: string[],
  env: Record<string, string | undefined>,
  opts: { input?: string; watchdogMs?: number; onSpawn?: (pid: number) => void } = {},
): Promise<Run> {
  const started = Date.now()
  const s = startCli(args, { env, input: opts.input, watchdogMs: opts.watchdogMs ?? 90_000 })
  if (s.child.pid !== undefined) opts.onSpawn?.(s.child.pid)
  const p = await s.done
  const r = {
    args,
    code: p.killed ? -1 : (p.code ?? -1),
    stdout: p.stdout,
    stderr: p.stderr,
    killed: p.killed,
    ms: Date.now() - started,
  }
  transcript.push(r)
  return r
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

/** A ref's oid, or null. */
export async function refOf(gitdir: string, ref: string): Promise<string | null> {
  const r = await gitAsync(gitdir, ['rev-parse', '--verify', '--quiet', ref])
  return r.code === 0 ? r.stdout.trim() : null
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
