/**
 * `status --watch` in a real terminal: tmux runs the built CLI in a pane of a fixed size, the test
 * reads the pane (capture-pane), types into it (send-keys) and resizes it. Every wait polls the
 * pane with a generous deadline; no step relies on a timing. Each test has its own tmux server
 * (-L), killed in teardown.
 */
import t, { type Test } from 'tap'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { spawnSync } from 'node:child_process'
import { BIN, cli, isolatedEnv } from '../helpers/cli.js'
import { machine } from '../helpers/machine.js'
import { run } from '../helpers/spawn.js'
import { shellQuote } from '../../lib/text.js'

const tmuxMissing =
  spawnSync('tmux', ['-V'], { encoding: 'utf8' }).status === 0
    ? null
    : 'tmux is not installed (.ci/run installs it from Debian)'

const line = (ts: string, input: number) => `${JSON.stringify({ ts, model: 'claude-haiku-4-5', input })}\n`

/** A tmux server of this test's own, and the helpers to drive it. */
function terminal(t: Test, dir: string) {
  const socket = `ul-watch-${process.pid}-${Math.random().toString(36).slice(2, 8)}`
  // The server's socket in a short directory of its own (a socket path has a length limit), removed after.
  const sockets = fs.mkdtempSync(path.join(os.tmpdir(), 'ul-watch-'))
  const env = { PATH: process.env.PATH, HOME: dir, TERM: 'xterm-256color', TMUX_TMPDIR: sockets }
  const tmux = async (...args: string[]) => {
    const r = await run('tmux', ['-L', socket, '-f', '/dev/null', ...args], { env, watchdogMs: 30_000 })
    if (r.code !== 0) throw new Error(`tmux ${args.join(' ')}: ${r.stderr}`)
    return r.stdout
  }
  t.teardown(async () => {
    await run('tmux', ['-L', socket, 'kill-server'], { env })
    fs.rmSync(sockets, { recursive: true, force: true })
  })
  const capture = async (target: string) => (await tmux('capture-pane', '-p', '-t', target)).replace(/\s+$/, '')
  const show = async (target: string, format: string) =>
    (await tmux('display-message', '-p', '-t', target, format)).trim()
  /** Polls the pane until `check` holds (30 s at most); returns the screen it held on. */
  const until = async (target: string, what: string, check: (screen: string) => boolean) => {
    const end = Date.now() + 30_000
    let screen = ''
    while (Date.now() < end) {
      screen = await capture(target)
      if (check(screen)) return screen
      await new Promise((r) => setTimeout(r, 100))
    }
    const size = await show(target, '#{pane_width}x#{pane_height}').catch(() => '?')
    throw new Error(`timed out waiting for ${what}; the screen (${size}):\n${screen}`)
  }
  return { tmux, capture, show, until }
}

/** A script that runs the live view as a user would, then says how it ended and keeps the pane. */
function script(dir: string, env: Record<string, string | undefined>, args: string[]): string {
  const file = path.join(dir, `watch-${Math.random().toString(36).slice(2, 8)}.sh`)
  const exports = Object.entries(env)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `export ${k}=${shellQuote(v!)}`)
  fs.writeFileSync(
    file,
    [
      ...exports,
      'unset NODE_OPTIONS',
      `${shellQuote(process.execPath)} ${shellQuote(BIN)} ${args.join(' ')}`,
      'echo EXIT:$?',
      // The terminal's modes after it: canonical input and echo are back when raw mode was undone.
      `echo MODES: $(stty -a | tr ' ;' '\\n\\n' | grep -x -e icanon -e -icanon -e echo -e -echo | tr '\\n' ' ')`,
      'exec sleep 600',
      '',
    ].join('\n'),
  )
  return file
}

/** The bar's width on a screen: the row of █ and ░. */
const barWidth = (screen: string) => screen.match(/[█░]+/)?.[0].length ?? 0

t.test('with stdout not a terminal: refused with one line, exit 2', async (t) => {
  const dir = t.testdir()
  const env = isolatedEnv(dir)
  const r = await cli(['status', '--watch'], { env })
  t.equal(r.code, 2)
  t.equal(r.stdout, '')
  t.match(
    r.stderr,
    /^usage-ledger: status --watch draws a full-screen view and standard output is not a terminal: run it in a terminal, or use usage-ledger status --json in a pipe\n$/,
  )
  const json = await cli(['status', '--watch', '--json'], { env })
  t.equal(json.code, 2)
  t.match(JSON.parse(json.stdout), { schema: 'usage-ledger/error@1', code: 'WATCH_WITH_JSON', exitCode: 2 })
  const lone = await cli(['status', '--interval', '5'], { env })
  t.equal(lone.code, 2)
  t.match(lone.stderr, /--interval applies to status --watch: add --watch/)
  const bad = await cli(['status', '--watch', '--interval', '0'], { env })
  t.equal(bad.code, 2)
  t.match(bad.stderr, /--interval must be a number of seconds from 0\.1 to 3600, not "0"/)
  // ccusage's `blocks --live`, under its name here.
  const live = await cli(['report', 'blocks', '--live'], { env })
  t.equal(live.code, 2)
  t.match(
    live.stderr,
    /^usage-ledger: report blocks --live draws a full-screen view and standard output is not a terminal/,
  )
  const daily = await cli(['report', 'daily', '--live', '--json'], { env })
  t.equal(daily.code, 2)
  t.match(JSON.parse(daily.stdout), { code: 'LIVE_NEEDS_BLOCKS' })
})

t.test(
  'in a real terminal: first screen, a redraw after a new record, resize, q restores the terminal',
  { skip: tmuxMissing ?? false },
  async (t) => {
    const dir = t.testdir()
    const env = isolatedEnv(dir, { USAGE_LEDGER_DEVICE_ID: 'f'.repeat(32) }) // the clock: 2026-11-22T12:00Z
    fs.mkdirSync(env.HOME!, { recursive: true })
    const first = line('2026-11-22T09:30:00Z', 1000) + line('2026-11-22T10:00:00Z', 3000)
    const rec = await cli(['record', '--stdin', '--source', 'x', '--name', 'desk'], { env, input: first })
    t.equal(rec.code, 0, rec.stderr)
    const term = terminal(t, dir)
    await term.tmux(
      'new-session',
      '-d',
      '-s',
      'live',
      '-x',
      '80',
      '-y',
      '24',
      `sh ${shellQuote(script(dir, env, ['status', '--watch', '--interval', '1']))}`,
    )

    const screen = await term.until('live', 'the first screen', (s) => /\* desk/.test(s))
    t.match(screen, /^usage-ledger live · desk +2026-11-22 12:00:00 UTC · every 1 s · q quits$/m)
    t.match(screen, /^no remote: this machine only \(usage-ledger init --remote URL\)$/m)
    t.match(screen, /^5h block {2}09:00–14:00 \(2 h left\)$/m)
    t.match(screen, /^█{30}░{20} {2}60% of the block elapsed$/m, '12:00 is 3 h into the 09:00 block')
    t.match(screen, /^ {2}4,000 tokens, \$0\.00 · burn 133 tokens\/min, \$0\.01\/h$/m)
    t.match(screen, /^\* desk +\d+ h ago +4,000 +\$0\.00 +100%$/m, 'the device row')
    t.match(await term.tmux('capture-pane', '-e', '-p', '-t', 'live'), /\x1b\[32m█/, 'in colour: the bar is green')
    t.equal(await term.show('live', '#{alternate_on}'), '1', 'on the alternate screen')
    t.equal(await term.show('live', '#{cursor_flag}'), '0', 'the cursor hidden')

    // A new record, from another process: the next redraw shows it.
    const more = await cli(['record', '--stdin', '--source', 'x'], { env, input: line('2026-11-22T11:00:00Z', 5000) })
    t.equal(more.code, 0, more.stderr)
    const after = await term.until('live', 'the redraw with the new record', (s) => /9,000 tokens/.test(s))
    t.match(after, /^\* desk +\d+ (h|min) ago +9,000 +\$0\.01 +100%$/m)

    // A smaller terminal: drawn again to its width (the bar shrinks to fit beside its caption).
    await term.tmux('resize-window', '-t', 'live', '-x', '60', '-y', '20')
    const narrow = await term.until('live', 'the redraw at 60 columns', (s) => barWidth(s) === 34)
    for (const l of narrow.split('\n')) t.ok([...l].length <= 60, `fits 60 columns: ${l}`)
    t.equal(narrow.split('\n').length <= 20, true, 'fits 20 rows')
    t.match(narrow, /^usage-ledger live · desk +2026-11-22 12:00:00 UTC · q quits$/m, 'the header keeps what fits')
    t.match(narrow, /^\* desk/m)

    // Too few rows for everything: the last row says so (and stays: the full screen's last row is not cleared).
    await term.tmux('resize-window', '-t', 'live', '-x', '60', '-y', '8')
    const short = await term.until('live', 'the redraw at 8 rows', (s) => /a taller terminal shows more/.test(s))
    t.equal(short.split('\n').length, 8)
    t.match(short.split('\n')[7], /^… \(a taller terminal shows more\)$/)

    await term.tmux('send-keys', '-t', 'live', 'q')
    const ended = await term.until('live', 'the exit', (s) => /EXIT:\d+\nMODES: \S/.test(s))
    t.match(ended, /EXIT:0/, 'q ends it with exit 0')
    t.notMatch(ended, /5h block/, 'the live view is gone with the alternate screen')
    t.equal(await term.show('live', '#{alternate_on}'), '0', 'the alternate screen left')
    t.equal(await term.show('live', '#{cursor_flag}'), '1', 'the cursor shown again')
    t.match(ended, /MODES: icanon echo/, 'raw mode off: line input and echo are back')
  },
)

t.test(
  'Ctrl-C ends it with exit 0; a background fetch that fails is a line on the screen',
  { skip: tmuxMissing ?? false },
  async (t) => {
    const dir = t.testdir()
    const env = isolatedEnv(dir, { USAGE_LEDGER_DEVICE_ID: 'e'.repeat(32) })
    fs.mkdirSync(env.HOME!, { recursive: true })
    const rec = await cli(['record', '--stdin', '--source', 'x', '--name', 'desk', '--no-push'], {
      env,
      input: line('2026-11-22T11:30:00Z', 700),
    })
    t.equal(rec.code, 0, rec.stderr)
    // A remote that is not there: the background fetch fails, the view goes on.
    const config = path.join(env.USAGE_LEDGER_HOME!, 'config.json')
    const missing = path.join(dir, 'no-such-remote.git')
    fs.writeFileSync(config, JSON.stringify({ ...JSON.parse(fs.readFileSync(config, 'utf8')), remote: missing }))
    const term = terminal(t, dir)
    await term.tmux(
      'new-session',
      '-d',
      '-s',
      'live',
      '-x',
      '100',
      '-y',
      '30',
      `sh ${shellQuote(script(dir, { ...env, NO_COLOR: '1' }, ['status', '--watch']))}`,
    )
    const screen = await term.until('live', 'the failed fetch', (s) => /background fetch failed/.test(s))
    t.match(screen, /every 2 s/, 'the default interval')
    t.match(screen, /^remote: 1 commit pending · \//m, 'the commit recorded with --no-push waits')
    t.match(screen.replace(/\s+/g, ' '), /! the background fetch failed \(exit \d\): .+; it runs again in a minute/)
    t.match(screen, /\* desk/, 'the view goes on')
    t.notMatch(await term.tmux('capture-pane', '-e', '-p', '-t', 'live'), /\x1b\[/, 'NO_COLOR: no colour')
    await term.tmux('send-keys', '-t', 'live', 'C-c')
    const ended = await term.until('live', 'the exit', (s) => /EXIT:\d+\nMODES: \S/.test(s))
    t.match(ended, /EXIT:0/, 'Ctrl-C ends it with exit 0')
    t.equal(await term.show('live', '#{alternate_on}'), '0', 'the alternate screen left')
    t.equal(await term.show('live', '#{cursor_flag}'), '1', 'the cursor shown again')
    t.match(ended, /MODES: icanon echo/, `raw mode off: ${ended}`)

    // report blocks --live is the same view.
    await term.tmux(
      'new-session',
      '-d',
      '-s',
      'blocks',
      '-x',
      '80',
      '-y',
      '24',
      `sh ${shellQuote(script(dir, env, ['report', 'blocks', '--live']))}`,
    )
    await term.until('blocks', 'the live view', (s) => /^5h block {2}11:00–16:00/m.test(s) && /\* desk/.test(s))
    await term.tmux('send-keys', '-t', 'blocks', 'q')
    t.match(await term.until('blocks', 'the exit', (s) => /EXIT:\d+\nMODES: \S/.test(s)), /EXIT:0/)
  },
)

t.test(
  "the background fetch brings another machine's records into the view",
  { skip: tmuxMissing ?? false },
  async (t) => {
    const root = t.testdir()
    const bare = path.join(root, 'ledger.git')
    const made = await run('git', ['init', '-q', '--bare', bare], { env: { PATH: process.env.PATH, HOME: root } })
    t.equal(made.code, 0, made.stderr)
    const a = machine(root, 'a', { id: 'a1'.repeat(16) })
    const b = machine(root, 'b', { id: 'b2'.repeat(16) })
    for (const [m, name] of [
      [a, 'alpha'],
      [b, 'beta'],
    ] as const) {
      const r = await cli(['init', '--remote', bare, '--name', name], { env: m.env })
      t.equal(r.code, 0, r.stderr)
    }
    for (const [m, ts, input] of [
      [a, '2026-11-22T11:30:00Z', 500],
      [b, '2026-11-22T11:00:00Z', 777],
    ] as const) {
      const r = await cli(['record', '--stdin', '--source', 'x'], { env: m.env, input: line(ts, input) })
      t.equal(r.code, 0, r.stderr)
    }
    const term = terminal(t, root)
    await term.tmux(
      'new-session',
      '-d',
      '-s',
      'live',
      '-x',
      '80',
      '-y',
      '24',
      `sh ${shellQuote(script(a.dir, a.env, ['status', '--watch', '--interval', '1']))}`,
    )
    // alpha's view fetches beta's branch in the background and shows it at the next redraw.
    const screen = await term.until('live', "beta's row", (s) => /^ {2}beta /m.test(s))
    t.match(screen, /^remote: all pushed · fetched 0 s ago · \//m, 'the fetch that brought it')
    t.match(screen, /^\* alpha +\d+ min ago +500 +\$0\.00 +39%$/m)
    t.match(screen, /^ {2}beta +\d+ min ago +777 +\$0\.00 +61%$/m)
    t.match(screen, /^ {2}1,277 tokens/m, 'the block over both machines')
    await term.tmux('send-keys', '-t', 'live', 'q')
    t.match(await term.until('live', 'the exit', (s) => /EXIT:\d+\nMODES: \S/.test(s)), /EXIT:0/)
  },
)
