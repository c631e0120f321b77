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
  let stuck = false
  try {
    const read = await readStdin(STDIN_BOUND_MS)
    stuck = read.stuck
    const run = await statusline(env, { home: o.home, stdin: read.text, spawnRefresh })
    line = renderStatusline(run.facts, o.format ?? run.format ?? DEFAULT_STATUSLINE_FORMAT, o.color)
    if (o.debug)
      env.stderr.write(
        `refresh: ${run.refresh}${run.refreshPid ? ` pid ${run.refreshPid}` : ''}; spooled ${run.spooled.length}\n`,
      )
  } catch (e) {
    line = `usage-ledger: ${(e as Error)?.message ?? String(e)}`.slice(0, 80)
  }
  env.stdout.write(`${line}\n`)
  // A writer that neither finished its JSON nor closed stdin within the bound (Claude Code writes
  // it and closes): the read left on libuv's pool would hold the exit until it closes, so the
  // line is out and the process ends here, the one case whose exit status is not 0.
  if (stuck) process.kill(process.pid, 'SIGKILL')
}

/** What came on stdin (null: nothing to read, a terminal), and whether a read is still pending on libuv's pool. */
export interface StdinRead {
  text: string | null
  stuck: boolean
}

/**
 * stdin, stopping at its end, the first whole JSON value or `boundMs`. A terminal (or
 * /dev/null: a character device, asked with fstat, not node:tty, which loads node:net and the
 * streams) is not read; a file is read at once; a pipe (Linux) is opened again without blocking
 * and polled; a socket (what node's spawn gives) is read on libuv's pool, which costs nothing to
 * start, unlike node's stream (node:net: a fifth of `node -e 0`), but cannot be taken back: a
 * read still pending when the bound expires is `stuck`.
 */
export function readStdin(boundMs: number, max = 1 << 20): Promise<StdinRead> {
  const none = Promise.resolve({ text: null, stuck: false })
  let st: fs.Stats
  try {
    st = fs.fstatSync(0)
  } catch {
    return none
  }
  if (st.isCharacterDevice()) return none
  if (st.isFile()) {
    try {
      const buf = Buffer.alloc(Math.min(max, st.size))
      const text = buf.subarray(0, fs.readSync(0, buf, 0, buf.length, null)).toString('utf8')
      return Promise.resolve({ text, stuck: false })
    } catch {
      return none
    }
  }
  if (st.isFIFO() && process.platform === 'linux') {
    let fd = -1
    try {
      fd = fs.openSync('/proc/self/fd/0', fs.constants.O_RDONLY | fs.constants.O_NONBLOCK)
    } catch {
      /* then as a socket */
    }
    if (fd >= 0) return pollFd(fd, boundMs, max).then((text) => ({ text, stuck: false }))
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let size = 0
    let done = false
    // A read on the pool now (a descriptor without O_NONBLOCK blocks there); else a retry timer.
    let pending = false
    let retry: NodeJS.Timeout | undefined
    const finish = (stuck: boolean) => {
      if (done) return
      done = true
      clearTimeout(timer)
      clearTimeout(retry)
      resolve({ text: Buffer.concat(chunks).toString('utf8'), stuck })
    }
    const timer = setTimeout(() => finish(pending), boundMs)
    const step = () => {
      const buf = Buffer.allocUnsafe(64 * 1024)
      pending = true
      fs.read(0, buf, 0, buf.length, null, (err, n) => {
        pending = false
        if (done) return
        if (err) {
          if (err.code !== 'EAGAIN') return finish(false)
          retry = setTimeout(step, 2)
          return
        }
        if (n === 0) return finish(false)
        chunks.push(buf.subarray(0, n))
        size += n
        if (size >= max || wholeJson(chunks)) return finish(false)
        step()
      })
    }
    step()
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
