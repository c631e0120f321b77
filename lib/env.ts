/**
 * Everything a command reads from or writes to the world outside the store, passed in so
 * tests can fix the clock, the environment, the home and capture the output.
 */
import os from 'node:os'
import tty from 'node:tty'

export interface Output {
  write(s: string): unknown
}

export interface Env {
  vars: Record<string, string | undefined>
  now(): Date
  /** The user's home (where ~/.claude and ~/.codex live). */
  userHome: string
  cwd: string
  platform: NodeJS.Platform
  hostname: string
  stdin: NodeJS.ReadableStream
  stdout: Output
  stderr: Output
  /** Progress bars only when stderr is a terminal, colour only when stdout is. */
  stderrIsTTY: boolean
  stdoutIsTTY: boolean
}

/** The real process's env. `USAGE_LEDGER_NOW` fixes the clock (tests, reproducible demos). */
export function processEnv(): Env {
  const fixed = process.env.USAGE_LEDGER_NOW
  const fixedMs = fixed ? Date.parse(fixed) : NaN
  // The standard streams are created on first access, which costs a few milliseconds each:
  // a quiet `record` with nothing new touches none of them.
  return {
    vars: process.env,
    now: Number.isFinite(fixedMs) ? () => new Date(fixedMs) : () => new Date(),
    userHome: process.env.HOME || os.homedir(),
    cwd: process.cwd(),
    platform: process.platform,
    hostname: os.hostname(),
    get stdin() { return process.stdin },
    stdout: { write: (s: string) => process.stdout.write(s), get columns() { return process.stdout.columns } } as Output,
    stderr: { write: (s: string) => process.stderr.write(s) },
    get stderrIsTTY() { return tty.isatty(2) && !process.env.NO_COLOR },
    get stdoutIsTTY() { return tty.isatty(1) && !process.env.NO_COLOR },
  }
}
