/**
 * Limit readings end to end (DESIGN §2, §4a): Codex's `rate_limits` from real-format rollouts on
 * two devices of one account, synced through a real git server; a reader shows the newest reading
 * per account and window, with the device that saw it, and never sums them.
 */
import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { cli, git } from '../helpers/cli.js'
import { machine, type Machine } from '../helpers/machine.js'
import { startGitServer } from '../helpers/git-server.js'
import { accountHash } from '../../lib/ledger/limits.js'

const TOKEN = 'limits-token'
const ID = { a: 'a5'.repeat(16), b: 'b6'.repeat(16), c: 'c7'.repeat(16) }
const ACCOUNT = 'user-acct-42'

async function ok(args: string[], m: Machine, input?: string) {
  const r = await cli(args, { env: m.env, input })
  if (r.code !== 0) throw new Error(`${args.join(' ')} exited ${r.code}: ${r.stderr}`)
  return r
}

/** A Codex rollout as Codex writes it: session_meta, turn_context, then token_count events with rate_limits. */
function rollout(
  m: Machine,
  session: string,
  events: Array<{ ts: string; input: number; primary: number; secondary?: number; legacy?: boolean }>,
) {
  const dir = path.join(m.dir, 'codex', 'sessions', '2026', '11', '22')
  fs.mkdirSync(dir, { recursive: true })
  fs.writeFileSync(
    path.join(m.dir, 'codex', 'auth.json'),
    JSON.stringify({ OPENAI_API_KEY: null, tokens: { account_id: ACCOUNT, id_token: 'x', access_token: 'y' } }),
  )
  const lines = [
    {
      timestamp: events[0]!.ts,
      type: 'session_meta',
      payload: { id: session, cwd: '/work/app', originator: 'codex_cli_rs' },
    },
    { timestamp: events[0]!.ts, type: 'turn_context', payload: { model: 'gpt-5-codex', cwd: '/work/app' } },
  ]
  let total = 0
  const out: unknown[] = [...lines]
  for (const e of events) {
    total += e.input
    const window = (used: number, minutes: number, resetsAt: number) =>
      e.legacy
        ? { used_percent: used, window_minutes: minutes, resets_in_seconds: resetsAt - Date.parse(e.ts) / 1000 }
        : { used_percent: used, window_minutes: minutes, resets_at: resetsAt }
    out.push({
      timestamp: e.ts,
      type: 'event_msg',
      payload: {
        type: 'token_count',
        info: {
          total_token_usage: {
            input_tokens: total,
            cached_input_tokens: 0,
            output_tokens: 10,
            reasoning_output_tokens: 0,
            total_tokens: total + 10,
          },
          last_token_usage: {
            input_tokens: e.input,
            cached_input_tokens: 0,
            output_tokens: 10,
            reasoning_output_tokens: 0,
            total_tokens: e.input + 10,
          },
          model_context_window: 272000,
        },
        rate_limits: {
          primary: window(e.primary, 300, 1795870800),
          secondary: e.secondary === undefined ? null : window(e.secondary, 10080, 1796300000),
          plan_type: 'plus',
        },
      },
    })
  }
  fs.writeFileSync(
    path.join(dir, `rollout-2026-11-22T09-00-00-${session}.jsonl`),
    `${out.map((l) => JSON.stringify(l)).join('\n')}\n`,
  )
}

interface Shown {
  source: string
  account: string
  window: string
  usedPercent: number
  resetsAt?: string
  ts: string
  device: string
  deviceName: string
  plan?: string
}

const readingsOf = async (m: Machine) =>
  (JSON.parse((await ok(['status', '--json'], m)).stdout) as { readings: Shown[] }).readings

t.test('readings from two devices of one account: the newest per window wins, never a sum', async (t) => {
  const root = t.testdir()
  const server = await startGitServer({ root: path.join(root, 'srv'), token: TOKEN })
  t.teardown(() => server.close())
  server.createBare('ledger')
  const url = server.repoUrl('ledger')
  const env = { USAGE_LEDGER_TOKEN: TOKEN }
  const a = machine(root, 'a', { id: ID.a, env })
  const b = machine(root, 'b', { id: ID.b, env })
  const c = machine(root, 'c', { id: ID.c, env })
  for (const m of [a, b, c]) await ok(['init', '--remote', url, '--name', m.name], m)

  rollout(a, '01a2b3c4-0000-7000-8000-00000000000a', [
    { ts: '2026-11-22T09:00:00.000Z', input: 100, primary: 10, secondary: 30 },
    { ts: '2026-11-22T09:30:00.000Z', input: 100, primary: 35, secondary: 33 },
  ])
  // b's rollout is of an older Codex: resets_in_seconds, and no secondary window.
  rollout(b, '01a2b3c4-0000-7000-8000-00000000000b', [
    { ts: '2026-11-22T10:00:00.000Z', input: 50, primary: 52, legacy: true },
  ])
  const ra = JSON.parse((await ok(['record', '--json'], a)).stdout)
  t.equal(ra.readings, 2, "a commits one reading per window: the run's newest, not one per event")
  t.equal(ra.appended, 2)
  const rb = JSON.parse((await ok(['record', '--json'], b)).stdout)
  t.equal(rb.readings, 1)
  const tree = git(a.gitdir, ['ls-tree', '-r', '--name-only', `ledger/${ID.a}`])
  t.match(tree, `devices/${ID.a}/limits/2026-11/2026-11-22/000001.ndjson`, 'a limits part in the device directory')
  t.match(
    git(a.gitdir, ['log', '-1', '--format=%s', `ledger/${ID.a}`]),
    'record: +2 records (2026-11-22), +2 limit readings',
  )

  // Read again (a new inode: the rollout copied over), nothing is committed twice.
  const again = path.join(a.dir, 'codex', 'sessions', '2026', '11', '22')
  for (const f of fs.readdirSync(again)) fs.copyFileSync(path.join(again, f), path.join(again, `${f}.tmp`))
  for (const f of fs.readdirSync(again).filter((n) => n.endsWith('.tmp')))
    fs.renameSync(path.join(again, f), path.join(again, f.slice(0, -4)))
  const rerun = JSON.parse((await ok(['record', '--json'], a)).stdout)
  t.equal(rerun.readings, 0, 'a reading not newer than the committed one is not written again')
  t.equal(rerun.commit, null)

  await ok(['fetch'], c)
  const shown = await readingsOf(c)
  const account = accountHash(ACCOUNT)
  t.same(
    shown.map((r) => [r.source, r.account, r.window, r.usedPercent, r.deviceName, r.ts]),
    [
      ['codex', account, '5h', 52, 'b', '2026-11-22T10:00:00.000Z'],
      ['codex', account, '7d', 33, 'a', '2026-11-22T09:30:00.000Z'],
    ],
    "per window the newest reading, from whichever device saw it (b's 5h, a's 7d)",
  )
  t.equal(shown[0]!.resetsAt, new Date(1795870800 * 1000).toISOString(), 'resets_in_seconds counts from the event')
  t.equal(shown[1]!.resetsAt, new Date(1796300000 * 1000).toISOString(), 'resets_at is Unix seconds')
  t.equal(shown[1]!.plan, 'plus')

  // a sees a newer 5h reading later: it replaces b's everywhere.
  rollout(a, '01a2b3c4-0000-7000-8000-00000000000c', [
    { ts: '2026-11-22T11:00:00.000Z', input: 10, primary: 61, secondary: 40 },
  ])
  await ok(['record'], a, undefined)
  await ok(['fetch'], c)
  const later = await readingsOf(c)
  t.same(
    later.map((r) => [r.window, r.usedPercent, r.deviceName]),
    [
      ['5h', 61, 'a'],
      ['7d', 40, 'a'],
    ],
  )
  const text = (await ok(['status'], c)).stdout
  t.match(
    text,
    /^limits {3}codex 5h 61% \(resets in 6 d 1 h\), seen 60 min ago on a$/m,
    'status names the reading, its reset and who saw it',
  )
  // Readings are no usage: the totals are the records' alone.
  const report = JSON.parse((await ok(['report', '--json', '--tz', 'UTC'], c)).stdout)
  t.equal(report.totals.records, 4, 'the three rollouts hold 4 records; readings add none')
  const v = await cli(['verify', '--full', '--json'], { env: c.env })
  t.equal(v.code, 0, v.stdout)
  t.same(JSON.parse(v.stdout).findings, [], 'verify --full finds the limits parts sound')
})

t.test('verify checks a limits part like a part: a bad line and a rewritten part are errors', async (t) => {
  const root = t.testdir()
  const a = machine(root, 'a', { id: ID.a })
  rollout(a, '01a2b3c4-0000-7000-8000-00000000000d', [{ ts: '2026-11-22T09:00:00.000Z', input: 5, primary: 12 }])
  await ok(['record'], a)
  const head = git(a.gitdir, ['rev-parse', `ledger/${ID.a}`]).trim()
  const partPath = `devices/${ID.a}/limits/2026-11/2026-11-22/000001.ndjson`
  const line = git(a.gitdir, ['show', `${head}:${partPath}`])
  t.match(line, /"window":"5h","minutes":300,"usedPercent":12/)

  // A forged commit on top: a second limits part whose line is no reading, and the first part rewritten.
  const bad = (text: string) => {
    const p = path.join(root, 'blob')
    fs.writeFileSync(p, text)
    return git(a.gitdir, ['hash-object', '-w', p]).trim()
  }
  const idx = path.join(root, 'index')
  const genv = { ...process.env, GIT_DIR: a.gitdir, GIT_INDEX_FILE: idx }
  const { execFileSync } = await import('node:child_process')
  const g = (args: string[]) => execFileSync('git', args, { env: genv, encoding: 'utf8' })
  g(['read-tree', head])
  g([
    'update-index',
    '--add',
    '--cacheinfo',
    `100644,${bad('{"v":1,"usedPercent":"lots"}\n')},devices/${ID.a}/limits/2026-11/2026-11-22/000002.ndjson`,
  ])
  g(['update-index', '--cacheinfo', `100644,${bad(line.replace('"usedPercent":12', '"usedPercent":2'))},${partPath}`])
  const tree = g(['write-tree']).trim()
  const forged = g(['commit-tree', tree, '-p', head, '-m', 'forged']).trim()
  g(['update-ref', `refs/heads/ledger/${ID.a}`, forged])
  const v = await cli(['verify', '--full', '--json'], { env: a.env })
  t.equal(v.code, 3, 'exit 3: integrity')
  const codes = (JSON.parse(v.stdout).findings as Array<{ code: string; path: string }>).map(
    (f) => `${f.code} ${f.path.split('/').slice(-1)[0]}`,
  )
  t.ok(codes.includes('INVALID_RECORD 000002.ndjson'), `an invalid reading is named (${codes})`)
  t.ok(codes.includes('PART_CHANGED 000001.ndjson'), 'a rewritten limits part is named')
})

t.test(
  'spooled readings (the statusline’s) are committed once, also when a run was killed after its commit',
  async (t) => {
    const root = t.testdir()
    const a = machine(root, 'a', { id: ID.a })
    const { spoolReadings, limitsSpoolDir } = await import('../../lib/store/limits-spool.js')
    const { makeReading, readingLine } = await import('../../lib/ledger/limits.js')
    const state = path.join(a.store, 'state')
    const r5 = makeReading({
      ts: '2026-11-22T11:59:00.000Z',
      source: 'claude-code',
      account: 'unknown',
      minutes: 300,
      usedPercent: 44,
      resetsAt: 1795870800,
    })!
    const r7 = makeReading({
      ts: '2026-11-22T11:59:00.000Z',
      source: 'claude-code',
      account: 'unknown',
      minutes: 10080,
      usedPercent: 12,
    })!
    const stale = makeReading({
      ts: '2026-11-10T11:59:00.000Z',
      source: 'claude-code',
      account: 'other'.padEnd(16, '0').replace(/[^0-9a-f]/g, 'a'),
      minutes: 300,
      usedPercent: 99,
    })!
    spoolReadings(state, [r5, r7, stale])
    const first = JSON.parse((await ok(['record', '--json'], a)).stdout)
    t.equal(first.readings, 2, 'two readings committed; one older than the lookback is not')
    t.not(first.commit, null, 'a run with readings and no records commits')
    t.equal(
      git(a.gitdir, ['log', '-1', '--format=%s', `ledger/${ID.a}`]).trim(),
      'record: +2 limit readings (2026-11-22)',
    )
    t.same(fs.readdirSync(limitsSpoolDir(state)), [], 'the spool is let go after the commit')
    // A run killed after its commit, before it let the spool go, leaves the taken file behind.
    fs.writeFileSync(path.join(limitsSpoolDir(state), 'taken-1-1.ndjson'), `${readingLine(r5)}\n${readingLine(r7)}\n`)
    spoolReadings(state, [r5])
    const again = JSON.parse((await ok(['record', '--json'], a)).stdout)
    t.equal(again.readings, 0, 'nothing doubled')
    t.equal(again.commit, null)
    const shown = (JSON.parse((await ok(['status', '--json'], a)).stdout) as { readings: Shown[] }).readings
    t.same(
      shown.map((r) => [r.window, r.usedPercent, r.device]),
      [
        ['5h', 44, ID.a],
        ['7d', 12, ID.a],
      ],
    )
    // A part is a snapshot (DESIGN §4a): a newer 5h reading alone writes a part that carries the 7d one
    // forward, so a reader reads the newest part only.
    const r5b = makeReading({ ...r5, ts: '2026-11-22T11:59:30.000Z', usedPercent: 47 })!
    spoolReadings(state, [r5b])
    const third = JSON.parse((await ok(['record', '--json'], a)).stdout)
    t.equal(third.readings, 1, 'one newer reading')
    const part = git(a.gitdir, ['show', `ledger/${ID.a}:devices/${ID.a}/limits/2026-11/2026-11-22/000002.ndjson`])
    t.same(
      part
        .trim()
        .split('\n')
        .map((l) => [JSON.parse(l).window, JSON.parse(l).usedPercent]),
      [
        ['5h', 47],
        ['7d', 12],
      ],
      'the newest part holds every window: the new 5h and the 7d carried forward',
    )
  },
)
