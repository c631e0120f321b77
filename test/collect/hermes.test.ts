// Hermes Agent (docs/sources.md "hermes"): one cumulative record per session from state.db; a
// changed database is read whole and only the sessions whose totals moved are handed on.
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
import { hermes, hermesTime } from '../../lib/collect/hermes/index.js'
import { beatsRecorded } from '../../lib/ledger/dedupe.js'
import { canonicalLine, totalTokens, validateRecord, type LedgerRecord } from '../../lib/ledger/record.js'

const Sqlite = createRequire(import.meta.url)('better-sqlite3')
const EXP = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'expected.json'), 'utf8')).hermes
const SQL = path.join(FIXTURES, 'hermes', 'state.db.sql')
const DB = 'state.db'

/** A copy of fixtures/hermes with its database built from the SQL (as `npm run fixtures` does). */
function home(t: { testdir(): string }, root = t.testdir(), name = 'hermes'): string {
  const dir = copyFixture(root, 'hermes', name)
  const file = path.join(dir, DB)
  fs.rmSync(file, { force: true })
  const db = new Sqlite(file)
  db.exec(fs.readFileSync(SQL, 'utf8'))
  db.close()
  return dir
}
const run = (dir: string, cursors = {}) => collectOnce(fakeEnv({ HERMES_HOME: dir }), hermes, cursors)
const idOf = (session: string) => recordIdOf('hermes', session)

/** What the writer would append on top of `ledger` (DESIGN §4): new ids, or larger copies. */
function appended(ledger: LedgerRecord[], batch: LedgerRecord[]): LedgerRecord[] {
  const best = new Map<string, { total: number; sidechain: boolean; ts: string }>()
  for (const r of ledger) {
    const cur = best.get(r.id)
    if (!cur || totalTokens(r) > cur.total) best.set(r.id, { total: totalTokens(r), sidechain: false, ts: r.ts })
  }
  return batch.filter((r) => beatsRecorded(r, best.get(r.id)))
}

/** Hermes's own write after an API call (update_token_counts, the CLI's per-call delta path). */
function call(db: { prepare(s: string): { run(...a: unknown[]): unknown } }, id: string, d: number[]) {
  db.prepare(
    `UPDATE sessions SET input_tokens = input_tokens + ?, output_tokens = output_tokens + ?,
       cache_read_tokens = cache_read_tokens + ?, cache_write_tokens = cache_write_tokens + ?,
       reasoning_tokens = reasoning_tokens + ?, api_call_count = COALESCE(api_call_count, 0) + 1 WHERE id = ?`,
  ).run(...d, id)
}

t.test('full read of fixtures/hermes matches expected.json', async (t) => {
  const { records, batch, stats } = run(home(t))
  sameSumsAsExpected(t, records, EXP)
  t.equal(stats.malformed, EXP.malformedRows, 'H6: started_at is not a number')
  t.equal(
    records.reduce((n, r) => n + (r.reasoning ?? 0), 0),
    EXP.extras.reasoning,
    'reasoning, inside output',
  )
  t.equal(
    Math.round(records.reduce((n, r) => n + (r.costUSD ?? 0), 0) * 1e9),
    Math.round(EXP.extras.costUSD * 1e9),
    "Hermes's own costs: actual, else a positive estimate",
  )
  const got = [...records].sort(byTs)
  t.equal(got.length, EXP.records.length, 'one record per session; no model, zero tokens and malformed give none')
  EXP.records.forEach((e: ExpectedRecord & { costUSD?: number }, i: number) => {
    const r = got[i]!
    t.equal(r.id, idOf(e.nativeKey), `${e.label} id = the session id`)
    t.equal(r.ts, e.ts, `${e.label} ts = started_at`)
    t.equal(r.model, e.model, `${e.label} model`)
    t.same(
      [r.input, r.output, r.cacheWrite, r.cacheRead, r.reasoning ?? 0, r.costUSD],
      [e.input, e.output, e.cacheWrite, e.cacheRead, e.reasoning ?? 0, e.costUSD],
      `${e.label} tokens and cost`,
    )
    t.equal(r.session, hash16(e.session), `${e.label} session`)
    t.equal(r.project, undefined, `${e.label}: schema 9 has no cwd`)
  })
  // ccusage adds reasoning on top of output (its extra): the parity's reading.
  for (const [day, c] of Object.entries(EXP.extras.ccusage.days) as Array<[string, Record<string, number>]>) {
    const ours = EXP.days[day]
    t.equal(c.totalTokens - ours.totalTokens, c.totalTokens - c.input - c.output - c.cacheWrite - c.cacheRead, day)
  }
  t.notMatch(JSON.stringify(records), /20261118_091402/, 'no session id in any record')
  t.equal(batch.sessionIds.get(hash16('20261118_091402_a3f9c1')), '20261118_091402_a3f9c1')
})

t.test('an unchanged database is not opened; a re-read adds nothing', async (t) => {
  const dir = home(t)
  const first = run(dir)
  const again = run(dir, first.cursors)
  t.same(again.records, [])
  t.same([again.stats.unchanged, again.stats.read, again.stats.malformed], [1, 0, 0])
  const ctx = first.cursors.hermes![path.join(dir, DB)]!.ctx as Record<string, number>
  t.equal(ctx['20261118_091402_a3f9c1'], 452972, "the cursor keeps each session's total")
  const whole = run(dir)
  t.same(whole.records.map((r) => r.id).sort(), first.records.map((r) => r.id).sort(), 'the same ids')
  t.same(appended(first.records, whole.records), [])
})

t.test('Hermes writing while we read (WAL, not checkpointed): each change handed on once', async (t) => {
  const dir = home(t)
  const file = path.join(dir, DB)
  const first = run(dir)
  const agent = new Sqlite(file)
  t.teardown(() => agent.close())
  t.equal(agent.pragma('journal_mode = WAL', { simple: true }), 'wal', 'in WAL mode, as the agent keeps it')
  agent.pragma('wal_autocheckpoint = 0')
  const mainBefore = fs.readFileSync(file)

  call(agent, '20261118_235930_0c7e44', [4000, 900, 51200, 0, 512])
  agent
    .prepare(
      `INSERT INTO sessions (id, source, model, started_at, input_tokens, output_tokens, cache_read_tokens, billing_provider)
       VALUES ('20261121_180000_c0ffee', 'discord', 'gpt-5', 1795284000.5, 700, 90, 2048, 'openai')`,
    )
    .run()
  const second = run(dir, first.cursors)
  t.equal(second.stats.read, 1)
  t.same(
    second.records.map((r) => [r.id, r.ts, r.input, r.output, r.cacheRead, r.reasoning]),
    [
      [idOf('20261118_235930_0c7e44'), '2026-11-18T23:59:30.500Z', 56110, 15288, 249600, 9728],
      [idOf('20261121_180000_c0ffee'), '2026-11-21T18:00:00.500Z', 700, 90, 2048, undefined],
    ],
    'only the grown session (its id and first day, its whole total) and the new one',
  )
  t.same(appended(first.records, second.records).length, 2)
  t.same(fs.readFileSync(file), mainBefore, 'nothing checkpointed')

  const third = run(dir, second.cursors)
  t.same([third.records, third.stats.unchanged], [[], 1])
  // A write that moves no total (a message, a title): the database is read, nothing handed on.
  agent.prepare("UPDATE sessions SET title = 'Weekend deploy' WHERE id = '20261118_235930_0c7e44'").run()
  const fourth = run(dir, third.cursors)
  t.same([fourth.records, fourth.stats.read], [[], 1])
  t.same(appended([...first.records, ...second.records], run(dir).records), [], 'a whole re-read adds nothing')
})

t.test('a schema it does not know: counted, the cursor kept, read again next run', async (t) => {
  const dir = t.testdir({})
  const db = new Sqlite(path.join(dir, DB))
  db.exec('CREATE TABLE sessions (id TEXT PRIMARY KEY, source TEXT NOT NULL, started_at REAL NOT NULL)')
  db.close()
  const r = run(dir)
  t.same([r.records, r.stats.malformed, r.cursors.hermes], [[], 1, {}])
})

t.test('where Hermes is looked for: HERMES_HOME, else ~/.hermes and its profiles', async (t) => {
  const root = t.testdir({})
  const h = path.join(root, 'h')
  const rel = (env: ReturnType<typeof fakeEnv>) => hermes.looksIn(env).map((f) => path.relative(root, f))
  home(t, path.join(h, '.hermes', 'profiles'), 'work')
  home(t, path.join(h, '.hermes', 'profiles'), 'alt')
  t.same(
    rel(fakeEnv({ HERMES_HOME: `a, ${path.join(root, 'b')} ,` }, { userHome: h, cwd: root })),
    ['a/state.db', 'b/state.db'],
    'HERMES_HOME (a comma list) replaces the default, profiles not searched',
  )
  for (const platform of ['linux', 'darwin', 'win32'] as const)
    t.same(
      rel({ ...fakeEnv({}, { userHome: h }), platform }),
      ['h/.hermes/state.db', 'h/.hermes/profiles/alt/state.db', 'h/.hermes/profiles/work/state.db'],
      platform,
    )
  const r = collectOnce(fakeEnv({}, { userHome: h }), hermes)
  t.same([r.stats.files, r.records.length], [2, EXP.totals.records], 'two profiles, one session set: ids fold')
})

t.test('hermesTime: started_at', async (t) => {
  t.equal(hermesTime(1794993242.25), '2026-11-18T09:14:02.250Z', 'epoch seconds (time.time())')
  t.equal(hermesTime(1794993242250), '2026-11-18T09:14:02.250Z', 'epoch milliseconds')
  t.equal(hermesTime('1794993242'), '2026-11-18T09:14:02.000Z')
  for (const bad of [null, '', 'Fri Nov 21 09:30:00 2026', 0, -5]) t.equal(hermesTime(bad), null, String(bad))
})

t.test('end to end: record --source hermes, a grown session, then report daily', async (t) => {
  const dir = t.testdir()
  const data = home(t, dir)
  fs.mkdirSync(path.join(dir, 'home'))
  const env = isolatedEnv(dir, { USAGE_LEDGER_DEVICE_ID: 'c'.repeat(32), HERMES_HOME: data })
  const r = await cli(['record', '--no-push', '--json', '--source', 'hermes'], { env })
  t.equal(r.code, 0, r.stderr)
  t.equal(JSON.parse(r.stdout).appended, EXP.totals.records)
  const agent = new Sqlite(path.join(data, DB))
  call(agent, '20261119_162011_9d41ab', [1000, 200, 4096, 0, 0])
  agent.close()
  const again = await cli(['record', '--no-push', '--json', '--source', 'hermes'], { env })
  t.equal(JSON.parse(again.stdout).appended, 1, 'the grown session: one larger copy')
  const rep = await cli(['report', 'daily', '--json', '--tz', 'UTC', '--source', 'hermes'], { env })
  t.equal(rep.code, 0, rep.stderr)
  const rows = JSON.parse(rep.stdout).rows as Array<Record<string, unknown>>
  const days = structuredClone(EXP.days)
  days['2026-11-19'].input += 1000
  days['2026-11-19'].output += 200
  days['2026-11-19'].cacheRead += 4096
  days['2026-11-19'].totalTokens += 5296
  t.same(Object.fromEntries(rows.map((row) => [row.period, pick(row)])), days, 'the latest total once')
})

t.test('hostile values in a sessions row: never a throw, never an invalid record', async (t) => {
  const dir = home(t)
  const db = new Sqlite(path.join(dir, DB))
  const bad: unknown[] = [null, -5, 1e308, 'x', '12', 2.5, '', 1e13, -1e9]
  const cols = [
    'input_tokens',
    'output_tokens',
    'cache_read_tokens',
    'cache_write_tokens',
    'reasoning_tokens',
    'started_at',
    'estimated_cost_usd',
    'actual_cost_usd',
    'model',
  ]
  let n = 0
  for (const col of cols)
    for (const v of bad) {
      n++
      db.prepare(
        `INSERT INTO sessions (id, source, model, started_at, input_tokens, output_tokens) VALUES (?, 'cli', 'gpt-5', 1795161600, 10, 5)`,
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
