import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import {
  cli,
  copyFixtures,
  expected,
  git,
  isolatedEnv,
  pick,
  sumDays,
  TOKEN_FIELDS,
  type Totals,
} from '../helpers/cli.js'
import { GENESIS_OID } from '../../lib/git/genesis.js'
import { FILE_SOURCES } from '../../lib/collect/index.js'

const DEVICE = 'a'.repeat(32)

function setup(t: { testdir(): string }, extra: Record<string, string> = {}) {
  const dir = t.testdir()
  copyFixtures(dir)
  const env = isolatedEnv(dir, { USAGE_LEDGER_DEVICE_ID: DEVICE, ...extra })
  return { dir, env, gitdir: path.join(dir, 'store', 'repo.git') }
}

const head = (gitdir: string) => git(gitdir, ['rev-parse', `refs/heads/ledger/${DEVICE}`]).trim()

async function dailyByDay(
  env: Record<string, string | undefined>,
  extra: string[] = [],
): Promise<Record<string, Totals>> {
  const r = await cli(['report', 'daily', '--json', '--tz', 'UTC', ...extra], { env })
  if (r.code !== 0) throw new Error(r.stderr)
  const j = JSON.parse(r.stdout) as { schema: string; rows: Array<Record<string, unknown>> }
  return Object.fromEntries(j.rows.map((row) => [row.period as string, pick(row)]))
}

function assistantLine(id: string, ts: string, output: number): string {
  return JSON.stringify({
    parentUuid: null,
    isSidechain: false,
    userType: 'external',
    cwd: '/home/ana/src/app',
    sessionId: 'b1f4c2de-7a31-4e0b-9c55-0d2e8f6a1c01',
    version: '2.0.37',
    message: {
      model: 'claude-sonnet-4-5-20250929',
      id,
      type: 'message',
      role: 'assistant',
      content: [{ type: 'text', text: 'ok' }],
      usage: {
        input_tokens: 3,
        cache_creation_input_tokens: 100,
        cache_read_input_tokens: 1000,
        output_tokens: output,
      },
    },
    requestId: `req_${id}`,
    type: 'assistant',
    uuid: `${id}-u`,
    timestamp: ts,
  })
}

const CLAUDE_FILE = 'claude/projects/-home-ana-src-app/b1f4c2de-7a31-4e0b-9c55-0d2e8f6a1c01.jsonl'

t.test('record then report equals the hand-computed fixture totals', async (t) => {
  const { env, gitdir } = setup(t)
  const r = await cli(['record', '--no-push', '--json'], { env })
  t.equal(r.code, 0, r.stderr)
  const summary = JSON.parse(r.stdout)
  t.equal(summary.schema, 'usage-ledger/record@1')
  const exp = expected()
  t.equal(summary.appended, exp['claude-code'].totals.records + exp.codex.totals.records)
  t.same(await dailyByDay(env), sumDays(exp['claude-code'].days, exp.codex.days))
  t.same(
    await dailyByDay(env, ['--frobnicate', 'x']).catch(() => 'rejected'),
    'rejected',
    'unknown report flag is refused',
  )
  const bySource = JSON.parse((await cli(['report', '--json', '--tz', 'UTC', '--by', 'source'], { env })).stdout) as {
    rows: Array<Record<string, unknown>>
  }
  for (const source of ['claude-code', 'codex'] as const) {
    const days = Object.fromEntries(
      bySource.rows.filter((row) => row.source === source).map((row) => [row.period, pick(row)]),
    )
    t.same(days, exp[source].days, `${source} per day`)
  }
  t.match(git(gitdir, ['fsck', '--strict']), '', 'git fsck --strict is clean')
  const log = git(gitdir, ['log', '--format=%an <%ae>|%s', `refs/heads/ledger/${DEVICE}`])
    .trim()
    .split('\n')
  t.same(
    log,
    [
      `usage-ledger <${DEVICE}@usage-ledger>|record: +${summary.appended} records (2026-11-18..2026-11-21), +2 limit readings`,
      'usage-ledger <genesis@usage-ledger>|usage-ledger: ledger root',
    ],
    'one record commit on the shared genesis',
  )
})

t.test('a second record with nothing new changes nothing; appended lines add exactly those', async (t) => {
  const { dir, env, gitdir } = setup(t)
  t.equal((await cli(['record'], { env })).code, 0)
  const h1 = head(gitdir)
  const cursors1 = fs.readFileSync(path.join(dir, 'store/state/cursors.json'), 'utf8')
  const again = await cli(['record', '--json'], { env })
  t.equal(again.code, 0)
  t.equal(JSON.parse(again.stdout).appended, 0)
  t.equal(head(gitdir), h1, 'same branch head')
  t.equal(fs.readFileSync(path.join(dir, 'store/state/cursors.json'), 'utf8'), cursors1, 'cursors untouched')

  const before = await dailyByDay(env)
  fs.appendFileSync(
    path.join(dir, CLAUDE_FILE),
    assistantLine('msg_new_1', '2026-11-22T08:00:00.000Z', 50) +
      '\n' +
      assistantLine('msg_new_2', '2026-11-22T08:01:00.000Z', 70) +
      '\n',
  )
  const r = await cli(['record', '--json'], { env })
  t.equal(JSON.parse(r.stdout).appended, 2)
  const after = await dailyByDay(env)
  t.same(after['2026-11-22'], {
    records: 2,
    input: 6,
    output: 120,
    cacheWrite: 200,
    cacheRead: 2000,
    totalTokens: 2326,
  })
  delete after['2026-11-22']
  t.same(after, before, 'other days unchanged')

  // A streaming copy with more output supersedes; a copy with less is ignored.
  fs.appendFileSync(path.join(dir, CLAUDE_FILE), `${assistantLine('msg_new_1', '2026-11-22T08:00:01.000Z', 40)}\n`)
  t.equal(JSON.parse((await cli(['record', '--json'], { env })).stdout).appended, 0)
  fs.appendFileSync(path.join(dir, CLAUDE_FILE), `${assistantLine('msg_new_1', '2026-11-22T08:00:02.000Z', 90)}\n`)
  t.equal(JSON.parse((await cli(['record', '--json'], { env })).stdout).appended, 1)
  t.same((await dailyByDay(env))['2026-11-22'], {
    records: 2,
    input: 6,
    output: 160,
    cacheWrite: 200,
    cacheRead: 2000,
    totalTokens: 2366,
  })
})

t.test('an unfinished last line is recorded once, after it is completed', async (t) => {
  const { dir, env } = setup(t)
  const exp = expected()['claude-code'].afterCompletingUnfinished
  await cli(['record'], { env })
  const before = await dailyByDay(env)
  fs.appendFileSync(path.join(dir, exp.file), '\n')
  const r = JSON.parse((await cli(['record', '--json'], { env })).stdout)
  t.equal(r.appended, 1)
  const after = await dailyByDay(env)
  const day = exp.newRecord.ts.slice(0, 10)
  for (const k of TOKEN_FIELDS)
    t.equal(after[day]![k], before[day]![k] + (k === 'records' ? 1 : exp.newRecord[k]), `${day} ${k}`)
  t.equal(JSON.parse((await cli(['record', '--json'], { env })).stdout).appended, 0, 'not recorded twice')
})

t.test('--dry-run prints exactly the lines it would commit and changes nothing', async (t) => {
  const { dir, env } = setup(t)
  const r = await cli(['record', '--dry-run'], { env })
  t.equal(r.code, 0, r.stderr)
  const lines = r.stdout.trim().split('\n')
  const exp = expected()
  t.equal(lines.length, exp['claude-code'].totals.records + exp.codex.totals.records)
  for (const l of lines) t.match(JSON.parse(l), { v: 1, id: /^[0-9a-f]{32}$/ })
  t.notOk(fs.existsSync(path.join(dir, 'store/repo.git')), 'no repository created')
  const real = await cli(['record', '--json'], { env })
  const gitdir = path.join(dir, 'store/repo.git')
  const committed = git(gitdir, ['ls-tree', '-r', '--name-only', `refs/heads/ledger/${DEVICE}`])
    .split('\n')
    .filter((p) => p.endsWith('.ndjson') && !p.includes('/limits/'))
  const text = committed.map((p) => git(gitdir, ['show', `refs/heads/ledger/${DEVICE}:${p}`])).join('')
  t.same(text.trim().split('\n').sort(), lines.sort(), 'the committed record lines are the dry-run lines')
  t.equal(JSON.parse(real.stdout).readings, 2, "the fixtures' Codex limit readings (DESIGN §4a), committed beside them")
  t.equal(JSON.parse(real.stdout).appended, lines.length)
})

t.test(
  'record --stdin: a good batch is recorded; one bad line rejects the batch, listing every bad line',
  async (t) => {
    const { env, gitdir } = setup(t)
    const good = `${[
      JSON.stringify({ ts: '2026-11-21T10:00:00Z', model: 'gpt-5', input_tokens: 100, output_tokens: 20 }),
      JSON.stringify({ ts: '2026-11-21T11:00:00.5Z', model: 'gpt-5', input: 7, output: 3, cacheRead: 40 }),
    ].join('\n')}\n`
    const r = await cli(['record', '--stdin', '--source', 'my-tool', '--json'], { env, input: good })
    t.equal(r.code, 0, r.stderr)
    t.equal(JSON.parse(r.stdout).appended, 2)
    const h = head(gitdir)
    const again = await cli(['record', '--stdin', '--source', 'my-tool', '--json'], { env, input: good })
    t.equal(JSON.parse(again.stdout).appended, 0, 'the same batch again adds nothing')
    const bad =
      good +
      '{"ts":"yesterday","model":"x","input":1}\nnot json\n' +
      JSON.stringify({ ts: '2026-11-21T12:00:00Z', model: 'gpt-5', input: 5 }) +
      '\n'
    const rb = await cli(['record', '--stdin', '--source', 'my-tool'], { env, input: bad })
    t.equal(rb.code, 2)
    t.match(rb.stderr, /2 bad lines on stdin; nothing was recorded/)
    t.match(rb.stderr, /stdin line 3: .*ts/)
    t.match(rb.stderr, /stdin line 4: not valid JSON/)
    t.notMatch(rb.stderr, /at .*\.js:\d+/, 'no stack trace')
    t.equal(head(gitdir), h, 'nothing recorded')
    const report = JSON.parse((await cli(['report', '--json', '--tz', 'UTC', '--by', 'source'], { env })).stdout) as {
      rows: Array<Record<string, unknown>>
    }
    t.same(
      report.rows.filter((row) => row.source === 'my-tool').map((row) => pick(row)),
      [{ records: 2, input: 107, output: 23, cacheWrite: 0, cacheRead: 40, totalTokens: 170 }],
    )
  },
)

t.test('bad usage exits 2 with one clear line', async (t) => {
  const { env } = setup(t)
  const cases: Array<[string[], RegExp]> = [
    [['record', '--frobnicate'], /Unknown argument: frobnicate/],
    [['report', '--tz', 'Mars/Olympus'], /unknown time zone "Mars\/Olympus"/],
    [['report', '--since', '2026-13-01'], /--since "2026-13-01" is not a date/],
    [
      ['record', '--source', 'gemini-cli'],
      new RegExp(
        `unknown source "gemini-cli"; known: ${FILE_SOURCES.map((x) => x.name).join(', ')}, cliproxy \\(or --stdin --source NAME\\)`,
      ),
    ],
    [['record', '--stdin'], /needs exactly one --source/],
    [['record', '--device-id', 'xyz'], /must be 32 lowercase hex/],
    [['nonsense'], /Unknown argument: nonsense/],
  ]
  for (const [args, msg] of cases) {
    const r = await cli(args, { env })
    t.equal(r.code, 2, args.join(' '))
    t.match(r.stderr, msg, args.join(' '))
    t.equal(r.stderr.trim().split('\n').length, 1, `${args.join(' ')}: one line`)
  }
  fs.mkdirSync(env.USAGE_LEDGER_HOME!, { recursive: true })
  fs.writeFileSync(path.join(env.USAGE_LEDGER_HOME!, 'config.json'), '{ not json')
  const r = await cli(['record'], { env })
  t.equal(r.code, 2)
  t.match(r.stderr, /config\.json is not valid JSON .*fix or delete it/)
})

t.test('parts never change or disappear between commits', async (t) => {
  const { dir, env, gitdir } = setup(t)
  await cli(['record'], { env })
  for (let i = 0; i < 3; i++) {
    fs.appendFileSync(
      path.join(dir, CLAUDE_FILE),
      `${assistantLine(`msg_more_${i}`, `2026-11-2${i}T09:00:00.000Z`, 10 + i)}\n`,
    )
    t.equal((await cli(['record'], { env })).code, 0)
  }
  const commits = git(gitdir, ['rev-list', '--reverse', `refs/heads/ledger/${DEVICE}`, `^${GENESIS_OID}`])
    .trim()
    .split('\n')
  t.equal(commits.length, 4)
  const parts = (c: string) =>
    new Map(
      git(gitdir, ['ls-tree', '-r', c])
        .trim()
        .split('\n')
        .map((l) => l.split(/\s+/))
        .filter((f) => f[3]!.endsWith('.ndjson'))
        .map((f) => [f[3]!, f[2]!]),
    )
  for (let i = 1; i < commits.length; i++) {
    const prev = parts(commits[i - 1]!),
      next = parts(commits[i]!)
    for (const [p, oid] of prev) t.equal(next.get(p), oid, `${p} unchanged in commit ${i}`)
    t.equal(next.size, prev.size + 1, `commit ${i} adds one part`)
  }
  git(gitdir, ['fsck', '--strict'])
})

t.test('the system and iso backends write byte-identical ledgers', async (t) => {
  const a = setup(t)
  const b = setup(t)
  t.equal((await cli(['--git', 'system', 'record'], { env: a.env })).code, 0)
  const rb = await cli(['--git', 'iso', 'record'], { env: b.env })
  t.equal(rb.code, 0, rb.stderr)
  t.equal(head(b.gitdir), head(a.gitdir), 'same commit oid')
  git(b.gitdir, ['fsck', '--strict'])
  t.same(await dailyByDay(b.env), await dailyByDay(a.env))
  const ra = await cli(['--git', 'iso', 'report', '--json', '--tz', 'UTC'], { env: a.env })
  t.same(
    JSON.parse(ra.stdout).totals,
    JSON.parse((await cli(['report', '--json', '--tz', 'UTC'], { env: a.env })).stdout).totals,
    'iso reads what system wrote',
  )
})

t.test('manifest.json counts and the sealed digest match the parts', async (t) => {
  const { dir, env, gitdir } = setup(t)
  await cli(['record'], { env })
  // A record of "today" (the fixed clock's day) must stay outside the sealed prefix.
  fs.appendFileSync(path.join(dir, CLAUDE_FILE), `${assistantLine('msg_today', '2026-11-22T09:00:00.000Z', 5)}\n`)
  await cli(['record'], { env })
  const ref = `refs/heads/ledger/${DEVICE}`
  const manifest = JSON.parse(git(gitdir, ['show', `${ref}:devices/${DEVICE}/manifest.json`]))
  // The record parts (limits parts hold readings, neither counted nor sealed: DESIGN §2).
  const files = git(gitdir, ['ls-tree', '-r', '--name-only', ref])
    .split('\n')
    .filter((p) => p.endsWith('.ndjson') && !p.includes('/limits/'))
  const byDay = new Map<string, string[][]>()
  for (const f of files) {
    const day = f.split('/')[3]!
    const list = byDay.get(day) ?? []
    list.push(
      git(gitdir, ['show', `${ref}:${f}`])
        .trim()
        .split('\n'),
    )
    byDay.set(day, list)
  }
  const all = [...byDay.values()].flat(2)
  t.equal(manifest.v, 2)
  t.equal(manifest.deviceId, DEVICE)
  t.equal(manifest.records, all.length)
  const { createHash } = await import('node:crypto')
  const sha256 = (s: string) => createHash('sha256').update(s).digest('hex')
  // A sealed day's digest: sha256 over its lines sorted by id (then line), each with "\n".
  const digestOf = (lines: string[]) =>
    sha256(
      [...lines]
        .sort((a, b) => {
          const ia = JSON.parse(a).id,
            ib = JSON.parse(b).id
          return ia < ib ? -1 : ia > ib ? 1 : a < b ? -1 : 1
        })
        .map((l) => `${l}\n`)
        .join(''),
    )
  t.same(
    manifest.days,
    Object.fromEntries(
      [...byDay].map(([d, parts]) => [
        d,
        {
          parts: parts.length,
          records: parts.flat().length,
          ...(d <= '2026-11-21' ? { digest: digestOf(parts.flat()) } : {}),
        },
      ]),
    ),
    'counts, and a digest on each sealed day (today, 2026-11-22, has none)',
  )
  t.equal(manifest.lastRecordAt, '2026-11-22T09:00:00.000Z')
  const sealedDays = [...byDay].filter(([d]) => d <= '2026-11-21').sort(([a], [b]) => (a < b ? -1 : 1))
  t.ok(sealedDays.length > 1)
  t.equal(manifest.sealed, undefined, 'v2 names its seal `seal` (readers from before v2 skip it)')
  t.same(manifest.seal, {
    through: '2026-11-21',
    records: sealedDays.flatMap(([, p]) => p.flat()).length,
    root: sha256(sealedDays.map(([d, p]) => `${d} ${digestOf(p.flat())}\n`).join('')),
  })
  const exp = expected()
  const month = manifest.months['2026-11']
  t.equal(month.records, exp['claude-code'].totals.records + exp.codex.totals.records + 1)
  t.equal(month.output, exp['claude-code'].totals.output + exp.codex.totals.output + 5)
  const device = JSON.parse(git(gitdir, ['show', `${ref}:devices/${DEVICE}/device.json`]))
  t.match(device, {
    v: 1,
    id: DEVICE,
    platform: 'linux',
    createdAt: '2026-11-22T12:00:00.000Z',
    tool: /^usage-ledger\//,
  })
})

t.test('a subagent transcript that appears in a later run does not count a replayed message again', async (t) => {
  const { dir, env } = setup(t)
  const sub = path.join(dir, 'claude/projects/-home-ana-src-app/c27e9a10-5b42-4f8d-a1e3-3f9b2c7d5e02')
  fs.renameSync(sub, path.join(dir, 'later'))
  t.equal((await cli(['record'], { env })).code, 0)
  fs.renameSync(path.join(dir, 'later'), sub)
  const r = JSON.parse((await cli(['record', '--json'], { env })).stdout)
  t.equal(r.alreadyRecorded, 2, 'both sidechain replays (same and other requestId) are known')
  const exp = expected()
  t.same(await dailyByDay(env), sumDays(exp['claude-code'].days, exp.codex.days), 'totals equal a one-shot read')
})

t.test(
  'a record dated more than 24 hours after now: stdin rejects the batch, collectors skip and count it',
  async (t) => {
    // USAGE_LEDGER_NOW (isolatedEnv) is 2026-11-22T12:00:00Z.
    const { dir, env, gitdir } = setup(t)
    const input = `${[
      JSON.stringify({ ts: '2026-11-22T11:00:00Z', model: 'gpt-5', input: 1, output: 1 }),
      JSON.stringify({ ts: '2099-01-01T00:00:00Z', model: 'gpt-5', input: 1, output: 1 }),
    ].join('\n')}\n`
    const rs = await cli(['record', '--stdin', '--source', 'my-tool', '--no-push'], { env, input })
    t.equal(rs.code, 2)
    t.match(rs.stderr, /1 bad line on stdin; nothing was recorded/)
    t.match(
      rs.stderr,
      /stdin line 2: "ts" 2099-01-01T00:00:00\.000Z is more than 24 hours after now \(2026-11-22T12:00:00\.000Z\)/,
    )

    fs.appendFileSync(
      path.join(dir, CLAUDE_FILE),
      assistantLine('msg_future', '2099-01-01T00:00:00.000Z', 50) +
        '\n' +
        assistantLine('msg_tomorrow', '2026-11-23T11:00:00.000Z', 60) +
        '\n',
    )
    const r = await cli(['record', '--no-push', '--json'], { env })
    t.equal(r.code, 0, r.stderr)
    const j = JSON.parse(r.stdout)
    t.equal(j.future, 1, 'the 2099 record is counted in --json')
    const exp = expected()
    t.equal(
      j.appended,
      exp['claude-code'].totals.records + exp.codex.totals.records + 1,
      'the record 23 hours ahead is kept',
    )
    const days = git(gitdir, ['ls-tree', '-r', '--name-only', `refs/heads/ledger/${DEVICE}`])
    t.notMatch(days, /2099/, 'no part for 2099')
    t.match(days, /2026-11-23/)
    fs.appendFileSync(path.join(dir, CLAUDE_FILE), `${assistantLine('msg_future2', '2098-05-01T00:00:00.000Z', 50)}\n`)
    const human = await cli(['record', '--no-push'], { env })
    t.equal(human.code, 0)
    t.match(
      human.stderr,
      /warning: 1 record dated more than 24 hours after now \(latest 2098-05-01T00:00:00\.000Z\) skipped/,
    )
  },
)
