/**
 * The statusline's run, shared by the `statusline` command (lib/cli/statusline.ts) and its own
 * small bundle (lib/cli/statusline-main.ts, dist/statusline.cjs, what bin/usage-ledger.js runs
 * for `usage-ledger statusline`): stdin read with a short bound, the use case, one line out.
 * Never throws, never waits for a refresh; the exit code is always 0.
 */
import fs from 'node:fs'
import { createRequire } from 'node:module'
import type { Env } from '../env.js'
import { statusline } from '../app/statusline.js'
import { DEFAULT_STATUSLINE_FORMAT, renderStatusline } from '../report/statusline.js'

/** How long stdin may take: Claude Code writes its JSON and closes it at once. */
export const STDIN_BOUND_MS = 250

export interface StatuslineLineOptions {
  home?: string
  format?: string
  color: boolean
  /** --debug: say on stderr what became of the background refresh (Claude Code shows stdout only). */
  debug?: boolean
}

/** Colour unless --no-color, NO_COLOR or TERM=dumb: Claude Code shows ANSI colours although stdout is a pipe. */
export const statuslineColor = (env: Env, flag: boolean) => flag && !env.vars.NO_COLOR && env.vars.TERM !== 'dumb'

export async function runStatusline(env: Env, o: StatuslineLineOptions): Promise<void> {
  let line: string
  try {
    const stdin = await readStdin(STDIN_BOUND_MS)
    const run = await statusline(env, { home: o.home, stdin, spawnRefresh })
    line = renderStatusline(run.facts, o.format ?? run.format ?? DEFAULT_STATUSLINE_FORMAT, o.color)
    if (o.debug)
      env.stderr.write(
        `refresh: ${run.refresh}${run.refreshPid ? ` pid ${run.refreshPid}` : ''}; spooled ${run.spooled.length}\n`,
      )
  } catch (e) {
    line = `usage-ledger: ${(e as Error)?.message ?? String(e)}`.slice(0, 80)
  }
  env.stdout.write(`${line}\n`)
}

/**
 * stdin as text, or null for a terminal. A file is read at once; a pipe polled without blocking
 * (Linux); a socket (what node's spawn gives) through node's stream, which the bound can stop: a read of fd 0 left pending on
 * libuv's thread pool would hold the process' exit until the writer closes. Stops at the first
 * whole JSON value.
 */
export function readStdin(boundMs: number, max = 1 << 20): Promise<string | null> {
  let st: fs.Stats
  try {
    st = fs.fstatSync(0)
  } catch {
    return Promise.resolve(null)
  }
  // A terminal (or /dev/null) is a character device: nothing to wait for. (fstat, not node:tty,
  // which loads node:net and the streams for nothing.)
  if (st.isCharacterDevice()) return Promise.resolve(null)
  if (st.isFile()) {
    try {
      const buf = Buffer.alloc(Math.min(max, st.size))
      return Promise.resolve(buf.subarray(0, fs.readSync(0, buf, 0, buf.length, null)).toString('utf8'))
    } catch {
      return Promise.resolve(null)
    }
  }
  // A pipe (Linux): opened again without blocking and polled, which needs no stream (node:net).
  if (st.isFIFO() && process.platform === 'linux') {
    let fd = -1
    try {
      fd = fs.openSync('/proc/self/fd/0', fs.constants.O_RDONLY | fs.constants.O_NONBLOCK)
    } catch {
      /* then the stream */
    }
    if (fd >= 0) return pollFd(fd, boundMs, max)
  }
  return new Promise((resolve) => {
    const stdin = process.stdin
    const chunks: Buffer[] = []
    let size = 0
    let done = false
    const finish = () => {
      if (done) return
      done = true
      clearTimeout(timer)
      stdin.destroy()
      resolve(Buffer.concat(chunks).toString('utf8'))
    }
    const timer = setTimeout(finish, boundMs)
    stdin.on('data', (b: Buffer) => {
      chunks.push(b)
      size += b.length
      if (size >= max || wholeJson(chunks)) finish()
    })
    stdin.on('end', finish)
    stdin.on('error', finish)
  })
}

/** Reads the non-blocking `fd` until its end, a whole JSON value, `max` bytes or `boundMs`; closes it. */
function pollFd(fd: number, boundMs: number, max: number): Promise<string> {
  return new Promise((resolve) => {
    const deadline = Date.now() + boundMs
    const chunks: Buffer[] = []
    const buf = Buffer.allocUnsafe(64 * 1024)
    let size = 0
    const done = () => {
      try {
        fs.closeSync(fd)
      } catch {
        /* closed */
      }
      resolve(Buffer.concat(chunks).toString('utf8'))
    }
    const poll = () => {
      for (;;) {
        let n: number
        try {
          n = fs.readSync(fd, buf, 0, buf.length, null)
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EAGAIN' || Date.now() >= deadline) return done()
          setTimeout(poll, 2)
          return
        }
        if (n === 0) return done()
        chunks.push(Buffer.from(buf.subarray(0, n)))
        size += n
        if (size >= max || wholeJson(chunks)) return done()
      }
    }
    poll()
  })
}

function wholeJson(chunks: Buffer[]): boolean {
  const text = Buffer.concat(chunks).toString('utf8').trimEnd()
  if (!text.endsWith('}')) return false
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}

/** Starts `usage-ledger statusline --refresh --home HOME` detached (own process group, no stdio); its pid. */
async function spawnRefresh(home: string): Promise<number | undefined> {
  const bin = process.argv[1]
  if (!bin) return undefined
  // Required, not import()ed: the bin runs the bundle in a vm.Script, which has no dynamic import.
  const { spawn } = createRequire(import.meta.url)('node:child_process') as typeof import('node:child_process')
  const child = spawn(process.execPath, [bin, 'statusline', '--refresh', '--home', home], {
    detached: true,
    stdio: 'ignore',
    env: process.env,
  })
  child.on('error', () => {})
  child.unref()
  return child.pid
}
