// The database kind (DESIGN §5): read-only, complete (rows still only in the -wal are read while
// another process holds the database open and keeps writing), never blocking or checkpointing the
// writer, and not opened at all while the file and its -wal are unchanged.
import t from 'tap'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { createRequire } from 'node:module'
import { fakeEnv } from '../helpers/env.js'
import { openDatabase } from '../../lib/collect/sqlite.js'
import { collectFiles } from '../../lib/collect/files.js'
import { Batch, type DatabaseSource, type SourceCursors } from '../../lib/collect/types.js'
import { recordId } from '../../lib/ledger/record.js'

const Sqlite = createRequire(import.meta.url)('better-sqlite3')

// The agent: a separate process that keeps the database open in WAL mode with checkpoints off,
// writes `initial` rows, says "ready", then inserts a row every few milliseconds and prints how
// many it has written whenever asked (a line on stdin).
const WRITER = `
const Database = require(process.argv[1])
const db = new Database(process.argv[2])
db.pragma('journal_mode = WAL')
db.pragma('wal_autocheckpoint = 0')
db.exec('CREATE TABLE IF NOT EXISTS message (id TEXT PRIMARY KEY, tokens INTEGER NOT NULL)')
const insert = db.prepare('INSERT INTO message VALUES (?, ?)')
let n = 0
db.transaction(() => { for (; n < Number(process.argv[3]); n++) insert.run('m' + n, n) })()
console.log('ready ' + n)
setInterval(() => { insert.run('m' + n, n); n++ }, 2)
process.stdin.on('data', () => console.log('written ' + n))
`

async function startWriter(dbPath: string, initial: number) {
  const child = spawn(
    process.execPath,
    ['-e', WRITER, createRequire(import.meta.url).resolve('better-sqlite3'), dbPath, String(initial)],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  )
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]()
  const next = async () => String((await lines.next()).value)
  const ready = await next()
  return {
    ready,
    async written(): Promise<number> {
      child.stdin!.write('?\n')
      return Number((await next()).split(' ')[1])
    },
    stop() {
      child.kill('SIGKILL')
    },
  }
}

t.test('rows only in the -wal are read while another process writes', async (t) => {
  const dir = t.testdir({})
  const file = path.join(dir, 'agent.db')
  const writer = await startWriter(file, 500)
  t.teardown(() => writer.stop())
  t.equal(writer.ready, 'ready 500')
  const mainBefore = fs.readFileSync(file)

  // The main file holds no row yet: a copy of it without its -wal has an empty table.
  const copy = path.join(dir, 'main-only.db')
  fs.writeFileSync(copy, mainBefore)
  const bare = new Sqlite(copy, { readonly: true })
  t.equal(
    bare.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'message'").get().n,
    0,
    'neither the table nor any row has reached the main file',
  )
  bare.close()

  const db = openDatabase(file)
  const rows = db.all('SELECT id, tokens FROM message ORDER BY rowid')
  db.close()
  const after = await writer.written()
  t.ok(rows.length >= 500, `read ${rows.length} rows, all from the -wal`)
  t.ok(rows.length <= after, 'no row the writer has not written')
  t.same(rows.slice(0, 3), [
    { id: 'm0', tokens: 0 },
    { id: 'm1', tokens: 1 },
    { id: 'm2', tokens: 2 },
  ])
  t.same(
    rows.map((r) => r.tokens),
    rows.map((_, i) => i),
    'every committed row in order, none torn',
  )

  // The writer was never blocked: it goes on writing after our read and close.
  const later = await new Promise<number>((resolve) => setTimeout(() => resolve(writer.written()), 100))
  t.ok(later > after, `the writer went on (${after} → ${later} rows)`)
  t.same(fs.readFileSync(file), mainBefore, 'no checkpoint: the main file is byte for byte the same')
  t.ok(fs.existsSync(`${file}-wal`), 'the -wal is still there')
  t.notOk(fs.existsSync(`${file}-journal`), 'no rollback journal was made')

  // A second read sees the rows written since.
  const again = openDatabase(file)
  const n = again.all('SELECT count(*) AS n FROM message')[0]!.n as number
  again.close()
  t.ok(n >= later, `a later read sees the later rows (${n} ≥ ${later})`)
})

t.test('a database left with a -wal by a killed agent is read whole and left as it was', async (t) => {
  const dir = t.testdir({})
  const file = path.join(dir, 'agent.db')
  const writer = await startWriter(file, 40)
  const written = await writer.written()
  writer.stop()
  await new Promise((r) => setTimeout(r, 50))
  const wal = fs.readFileSync(`${file}-wal`)
  const db = openDatabase(file)
  const n = db.all('SELECT count(*) AS n FROM message')[0]!.n as number
  db.close()
  t.ok(n >= written && n >= 40, `every committed row (${n})`)
  t.same(fs.readFileSync(`${file}-wal`), wal, 'the -wal is untouched: a read-only reader never checkpoints')
})

t.test('openDatabase refuses what is not a database', async (t) => {
  const dir = t.testdir({ 'not.db': 'this is not SQLite, just text long enough to have a header' })
  t.throws(() => openDatabase(path.join(dir, 'not.db')))
  t.throws(() => openDatabase(path.join(dir, 'missing.db')), 'a missing file is not created')
  t.notOk(fs.existsSync(path.join(dir, 'missing.db')))
})

t.test('columns: a table the schema lacks has none', async (t) => {
  const dir = t.testdir({})
  const file = path.join(dir, 'x.db')
  const w = new Sqlite(file)
  w.exec('CREATE TABLE message (id TEXT, data TEXT)')
  w.close()
  const db = openDatabase(file)
  t.same([...db.columns('message')], ['id', 'data'])
  t.same([...db.columns('session_v2')], [])
  db.close()
})

// A source of the database kind that counts its opens and reads rows after its ctx (a rowid).
function countingSource(dir: string) {
  const opened: number[] = []
  const source: DatabaseSource = {
    name: 'fakedb',
    title: 'a fake database source',
    kind: 'database',
    envVar: 'FAKEDB_DIR',
    looksIn: () => [dir],
    discover: () => [{ path: path.join(dir, 'agent.db'), root: dir }],
    database(db, _file, ctx, batch) {
      const after = typeof ctx === 'number' ? ctx : 0
      opened.push(after)
      let last = after
      for (const r of db.iterate('SELECT rowid, id, tokens FROM message WHERE rowid > ? ORDER BY rowid', after)) {
        batch.add({
          v: 1,
          id: recordId('fakedb', String(r.id)),
          ts: '2026-11-22T10:00:00.000Z',
          source: 'fakedb',
          model: 'm',
          input: r.tokens as number,
          output: 0,
          cacheWrite: 0,
          cacheRead: 0,
        })
        last = r.rowid as number
      }
      return last
    },
  }
  return { source, opened }
}

t.test('collectFiles with a database: unchanged file and -wal are not opened; a changed -wal is read on', async (t) => {
  const dir = t.testdir({})
  const file = path.join(dir, 'agent.db')
  const agent = new Sqlite(file)
  agent.pragma('journal_mode = WAL')
  agent.pragma('wal_autocheckpoint = 0')
  agent.exec('CREATE TABLE message (id TEXT PRIMARY KEY, tokens INTEGER)')
  const insert = agent.prepare('INSERT INTO message VALUES (?, ?)')
  for (let i = 1; i <= 3; i++) insert.run(`m${i}`, i * 10)
  t.teardown(() => agent.close())

  const { source, opened } = countingSource(dir)
  const env = fakeEnv({})
  const run = (cursors: SourceCursors) => {
    const batch = new Batch()
    const r = collectFiles(env, source, cursors, batch, '')
    return { ...r, records: batch.records() }
  }
  const first = run({})
  t.same(
    first.records.map((r) => r.input),
    [10, 20, 30],
  )
  t.equal(first.cursors[file]!.ctx, 3)
  t.ok(first.cursors[file]!.wal && first.cursors[file]!.wal.size > 0, 'the cursor keeps the -wal it read')

  const second = run(first.cursors)
  t.same(second.records, [], 'nothing new')
  t.same(second.stats, { files: 1, unchanged: 1, read: 0, bytes: 0 })
  t.same(opened, [0], 'not opened while the file and its -wal are unchanged')

  // The agent writes a row: only the -wal changes, and the read goes on from the cursor's ctx.
  insert.run('m4', 40)
  const third = run(second.cursors)
  t.same(
    third.records.map((r) => r.input),
    [40],
  )
  t.same(opened, [0, 3])

  // A checkpoint moves the rows into the file: changed, read from the ctx, nothing doubled.
  agent.pragma('wal_checkpoint(TRUNCATE)')
  const fourth = run(third.cursors)
  t.same(fourth.records, [])
  t.equal(fourth.cursors[file]!.ctx, 4)
})

t.test('collectFiles with a database that is not one: counted, its cursor kept, read again next run', async (t) => {
  const dir = t.testdir({ 'agent.db': 'garbage that is not a database at all, sixteen+ bytes' })
  const { source } = countingSource(dir)
  const batch = new Batch()
  const r = collectFiles(fakeEnv({}), source, {}, batch, '')
  t.equal(batch.malformed, 1)
  t.same(r.cursors, {}, 'no cursor: the next run tries again')
})

t.test('collectFiles with a WAL database the agent closed: the empty -wal our open leaves is no change', async (t) => {
  const dir = t.testdir({})
  const file = path.join(dir, 'agent.db')
  const agent = new Sqlite(file)
  agent.pragma('journal_mode = WAL')
  agent.exec('CREATE TABLE message (id TEXT PRIMARY KEY, tokens INTEGER)')
  agent.prepare('INSERT INTO message VALUES (?, ?)').run('m1', 10)
  agent.close()
  t.notOk(fs.existsSync(`${file}-wal`), 'the last connection checkpointed and removed its -wal')
  const { source, opened } = countingSource(dir)
  const run = (cursors: SourceCursors) => collectFiles(fakeEnv({}), source, cursors, new Batch(), '')
  const first = run({})
  t.equal(fs.statSync(`${file}-wal`).size, 0, 'a read-only open of a WAL database leaves an empty -wal')
  const second = run(first.cursors)
  t.same([second.stats.unchanged, opened], [1, [0]], 'not opened again')
})
