import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { createRequire } from 'node:module'
import { fakeEnv } from '../helpers/env.js'
import { collectOnce, copyFixture, hash16, recordIdOf, sameSumsAsExpected } from '../helpers/collect.js'
import { cli, FIXTURES, isolatedEnv, pick } from '../helpers/cli.js'
import { MARGIN_MS, opencode, openCodeCopy, openCodeCounts, openCodeRecord } from '../../lib/collect/opencode/index.js'
import { kilo } from '../../lib/collect/kilo/index.js'
import type { SourceCursors } from '../../lib/collect/types.js'

const Sqlite = createRequire(import.meta.url)('better-sqlite3')
const EXP = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'expected.json'), 'utf8')).opencode

const SA = 'ses_e0cf7454fffe6dimfXyFHlGIk4'
const SB = 'ses_e078be93fffegSJThtPPnw7GEt'
const SOLD = 'ses_e108b129fffevKMpGNpeeX9AZg'
const SF = 'ses_e07b56a3fffegHA0f47cL15HDs'
const O1 = 'msg_1f308d67e001beeNBt6ltVWhCH'
const O1_FORK = 'msg_1f84a95c0002omAWfrCNVOFzOY'

/** A fresh home of the fixture with its database built from the SQL (as `npm run fixtures` does). */
function home(root: string, name = 'opencode'): string {
  const dir = copyFixture(root, 'opencode', name)
  const db = path.join(dir, 'opencode.db')
  fs.rmSync(db, { force: true })
  const w = new Sqlite(db)
  w.exec(fs.readFileSync(path.join(dir, 'opencode.db.sql'), 'utf8'))
  w.close()
  return dir
}

const run = (dir: string, cursors: Record<string, SourceCursors> = {}) =>
  collectOnce(fakeEnv({ OPENCODE_DATA_DIR: dir }), opencode, cursors)

/** An assistant message as OpenCode writes its `data` (no id, no session id). */
function assistant(created: number, tokens: Record<string, unknown>, model = 'claude-sonnet-4-5') {
  return JSON.stringify({
    role: 'assistant',
    time: { created },
    modelID: model,
    providerID: 'anthropic',
    path: { cwd: '/home/ana/src/webapp', root: '/home/ana/src/webapp' },
    cost: 0,
    tokens,
  })
}

const ms = (iso: string) => Date.parse(iso)
/** An OpenCode message id made at `at` (ms): 12 hex digits of the low 48 bits of at × 4096 + 1. */
const msgId = (at: number, tail = 'Tq2Wm8Xz5Ra7Pb') =>
  `msg_${((BigInt(at) * BigInt(4096) + BigInt(1)) & ((BigInt(1) << BigInt(48)) - BigInt(1))).toString(16).padStart(12, '0')}${tail}`

t.test('full read of fixtures/opencode matches expected.json', async (t) => {
  const dir = home(t.testdir({}))
  const { records, batch, stats } = run(dir)
  sameSumsAsExpected(t, records, EXP)
  t.equal(records.length, EXP.totals.records)
  t.equal(stats.files, 4, 'the database and three legacy message files')
  t.equal(stats.malformed, EXP.malformedLines, 'the cut-off row')
  t.equal(
    batch.duplicates,
    EXP.extras.legacyCopies + EXP.extras.forkCopies,
    "the legacy copy of a migrated message folds; a fork's copy is dropped",
  )
  const byTs = new Map(records.map((r) => [r.ts, r]))
  for (const e of EXP.records) {
    const r = byTs.get(e.ts)!
    t.ok(r, `${e.label} read`)
    const id = /(msg_[A-Za-z0-9]+)/.exec(e.where)![1]!
    t.equal(r.id, recordIdOf('opencode', id), `${e.label}: the id is made from the message id`)
    t.equal(r.session, hash16(e.session), `${e.label}: the session hashed`)
    t.same(
      [r.model, r.input, r.output, r.cacheWrite, r.cacheRead],
      [e.model, e.input, e.output, e.cacheWrite, e.cacheRead],
    )
    t.equal(r.reasoning, e.reasoning, `${e.label}: reasoning, inside output`)
    t.equal(r.costUSD, e.costUSD, `${e.label}: the cost OpenCode stored`)
  }
  t.equal(byTs.get('2026-11-19T09:00:05.120Z')!.project, hash16('/home/ana/src/webapp'), "the message's path.cwd")
  t.same(batch.projectNames.get(hash16('/home/ana/src/infra')), 'infra', 'names stay on this machine')
  t.equal(batch.sessionIds.get(hash16(SOLD)), SOLD)
})

t.test('a message in the database and in a legacy file counts once, whichever is read', async (t) => {
  const root = t.testdir({})
  const dbOnly = home(root, 'db-only')
  fs.rmSync(path.join(dbOnly, 'storage'), { recursive: true })
  const fileOnly = home(root, 'file-only')
  fs.rmSync(path.join(fileOnly, 'opencode.db'))
  const both = run(home(root, 'both')).records
  const a = run(dbOnly).records
  const b = run(fileOnly).records
  const copy = recordIdOf('opencode', O1)
  t.same(
    a.filter((r) => r.id === copy),
    b.filter((r) => r.id === copy),
    'the row and the file give the same record',
  )
  t.same(
    [...new Set([...a, ...b].map((r) => r.id))].sort(),
    both.map((r) => r.id).sort(),
    'both together: the union of ids',
  )
  t.equal(b.length, 2, 'without the database: the two legacy assistant messages')
})

t.test("a fork's copies of messages count once, even when read before or without the original", async (t) => {
  const root = t.testdir({})
  const dir = home(root)
  const all = run(dir).records
  t.notOk(
    all.some((r) => r.id === recordIdOf('opencode', O1_FORK)),
    'the copy (its id made at the fork, a day after its time.created) is dropped',
  )
  t.ok(all.some((r) => r.id === recordIdOf('opencode', O1)))
  // The original's session deleted (its rows gone): the copy is then the one record of it.
  const agent = new Sqlite(path.join(dir, 'opencode.db'))
  agent.prepare('DELETE FROM message WHERE session_id = ?').run(SA)
  agent.close()
  fs.rmSync(path.join(dir, 'storage', 'message', SA), { recursive: true })
  const alone = run(dir).records.filter((r) => r.ts === '2026-11-19T09:00:05.120Z')
  t.same(
    alone.map((r) => [r.id, r.session, r.input, r.output, r.cacheWrite, r.cacheRead]),
    [[recordIdOf('opencode', O1_FORK), hash16(SF), 12, 850, 4200, 18000]],
  )
})

t.test('a message of several steps: its step-finish parts summed; a step added later grows it, same id', async (t) => {
  const dir = home(t.testdir({}))
  const first = run(dir)
  const o5 = EXP.records.find((e: { label: string }) => e.label === 'O5')
  const id = recordIdOf('opencode', 'msg_1fe69f7bf0011qjPyR1MjaNyUG')
  const r = first.records.find((x) => x.id === id)!
  t.same([r.input, r.output, r.cacheWrite, r.cacheRead], [o5.input, o5.output, o5.cacheWrite, o5.cacheRead])
  t.equal(r.costUSD, 0.1281, "the message's cost, OpenCode's running sum of its steps")

  // OpenCode goes on (resumed the next morning): a third step, then the message rewritten with
  // that step's tokens.
  const agent = new Sqlite(path.join(dir, 'opencode.db'))
  t.teardown(() => agent.close())
  const at = ms('2026-11-22T09:00:00.000Z')
  const step = { input: 5, output: 90, reasoning: 0, cache: { read: 55000, write: 1200 }, total: 56295 }
  agent
    .prepare('INSERT INTO part VALUES (?, ?, ?, ?, ?, ?)')
    .run(
      msgId(at, 'StepThree00001').replace('msg_', 'prt_'),
      'msg_1fe69f7bf0011qjPyR1MjaNyUG',
      SB,
      at,
      at,
      JSON.stringify({ reason: 'stop', type: 'step-finish', tokens: step, cost: 0.0364 }),
    )
  const row = agent.prepare('SELECT data FROM message WHERE id = ?').get('msg_1fe69f7bf0011qjPyR1MjaNyUG')
  const data = { ...JSON.parse(row.data), tokens: step, cost: 0.1645 }
  agent
    .prepare('UPDATE message SET data = ?, time_updated = ? WHERE id = ?')
    .run(JSON.stringify(data), at + 10, 'msg_1fe69f7bf0011qjPyR1MjaNyUG')
  const second = run(dir, first.cursors)
  const grown = second.records.find((x) => x.id === id)!
  t.same(
    [grown.input, grown.output, grown.cacheWrite, grown.cacheRead],
    [o5.input + 5, o5.output + 90, o5.cacheWrite + 1200, o5.cacheRead + 55000],
    'the three steps, under the same id (the ledger keeps the larger copy)',
  )

  // Without the part table (a database from before parts were kept): the message's own tokens.
  const bare = new Sqlite(path.join(dir, 'opencode.db'))
  bare.exec('DROP TABLE part')
  bare.close()
  const last = run(dir).records.find((x) => x.id === id)!
  t.same([last.input, last.output, last.cacheWrite, last.cacheRead], [5, 90, 1200, 55000])
})

t.test('incremental: unchanged is not read; a new row, then its update, is read once', async (t) => {
  const dir = home(t.testdir({}))
  const first = run(dir)
  const db = path.join(dir, 'opencode.db')
  t.equal((first.cursors.opencode![db]!.ctx as { updated: number }).updated, ms('2026-11-21T15:00:00.000Z'))

  const second = run(dir, first.cursors)
  t.same(second.records, [], 'nothing new')
  t.same([second.stats.unchanged, second.stats.read, second.stats.malformed], [4, 0, 0], 'nothing opened')

  // OpenCode writes a new assistant message when it starts (tokens 0) …
  const agent = new Sqlite(db)
  t.teardown(() => agent.close())
  const at = ms('2026-11-22T09:00:00.000Z')
  const NEW = msgId(at)
  const zero = { input: 0, output: 0, reasoning: 0, cache: { read: 0, write: 0 } }
  agent.prepare('INSERT INTO message VALUES (?, ?, ?, ?, ?)').run(NEW, SA, at, at, assistant(at, zero))
  const third = run(dir, second.cursors)
  t.same(third.records, [], 'a message still being written is no usage yet')
  t.equal(third.stats.read, 1)

  // … and rewrites it when the step finishes.
  const done = at + 8000
  const tokens = { total: 30580, input: 20, output: 560, reasoning: 0, cache: { read: 30000, write: 0 } }
  agent.prepare('UPDATE message SET data = ?, time_updated = ? WHERE id = ?').run(assistant(at, tokens), done, NEW)
  const fourth = run(dir, third.cursors)
  t.same(
    fourth.records.map((r) => [r.id, r.ts, r.input, r.output, r.cacheRead]),
    [[recordIdOf('opencode', NEW), '2026-11-22T09:00:00.000Z', 20, 560, 30000]],
    'the update, once, under the message id',
  )
  t.equal(fourth.stats.malformed, 0, 'the old rows are not read again')
  t.same(run(dir, fourth.cursors).records, [], 'then nothing')

  // A writer whose transaction began earlier commits a row dated before the latest one seen.
  const late = done - MARGIN_MS / 2
  agent
    .prepare('INSERT INTO message VALUES (?, ?, ?, ?, ?)')
    .run(msgId(late), SB, late, late, assistant(late, tokens, 'claude-opus-4-5'))
  const fifth = run(dir, fourth.cursors)
  t.same(
    fifth.records.map((r) => r.model).sort(),
    ['claude-opus-4-5', 'claude-sonnet-4-5'],
    'the late commit is read (and the latest again, which the ledger folds by its id)',
  )
})

t.test('a row still only in the -wal is read while OpenCode holds the database open', async (t) => {
  const dir = home(t.testdir({}))
  const db = path.join(dir, 'opencode.db')
  const agent = new Sqlite(db)
  t.teardown(() => agent.close())
  agent.pragma('journal_mode = WAL')
  agent.pragma('wal_autocheckpoint = 0')
  const first = run(dir)
  const before = fs.readFileSync(db)
  const at = ms('2026-11-22T10:00:00.000Z')
  agent
    .prepare('INSERT INTO message VALUES (?, ?, ?, ?, ?)')
    .run(msgId(at), SA, at, at + 5000, assistant(at, { input: 7, output: 93 }))
  const second = run(dir, first.cursors)
  t.same(
    second.records.map((r) => [r.ts, r.input, r.output]),
    [['2026-11-22T10:00:00.000Z', 7, 93]],
  )
  t.same(fs.readFileSync(db), before, 'the row is only in the -wal, and we did not checkpoint it')
})

t.test('malformed rows and files, and a schema it does not know', async (t) => {
  const root = t.testdir({})
  const dir = home(root)
  fs.writeFileSync(path.join(dir, 'storage', 'message', SOLD, 'msg_1ef754a3c001Qw3Er5Ty7Ui9Op.json'), '{"role":"assis')
  const r = run(dir)
  t.equal(r.stats.malformed, 2, 'the cut-off row and the cut-off file')
  t.equal(r.records.length, EXP.totals.records)

  const other = path.join(root, 'future')
  fs.mkdirSync(other)
  const w = new Sqlite(path.join(other, 'opencode.db'))
  w.exec('CREATE TABLE message (id TEXT PRIMARY KEY, session_id TEXT, payload BLOB)')
  w.close()
  const f = run(other)
  t.equal(f.stats.malformed, 1, 'an unknown schema: counted')
  t.same(f.cursors.opencode, {}, 'and no cursor: read again next run')
})

t.test('message rules', async (t) => {
  const key = { id: 'msg_x', session: 'ses_x' }
  const rec = (data: Record<string, unknown>, k: Record<string, unknown> = key) =>
    openCodeRecord('opencode', data, k as typeof key, '')
  const tokens = { input: 1, output: 2, cache: { read: 3, write: 4 } }
  const base = {
    role: 'assistant',
    modelID: 'gpt-5.2',
    providerID: 'openai',
    time: { created: ms('2026-11-20T01:02:03.004Z') },
  }
  t.equal(rec({ ...base, role: 'user', tokens }), null, 'a user message')
  t.equal(rec({ ...base }), null, 'no tokens')
  t.equal(rec({ ...base, tokens: { input: 0, output: 0, cache: { read: 0, write: 0 } } }), null, 'all zero')
  t.equal(rec({ ...base, modelID: '', tokens }), 'malformed', 'usage without a model')
  t.equal(rec({ ...base, time: {}, tokens }), 'malformed', 'usage without a time')
  const r = rec({ ...base, time: {}, tokens }, { ...key, created: ms('2026-11-20T05:00:00.000Z') })
  t.equal(r && r !== 'malformed' && r.ts, '2026-11-20T05:00:00.000Z', "no time in the JSON: the row's time_created")
  const s = rec({ ...base, time: { created: 1795219199 }, tokens })
  t.equal(s && s !== 'malformed' && s.ts, '2026-11-20T23:59:59.000Z', 'epoch seconds')
  const v2 = rec({ ...base, modelID: undefined, model: { id: 'claude-opus-4-5', providerID: 'anthropic' }, tokens })
  t.equal(v2 && v2 !== 'malformed' && v2.model, 'claude-opus-4-5', "a model object's id")
  const created = ms('2026-11-19T09:00:05.120Z')
  const copyOf = (id: string, at = created) => openCodeCopy('opencode', id, { ...base, time: { created: at } })
  t.same(
    copyOf(msgId(created - 3)),
    { of: `opencode:${created}|openai|gpt-5.2`, replay: false },
    'an id made when the message was created: the original',
  )
  t.equal(copyOf(msgId(created + 86_400_000))?.replay, true, 'an id made a day later: a fork copy')
  t.equal(copyOf(msgId(created + 30_000))?.replay, false, 'within a minute: still the original')
  const wrap = 2 ** 36 * 26 - 10_000
  t.equal(copyOf(msgId(wrap + 3_600_000), wrap)?.replay, true, 'the id time wraps every 2^36 ms: still a copy')
  t.equal(copyOf('msg_custom-client-id'), undefined, 'not an OpenCode id: no copy rule')
  t.same(
    openCodeCounts({ input: 10, output: 5, reasoning: 20, cache: { read: 100, write: 0 }, total: 135 }),
    { input: 10, output: 25, cacheWrite: 0, cacheRead: 100, reasoning: 20 },
    'AI SDK 6: reasoning outside output, inside total',
  )
  t.same(
    openCodeCounts({ input: 10, output: 25, reasoning: 20, cache: { read: 100, write: 0 }, total: 135 }),
    { input: 10, output: 25, cacheWrite: 0, cacheRead: 100, reasoning: 20 },
    'AI SDK 5: reasoning inside output and total',
  )
  t.same(
    openCodeCounts({ input: 10, output: 5, reasoning: 20 }),
    { input: 10, output: 25, cacheWrite: 0, cacheRead: 0, reasoning: 20 },
    'no total: output + reasoning',
  )
  t.same(
    openCodeCounts({ input: '12', output: -3, cache: 7, total: 40 }),
    { input: 12, output: 28, cacheWrite: 0, cacheRead: 0, reasoning: 0 },
    'counts as agents write them; a total beyond the buckets is output',
  )
})

t.test('places: the variable, XDG_DATA_HOME, ~/.local/share on every OS; channel databases', async (t) => {
  const root = t.testdir({})
  const a = home(root, 'a')
  const b = path.join(root, 'b')
  fs.mkdirSync(b)
  fs.copyFileSync(path.join(a, 'opencode.db'), path.join(b, 'opencode-beta.db'))
  fs.writeFileSync(path.join(b, 'opencode-beta.db-journal.bak'), '')
  const env = fakeEnv({ OPENCODE_DATA_DIR: `${a}, ${b}`, XDG_DATA_HOME: '/xdg' }, { userHome: root })
  t.same(opencode.looksIn(env), [a, b], 'the variable replaces the defaults')
  t.same(
    opencode
      .discover(env)
      .filter((f) => !f.document)
      .map((f) => path.relative(root, f.path)),
    ['a/opencode.db', 'b/opencode-beta.db'],
    "a channel build's database",
  )
  fs.copyFileSync(path.join(a, 'opencode.db'), path.join(b, 'opencode-v1.2.db'))
  fs.copyFileSync(path.join(a, 'opencode.db'), path.join(root, 'elsewhere.db'))
  t.same(
    opencode
      .discover(fakeEnv({ OPENCODE_DATA_DIR: b, OPENCODE_DB: path.join(root, 'elsewhere.db') }))
      .map((f) => path.relative(root, f.path)),
    ['b/opencode-beta.db', 'b/opencode-v1.2.db', 'elsewhere.db'],
    "a channel name with a dot; OpenCode's own OPENCODE_DB",
  )
  t.same(
    opencode.discover(fakeEnv({ OPENCODE_DATA_DIR: b, OPENCODE_DB: 'opencode-beta.db' })).length,
    2,
    'OPENCODE_DB relative to the data directory, read once',
  )
  t.same(opencode.looksIn(fakeEnv({}, { userHome: '/home/ana' })), ['/home/ana/.local/share/opencode'])
  t.same(opencode.looksIn(fakeEnv({ XDG_DATA_HOME: '/data' }, { userHome: '/home/ana' })), ['/data/opencode'])
  t.same(
    opencode.looksIn(fakeEnv({ XDG_DATA_HOME: 'rel' }, { userHome: '/home/ana' })),
    ['/home/ana/.local/share/opencode'],
    'a relative XDG_DATA_HOME is ignored',
  )
  const mac = fakeEnv({}, { userHome: '/Users/ana' })
  mac.platform = 'darwin'
  t.same(opencode.looksIn(mac), ['/Users/ana/.local/share/opencode'], 'macOS: xdg-basedir has no per-OS default')
  const win = fakeEnv({}, { userHome: 'C:/Users/ana' })
  win.platform = 'win32'
  t.same(opencode.looksIn(win), [path.join('C:/Users/ana', '.local', 'share', 'opencode')], 'Windows too')
  t.same(kilo.looksIn(fakeEnv({}, { userHome: '/home/ana' })), ['/home/ana/.local/share/kilo'])
  t.same(kilo.looksIn(fakeEnv({ KILO_DATA_DIR: '/k' }, { userHome: '/home/ana' })), ['/k'])
  const moved = path.join(root, 'xdg')
  fs.mkdirSync(moved)
  fs.renameSync(a, path.join(moved, 'opencode'))
  t.equal(collectOnce(fakeEnv({ XDG_DATA_HOME: moved }, { userHome: root }), opencode).records.length, 5)
})

t.test('record then report through the CLI; an added message is recorded once', async (t) => {
  const dir = t.testdir({})
  const data = home(dir)
  const env = isolatedEnv(dir, { USAGE_LEDGER_DEVICE_ID: 'd'.repeat(32), OPENCODE_DATA_DIR: data })
  const report = async () => {
    const r = await cli(['report', 'daily', '--json', '--tz', 'UTC', '--source', 'opencode'], { env })
    t.equal(r.code, 0, r.stderr)
    const rows = (JSON.parse(r.stdout) as { rows: Array<Record<string, unknown>> }).rows
    return Object.fromEntries(rows.map((row) => [row.period, pick(row)]))
  }
  const rec = await cli(['record', '--no-push', '--source', 'opencode'], { env })
  t.equal(rec.code, 0, rec.stderr)
  t.same(await report(), EXP.days)

  const agent = new Sqlite(path.join(data, 'opencode.db'))
  const at = ms('2026-11-21T15:10:00.000Z')
  agent
    .prepare('INSERT INTO message VALUES (?, ?, ?, ?, ?)')
    .run(msgId(at), SB, at, at, assistant(at, { input: 100, output: 200, cache: { read: 0, write: 0 } }))
  agent.close()
  t.equal((await cli(['record', '--no-push', '--source', 'opencode'], { env })).code, 0)
  const want = structuredClone(EXP.days)
  Object.assign(want['2026-11-21'], {
    records: want['2026-11-21'].records + 1,
    input: want['2026-11-21'].input + 100,
    output: want['2026-11-21'].output + 200,
    totalTokens: want['2026-11-21'].totalTokens + 300,
  })
  t.same(await report(), want, 'the new message, once')
  t.equal((await cli(['record', '--no-push', '--source', 'opencode'], { env })).code, 0)
  t.same(await report(), want, 'a record with nothing new adds nothing')
})

t.test(
  "a fork made after the original was recorded: its copy is not recorded (the writer's replay rule)",
  async (t) => {
    const dir = t.testdir({})
    const data = home(dir)
    const env = isolatedEnv(dir, { USAGE_LEDGER_DEVICE_ID: 'f'.repeat(32), OPENCODE_DATA_DIR: data })
    const db = path.join(data, 'opencode.db')
    const agent = new Sqlite(db)
    const fork = agent.prepare('SELECT * FROM message WHERE session_id = ?').all(SF)
    t.equal(fork.length, 2, "the fork's user message and O1's copy")
    agent.prepare('DELETE FROM message WHERE session_id = ?').run(SF)
    t.equal((await cli(['record', '--no-push', '--source', 'opencode'], { env })).code, 0)
    // The fork is made now: its rows are new, dated when they were written.
    const now = ms('2026-11-22T08:00:00.000Z')
    for (const r of fork)
      agent.prepare('INSERT INTO message VALUES (?, ?, ?, ?, ?)').run(r.id, r.session_id, r.time_created, now, r.data)
    agent.close()
    const again = await cli(['record', '--no-push', '--source', 'opencode', '--json'], { env })
    t.equal(again.code, 0, again.stderr)
    const r = await cli(['report', 'daily', '--json', '--tz', 'UTC', '--source', 'opencode'], { env })
    const rows = (JSON.parse(r.stdout) as { rows: Array<Record<string, unknown>> }).rows
    t.same(Object.fromEntries(rows.map((row) => [row.period, pick(row)])), EXP.days, 'O1 once')
  },
)
