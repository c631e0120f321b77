// Goose (docs/sources.md "goose"): one cumulative record per session from sessions.db, read on
// from the latest updated_at, a grown session re-emitted under its id with the larger total.
import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { createRequire } from 'node:module'
import { fakeEnv } from '../helpers/env.js'
import {
  collectOnce,
  copyFixture,
  sameSumsAsExpected,
  recordIdOf,
  hash16,
  byTs,
  type ExpectedRecord,
} from '../helpers/collect.js'
import { cli, FIXTURES, isolatedEnv, pick } from '../helpers/cli.js'
import { goose, gooseTime } from '../../lib/collect/goose/index.js'
import { beatsRecorded } from '../../lib/ledger/dedupe.js'
import { canonicalLine, totalTokens, validateRecord, type LedgerRecord } from '../../lib/ledger/record.js'

const Sqlite = createRequire(import.meta.url)('better-sqlite3')
const EXP = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'expected.json'), 'utf8')).goose
const SQL = path.join(FIXTURES, 'goose', 'data', 'sessions', 'sessions.db.sql')
const DB = path.join('data', 'sessions', 'sessions.db')

/** A copy of fixtures/goose with its database built from the SQL (as `npm run fixtures` does). */
function home(t: { testdir(): string }, root = t.testdir()): string {
  const dir = copyFixture(root, 'goose')
  const file = path.join(dir, DB)
  fs.rmSync(file, { force: true })
  const db = new Sqlite(file)
  db.exec(fs.readFileSync(SQL, 'utf8'))
  db.close()
  return dir
}
const run = (dir: string, cursors = {}) => collectOnce(fakeEnv({ GOOSE_PATH_ROOT: dir }), goose, cursors)
const idOf = (session: string, createdAt: string) => recordIdOf('goose', `${session}\n${createdAt}`)

/** What the writer would append on top of `ledger` (DESIGN §4): new ids, or larger copies. */
function appended(ledger: LedgerRecord[], batch: LedgerRecord[]): LedgerRecord[] {
  const best = new Map<string, { total: number; sidechain: boolean; ts: string }>()
  for (const r of ledger) {
    const cur = best.get(r.id)
    if (!cur || totalTokens(r) > cur.total) best.set(r.id, { total: totalTokens(r), sidechain: false, ts: r.ts })
  }
  return batch.filter((r) => beatsRecorded(r, best.get(r.id)))
}

/** Goose's own write after a model call (update_session_metrics → apply_update). */
function call(
  db: { prepare(s: string): { run(...a: unknown[]): unknown } },
  id: string,
  input: number,
  output: number,
) {
  db.prepare(
    `UPDATE sessions SET total_tokens = ?, input_tokens = ?, output_tokens = ?,
       accumulated_total_tokens = accumulated_total_tokens + ?, accumulated_input_tokens = accumulated_input_tokens + ?,
       accumulated_output_tokens = accumulated_output_tokens + ?, updated_at = datetime('now') WHERE id = ?`,
  ).run(input + output, input, output, input + output, input, output, id)
}

t.test('full read of fixtures/goose matches expected.json', async (t) => {
  const { records, batch, stats } = run(home(t))
  sameSumsAsExpected(t, records, EXP)
  t.equal(stats.malformed, EXP.malformedRows, 'G4: model_config_json cut off mid-write')
  t.equal(stats.files, 1)
  t.equal(
    records.reduce((n, r) => n + (r.reasoning ?? 0), 0),
    EXP.extras.reasoning,
    "G3's thinking, beyond input + output in the total",
  )
  const got = [...records].sort(byTs)
  t.equal(got.length, EXP.records.length, 'one record per session; the zero, unconfigured and broken ones give none')
  EXP.records.forEach((e: ExpectedRecord, i: number) => {
    const r = got[i]!
    t.equal(r.id, recordIdOf('goose', e.nativeKey), `${e.label} id = session id + created_at`)
    t.equal(r.ts, e.ts, `${e.label} ts = created_at, UTC`)
    t.equal(r.model, e.model, `${e.label} model = model_config_json.model_name`)
    t.same(
      [r.input, r.output, r.cacheWrite, r.cacheRead, r.reasoning ?? 0],
      [e.input, e.output, e.cacheWrite, e.cacheRead, e.reasoning ?? 0],
      `${e.label} tokens`,
    )
    t.equal(r.session, hash16(e.session), `${e.label} session`)
    t.equal(r.project, hash16(e.project), `${e.label} project = working_dir`)
  })
  // ccusage leaves G3's thinking out of output (it is in its total): the parity's reading.
  const ccusage = EXP.extras.ccusage.days['2026-11-19']
  t.equal(ccusage.output + EXP.extras.reasoning, EXP.days['2026-11-19'].output)
  t.notMatch(JSON.stringify(records), /20261118_1|home|ana/, 'no session id or path in any record')
  t.same([...batch.projectNames.values()].sort(), ['app', 'infra-tools'])
  t.equal(batch.sessionIds.get(hash16('20261118_1')), '20261118_1')
})

t.test('an unchanged database is not opened; a re-read without cursors adds nothing', async (t) => {
  const dir = home(t)
  const first = run(dir)
  const again = run(dir, first.cursors)
  t.same(again.records, [])
  t.same([again.stats.unchanged, again.stats.read, again.stats.malformed], [1, 0, 0])
  const ctx = first.cursors.goose![path.join(dir, DB)]!.ctx
  t.same(ctx, { updatedAt: '2026-11-21 07:52:40' }, 'the latest updated_at read')
  const whole = run(dir)
  t.same(whole.records.map((r) => r.id).sort(), first.records.map((r) => r.id).sort(), 'the same ids')
  t.same(appended(first.records, whole.records), [], 'nothing the ledger does not hold')
})

t.test('a WAL database Goose closed: our read-only open leaves an empty -wal, and it is not read again', async (t) => {
  const dir = home(t)
  const file = path.join(dir, DB)
  const agent = new Sqlite(file)
  agent.pragma('journal_mode = WAL')
  agent.close()
  t.notOk(fs.existsSync(`${file}-wal`), 'Goose gone: no -wal')
  const first = run(dir)
  t.equal(first.records.length, EXP.totals.records)
  t.equal(fs.statSync(`${file}-wal`).size, 0, 'opening it read-only made an empty -wal')
  const again = run(dir, first.cursors)
  t.same([again.records, again.stats.unchanged, again.stats.read], [[], 1, 0], 'an empty -wal holds no rows')
})

t.test('Goose writing while we read (WAL, not checkpointed): a grown session once, a new one once', async (t) => {
  const dir = home(t)
  const file = path.join(dir, DB)
  const first = run(dir)
  const agent = new Sqlite(file)
  t.teardown(() => agent.close())
  t.equal(agent.pragma('journal_mode = WAL', { simple: true }), 'wal', 'in WAL mode, as the agent keeps it')
  agent.pragma('wal_autocheckpoint = 0')
  const mainBefore = fs.readFileSync(file)

  call(agent, '20261118_1', 30000, 1200)
  agent
    .prepare(
      `INSERT INTO sessions (id, name, working_dir, created_at, updated_at, total_tokens, input_tokens, output_tokens,
         accumulated_total_tokens, accumulated_input_tokens, accumulated_output_tokens, provider_name, model_config_json)
       VALUES ('20261121_3', 'Another', '/home/ana/src/app', '2026-11-21 16:00:00', datetime('now'), 900, 800, 100, 900, 800, 100,
         'anthropic', '{"model_name":"claude-sonnet-4-5-20250929","context_limit":200000}')`,
    )
    .run()
  t.ok(fs.statSync(`${file}-wal`).size > 0, 'the writes are in the -wal')

  const second = run(dir, first.cursors)
  t.equal(second.stats.read, 1)
  const grown = appended(first.records, second.records)
  t.same(
    grown.map((r) => [r.id, r.ts, r.input, r.output]),
    [
      [idOf('20261118_1', '2026-11-18 09:14:02'), '2026-11-18T09:14:02.000Z', 214230, 10612],
      [idOf('20261121_3', '2026-11-21 16:00:00'), '2026-11-21T16:00:00.000Z', 800, 100],
    ],
    'the grown session under its id and first day, with its whole new total; the new one',
  )
  t.same(fs.readFileSync(file), mainBefore, 'the main file untouched: nothing checkpointed')

  // Nothing changed since: the database is not read; re-read whole, nothing beats the ledger.
  const third = run(dir, second.cursors)
  t.same([third.records, third.stats.unchanged], [[], 1])
  const ledger = [...first.records, ...grown]
  t.same(appended(ledger, run(dir).records), [])

  // Another call: only the rows updated from the cursor's second on are read again.
  call(agent, '20261118_1', 100, 10)
  const fourth = run(dir, third.cursors)
  t.ok(fourth.records.length <= 2, `read on from the cursor (${fourth.records.length} rows)`)
  t.same(
    appended(ledger, fourth.records).map((r) => [r.input, r.output]),
    [[214330, 10622]],
  )
})

t.test('newer Goose (accumulated cache counts and cost): cache taken out of input', async (t) => {
  const dir = t.testdir({ data: { sessions: {} } })
  const db = new Sqlite(path.join(dir, DB))
  // The sessions table of Goose 1.53+ (goose_mode, archived_at, project_id, parent_session_id,
  // and the cache and cost counters).
  db.exec(`CREATE TABLE sessions (
    id TEXT PRIMARY KEY, name TEXT NOT NULL DEFAULT '', description TEXT NOT NULL DEFAULT '',
    user_set_name BOOLEAN DEFAULT FALSE, session_type TEXT NOT NULL DEFAULT 'user', working_dir TEXT NOT NULL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    extension_data TEXT DEFAULT '{}', total_tokens INTEGER, input_tokens INTEGER, output_tokens INTEGER,
    cache_read_tokens INTEGER, cache_write_tokens INTEGER, accumulated_total_tokens INTEGER,
    accumulated_input_tokens INTEGER, accumulated_output_tokens INTEGER, accumulated_cache_read_tokens INTEGER,
    accumulated_cache_write_tokens INTEGER, accumulated_cost REAL, schedule_id TEXT, recipe_json TEXT,
    user_recipe_values_json TEXT, provider_name TEXT, model_config_json TEXT, goose_mode TEXT NOT NULL DEFAULT 'auto',
    archived_at TIMESTAMP, project_id TEXT, parent_session_id TEXT)`)
  db.prepare(
    `INSERT INTO sessions (id, working_dir, created_at, updated_at, total_tokens, input_tokens, output_tokens,
       accumulated_total_tokens, accumulated_input_tokens, accumulated_output_tokens, accumulated_cache_read_tokens,
       accumulated_cache_write_tokens, accumulated_cost, provider_name, model_config_json)
     VALUES ('20261120_1', '/home/ana/src/app', '2026-11-20 10:00:00', '2026-11-20 10:20:00', 50000, 49000, 1000,
       230000, 220000, 10000, 180000, 12000, 0.5034, 'anthropic', '{"model_name":"claude-sonnet-4-5-20250929"}')`,
  ).run()
  db.close()
  const [r] = run(dir).records
  t.same(
    [r?.input, r?.output, r?.cacheWrite, r?.cacheRead, r?.costUSD, r && totalTokens(r)],
    [28000, 10000, 12000, 180000, 0.5034, 230000],
  )
})

t.test('a schema it does not know: counted, the cursor kept, read again next run', async (t) => {
  const dir = t.testdir({ data: { sessions: {} } })
  const db = new Sqlite(path.join(dir, DB))
  db.exec('CREATE TABLE sessions (id TEXT PRIMARY KEY, description TEXT, working_dir TEXT, created_at TIMESTAMP)')
  db.close()
  const r = run(dir)
  t.same([r.records, r.stats.malformed, r.cursors.goose], [[], 1, {}])
})

t.test('where Goose is looked for', async (t) => {
  const root = t.testdir({})
  const h = path.join(root, 'h')
  const rel = (env: ReturnType<typeof fakeEnv>) => goose.looksIn(env).map((f) => path.relative(root, f))
  t.same(
    rel(fakeEnv({ GOOSE_PATH_ROOT: `a, ${path.join(root, 'b')} ,` }, { userHome: h, cwd: root })),
    ['a/data/sessions/sessions.db', 'b/data/sessions/sessions.db'],
    'GOOSE_PATH_ROOT (a comma list) replaces the defaults',
  )
  const defaults = [
    'h/.local/share/goose/sessions/sessions.db',
    'h/Library/Application Support/goose/sessions/sessions.db',
    'h/.local/share/Block/goose/sessions/sessions.db',
  ]
  for (const platform of ['linux', 'darwin'] as const)
    t.same(rel({ ...fakeEnv({}, { userHome: h }), platform }), defaults, platform)
  t.same(
    rel({ ...fakeEnv({ XDG_DATA_HOME: path.join(root, 'xdg') }, { userHome: h }), platform: 'linux' }),
    [...defaults, 'xdg/goose/sessions/sessions.db'],
    'XDG_DATA_HOME moves Goose (etcetera)',
  )
  t.same(
    rel({ ...fakeEnv({ APPDATA: path.join(root, 'AppData') }, { userHome: h }), platform: 'win32' }),
    [...defaults, 'AppData/Block/goose/data/sessions/sessions.db'],
    'Windows: %APPDATA%\\Block\\goose\\data',
  )
  // discover names them all; collecting stats only the ones that exist.
  fs.mkdirSync(path.join(h, '.local/share/Block/goose/sessions'), { recursive: true })
  fs.copyFileSync(path.join(home(t, root), DB), path.join(h, '.local/share/Block/goose/sessions/sessions.db'))
  const r = collectOnce({ ...fakeEnv({}, { userHome: h }), platform: 'linux' }, goose)
  t.same([r.stats.files, r.records.length], [1, EXP.totals.records])
})

t.test('gooseTime: the forms created_at takes', async (t) => {
  t.equal(gooseTime('2026-11-18 23:48:10'), '2026-11-18T23:48:10.000Z', 'CURRENT_TIMESTAMP is UTC')
  t.equal(gooseTime('2026-11-18T23:48:10.123456789+00:00'), '2026-11-18T23:48:10.123Z', 'sqlx DateTime<Utc>')
  t.equal(gooseTime('2026-11-19T01:48:10+02:00'), '2026-11-18T23:48:10.000Z')
  t.equal(gooseTime('2026-11-18'), '2026-11-18T00:00:00.000Z')
  t.equal(gooseTime(1795045690), '2026-11-18T23:48:10.000Z', 'epoch seconds')
  t.equal(gooseTime('1795045690123'), '2026-11-18T23:48:10.123Z', 'epoch milliseconds')
  for (const bad of [null, '', 'yesterday', '2026-13-45 99:00:00', 0]) t.equal(gooseTime(bad), null, String(bad))
})

t.test('end to end: record --source goose, a grown session, then report daily', async (t) => {
  const dir = t.testdir()
  const data = home(t, dir)
  fs.mkdirSync(path.join(dir, 'home'))
  const env = isolatedEnv(dir, { USAGE_LEDGER_DEVICE_ID: 'c'.repeat(32), GOOSE_PATH_ROOT: data })
  const r = await cli(['record', '--no-push', '--json', '--source', 'goose'], { env })
  t.equal(r.code, 0, r.stderr)
  t.equal(JSON.parse(r.stdout).appended, EXP.totals.records)
  const agent = new Sqlite(path.join(data, DB))
  call(agent, '20261119_1', 4000, 300)
  agent.close()
  const again = await cli(['record', '--no-push', '--json', '--source', 'goose'], { env })
  t.equal(JSON.parse(again.stdout).appended, 1, 'the grown session: one larger copy')
  const rep = await cli(['report', 'daily', '--json', '--tz', 'UTC', '--source', 'goose'], { env })
  t.equal(rep.code, 0, rep.stderr)
  const rows = JSON.parse(rep.stdout).rows as Array<Record<string, unknown>>
  const days = structuredClone(EXP.days)
  days['2026-11-19'].input += 4000
  days['2026-11-19'].output += 300
  days['2026-11-19'].totalTokens += 4300
  t.same(
    Object.fromEntries(rows.map((row) => [row.period, pick(row)])),
    days,
    'the report counts the latest total once, on the day the session started',
  )
})

t.test('hostile values in a sessions row: never a throw, never an invalid record', async (t) => {
  const dir = home(t)
  const db = new Sqlite(path.join(dir, DB))
  const bad: unknown[] = [null, -5, 1e308, 'x', '12', 2.5, '', '{"model_name":7}', '[]', 'null']
  const cols = [
    'accumulated_input_tokens',
    'accumulated_output_tokens',
    'accumulated_total_tokens',
    'input_tokens',
    'created_at',
    'model_config_json',
    'working_dir',
    'updated_at',
  ]
  let n = 0
  for (const col of cols)
    for (const v of bad) {
      n++
      db.prepare(
        `INSERT INTO sessions (id, working_dir, created_at, updated_at, accumulated_input_tokens, accumulated_output_tokens,
           accumulated_total_tokens, model_config_json) VALUES (?, '/w', '2026-11-20 10:00:00', '2026-11-20 10:00:00', 10, 5, 15,
           '{"model_name":"gpt-4.1"}')`,
      ).run(`h_${n}`)
      try {
        db.prepare(`UPDATE sessions SET ${col} = ? WHERE id = ?`).run(v, `h_${n}`)
      } catch {
        // NOT NULL: the agent cannot write that either.
      }
    }
  db.close()
  const r = run(dir)
  for (const x of r.records) t.same(validateRecord(JSON.parse(canonicalLine(x))), [], x.id)
  t.ok(r.records.length > EXP.totals.records, `${r.records.length} records, ${r.stats.malformed} malformed`)
})
