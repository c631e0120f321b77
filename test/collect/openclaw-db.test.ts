import t from 'tap'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import zlib from 'node:zlib'
import { createRequire } from 'node:module'
import { fakeEnv } from '../helpers/env.js'
import { collectOnce, copyFixture, hash16, sameSumsAsExpected, sumBy } from '../helpers/collect.js'
import { cli, FIXTURES, isolatedEnv, pick, ROOT, type Totals } from '../helpers/cli.js'
import { Batch, collect, type SourceCursors } from '../../lib/collect/index.js'
import { openclaw } from '../../lib/collect/openclaw/index.js'
import { openclawDb } from '../../lib/collect/openclaw-db/index.js'

const Sqlite = createRequire(import.meta.url)('better-sqlite3')
const ALL = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'expected.json'), 'utf8'))
const EXP = ALL['openclaw-db']
const S1 = 'ab9b55c4-f540-4587-ab94-72b63b29147c'
const S2 = '8e9f0a1b-2c3d-4e5f-8a9b-0c1d2e3f4a5b'
const DB = 'agents/main/agent/openclaw-agent.sqlite'

/** A copy of fixtures/openclaw with its agent database built from the SQL (as `npm run fixtures` does). */
function state(root: string, name = 'openclaw'): string {
  const dir = copyFixture(root, 'openclaw', name)
  execFileSync(process.execPath, [path.join(ROOT, 'scripts/fixtures.mjs'), dir], { stdio: 'ignore' })
  return dir
}
const run = (dir: string, cursors: Record<string, SourceCursors> = {}) =>
  collectOnce(fakeEnv({ OPENCLAW_DIR: dir }), openclawDb, cursors)

/** OpenClaw: a writer connection that keeps the store in WAL mode, checkpoints off. */
function agent(dir: string) {
  const db = new Sqlite(path.join(dir, DB))
  db.pragma('journal_mode = WAL')
  db.pragma('wal_autocheckpoint = 0')
  return db
}
const APPEND = 'INSERT INTO transcript_events (session_id, seq, event_json, created_at) VALUES (?, ?, ?, ?)'
const assistant = (id: string, ms: number, usage: object) =>
  JSON.stringify({
    type: 'message',
    id,
    parentId: 'd9e0f1a2',
    timestamp: new Date(ms + 500).toISOString(),
    message: {
      role: 'assistant',
      content: [],
      api: 'openai-codex-responses',
      provider: 'openai-codex',
      usage,
      timestamp: ms,
    },
  })

t.test('full read of the agent database matches expected.json', async (t) => {
  const dir = state(t.testdir({}))
  const { records, stats } = run(dir)
  sameSumsAsExpected(t, records, EXP)
  t.equal(stats.files, 1)
  t.equal(stats.malformed, EXP.malformedLines, 'the cut-off event')
  t.ok(
    records.every((r) => r.source === 'openclaw'),
    "OpenClaw's usage, whichever of its stores it was read from",
  )
  const sonnet = records.find((r) => r.model === 'claude-sonnet-4-5')!
  t.match(sonnet, {
    ts: '2026-11-22T07:30:05.000Z',
    input: 40,
    output: 1200,
    cacheWrite: 2100,
    cacheRead: 15000,
    costUSD: 0.030495,
    session: hash16(S2),
    project: hash16('/home/ana/.openclaw/workspace'),
  })
  t.same(
    records
      .filter((r) => r.model === 'gpt-5.2')
      .map((r) => [r.ts, r.output])
      .sort(),
    [
      ['2026-11-20T23:59:30.000Z', 55],
      ['2026-11-23T00:00:01.500Z', 310],
      ['2026-11-23T00:05:00.000Z', 250],
    ],
    "the model from the session's model_change; a total no bucket explains is output",
  )
})

t.test('a migrated session counts once: the same ids as its JSONL lines', async (t) => {
  const dir = state(t.testdir({}))
  const db = run(dir).records
  const jsonl = collectOnce(fakeEnv({ OPENCLAW_DIR: dir }), openclaw).records
  const both = db.filter((r) => jsonl.some((j) => j.id === r.id))
  t.equal(both.length, 2, 'B1 and B2')
  t.ok(
    both.every((r) => r.session === hash16(S1)),
    'in the session the JSONL file names',
  )
  for (const r of both)
    t.same(
      r,
      jsonl.find((j) => j.id === r.id),
      `${r.ts}: the same record`,
    )
  // Both stores in one run, in either order: the JSONL days plus the database-only ones.
  for (const order of [
    [openclaw, openclawDb],
    [openclawDb, openclaw],
  ]) {
    const batch = new Batch()
    collect(fakeEnv({ OPENCLAW_DIR: dir }), order, {}, batch, '')
    t.equal(batch.duplicates, 4, "the JSONL's own 2 copies, and B1, B2")
    t.same(
      sumBy(batch.records(), (r) => r.ts.slice(0, 10)),
      EXP.extras.withOpenclaw.days,
    )
  }
})

t.test('incremental: an event appended (only in the -wal) is read once, its session state kept', async (t) => {
  const dir = state(t.testdir({}))
  const first = run(dir)
  const idle = run(dir, first.cursors)
  t.same(idle.records, [])
  t.same(idle.stats, { files: 1, unchanged: 1, read: 0, bytes: 0, malformed: 0 }, 'not opened')

  const db = agent(dir)
  t.teardown(() => db.close())
  const ms = Date.parse('2026-11-23T00:09:00.000Z')
  db.prepare(APPEND).run(
    S2,
    11,
    assistant('e0f1a2b3', ms, { input: 700, output: 90, cacheRead: 4000, cacheWrite: 0, totalTokens: 4790 }),
    ms,
  )
  t.ok(fs.statSync(path.join(dir, `${DB}-wal`)).size > 0, 'in the -wal, not checkpointed')
  const next = run(dir, idle.cursors)
  t.equal(next.records.length, 1)
  t.match(next.records[0], {
    ts: '2026-11-23T00:09:00.000Z',
    model: 'gpt-5.2',
    input: 700,
    output: 90,
    cacheRead: 4000,
    session: hash16(S2),
    project: hash16('/home/ana/.openclaw/workspace'),
  })
  t.same(run(dir, next.cursors).records, [], 'nothing new')

  // A session the cursor no longer keeps (it keeps the last ones read): rebuilt from its rows.
  const file = path.join(dir, DB)
  const cur = next.cursors['openclaw-db']![file]!
  const forgot = { 'openclaw-db': { [file]: { ...cur, ctx: { ...(cur.ctx as object), sessions: {} } } } }
  const ms2 = ms + 60_000
  db.prepare(APPEND).run(S2, 12, assistant('f1a2b3c4', ms2, { input: 5, output: 6, totalTokens: 11 }), ms2)
  const rebuilt = run(dir, forgot)
  t.match(rebuilt.records, [
    { model: 'gpt-5.2', output: 6, session: hash16(S2), project: hash16('/home/ana/.openclaw/workspace') },
  ])
  t.same(Object.keys((rebuilt.cursors['openclaw-db']![file]!.ctx as { sessions: object }).sessions), [S2])
  t.equal(rebuilt.batch.malformed, 0, 'the rebuild counts nothing again')
  db.pragma('wal_checkpoint(TRUNCATE)')
  t.same(run(dir, rebuilt.cursors).records, [], 'a checkpoint changes the file, adds nothing')
})

t.test('rows rewritten under other rowids: read whole again, the same ids', async (t) => {
  const dir = state(t.testdir({}))
  const first = run(dir)
  const db = agent(dir)
  db.exec(`CREATE TEMP TABLE keep AS SELECT * FROM transcript_events ORDER BY session_id, seq;
    DELETE FROM transcript_events; INSERT INTO transcript_events SELECT * FROM keep`)
  db.close()
  const next = run(dir, first.cursors)
  t.same(next.records.map((r) => r.id).sort(), first.records.map((r) => r.id).sort())
})

t.test('compressed events (event_json NULL, event_zstd)', async (t) => {
  const dir = state(t.testdir({}))
  const db = agent(dir)
  db.exec(`CREATE TABLE te2 (session_id TEXT NOT NULL, seq INTEGER NOT NULL, event_json TEXT, created_at INTEGER NOT NULL,
    event_zstd BLOB, event_utf8_bytes INTEGER, navigation_json TEXT, PRIMARY KEY (session_id, seq)) STRICT;
    INSERT INTO te2 (session_id, seq, event_json, created_at) SELECT session_id, seq, event_json, created_at FROM transcript_events;
    DROP TABLE transcript_events; ALTER TABLE te2 RENAME TO transcript_events`)
  const zstd = (zlib as unknown as { zstdCompressSync?: (b: Buffer) => Buffer }).zstdCompressSync
  const text = assistant('e0f1a2b3', Date.parse('2026-11-23T00:09:00.000Z'), { input: 1, output: 2, totalTokens: 3 })
  db.prepare(
    'INSERT INTO transcript_events (session_id, seq, event_json, created_at, event_zstd, event_utf8_bytes) VALUES (?, 11, NULL, 1, ?, ?)',
  ).run(S2, zstd ? zstd(Buffer.from(text)) : Buffer.from('(zstd frame)'), Buffer.byteLength(text))
  db.close()
  const r = run(dir)
  if (zstd) {
    t.equal(r.records.length, EXP.totals.records + 1, 'decoded')
    t.equal(r.stats.malformed, EXP.malformedLines)
  } else {
    t.equal(r.records.length, EXP.totals.records, `no zstd in Node ${process.version}`)
    t.equal(r.stats.malformed, EXP.malformedLines + 1, 'the compressed row is counted, not silently lost')
  }
})

t.test('a store without transcripts; an unknown transcript_events', async (t) => {
  const dir = t.testdir({ agents: { main: { agent: {} }, ops: { agent: {} } } })
  const empty = new Sqlite(path.join(dir, 'agents/main/agent/openclaw-agent.sqlite'))
  empty.exec('CREATE TABLE cache_entries (scope TEXT, key TEXT)')
  empty.close()
  const odd = new Sqlite(path.join(dir, 'agents/ops/agent/openclaw-agent.sqlite'))
  odd.exec('CREATE TABLE transcript_events (id INTEGER PRIMARY KEY, text TEXT)')
  odd.close()
  const r = run(dir)
  t.equal(r.stats.files, 2)
  t.equal(r.records.length, 0)
  t.equal(r.stats.malformed, 1, 'only the unknown schema')
  t.same(Object.keys(r.cursors['openclaw-db']!), [path.join(dir, 'agents/main/agent/openclaw-agent.sqlite')])
})

t.test('where it looks: the state dirs of OpenClaw, agents/*/agent/, no symlinks', async (t) => {
  const home = '/home/ana'
  t.same(openclawDb.looksIn(fakeEnv({}, { userHome: home })), openclaw.looksIn(fakeEnv({}, { userHome: home })))
  const dir = state(t.testdir({}))
  fs.mkdirSync(path.join(dir, 'agents/linked'))
  fs.symlinkSync(path.join(dir, 'agents/main/agent'), path.join(dir, 'agents/linked/agent'))
  fs.symlinkSync(path.join(dir, 'agents/main'), path.join(dir, 'agents/alias'))
  fs.mkdirSync(path.join(dir, 'agents/ops/agent'))
  fs.symlinkSync(path.join(dir, DB), path.join(dir, 'agents/ops/agent/openclaw-agent.sqlite'))
  t.same(
    openclawDb.discover(fakeEnv({ OPENCLAW_DIR: `${dir},/nonexistent` })).map((f) => path.relative(dir, f.path)),
    [DB],
  )
  t.same(openclawDb.discover(fakeEnv({ OPENCLAW_DIR: '/nonexistent' }, { userHome: dir })), [])
})

t.test('end to end: both OpenClaw stores recorded, reported as openclaw', async (t) => {
  const dir = t.testdir({})
  const s = state(dir)
  fs.mkdirSync(path.join(dir, 'home'))
  const env = isolatedEnv(dir, { OPENCLAW_DIR: s, USAGE_LEDGER_DEVICE_ID: 'c'.repeat(32) })
  const args = ['record', '--no-push', '--json', '--source', 'openclaw', '--source', 'openclaw-db']
  const first = await cli(args, { env })
  t.equal(first.code, 0, first.stderr)
  const appended = JSON.parse(first.stdout).appended
  t.equal(appended, ALL.openclaw.totals.records + EXP.totals.records - 2, 'B1 and B2 once')
  t.equal(JSON.parse((await cli(args, { env })).stdout).appended, 0)
  const r = await cli(['report', 'daily', '--json', '--tz', 'UTC', '--source', 'openclaw'], { env })
  t.equal(r.code, 0, r.stderr)
  const rows = JSON.parse(r.stdout).rows as Array<Record<string, unknown>>
  const days: Record<string, Totals> = Object.fromEntries(rows.map((row) => [row.period as string, pick(row)]))
  t.same(days, EXP.extras.withOpenclaw.days)
})
