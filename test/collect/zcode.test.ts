import t from 'tap'
import { execFileSync, spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import fs from 'node:fs'
import path from 'node:path'
import { createRequire } from 'node:module'
import { fakeEnv } from '../helpers/env.js'
import { collectOnce, copyFixture, hash16, recordIdOf, sameSumsAsExpected } from '../helpers/collect.js'
import { cli, FIXTURES, isolatedEnv, pick, ROOT, type Totals } from '../helpers/cli.js'
import type { SourceCursors } from '../../lib/collect/index.js'
import { zcode, zcodeRecord } from '../../lib/collect/zcode/index.js'

const Sqlite = createRequire(import.meta.url)('better-sqlite3')
const EXP = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'expected.json'), 'utf8')).zcode
const DB = 'cli/db/db.sqlite'

/** A copy of fixtures/zcode with its database built from the SQL (as `npm run fixtures` does). */
function home(root: string, name = 'zcode'): string {
  const dir = copyFixture(root, 'zcode', name)
  execFileSync(process.execPath, [path.join(ROOT, 'scripts/fixtures.mjs'), dir], { stdio: 'ignore' })
  return dir
}
const run = (dir: string, cursors: Record<string, SourceCursors> = {}) =>
  collectOnce(fakeEnv({ ZCODE_HOME: dir }), zcode, cursors)

/** The agent: a writer connection that keeps the database in WAL mode, checkpoints off. */
function agent(dir: string) {
  const db = new Sqlite(path.join(dir, DB))
  db.pragma('journal_mode = WAL')
  db.pragma('wal_autocheckpoint = 0')
  return db
}
const INSERT = `INSERT INTO model_usage (id, session_id, provider_id, model_id, status, started_at,
  input_tokens, output_tokens, reasoning_tokens, cache_creation_input_tokens, cache_read_input_tokens, computed_total_tokens)
  VALUES (?, 'sess_01JD8Y3K2MBILLING', 'builtin:zai-coding-plan', 'GLM-5.3', ?, ?, ?, ?, 0, ?, ?, ?)`

t.test('full read of fixtures/zcode matches expected.json', async (t) => {
  const dir = home(t.testdir({}))
  const { records, stats } = run(dir)
  sameSumsAsExpected(t, records, EXP)
  t.equal(stats.files, 1)
  t.equal(stats.malformed, EXP.malformedLines, 'Z8: completed, tokens, no start time')
  const byId = new Map(records.map((r) => [r.id, r]))
  const z1 = byId.get(recordIdOf('zcode', 'mu_01JD8Y4A0001'))!
  t.match(z1, {
    ts: '2026-11-20T09:15:02.120Z',
    source: 'zcode',
    model: 'GLM-5.3',
    input: 16507 - 11712,
    output: 59,
    cacheWrite: 0,
    cacheRead: 11712,
    session: hash16('sess_01JD8Y3K2MBILLING'),
    project: hash16('/home/ana/src/billing'),
  })
  t.match(byId.get(recordIdOf('zcode', 'mu_01JD8Y4A0002')), {
    input: 700,
    cacheWrite: 100,
    cacheRead: 200,
    output: 300,
  })
  t.match(
    byId.get(recordIdOf('zcode', 'mu_01JD9A8B0006')),
    { ts: '2026-11-21T00:00:03.250Z', input: 908, cacheRead: 8192, output: 1560, reasoning: 350 },
    "Z6: the total's 350 reasoning tokens outside output become output",
  )
  t.match(byId.get(recordIdOf('zcode', 'mu_01JD9A8B0010')), { input: 0, cacheRead: 10, output: 5 }, 'Z10 clamped')
  const z11 = byId.get(recordIdOf('zcode', 'mu_01JDB0C0D0011'))!
  t.equal(z11.project, undefined, 'Z11: no session row, no project')
  t.equal(z11.session, hash16('sess_01JDB0000XGONE'))
  for (const id of ['0003', '0004', '0007', '0009'])
    t.notOk(
      byId.has(recordIdOf('zcode', `mu_01JD${id === '0009' ? '9A8B' : '8Y4A'}${id}`)),
      `Z${Number(id)} is no usage`,
    )
  const text = JSON.stringify(records)
  for (const raw of ['/home/ana', 'sess_01JD', 'billing']) t.notOk(text.includes(raw), `no ${raw} in a record`)
})

t.test('ids are stable across re-reads; an unchanged database is not opened', async (t) => {
  const dir = home(t.testdir({}))
  const first = run(dir)
  const whole = run(dir)
  t.same(
    whole.records.map((r) => r.id).sort(),
    first.records.map((r) => r.id).sort(),
    'a re-read from scratch: the same ids',
  )
  const again = run(dir, first.cursors)
  t.same(again.records, [])
  t.same(again.stats, { files: 1, unchanged: 1, read: 0, bytes: 0, malformed: 0 }, 'not opened')
})

t.test('incremental: a new row (only in the -wal) and a running row completed in place, once each', async (t) => {
  const dir = home(t.testdir({}))
  const first = run(dir)
  const db = agent(dir)
  t.teardown(() => db.close())
  db.prepare(INSERT).run(
    'mu_01JDC0NEW0012',
    'completed',
    Date.parse('2026-11-22T08:00:00.000Z'),
    4000,
    250,
    0,
    3000,
    4250,
  )
  t.ok(fs.statSync(path.join(dir, `${DB}-wal`)).size > 0, 'the row is in the -wal, not checkpointed')
  const second = run(dir, first.cursors)
  t.equal(second.records.length, 1)
  t.match(second.records[0], {
    id: recordIdOf('zcode', 'mu_01JDC0NEW0012'),
    ts: '2026-11-22T08:00:00.000Z',
    input: 1000,
    output: 250,
    cacheRead: 3000,
  })
  t.same(run(dir, second.cursors).records, [], 'nothing new')

  // Z9 was running at the first read: ZCode fills its tokens in place when it completes.
  db.prepare(
    `UPDATE model_usage SET status = 'completed', completed_at = ?, input_tokens = 5200, output_tokens = 410,
     cache_read_input_tokens = 4096, computed_total_tokens = 5610 WHERE id = 'mu_01JD9A8B0009'`,
  ).run(Date.parse('2026-11-21T10:31:20.000Z'))
  const third = run(dir, second.cursors)
  t.equal(third.records.length, 1, 'the completed row, and no other')
  t.match(third.records[0], {
    id: recordIdOf('zcode', 'mu_01JD9A8B0009'),
    ts: '2026-11-21T10:31:00.000Z',
    model: 'GLM-4.6',
    input: 1104,
    output: 410,
    cacheRead: 4096,
    project: hash16('/home/ana/src/site'),
  })
  t.same(
    third.cursors.zcode![path.join(dir, DB)]!.ctx,
    { rowid: 12, at: 'mu_01JDC0NEW0012', open: [] },
    'nothing left running',
  )
  t.same(run(dir, third.cursors).records, [])

  // A checkpoint moves every row into the file: changed, read on from the cursor, nothing doubled.
  db.pragma('wal_checkpoint(TRUNCATE)')
  t.same(run(dir, third.cursors).records, [])
})

// ZCode running: another process holds the database in WAL mode (checkpoints off) and completes a
// request every few milliseconds while we read; it prints how many it wrote when asked.
const WRITER = `
const Database = require(process.argv[1])
const db = new Database(process.argv[2])
db.pragma('journal_mode = WAL')
db.pragma('wal_autocheckpoint = 0')
const add = db.prepare(${JSON.stringify(INSERT)})
let n = 0
const one = () => { add.run('mu_live_' + n, 'completed', 1795300000000 + n, 1000 + n, 10, 0, 0, 1010 + n); n++ }
db.transaction(() => { while (n < 200) one() })()
console.log('ready ' + n)
setInterval(one, 2)
process.stdin.on('data', () => console.log('written ' + n))
`

t.test('read while ZCode holds the database and keeps writing: every committed row, once', async (t) => {
  const dir = home(t.testdir({}))
  const file = path.join(dir, DB)
  const child = spawn(
    process.execPath,
    ['-e', WRITER, createRequire(import.meta.url).resolve('better-sqlite3'), file],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  )
  t.teardown(() => child.kill('SIGKILL'))
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]()
  const next = async () => String((await lines.next()).value)
  t.equal(await next(), 'ready 200')
  const mainBefore = fs.readFileSync(file)
  const first = run(dir)
  child.stdin!.write('?\n')
  const afterFirst = Number((await next()).split(' ')[1])
  const live = (rs: { id: string }[]) => rs.length - EXP.totals.records
  t.ok(live(first.records) >= 200 && live(first.records) <= afterFirst, `read ${live(first.records)} live rows`)
  await new Promise((r) => setTimeout(r, 50))
  const second = run(dir, first.cursors)
  child.kill('SIGKILL')
  await new Promise((r) => child.once('exit', r))
  const last = run(dir, second.cursors)
  const ids = [...first.records, ...second.records, ...last.records].map((r) => r.id)
  t.equal(new Set(ids).size, ids.length, 'no row read twice')
  const db = new Sqlite(file, { readonly: true })
  const written = db.prepare("SELECT count(*) AS n FROM model_usage WHERE id LIKE 'mu_live_%'").get().n
  db.close()
  t.equal(ids.length - EXP.totals.records, written, `all ${written} rows ZCode committed, once`)
  t.ok(second.records.length > 0, 'the second read went on from the first')
  t.same(fs.readFileSync(file), mainBefore, 'never checkpointed by us: the main file is as it was')
})

t.test('rows rewritten under other rowids (a VACUUM, a rebuild): read whole again, the same ids', async (t) => {
  const dir = home(t.testdir({}))
  const first = run(dir)
  const db = agent(dir)
  // The rows come back in another order: the rowid the cursor names now holds another row.
  db.exec(`CREATE TABLE keep AS SELECT * FROM model_usage ORDER BY id DESC; DELETE FROM model_usage;
    INSERT INTO model_usage SELECT * FROM keep; DROP TABLE keep`)
  db.prepare(INSERT).run('mu_01JDC0NEW0012', 'completed', Date.parse('2026-11-22T08:00:00.000Z'), 100, 10, 0, 0, 110)
  db.close()
  const next = run(dir, first.cursors)
  const ids = new Set(first.records.map((r) => r.id))
  t.equal(next.records.length, EXP.totals.records + 1, 'read whole')
  t.equal(next.records.filter((r) => !ids.has(r.id)).length, 1, 'one new id, the rest fold with what was read')
})

t.test('a schema it does not know: counted, the cursor kept, read again next run', async (t) => {
  const dir = t.testdir({ cli: { db: {} } })
  const db = new Sqlite(path.join(dir, DB))
  db.exec('CREATE TABLE model_usage (id TEXT PRIMARY KEY, tokens INTEGER)')
  db.close()
  const r = run(dir)
  t.equal(r.stats.malformed, 1)
  t.same(r.cursors.zcode, {}, 'no cursor')
  t.throws(
    () =>
      zcode.database(
        { path: 'x', all: () => [], iterate: () => [][Symbol.iterator](), columns: () => new Set(['id']) },
        { path: 'x', root: 'x' },
        undefined,
        {} as never,
        '',
      ),
    { code: 'UNKNOWN_SCHEMA' },
  )
})

t.test('zcodeRecord: statuses, clamps, the total fallback', async (t) => {
  const row = {
    id: 'u',
    session_id: 's',
    started_at: 1_786_909_042_666,
    model_id: ' GLM-5.3 ',
    status: 'completed',
    input_tokens: 1000,
    output_tokens: 0,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 200,
    computed_total_tokens: 1300,
    directory: null,
  }
  t.match(zcodeRecord(row, ''), {
    model: 'GLM-5.3',
    input: 800,
    cacheRead: 200,
    output: 300,
    ts: '2026-08-16T19:37:22.666Z',
  })
  t.equal(zcodeRecord({ ...row, status: 'error' }, ''), null)
  t.equal(zcodeRecord({ ...row, model_id: '' }, ''), 'malformed')
  t.equal(zcodeRecord({ ...row, started_at: 0 }, ''), 'malformed')
  t.equal(zcodeRecord({ ...row, input_tokens: -5, cache_read_input_tokens: 0, computed_total_tokens: 0 }, ''), null)
  t.match(zcodeRecord({ ...row, computed_total_tokens: null, cache_creation_input_tokens: 5000 }, ''), {
    input: 0,
    cacheWrite: 800,
    cacheRead: 200,
    output: 0,
  })
})

t.test('where it looks; ZCODE_HOME replaces the default; homes fold by row id', async (t) => {
  for (const platform of ['linux', 'darwin', 'win32'] as const)
    t.same(zcode.looksIn({ ...fakeEnv({}, { userHome: '/home/ana' }), platform }), ['/home/ana/.zcode'], platform)
  t.same(zcode.looksIn(fakeEnv({ ZCODE_HOME: '/a, b' }, { cwd: '/w' })), ['/a', '/w/b'])
  const root = t.testdir({})
  const a = home(root, 'a')
  const userHome = path.join(root, 'user')
  fs.mkdirSync(userHome)
  fs.renameSync(home(root, 'b'), path.join(userHome, '.zcode'))
  t.equal(zcode.discover(fakeEnv({}, { userHome })).length, 1, 'the default ~/.zcode')
  t.same(
    zcode.discover(fakeEnv({ ZCODE_HOME: `${a},/nonexistent` }, { userHome })).map((f) => f.path),
    [path.join(a, DB)],
    'the variable replaces the default',
  )
  const both = collectOnce(fakeEnv({ ZCODE_HOME: `${a},${path.join(userHome, '.zcode')}` }), zcode)
  t.equal(both.stats.files, 2)
  t.equal(both.records.length, EXP.totals.records, 'a copied database counts once')
  t.equal(both.batch.duplicates, EXP.totals.records)
})

t.test('end to end: record, then report daily', async (t) => {
  const dir = t.testdir({})
  const z = home(dir)
  fs.mkdirSync(path.join(dir, 'home'))
  const env = isolatedEnv(dir, { ZCODE_HOME: z, USAGE_LEDGER_DEVICE_ID: 'c'.repeat(32) })
  const first = await cli(['record', '--no-push', '--json', '--source', 'zcode'], { env })
  t.equal(first.code, 0, first.stderr)
  t.equal(JSON.parse(first.stdout).appended, EXP.totals.records)
  const second = await cli(['record', '--no-push', '--json', '--source', 'zcode'], { env })
  t.equal(JSON.parse(second.stdout).appended, 0)
  const r = await cli(['report', 'daily', '--json', '--tz', 'UTC', '--source', 'zcode'], { env })
  t.equal(r.code, 0, r.stderr)
  const rows = JSON.parse(r.stdout).rows as Array<Record<string, unknown>>
  const days: Record<string, Totals> = Object.fromEntries(rows.map((row) => [row.period as string, pick(row)]))
  t.same(days, EXP.days)
})
