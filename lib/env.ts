/**
 * Everything a command reads from or writes to the world outside the store, passed in so
 * tests can fix the clock, the environment, the home and capture the output.
 */
import fs from 'node:fs'
import { createRequire } from 'node:module'
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
  /** Whether stdout is a terminal, whatever NO_COLOR says: a full-screen view (`status --watch`) needs one. */
  stdoutIsTerminal?: boolean
}

/**
 * A standard stream whose reader may go away (`usage-ledger status | head -1`): the closed pipe
 * (EPIPE) is the reader saying it has seen enough, not a failure. From then on writes are
 * dropped, so the command ends as it would have, quietly, and with its own exit code; the
 * stream's asynchronous 'error' event no longer kills the process with a stack trace. Any other
 * error of the stream is rethrown as before.
 */
function pipeOutput(fd: 1 | 2, stream: () => NodeJS.WriteStream): Output {
  let closed = false
  let watched = false
  // Not a terminal: written with write(2) directly, as node writes files and Linux pipes anyway,
  // without building the stream object (~2 ms of a quiet `record`, whose one line goes here).
  // A non-blocking pipe that is full (EAGAIN) hands the rest, and all that follows, to the stream.
  let direct: boolean | undefined
  const onError = (e: NodeJS.ErrnoException) => {
    if (e?.code === 'EPIPE' || e?.code === 'ERR_STREAM_DESTROYED') {
      closed = true
      return
    }
    throw e
  }
  return {
    write(s: string) {
      if (closed) return false
      let chunk: string | Buffer = s
      direct ??= !tty.isatty(fd)
      if (direct) {
        const bytes = Buffer.from(s)
        let done = 0
        try {
          while (done < bytes.length) done += fs.writeSync(fd, bytes, done)
          return true
        } catch (e) {
          const code = (e as NodeJS.ErrnoException)?.code
          if (code === 'EPIPE') {
            closed = true
            return false
          }
          if (code !== 'EAGAIN') throw e
          direct = false
          chunk = bytes.subarray(done)
        }
      }
      const st = stream()
      if (!watched) {
        st.on('error', onError)
        watched = true
      }
      try {
        return st.write(chunk)
      } catch (e) {
        // Some platforms report the closed pipe synchronously.
        if ((e as NodeJS.ErrnoException)?.code === 'EPIPE') {
          closed = true
          return false
        }
        throw e
      }
    },
  }
}

/** The real process's env. `USAGE_LEDGER_NOW` fixes the clock (tests, reproducible demos). */
/**
 * For the rest of the process, V8 grows its heap by 10% past what a collection left live, not by its default factor
 * (up to 4×): a run that reads every record (a first `index`, `init --remote`, `verify --full`, a backfill) then peaks
 * near what it holds, for some more collections. Only such runs ask: loading node:v8 costs a no-op run milliseconds.
 */
export function collectSooner(): void {
  ;(createRequire(import.meta.url)('node:v8') as typeof import('node:v8')).setFlagsFromString(
    '--heap-growing-percent=10',
  )
}

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
    get stdin() {
      return process.stdin
    },
    stdout: Object.defineProperty(
      pipeOutput(1, () => process.stdout),
      'columns',
      { get: () => process.stdout.columns },
    ),
    stderr: pipeOutput(2, () => process.stderr),
    get stderrIsTTY() {
      return tty.isatty(2) && !process.env.NO_COLOR
    },
    get stdoutIsTTY() {
      return tty.isatty(1) && !process.env.NO_COLOR
    },
    get stdoutIsTerminal() {
      return tty.isatty(1)
    },
  }
}
