/**
 * `status --watch`: the live view's terminal side (DESIGN §7). The alternate screen with the
 * cursor hidden and the keyboard in raw mode; a redraw from `storeStatus` every `--interval`
 * seconds and on every resize; with a remote, a background `usage-ledger fetch --quiet` every
 * minute (a child process, never two at once, its failure a line on the screen). `q` or Ctrl-C
 * (and SIGINT, SIGTERM, SIGHUP) restore the terminal and end it with exit 0. What is drawn is
 * `report/live.ts`'s, pure; this file only holds the terminal, the timers and the child.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { storeStatus } from '../app/query/status.js'
import { usageError } from '../errors.js'
import { renderLive, type LiveStatus } from '../report/live.js'
import { Store } from '../store/store.js'
import type { CommandContext, Outcome } from './context.js'

export interface WatchOptions {
  /** Seconds between redraws. */
  interval: number
  /** The command line it was asked with, for the refusal (`status --watch` unless said). */
  asked?: string
}

/** Seconds between background fetches (from the end of one to the start of the next). */
const FETCH_EVERY_S = 60

const ENTER = '\x1b[?1049h\x1b[?25l'
const LEAVE = '\x1b[?25h\x1b[?1049l'

export async function watch(ctx: CommandContext, opts: WatchOptions): Promise<Outcome> {
  const { env, global } = ctx
  if (!env.stdoutIsTerminal)
    throw usageError(
      'NOT_A_TERMINAL',
      `${opts.asked ?? 'status --watch'} draws a full-screen view and standard output is not a terminal: run it in a terminal, or use usage-ledger status --json in a pipe`,
    )
  const clone = Boolean(global.repo)
  const load = async (): Promise<LiveStatus & { remote: string | null }> => {
    const store = Store.open(env, { home: global.home, git: global.git, repo: global.repo })
    try {
      return await storeStatus(store, clone)
    } finally {
      await store.close()
    }
  }
  // The first status before the screen changes: a store that cannot be read fails as `status` does.
  let last = await load()
  let refreshProblem: string | null = null
  let fetchProblem: string | null = null
  let fetchedAt: string | null = null

  const stdout = process.stdout
  const stdin = process.stdin
  const draw = () => {
    const height = stdout.rows || 24
    const lines = renderLive(last, {
      width: stdout.columns || 80,
      height,
      now: env.now(),
      color: global.color,
      interval: opts.interval,
      notes: [refreshProblem, fetchProblem].filter((x): x is string => x !== null),
      fetchedAt,
    })
    // Each row cleared then written (never in the pending-wrap column's way), the rest of the screen cleared.
    let frame = ''
    lines.forEach((l, i) => {
      frame += `\x1b[${i + 1};1H\x1b[2K${l}`
    })
    // The rows below, cleared (a full screen has none: clearing from its last row would erase it).
    env.stdout.write(lines.length < height ? `${frame}\x1b[${lines.length + 1};1H\x1b[J` : frame)
  }

  let stopped = false
  let redraw: NodeJS.Timeout | undefined
  let nextFetch: NodeJS.Timeout | undefined
  let refreshing = false
  let fetching: ChildProcess | null = null
  let quit: () => void = () => {}
  const done = new Promise<void>((resolve) => {
    quit = () => {
      stopped = true
      resolve()
    }
  })

  const refresh = async () => {
    if (refreshing || stopped) return
    refreshing = true
    clearTimeout(redraw)
    try {
      last = await load()
      refreshProblem = null
    } catch (e) {
      refreshProblem = `reading the store failed: ${(e as Error)?.message ?? String(e)}`
    } finally {
      refreshing = false
    }
    if (stopped) return
    draw()
    redraw = setTimeout(refresh, opts.interval * 1000)
  }

  const fetchNow = () => {
    if (fetching || stopped || !last.remote) return
    const args = [process.argv[1]!, 'fetch', '--quiet']
    if (global.home !== undefined) args.push('--home', global.home)
    if (global.repo !== undefined) args.push('--repo', global.repo)
    if (global.git !== 'auto') args.push('--git', global.git)
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] })
    fetching = child
    let err = ''
    child.stderr?.setEncoding('utf8')
    child.stderr?.on('data', (s: string) => {
      if (err.length < 4096) err += s
    })
    const ended = (why: string | null) => {
      if (fetching !== child) return
      fetching = null
      fetchProblem = why
      if (stopped) return
      nextFetch = setTimeout(fetchNow, FETCH_EVERY_S * 1000)
      void refresh()
    }
    child.on('error', (e) => ended(`the background fetch did not start: ${e.message}`))
    child.on('close', (code, signal) => {
      if (code === 0) fetchedAt = env.now().toISOString()
      const said = err
        .split('\n')
        .map((l) => l.replace(/^usage-ledger: /, '').trim())
        .find(Boolean)
      ended(
        code === 0
          ? null
          : `the background fetch failed (${signal ?? `exit ${code}`})${said ? `: ${said}` : ''}; it runs again in a minute`,
      )
    })
  }

  const onKey = (data: Buffer | string) => {
    for (const ch of String(data)) {
      if (ch === 'q' || ch === 'Q' || ch === '\x03' || ch === '\x04') return quit()
      if (ch === 'r' || ch === 'R') void refresh()
    }
  }
  const onResize = () => {
    if (!stopped) draw()
  }
  // A crash past this point still gives the terminal back.
  const restoreSync = () => {
    try {
      if (stdin.isTTY) stdin.setRawMode(false)
    } catch {
      /* the terminal is gone */
    }
    env.stdout.write(LEAVE)
  }

  env.stdout.write(ENTER)
  process.on('exit', restoreSync)
  process.on('SIGINT', quit)
  process.on('SIGTERM', quit)
  process.on('SIGHUP', quit)
  stdout.on('resize', onResize)
  if (stdin.isTTY) {
    stdin.setRawMode(true)
    stdin.on('data', onKey)
    stdin.resume()
  }
  try {
    draw()
    redraw = setTimeout(refresh, opts.interval * 1000)
    fetchNow()
    await done
  } finally {
    stopped = true
    clearTimeout(redraw)
    clearTimeout(nextFetch)
    // A fetch under way finishes on its own (it holds the store's lock); this process does not wait for it.
    const child = fetching as ChildProcess | null
    if (child) {
      child.stderr?.destroy()
      child.unref()
    }
    stdout.removeListener('resize', onResize)
    process.removeListener('SIGINT', quit)
    process.removeListener('SIGTERM', quit)
    process.removeListener('SIGHUP', quit)
    if (stdin.isTTY) {
      stdin.removeListener('data', onKey)
      stdin.setRawMode(false)
      stdin.pause()
    }
    process.removeListener('exit', restoreSync)
    env.stdout.write(LEAVE)
  }
  return 'ok'
}
