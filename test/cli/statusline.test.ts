import t, { type Test } from 'tap'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { BIN, cli, copyFixtures, expected, isolatedEnv } from '../helpers/cli.js'
import { claudeInput, refreshDone, until } from '../helpers/statusline.js'

const ID = 'f'.repeat(32)
const unix = (iso: string) => Date.parse(iso) / 1000
/** 42 % of the 5-hour window, resetting 14:00; 18.5 % of the week, resetting Saturday 09:00 (the clock: Sunday 2026-11-22 12:00 UTC). */
const LIMITS = {
  fiveHour: [42, unix('2026-11-22T14:00:00Z')] as [number, number],
  sevenDay: [18.5, unix('2026-11-28T09:00:00Z')] as [number, number],
}

const statusline = (env: Record<string, string | undefined>, input = '', args: string[] = []) =>
  cli(['statusline', '--no-color', ...args], { env, input })

/** Three haiku records today ($1 per million input tokens): $2 at 09:30 and $1 at 10:00, in the block 09:00–14:00, and $0.50 yesterday. */
async function storeWithUsage(t: Test, dir: string, env: Record<string, string | undefined>, config = {}) {
  const lines = [
    ['2026-11-22T09:30:00Z', 2_000_000],
    ['2026-11-22T10:00:00Z', 1_000_000],
    ['2026-11-21T08:00:00Z', 500_000],
  ].map(([ts, input]) => JSON.stringify({ ts, model: 'claude-haiku-4-5', input }))
  const r = await cli(['record', '--stdin', '--source', 'x'], { env, input: `${lines.join('\n')}\n` })
  t.equal(r.code, 0, r.stderr)
  fs.writeFileSync(path.join(dir, 'store/config.json'), JSON.stringify({ v: 1, timezone: 'UTC', ...config }))
}

const spoolLines = (dir: string) => {
  try {
    return fs.readFileSync(path.join(dir, 'store/state/limits/spool.ndjson'), 'utf8').split('\n').filter(Boolean)
  } catch {
    return []
  }
}

t.test('no store: exit 0 and a short line, with the limits Claude passed; nothing is created', async (t) => {
  const dir = t.testdir()
  const env = isolatedEnv(dir)
  const r = await statusline(env, claudeInput(dir, LIMITS))
  t.equal(r.code, 0)
  t.equal(r.stdout, '5h 42% ↻14:00 7d 19% ↻Sat usage-ledger: no store (run usage-ledger record)\n')
  t.equal(r.stderr, '')
  t.notOk(fs.existsSync(path.join(dir, 'store')), 'no store made, no reading spooled')
  const bare = await statusline(env, claudeInput(dir))
  t.equal(bare.stdout, 'usage-ledger: no store (run usage-ledger record)\n', 'without rate_limits')
  // No HOME at all, no store variable: still a line.
  const homeless = await statusline({ PATH: process.env.PATH, HOME: path.join(dir, 'missing') }, '')
  t.equal(homeless.code, 0)
  t.match(homeless.stdout, /^usage-ledger: no store/)
})

t.test(
  'a store and its cache: today, the block and its burn rate over every device, the limits from stdin',
  async (t) => {
    const dir = t.testdir()
    const env = isolatedEnv(dir, { USAGE_LEDGER_DEVICE_ID: ID })
    await storeWithUsage(t, dir, env, { statusline: { refreshMinutes: 0 } })
    t.equal((await statusline(env, '')).stdout, 'usage-ledger: no cache yet\n', 'before the first refresh')
    const refreshed = await cli(['statusline', '--refresh', '--json'], { env })
    t.equal(refreshed.code, 0, refreshed.stderr)
    t.same(JSON.parse(refreshed.stdout), { schema: 'usage-ledger/statusline-refresh@1', ran: true, errors: [] })
    const cache = JSON.parse(fs.readFileSync(path.join(dir, 'store/state/live.json'), 'utf8'))
    t.match(cache, { v: 1, at: '2026-11-22T12:00:00.000Z', dayEnd: '2026-11-23T00:00:00.000Z' })
    t.equal(cache.status.schema, 'usage-ledger/status@1', 'the status@1 object')

    const r = await statusline(env, claudeInput(dir, LIMITS))
    t.equal(r.code, 0, r.stderr)
    t.equal(r.stdout, '$3.00 today │ block $3.00 $6.00/h │ 5h 42% ↻14:00 7d 19% ↻Sat\n')
    t.equal(
      (await statusline(env, claudeInput(dir))).stdout,
      '$3.00 today │ block $3.00 $6.00/h │ 5h 42% ↻14:00 7d 19% ↻Sat (just now)\n',
      'no rate_limits: the readings the call before spooled',
    )
    fs.rmSync(path.join(dir, 'store/state/limits'), { recursive: true })
    t.equal((await statusline(env, claudeInput(dir))).stdout, '$3.00 today │ block $3.00 $6.00/h\n', 'and none')

    // The placeholders, from the option and from config.
    const help = await cli(['statusline', '--help'], { env })
    t.equal(help.code, 0, 'an option the small bundle does not take goes to the full CLI')
    t.match(help.stdout, /--format/)
    t.notMatch(help.stdout, /--refresh/, '--refresh is hidden')
    const f = await statusline(env, claudeInput(dir, LIMITS), [
      '--format',
      '{model} {session_cost} | {block_tokens} {block_left} {projection} | {week} | {5h} | {nothing} | {devices}',
    ])
    t.equal(f.stdout, 'Opus 4.5 $1.23 | 3M 2h00m $15.00 | $3.50 | 5h 42% ↻14:00 | {nothing} | 1\n')
    fs.writeFileSync(
      path.join(dir, 'store/config.json'),
      JSON.stringify({ v: 1, timezone: 'UTC', statusline: { refreshMinutes: 0, format: '{device}: {today}' } }),
    )
    t.match((await statusline(env, '')).stdout, /^.+: \$3\.00\n$/, 'config statusline.format')

    // Colour unless --no-color, NO_COLOR or TERM=dumb (Claude Code shows ANSI though stdout is a pipe).
    const coloured = await cli(['statusline'], { env, input: claudeInput(dir, LIMITS) })
    t.match(coloured.stdout, /\x1b\[33m\$3\.00\x1b\[0m/)
    for (const extra of [{ NO_COLOR: '1' }, { TERM: 'dumb' }]) {
      const plain = await cli(['statusline'], { env: { ...env, ...extra }, input: claudeInput(dir, LIMITS) })
      t.notMatch(plain.stdout, /\x1b/, `no colour with ${JSON.stringify(extra)}`)
    }
  },
)

t.test('what depends on the clock is recomputed from the cache', async (t) => {
  const dir = t.testdir()
  const env = isolatedEnv(dir, { USAGE_LEDGER_DEVICE_ID: ID })
  await storeWithUsage(t, dir, env, { statusline: { refreshMinutes: 0 } })
  t.equal((await cli(['statusline', '--refresh'], { env })).code, 0)
  const at = (now: string) => statusline({ ...env, USAGE_LEDGER_NOW: now }, claudeInput(dir))
  t.equal((await at('2026-11-22T13:59:00Z')).stdout, '$3.00 today │ block $3.00 $6.00/h\n')
  t.equal((await at('2026-11-22T14:00:00Z')).stdout, '$3.00 today │ block none\n', 'the block ended at 14:00')
  t.equal((await at('2026-11-23T00:30:00Z')).stdout, '$0.00 today │ block none\n', 'a cache of yesterday: $0.00 today')
})

t.test("Claude's readings are spooled once, and again only when they change", async (t) => {
  const dir = t.testdir()
  const env = isolatedEnv(dir, { USAGE_LEDGER_DEVICE_ID: ID })
  await storeWithUsage(t, dir, env, { statusline: { refreshMinutes: 0 } })
  t.equal((await cli(['statusline', '--refresh'], { env })).code, 0)
  for (let i = 0; i < 5; i++) t.equal((await statusline(env, claudeInput(dir, LIMITS))).code, 0)
  const first = spoolLines(dir).map((l) => JSON.parse(l))
  t.equal(first.length, 2, 'one reading per window for five identical calls')
  t.match(first, [
    {
      v: 1,
      ts: '2026-11-22T12:00:00.000Z',
      source: 'claude-code',
      account: 'unknown',
      window: '5h',
      minutes: 300,
      usedPercent: 42,
      resetsAt: '2026-11-22T14:00:00.000Z',
    },
    { window: '7d', minutes: 10080, usedPercent: 18.5, resetsAt: '2026-11-28T09:00:00.000Z' },
  ])
  const later = { ...env, USAGE_LEDGER_NOW: '2026-11-22T12:10:00Z' }
  await statusline(later, claudeInput(dir, { ...LIMITS, fiveHour: [45, LIMITS.fiveHour[1]] }))
  t.equal(spoolLines(dir).length, 3, 'the 5-hour window moved: one more reading, the week is unchanged')
  t.match(JSON.parse(spoolLines(dir)[2]!), { window: '5h', usedPercent: 45, ts: '2026-11-22T12:10:00.000Z' })

  // Without rate_limits on stdin: the newest spooled readings, with their age.
  const shown = await statusline({ ...env, USAGE_LEDGER_NOW: '2026-11-22T12:30:00Z' }, claudeInput(dir))
  t.equal(shown.stdout, '$3.00 today │ block $3.00 $6.00/h │ 5h 45% ↻14:00 (20m ago) 7d 19% ↻Sat (30m ago)\n')
  // Past its reset a window is not shown.
  const reset = await statusline({ ...env, USAGE_LEDGER_NOW: '2026-11-22T14:30:00Z' }, claudeInput(dir))
  t.equal(reset.stdout, '$3.00 today │ block none │ 7d 19% ↻Sat (2h ago)\n')

  // The account: Claude Code's oauthAccount.accountUuid, hashed (never the raw id).
  const uuid = '0b7d2c9e-4f3a-4c1b-9e8d-7a6b5c4d3e2f'
  fs.mkdirSync(path.join(dir, 'claude'), { recursive: true })
  fs.writeFileSync(
    path.join(dir, 'claude/.claude.json'),
    JSON.stringify({
      numStartups: 3,
      projects: { '/x': { a: '{"oauthAccount":' } },
      oauthAccount: { accountUuid: uuid, emailAddress: 'a@b.c' },
    }),
  )
  await statusline(later, claudeInput(dir, LIMITS))
  const withAccount = spoolLines(dir)
    .slice(3)
    .map((l) => JSON.parse(l))
  t.equal(withAccount.length, 2, 'another account: its own readings')
  t.match(withAccount[0], { account: /^[0-9a-f]{16}$/ })
  t.notMatch(fs.readFileSync(path.join(dir, 'store/state/limits/spool.ndjson'), 'utf8'), uuid)
  const stateFiles = fs.readdirSync(path.join(dir, 'store/state'), { recursive: true }).map(String)
  for (const f of stateFiles) {
    const file = path.join(dir, 'store/state', f)
    if (fs.statSync(file).isFile()) t.notMatch(fs.readFileSync(file, 'utf8'), uuid, `${f} holds no raw account id`)
  }
})

t.test('a damaged store: still exit 0 and a line', async (t) => {
  const dir = t.testdir()
  const env = isolatedEnv(dir, { USAGE_LEDGER_DEVICE_ID: ID })
  await storeWithUsage(t, dir, env, { statusline: { refreshMinutes: 0 } })
  const live = path.join(dir, 'store/state/live.json')
  fs.writeFileSync(live, '{"v":1,"at":"2026-11-22T1')
  let r = await statusline(env, claudeInput(dir, LIMITS))
  t.equal(r.code, 0)
  t.equal(r.stdout, '5h 42% ↻14:00 7d 19% ↻Sat usage-ledger: no cache yet\n', 'a torn cache is no cache')
  fs.rmSync(path.join(dir, 'store/state/limits'), { recursive: true })
  fs.writeFileSync(live, JSON.stringify({ v: 2, at: '2026-11-22T12:00:00.000Z', dayEnd: 'x', status: {} }))
  t.equal((await statusline(env, '')).stdout, 'usage-ledger: no cache yet\n', 'a newer cache is not misread')
  fs.writeFileSync(live, JSON.stringify({ v: 1, at: '2026-11-22T12:00:00.000Z', dayEnd: 'x', status: { devices: 7 } }))
  r = await statusline(env, '')
  t.equal(r.code, 0, 'a cache of the wrong shape')
  t.equal(r.stdout, 'usage-ledger: cache unreadable\n')
  fs.writeFileSync(path.join(dir, 'store/config.json'), '{"v":1,')
  r = await cli(['statusline', '--no-color', '--debug'], { env, input: 'this is not JSON' })
  t.equal(r.code, 0, 'a corrupt config, bad JSON on stdin')
  t.match(r.stderr, /^refresh: off/, 'no refresh: it could not open the store either')
  t.match(r.stdout, /^usage-ledger: /)
  t.equal(r.stdout.split('\n').length, 2, 'one line')
  fs.rmSync(path.join(dir, 'store/state/limits'), { recursive: true, force: true })
  fs.writeFileSync(path.join(dir, 'store/state/limits'), 'a file where the spool directory goes')
  r = await statusline(env, claudeInput(dir, LIMITS))
  t.equal(r.code, 0, 'an unwritable spool')
  t.match(r.stdout, /^5h 42% /)
})

t.test(
  'the background refresh: started when the cache is missing, one at a time however many statuslines start',
  async (t) => {
    const dir = t.testdir()
    copyFixtures(dir)
    const env = isolatedEnv(dir, { USAGE_LEDGER_DEVICE_ID: ID })
    t.equal((await cli(['record'], { env })).code, 0)
    const runs = await Promise.all(
      Array.from({ length: 8 }, () => cli(['statusline', '--no-color', '--debug'], { env, input: claudeInput(dir) })),
    )
    for (const r of runs) t.equal(r.code, 0, r.stderr)
    const said = runs.map((r) => /^refresh: (\w+)/.exec(r.stderr)?.[1])
    t.equal(said.filter((s) => s === 'started').length, 1, `one refresh started (${said.join(', ')})`)
    t.ok(
      said.every((s) => s === 'started' || s === 'running' || s === 'fresh'),
      'the others saw it running (or its cache)',
    )
    await refreshDone(path.join(dir, 'store'))
    const after = await cli(['statusline', '--no-color', '--debug'], { env, input: claudeInput(dir) })
    t.match(after.stderr, /^refresh: fresh/, 'a fresh cache starts none')
    const exp = expected()
    const cache = JSON.parse(fs.readFileSync(path.join(dir, 'store/state/live.json'), 'utf8'))
    t.equal(
      cache.status.devices[0].records,
      exp['claude-code'].totals.records + exp.codex.totals.records,
      'the cache holds what record committed',
    )
  },
)

/** `n` Claude Code responses of 10 input and 5 output tokens each, today before noon, in files of 2,000. */
function backlog(dir: string, n: number): void {
  const project = path.join(dir, 'claude/projects/-work-big')
  fs.mkdirSync(project, { recursive: true })
  for (let f = 0; f * 2000 < n; f++) {
    const session = `00000000-0000-4000-8000-${String(f).padStart(12, '0')}`
    const lines: string[] = []
    for (let i = f * 2000; i < Math.min(n, (f + 1) * 2000); i++)
      lines.push(
        JSON.stringify({
          type: 'assistant',
          sessionId: session,
          cwd: '/work/big',
          uuid: `u-${i}`,
          requestId: `req_${i}`,
          timestamp: new Date(Date.parse('2026-11-22T00:00:00Z') + i * 1000).toISOString(),
          message: {
            id: `msg_${i}`,
            model: 'claude-haiku-4-5',
            role: 'assistant',
            usage: { input_tokens: 10, output_tokens: 5, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
          },
        }),
      )
    fs.writeFileSync(path.join(project, `${session}.jsonl`), `${lines.join('\n')}\n`)
  }
}

t.test('a refresh killed mid-way (SIGKILL) loses nothing and doubles nothing once one runs again', async (t) => {
  const dir = t.testdir()
  const N = 30_000
  backlog(dir, N)
  fs.mkdirSync(path.join(dir, 'home'), { recursive: true })
  const env = isolatedEnv(dir, { USAGE_LEDGER_DEVICE_ID: ID, USAGE_LEDGER_LOCK_TIMEOUT: '60' })
  const store = path.join(dir, 'store')
  fs.mkdirSync(store)
  fs.writeFileSync(path.join(store, 'config.json'), JSON.stringify({ v: 1, timezone: 'UTC' }))
  const first = await cli(['statusline', '--no-color', '--debug'], { env, input: claudeInput(dir) })
  const pid = Number(/^refresh: started pid (\d+)/.exec(first.stderr)?.[1])
  t.ok(pid > 0, `a refresh started (${first.stderr.trim()})`)
  // Killed while it records: it holds the store lock.
  const lock = path.join(store, 'state/lock')
  await until('the refresh holding the store lock', () => {
    try {
      return JSON.parse(fs.readFileSync(lock, 'utf8')).pid === pid
    } catch {
      return false
    }
  })
  process.kill(pid, 'SIGKILL')
  await until('the refresh gone', () => {
    try {
      return /^\d+ \(.*\) [ZX] /s.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'))
    } catch {
      return true
    }
  })
  t.ok(fs.existsSync(path.join(store, 'state/refresh.lock')), 'it left its refresh lock')
  t.notOk(fs.existsSync(path.join(store, 'state/live.json')), 'and no cache')
  const again = await cli(['statusline', '--no-color', '--debug'], { env, input: claudeInput(dir) })
  t.match(again.stderr, /^refresh: started pid \d+/, 'the next statusline takes the dead refresh lock over')
  await refreshDone(store, 120_000)
  const report = JSON.parse((await cli(['report', '--json'], { env })).stdout)
  t.match(report.totals, { records: N, input: 10 * N, output: 5 * N, totalTokens: 15 * N }, 'every response once')
  const verify = await cli(['verify'], { env })
  t.equal(verify.code, 0, verify.stdout + verify.stderr)
  const more = JSON.parse((await cli(['record', '--json'], { env })).stdout)
  t.equal(more.appended, 0, 'nothing left to record')
  const cache = JSON.parse(fs.readFileSync(path.join(store, 'state/live.json'), 'utf8'))
  t.equal(cache.status.today.totalTokens, 15 * N, 'the cache has them all')
})

t.test('a socket on stdin never closed: the line after a short bound, never a hang', async (t) => {
  const dir = t.testdir()
  const env = isolatedEnv(dir)
  const { spawn } = await import('node:child_process')
  /** The statusline with `input` written on a stdin (a socket, as node's spawn gives) that stays open. */
  const openStdin = async (input: string, args: string[] = []) => {
    const child = spawn(process.execPath, [BIN, 'statusline', '--no-color', ...args], {
      env: env as NodeJS.ProcessEnv,
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    child.stdin.write(input) // and never more, nor an end
    const out: Buffer[] = []
    child.stdout.on('data', (b: Buffer) => out.push(b))
    let watched = false
    const watchdog = setTimeout(() => {
      watched = true
      child.kill('SIGKILL')
    }, 60_000)
    const [code, signal] = await new Promise<[number | null, string | null]>((r) =>
      child.on('close', (c, s) => r([c, s])),
    )
    clearTimeout(watchdog)
    child.stdin.destroy()
    return { code, signal, watched, stdout: Buffer.concat(out).toString() }
  }
  const whole = await openStdin('{"model":{"display_name":"Opus"}}', ['--format', '{model}'])
  t.match(whole, { code: 0, signal: null, watched: false }, 'a whole JSON value is enough: exit 0, stdin still open')
  t.equal(whole.stdout, 'Opus usage-ledger: no store (run usage-ledger record)\n')
  const torn = await openStdin('{"model":{"display_name":"Opus"')
  t.notOk(torn.watched, 'an unfinished one: it ended by itself, the writer still there')
  t.equal(torn.stdout, 'usage-ledger: no store (run usage-ledger record)\n', 'with its line')
  // The read left on libuv's pool would hold a normal exit until the writer closes: the one case
  // whose exit status is not 0.
  t.same([torn.code, torn.signal], [null, 'SIGKILL'], 'by its own SIGKILL, once the line was out')
})

t.test('a refresh that cannot write the cache: no other starts for a while', async (t) => {
  const dir = t.testdir()
  const env = isolatedEnv(dir, { USAGE_LEDGER_DEVICE_ID: ID })
  const store = path.join(dir, 'store')
  fs.mkdirSync(path.join(store, 'state'), { recursive: true })
  fs.writeFileSync(path.join(store, 'config.json'), JSON.stringify({ v: 1 }))
  fs.writeFileSync(path.join(store, 'repo.git'), 'a file where the repository goes: record fails')
  const first = await cli(['statusline', '--no-color', '--debug'], { env, input: '{}' })
  const pid = Number(/^refresh: started pid (\d+)/.exec(first.stderr)?.[1])
  t.ok(pid > 0, first.stderr)
  const lock = path.join(store, 'state/refresh.lock')
  await until('the refresh backing off', () => {
    try {
      return typeof JSON.parse(fs.readFileSync(lock, 'utf8')).until === 'string'
    } catch {
      return false
    }
  })
  t.match(JSON.parse(fs.readFileSync(lock, 'utf8')), { v: 1, pid })
  const next = await Promise.all(
    [1, 2, 3].map(() => cli(['statusline', '--no-color', '--debug'], { env, input: '{}' })),
  )
  for (const r of next) {
    t.equal(r.code, 0)
    t.equal(r.stdout, 'usage-ledger: no cache yet\n')
    t.match(r.stderr, /^refresh: running/, 'none started while it backs off')
  }
})

t.test('stdin a pipe (a shell pipeline): read whole, and not waited for when never closed', async (t) => {
  const dir = t.testdir()
  const env = isolatedEnv(dir)
  const { spawn } = await import('node:child_process')
  /** Runs `sh -c script` in a group of its own; resolves its stdout once it printed `rc=…`, then ends the group. */
  const shell = (script: string) =>
    new Promise<string>((resolve) => {
      const child = spawn('sh', ['-c', script], {
        env: { ...env, NODE: process.execPath, BIN } as NodeJS.ProcessEnv,
        stdio: ['ignore', 'pipe', 'ignore'],
        detached: true,
      })
      let out = ''
      const end = () => {
        clearTimeout(watchdog)
        try {
          process.kill(-child.pid!, 'SIGKILL')
        } catch {
          /* ended */
        }
        resolve(out)
      }
      const watchdog = setTimeout(end, 60_000)
      child.stdout.on('data', (b: Buffer) => {
        out += b
        if (/rc=\d+\n/.test(out)) end()
      })
      child.on('close', end)
    })
  const whole = await shell(
    `printf '%s' '{"model":{"display_name":"Opus 4.5"}}' | "$NODE" "$BIN" statusline --no-color --format '{model}'; echo "rc=$?"`,
  )
  t.equal(whole, 'Opus 4.5 usage-ledger: no store (run usage-ledger record)\nrc=0\n')
  const open = await shell(
    // The right side says when node ended; the left one is still sleeping then.
    `(printf '{"model":'; sleep 600) | ("$NODE" "$BIN" statusline --no-color --format '{model}'; echo "rc=$?")`,
  )
  t.equal(
    open,
    'usage-ledger: no store (run usage-ledger record)\nrc=0\n',
    'the line and exit 0 with the writer still there',
  )
})

// util-linux `script` gives the child a pseudo-terminal; the BSD one takes other arguments.
const script = spawnSync('script', ['--version'], { encoding: 'utf8' })
const noPseudoTerminal = script.status !== 0 || !/util-linux/.test(script.stdout + script.stderr)

t.test(
  'stdin a terminal: not read (a read there would wait for a line nobody types)',
  { skip: noPseudoTerminal && 'needs util-linux script(1) for a pseudo-terminal' },
  async (t) => {
    const dir = t.testdir()
    const env = isolatedEnv(dir)
    const { spawn } = await import('node:child_process')
    // script's own stdin stays open and silent, so the terminal it gives has nothing to read.
    const child = spawn(
      'script',
      ['--quiet', '--return', '--command', `'${process.execPath}' '${BIN}' statusline --no-color`, '/dev/null'],
      { env: { ...env, TERM: 'xterm-256color' } as NodeJS.ProcessEnv, stdio: ['pipe', 'pipe', 'pipe'] },
    )
    let out = ''
    child.stdout.on('data', (b: Buffer) => {
      out += b
    })
    let watched = false
    const watchdog = setTimeout(() => {
      watched = true
      child.kill('SIGKILL')
    }, 60_000)
    const code = await new Promise<number | null>((r) => child.on('close', (c) => r(c)))
    clearTimeout(watchdog)
    child.stdin.destroy()
    t.notOk(watched, 'it ended by itself')
    t.equal(code, 0, 'exit 0: no read was left pending on the terminal')
    t.equal(out.replace(/\r/g, ''), 'usage-ledger: no store (run usage-ledger record)\n')
  },
)
