/** A fixed Env for in-process tests: clock, home and cwd set, output captured. */
import { Readable } from 'node:stream'
import type { Env } from '../../lib/env.js'

export interface FakeEnvOptions {
  userHome?: string
  cwd?: string
  stdin?: string
  tty?: boolean
}

export function fakeEnv(
  vars: Record<string, string | undefined>,
  o: FakeEnvOptions = {},
): Env & { out(): string; err(): string } {
  const stdout: string[] = [],
    stderr: string[] = []
  return {
    vars,
    now: () => new Date('2026-11-22T12:00:00.000Z'),
    userHome: o.userHome ?? '/nonexistent/home',
    cwd: o.cwd ?? '/',
    platform: 'linux',
    hostname: 'test-host',
    stdin: Readable.from([o.stdin ?? '']),
    stdout: { write: (s: string) => stdout.push(s) },
    stderr: { write: (s: string) => stderr.push(s) },
    stderrIsTTY: o.tty ?? false,
    stdoutIsTTY: o.tty ?? false,
    out: () => stdout.join(''),
    err: () => stderr.join(''),
  }
}
