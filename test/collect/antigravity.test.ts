// Google Antigravity's conversation databases (docs/sources.md "antigravity"): the fixture totals,
// ids that survive a re-read, incremental reads of changed databases (a row inserted, a step
// filled in place, rows still only in the -wal), malformed blobs, the places looked in and the CLI.
import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { createRequire } from 'node:module'
import { fakeEnv } from '../helpers/env.js'
import { byTs, collectOnce, copyFixture, hash16, recordIdOf, sameSumsAsExpected } from '../helpers/collect.js'
import { cli, FIXTURES, isolatedEnv, pick } from '../helpers/cli.js'
import {
  CONVERSATION_A,
  CONVERSATION_B,
  CONVERSATION_C,
  fixtureFiles,
  genBlob,
  stepBlob,
} from '../helpers/antigravity-fixture.js'
import { fBytes, fVarint, msg } from '../helpers/protobuf-encode.js'
import { canonicalLine, validateRecord } from '../../lib/ledger/record.js'
import {
  antigravity,
  callTokens,
  modelFromId,
  normaliseModel,
  readGenMetadata,
  type Usage,
} from '../../lib/collect/antigravity/index.js'

const Sqlite = createRequire(import.meta.url)('better-sqlite3')
const EXP = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'expected.json'), 'utf8')).antigravity
const A = `conversations/${CONVERSATION_A}.db`
const B = `conversations/${CONVERSATION_B}.db`
const C = `conversations/subagents/${CONVERSATION_C}.db`

/** Builds every `<name>.sql` under `dir` into `<name>`, as scripts/fixtures.mjs does. */
function build(dir: string): void {
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile() || !e.name.endsWith('.sql')) continue
    const sql = path.join(e.parentPath, e.name)
    const target = sql.slice(0, -4)
    fs.rmSync(target, { force: true })
    const db = new Sqlite(target)
    db.exec(fs.readFileSync(sql, 'utf8'))
    db.close()
  }
}

/** A fresh copy of fixtures/antigravity with its databases built. */
function home(root: string, name = 'antigravity'): string {
  const dir = copyFixture(root, 'antigravity', name)
  build(dir)
  return dir
}

const run = (dir: string, cursors = {}) =>
  collectOnce(fakeEnv({ ANTIGRAVITY_DATA_DIR: dir }, { userHome: '/nonexistent' }), antigravity, cursors)

t.test('the committed .sql is what test/helpers/antigravity-fixture.ts writes', async (t) => {
  const files = fixtureFiles()
  for (const [rel, sql] of Object.entries(files)) {
    const p = path.join(FIXTURES, 'antigravity', rel)
    if (process.env.UPDATE_FIXTURES === '1') {
      fs.mkdirSync(path.dirname(p), { recursive: true })
      fs.writeFileSync(p, sql)
    }
    t.equal(fs.readFileSync(p, 'utf8'), sql, `${rel} (UPDATE_FIXTURES=1 rewrites it)`)
  }
})

t.test('full read of fixtures/antigravity matches expected.json', async (t) => {
  const dir = home(t.testdir({}))
  const { records, batch, stats } = run(dir)
  sameSumsAsExpected(t, records, EXP)
  t.equal(stats.files, 3, 'the two conversations and the sub-conversation')
  t.equal(stats.malformed, 0)
  t.equal(batch.duplicates, EXP.extras.foldedCopies, 'step and gen copies, the retry copy, the sub-conversation copy')
  const sorted = records.sort(byTs)
  t.same(
    sorted.map((r) => [r.ts, r.model, r.input, r.output, r.cacheWrite, r.cacheRead, r.reasoning ?? 0]),
    [
      ['2026-11-16T09:14:03.000Z', 'gemini-3-pro', 4050, 375, 0, 16275, 351],
      ['2026-11-16T09:20:39.500Z', 'gemini-3-pro', 2200, 610, 1800, 20100, 0],
      ['2026-11-16T09:20:39.500Z', 'gemini-3-pro', 2150, 0, 0, 0, 0],
      ['2026-11-16T23:58:41.250Z', 'gemini-3.6-flash-high', 3100, 110, 0, 1024, 30],
      ['2026-11-17T00:04:10.004Z', 'gemini-3-pro', 1500, 420, 0, 18000, 0],
      ['2026-11-17T00:05:02.700Z', 'gemini-3-pro', 900, 264, 0, 0, 64],
      ['2026-11-17T00:06:00.000Z', 'gemini-3-pro', 100, 10, 0, 0, 0],
      ['2026-11-17T14:29:55.000Z', 'gemini-3.6-flash-high', 800, 60, 0, 0, 0],
      ['2026-11-17T14:30:12.731Z', 'gemini-3.6-flash-high', 5200, 140, 0, 12288, 100],
      ['2026-11-18T10:00:50.777Z', 'claude-opus-4-6', 6000, 900, 4096, 0, 300],
      ['2026-11-18T10:01:35.480Z', 'gemini-3.6-flash', 7000, 300, 2048, 30000, 0],
    ],
    'the earliest copy of a call dates it; output holds the thinking',
  )
  for (const r of records) t.notOk('costUSD' in r || 'project' in r, 'no cost and no project in the databases')
})

t.test('ids: the response id, else the provider or message id, else the place; sessions hashed', async (t) => {
  const dir = home(t.testdir({}))
  const { records, batch } = run(dir)
  const ids = new Set(records.map((r) => r.id))
  for (const key of [
    'response:resp-a1',
    'response:resp-a2',
    'response:resp-a2-failed',
    'response:resp-a3',
    'response:resp-a4',
    'provider:req_a6',
    `${CONVERSATION_A}:steps:7:0`,
    'response:resp-b1',
    'response:resp-b2',
    'response:resp-b3',
    'response:resp-c1',
  ])
    t.ok(ids.has(recordIdOf('antigravity', key)), key)
  const b3 = records.find((r) => r.id === recordIdOf('antigravity', 'response:resp-b3'))!
  t.equal(b3.session, hash16(CONVERSATION_B), 'the session is the conversation id, hashed')
  t.equal(batch.sessionIds.get(hash16(CONVERSATION_B)), CONVERSATION_B, 'its name stays on this machine')
  const c1 = records.find((r) => r.id === recordIdOf('antigravity', 'response:resp-c1'))!
  t.equal(c1.session, hash16(CONVERSATION_C), 'a sub-conversation is its own session')
  const text = JSON.stringify(records)
  for (const raw of [CONVERSATION_A.slice(0, 8), 'resp-', 'req_a', '/home/ana'])
    t.notOk(text.includes(raw), `no raw ${raw}`)

  // Each database alone: the copies carry the same ids, so reading them in any order folds them.
  const only = (rel: string) => {
    const d = path.join(dir, `only-${path.basename(rel)}`)
    fs.mkdirSync(path.join(d, 'conversations'), { recursive: true })
    fs.copyFileSync(path.join(dir, rel), path.join(d, 'conversations', path.basename(rel)))
    return run(d).records
  }
  const a = only(A)
  const c = only(C)
  const shared = a.find((r) => r.id === recordIdOf('antigravity', 'response:resp-a2'))!
  const copy = c.find((r) => r.id === shared.id)!
  t.same([copy.input, copy.output, copy.cacheWrite, copy.cacheRead], [2200, 610, 1800, 20100], 'the copy in C')
  t.equal(a.length + c.length - 1, 8, 'A and C together: one call in common')
})

t.test('re-reading adds nothing; an inserted row and a step filled in place are read once', async (t) => {
  const dir = home(t.testdir({}))
  const first = run(dir)
  const again = run(dir, first.cursors)
  t.same(again.records, [], 'with the cursors: nothing read')
  t.equal(again.stats.unchanged, 3)
  t.same(
    run(dir)
      .records.map((r) => r.id)
      .sort(),
    first.records.map((r) => r.id).sort(),
    'without them: the same ids',
  )

  const db = new Sqlite(path.join(dir, B))
  const blob = genBlob({
    ts: '2026-11-18T11:00:00.000Z',
    usage: { input: 10, output: 5, visible: 5, response: 'resp-b4' },
  })
  db.prepare('INSERT INTO gen_metadata (idx, data, size) VALUES (3, ?, ?)').run(blob, blob.length)
  db.close()
  // A changed database is read whole; what the ledger already holds comes again under the same
  // ids with the same counts, and the writer's known ids fold it (DESIGN §4).
  const known = new Map(first.records.map((r) => [r.id, JSON.stringify(r)]))
  const fresh = (records: typeof first.records) => {
    for (const r of records)
      if (known.has(r.id)) t.equal(JSON.stringify(r), known.get(r.id), 'a re-read call is unchanged')
    const out = records.filter((r) => !known.has(r.id))
    for (const r of out) known.set(r.id, JSON.stringify(r))
    return out
  }
  const inserted = run(dir, first.cursors)
  t.same(
    fresh(inserted.records).map((r) => [r.id, r.ts, r.model, r.input, r.output]),
    [[recordIdOf('antigravity', 'response:resp-b4'), '2026-11-18T11:00:00.000Z', 'claude-opus-4-6', 10, 5]],
    "the new generation, under the model named last (B's placeholder)",
  )
  t.equal(inserted.batch.duplicates, 0)
  t.equal(inserted.stats.read, 1, 'only the changed database is read')

  // The running step of A completes: its metadata is written in place.
  const a = new Sqlite(path.join(dir, A))
  a.prepare('UPDATE steps SET status = 3, metadata = ? WHERE idx = 8').run(
    stepBlob({ ts: '2026-11-17T00:07:00.000Z', usage: { input: 70, output: 7, response: 'resp-a8' } }),
  )
  a.close()
  const filled = run(dir, inserted.cursors)
  t.same(
    fresh(filled.records).map((r) => [r.id, r.ts, r.input, r.output]),
    [[recordIdOf('antigravity', 'response:resp-a8'), '2026-11-17T00:07:00.000Z', 70, 7]],
  )
  t.equal(filled.stats.read, 1, 'only A was read')

  // A step whose counts grow in place (a streamed answer completing) keeps its id and grows.
  const a2 = new Sqlite(path.join(dir, A))
  a2.prepare('UPDATE steps SET metadata = ? WHERE idx = 8').run(
    stepBlob({ ts: '2026-11-17T00:07:00.000Z', usage: { input: 70, output: 70, response: 'resp-a8' } }),
  )
  a2.close()
  const grown = run(dir, filled.cursors).records.find((r) => r.id === recordIdOf('antigravity', 'response:resp-a8'))
  t.same(grown && [grown.input, grown.output], [70, 70], 'the same id with the larger total: it replaces the smaller')
})

t.test('rows only in the -wal are read while the agent holds the database open', async (t) => {
  const dir = home(t.testdir({}))
  const file = path.join(dir, B)
  const agent = new Sqlite(file)
  agent.pragma('journal_mode = WAL')
  agent.pragma('wal_autocheckpoint = 0')
  t.teardown(() => agent.close())
  const first = run(dir)
  const main = fs.readFileSync(file)
  const blob = genBlob({ ts: '2026-11-18T12:00:00.000Z', usage: { input: 31, output: 3, response: 'resp-wal' } })
  agent.prepare('INSERT INTO gen_metadata (idx, data, size) VALUES (9, ?, ?)').run(blob, blob.length)
  t.same(fs.readFileSync(file), main, 'the row is only in the -wal')
  const next = run(dir, first.cursors)
  const wal = next.records.find((r) => r.id === recordIdOf('antigravity', 'response:resp-wal'))
  t.same(wal && [wal.ts, wal.input, wal.output], ['2026-11-18T12:00:00.000Z', 31, 3])
  t.same(fs.readFileSync(file), main, 'read without a checkpoint')
  t.ok(fs.existsSync(`${file}-wal`), 'the -wal is still there')
  t.equal(run(dir, next.cursors).records.length, 0, 'unchanged file and -wal: not read again')
})

t.test('malformed blobs are counted and skipped; the rest of the database is read', async (t) => {
  const dir = home(t.testdir({}))
  const db = new Sqlite(path.join(dir, A))
  const good = stepBlob({ ts: '2026-11-17T01:00:00.000Z', usage: { input: 5, output: 1, response: 'resp-ok' } })
  db.prepare('INSERT INTO steps (idx, step_type, status, metadata) VALUES (?, 15, 3, ?)').run(
    20,
    good.subarray(0, good.length - 3),
  )
  db.prepare('INSERT INTO steps (idx, step_type, status, metadata) VALUES (?, 15, 3, ?)').run(
    21,
    Buffer.from('not protobuf at all'),
  )
  db.prepare('INSERT INTO steps (idx, step_type, status, metadata) VALUES (?, 15, 3, ?)').run(22, good)
  db.prepare('INSERT INTO gen_metadata (idx, data, size) VALUES (?, ?, 3)').run(9, msg(fVarint(2, 1)))
  db.prepare('INSERT INTO steps (idx, step_type, status, metadata) VALUES (?, 15, 3, ?)').run(23, 'a text, not a blob')
  // A call with no time at all in a conversation without one: never dated by the file's mtime.
  db.prepare('DELETE FROM trajectory_metadata_blob').run()
  db.prepare('INSERT INTO gen_metadata (idx, data, size) VALUES (?, ?, 3)').run(
    10,
    genBlob({ usage: { input: 1, response: 'resp-undated' } }),
  )
  db.close()
  const r = run(dir)
  t.equal(r.stats.malformed, 5, 'a truncated blob, garbage, a gen blob without field 1, a text, an undated call')
  t.equal(r.records.length, EXP.totals.records + 1, 'every other call, and the good row after the bad ones')
  t.ok(r.records.some((x) => x.id === recordIdOf('antigravity', 'response:resp-ok')))
})

t.test('databases that are not conversations, and a schema this version does not know', async (t) => {
  const dir = t.testdir({ conversations: { 'empty.db': '' } })
  const other = new Sqlite(path.join(dir, 'conversations', 'other.db'))
  other.exec('CREATE TABLE kv (k TEXT, v BLOB)')
  other.close()
  const r = run(dir)
  t.same([r.records.length, r.stats.malformed, r.stats.read], [0, 0, 2], 'an empty file and another database: nothing')

  const bad = new Sqlite(path.join(dir, 'conversations', 'new.db'))
  bad.exec('CREATE TABLE gen_metadata (id INTEGER PRIMARY KEY, payload BLOB)')
  bad.close()
  const r2 = run(dir, r.cursors)
  t.equal(r2.stats.malformed, 1, 'an unknown schema is counted…')
  t.notOk(r2.cursors.antigravity![path.join(dir, 'conversations', 'new.db')], '…and the database read again next run')
})

t.test('places: the variable replaces the defaults; the defaults per OS', async (t) => {
  const root = t.testdir({})
  const a = home(root, 'a')
  const b = path.join(root, 'b')
  fs.mkdirSync(b)
  fs.copyFileSync(path.join(a, C), path.join(b, 'loose.db'))
  const env = fakeEnv({ ANTIGRAVITY_DATA_DIR: `${a}, ${b}` }, { userHome: root })
  t.same(antigravity.looksIn(env), [path.join(a, 'conversations'), path.join(b, 'conversations')])
  t.equal(collectOnce(env, antigravity).records.length, EXP.totals.records, "b's database (a copy of C) folds into a's")
  t.equal(collectOnce(env, antigravity).stats.files, 4, 'a database in the root itself is read too')

  const gemini = ['antigravity', 'antigravity-cli', 'antigravity-ide', 'Antigravity', 'antigravity-backup'].map(
    (d) => `/home/ana/.gemini/${d}/conversations`,
  )
  const config = ['antigravity', 'Antigravity', 'Antigravity IDE'].map((d) => `/home/ana/.config/${d}/conversations`)
  t.same(antigravity.looksIn(fakeEnv({}, { userHome: '/home/ana' })), [...gemini, ...config], 'Linux')
  const mac = fakeEnv({}, { userHome: '/home/ana' })
  mac.platform = 'darwin'
  t.same(
    antigravity.looksIn(mac).slice(8),
    [
      '/home/ana/Library/Application Support/Antigravity/conversations',
      '/home/ana/Library/Application Support/Antigravity IDE/conversations',
    ],
    'macOS: and Application Support',
  )
  const win = fakeEnv({ APPDATA: '/appdata' }, { userHome: '/home/ana' })
  win.platform = 'win32'
  t.same(
    antigravity.looksIn(win).slice(8),
    ['/appdata/Antigravity/conversations', '/appdata/Antigravity IDE/conversations'],
    'Windows: and %APPDATA%',
  )

  // The default place under a home: ~/.gemini/antigravity-cli, the CLI's.
  const h = path.join(root, 'h')
  fs.cpSync(a, path.join(h, '.gemini', 'antigravity-cli'), { recursive: true })
  const d = collectOnce(fakeEnv({}, { userHome: h }), antigravity)
  t.equal(d.records.length, EXP.totals.records, 'found without the variable')
  t.equal(
    collectOnce(fakeEnv({ ANTIGRAVITY_DATA_DIR: b }, { userHome: h }), antigravity).records.length,
    2,
    'the variable replaces them',
  )
})

t.test('token and model rules', async (t) => {
  const u = (o: Partial<Usage>): Usage => ({
    input: 0,
    output: 0,
    cacheWrite: 0,
    cacheRead: 0,
    thinking: 0,
    visible: 0,
    ...o,
  })
  t.same(callTokens(u({ output: 375, thinking: 351, visible: 24 })), {
    input: 0,
    output: 375,
    cacheWrite: 0,
    cacheRead: 0,
    reasoning: 351,
  })
  t.same(
    callTokens(u({ thinking: 64, visible: 200 })),
    { input: 0, output: 264, cacheWrite: 0, cacheRead: 0, reasoning: 64 },
    'no field 3',
  )
  t.same(callTokens(u({ output: 100, thinking: 30, visible: 80 })).output, 110, 'a total below its parts: the parts')
  t.same(callTokens(u({ output: 420 })).reasoning, 0)
  t.equal(normaliseModel('Gemini 3 Pro (High)'), 'gemini-3-pro')
  t.equal(normaliseModel('Gemini 3.6 Flash (High)'), 'gemini-3.6-flash-high')
  t.equal(normaliseModel('gemini-3-flash-agent'), 'gemini-3.5-flash-high')
  t.equal(normaliseModel('MODEL_PLACEHOLDER_M26'), 'claude-opus-4-6')
  t.equal(normaliseModel('Claude Sonnet 4.5 (Thinking)'), 'claude-sonnet-4.5')
  t.equal(normaliseModel('GPT-OSS 120B (Medium)'), 'gpt-oss-120b')
  t.equal(normaliseModel('Mystery'), 'Mystery', 'anything else as written')
  t.equal(normaliseModel('  '), undefined)
  t.equal(normaliseModel('constructor'), 'constructor', 'not a property of the table')
  t.equal(modelFromId(1071), 'gemini-3.6-flash-high')
  t.equal(modelFromId(1026), 'model_placeholder_m26')
  t.equal(modelFromId(7), 'antigravity-model-7')
  const g = readGenMetadata(
    msg(fBytes(1, fBytes(21, 'Gemini 3 Pro (High)'), fBytes(19, 'gemini-3-pro-high')), fBytes(3, 'x')),
  )
  t.equal(g.model, 'gemini-3-pro-high', 'field 19 before 21')
  t.throws(() => readGenMetadata(msg(fBytes(3, 'x'))), 'no field 1: not a generation')
})

t.test('record then report through the CLI', async (t) => {
  const dir = t.testdir({})
  const data = home(dir)
  const env = isolatedEnv(dir, { USAGE_LEDGER_DEVICE_ID: 'b'.repeat(32), ANTIGRAVITY_DATA_DIR: data })
  const rec = await cli(['record', '--no-push', '--source', 'antigravity'], { env })
  t.equal(rec.code, 0, rec.stderr)
  const r = await cli(['report', 'daily', '--json', '--tz', 'UTC', '--source', 'antigravity'], { env })
  t.equal(r.code, 0, r.stderr)
  const rows = (JSON.parse(r.stdout) as { rows: Array<Record<string, unknown>> }).rows
  t.same(Object.fromEntries(rows.map((row) => [row.period, pick(row)])), EXP.days)
  const again = await cli(['record', '--no-push', '--source', 'antigravity'], { env })
  t.equal(again.code, 0)
  const r2 = await cli(['report', 'daily', '--json', '--tz', 'UTC', '--source', 'antigravity'], { env })
  t.same(JSON.parse(r2.stdout).totals, JSON.parse(r.stdout).totals, 'a second record adds nothing')
})

t.test('blobs with random bytes changed: never a throw, every record valid schema v1', async (t) => {
  const root = t.testdir({})
  let seed = 20261122
  const next = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31
    return seed / 2 ** 31
  }
  let malformed = 0
  for (let round = 0; round < 20; round++) {
    const dir = home(root, `r${round}`)
    for (const rel of [A, B, C]) {
      const db = new Sqlite(path.join(dir, rel))
      for (const [table, col] of [
        ['steps', 'metadata'],
        ['gen_metadata', 'data'],
        ['trajectory_metadata_blob', 'data'],
      ] as const) {
        for (const row of db.prepare(`SELECT rowid, ${col} AS b FROM ${table} WHERE ${col} IS NOT NULL`).all()) {
          const b = Buffer.from(row.b as Buffer)
          for (let k = 0; k < 3; k++) b[Math.floor(next() * b.length)] = Math.floor(next() * 256)
          db.prepare(`UPDATE ${table} SET ${col} = ? WHERE rowid = ?`).run(
            next() < 0.2 ? b.subarray(0, Math.floor(next() * b.length)) : b,
            row.rowid,
          )
        }
      }
      db.close()
    }
    const r = run(dir)
    malformed += r.stats.malformed
    for (const { copy: _copy, ...rec } of r.records) {
      const problems = validateRecord(JSON.parse(canonicalLine(rec)))
      if (problems.length) t.fail(`round ${round}: ${problems.join('; ')} in ${canonicalLine(rec)}`)
    }
  }
  t.ok(malformed > 0, `${malformed} blobs counted malformed over 20 rounds`)
})

// The agent as another process: it holds B open in WAL mode with checkpoints off, writes `initial`
// generations, says "ready", then writes one more every few milliseconds and says how many it has
// written whenever asked.
const WRITER = `
const Database = require(process.argv[1])
const blobs = require(process.argv[3])
const db = new Database(process.argv[2])
db.pragma('journal_mode = WAL')
db.pragma('wal_autocheckpoint = 0')
const insert = db.prepare('INSERT INTO gen_metadata (idx, data, size) VALUES (?, ?, ?)')
let n = 0
const one = () => { const b = Buffer.from(blobs[n], 'hex'); insert.run(100 + n, b, b.length); n++ }
db.transaction(() => { while (n < Number(process.argv[4])) one() })()
console.log('ready ' + n)
setInterval(() => { if (n < blobs.length) one() }, 2)
process.stdin.on('data', () => console.log('written ' + n))
`

t.test('read while another process holds the database open in WAL mode and keeps writing', async (t) => {
  const { spawn } = await import('node:child_process')
  const { createInterface } = await import('node:readline')
  const dir = home(t.testdir({}))
  const file = path.join(dir, B)
  const blobs = Array.from({ length: 3000 }, (_, n) =>
    genBlob({ ts: '2026-11-19T08:00:00.000Z', usage: { input: 1, output: 1, response: `w${n}` } }).toString('hex'),
  )
  const blobsFile = path.join(dir, 'blobs.json')
  fs.writeFileSync(blobsFile, JSON.stringify(blobs))
  const first = run(dir)
  const child = spawn(
    process.execPath,
    ['-e', WRITER, createRequire(import.meta.url).resolve('better-sqlite3'), file, blobsFile, '200'],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  )
  t.teardown(() => child.kill('SIGKILL'))
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]()
  const next = async () => String((await lines.next()).value)
  t.equal(await next(), 'ready 200')
  const main = fs.readFileSync(file)
  const during = run(dir, first.cursors)
  child.stdin!.write('?\n')
  const written = Number((await next()).split(' ')[1])
  const ws = during.records.filter((r) => r.ts === '2026-11-19T08:00:00.000Z')
  t.ok(
    ws.length >= 200 && ws.length <= written,
    `${ws.length} generations read, all from the -wal (200 ≤ n ≤ ${written})`,
  )
  t.same(
    new Set(ws.map((r) => r.id)),
    new Set(Array.from({ length: ws.length }, (_, n) => recordIdOf('antigravity', `response:w${n}`))),
    'every committed row, in order, none torn',
  )
  await new Promise((r) => setTimeout(r, 100))
  child.stdin!.write('?\n')
  const later = Number((await next()).split(' ')[1])
  t.ok(later > written, `the writer was never blocked (${written} → ${later})`)
  t.same(fs.readFileSync(file), main, 'no checkpoint: the main file is byte for byte the same')
  const after = run(dir, during.cursors)
  t.ok(
    after.records.filter((r) => r.ts === '2026-11-19T08:00:00.000Z').length >= later,
    'the next run reads what was written since',
  )
})
