import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { createRequire } from 'node:module'
import { fakeEnv } from '../helpers/env.js'
import { collectOnce, copyFixture, hash16, recordIdOf, sameSumsAsExpected } from '../helpers/collect.js'
import { cli, FIXTURES, isolatedEnv, pick } from '../helpers/cli.js'
import { kilo } from '../../lib/collect/kilo/index.js'

const Sqlite = createRequire(import.meta.url)('better-sqlite3')
const EXP = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'expected.json'), 'utf8')).kilo
const SK = 'ses_e06f52f4fffedGlMoiyrlfxX1r'

/** A fresh home of the fixture with kilo.db built from its SQL. */
function home(root: string): string {
  const dir = copyFixture(root, 'kilo')
  const db = path.join(dir, 'kilo.db')
  fs.rmSync(db, { force: true })
  const w = new Sqlite(db)
  w.exec(fs.readFileSync(path.join(dir, 'kilo.db.sql'), 'utf8'))
  w.close()
  return dir
}

t.test('full read of fixtures/kilo matches expected.json', async (t) => {
  const dir = home(t.testdir({}))
  const { records, stats, cursors } = collectOnce(fakeEnv({ KILO_DATA_DIR: dir }), kilo)
  sameSumsAsExpected(t, records, EXP)
  t.equal(stats.files, 1)
  t.equal(stats.malformed, EXP.malformedLines, 'the cut-off row')
  for (const e of EXP.records) {
    const r = records.find((x) => x.ts === e.ts)!
    const id = /(msg_[A-Za-z0-9]+)/.exec(e.where)![1]!
    t.equal(r.id, recordIdOf('kilo', id), `${e.label}: id from the message id, under kilo`)
    t.equal(r.source, 'kilo')
    t.equal(r.session, hash16(SK))
    t.equal(r.project, hash16('/home/ana/src/api'))
    t.equal(r.reasoning, e.reasoning)
    t.equal(r.costUSD, e.costUSD, `${e.label}: a stored cost of 0 is no cost`)
  }
  const again = collectOnce(fakeEnv({ KILO_DATA_DIR: dir }), kilo, cursors)
  t.same([again.records.length, again.stats.unchanged], [0, 1], 'unchanged: not opened')
})

t.test('record then report through the CLI', async (t) => {
  const dir = t.testdir({})
  const env = isolatedEnv(dir, { USAGE_LEDGER_DEVICE_ID: 'e'.repeat(32), KILO_DATA_DIR: home(dir) })
  t.equal((await cli(['record', '--no-push', '--source', 'kilo'], { env })).code, 0)
  const r = await cli(['report', 'daily', '--json', '--tz', 'UTC', '--source', 'kilo'], { env })
  t.equal(r.code, 0, r.stderr)
  const rows = (JSON.parse(r.stdout) as { rows: Array<Record<string, unknown>> }).rows
  t.same(Object.fromEntries(rows.map((row) => [row.period, pick(row)])), EXP.days)
})
