/**
 * Every file source over mutated copies of its fixtures (seeded; FAULT_SEED=… replays a run):
 * files cut short, values swapped for other JSON shapes, numbers made negative or 1e308, lines
 * truncated, keys renamed. Collecting never throws, and every record it hands to the writer is
 * valid schema v1: a count no reader accepts would make the device's branch fail every other
 * machine's checks (DESIGN §8), so such a line is malformed instead. A database is mutated in its
 * SQL (the `.sql` beside each fixture database: values, JSON inside columns, protobuf blobs as hex, the
 * script cut short) and rebuilt, so its sources read damaged rows, not a file SQLite refuses.
 */
import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { createRequire } from 'node:module'
import { fakeEnv } from '../helpers/env.js'
import { collectOnce, copyFixture } from '../helpers/collect.js'
import { rng } from '../helpers/random.js'
import { FILE_SOURCES } from '../../lib/collect/index.js'
import { canonicalLine, validateRecord } from '../../lib/ledger/record.js'

const random = rng()
t.comment(`sources fuzz seed ${random.seed} (FAULT_SEED=${random.seed} replays this run)`)
const int = (n: number) => Math.floor(random.next() * n)
const SHAPES = ['null', '[]', '1', '-1', '"x"', '{}', '{"a":null}', 'true', '1e308', '0.5']

const MUTATIONS: Array<(text: string) => string> = [
  (text) => text.slice(0, int(text.length + 1)),
  (text) =>
    text.replace(/:\s*("[^"]*"|-?\d+(\.\d+)?|true|false|null|\{\}|\[\])/g, (m) =>
      int(4) ? m : `:${SHAPES[int(SHAPES.length)]}`,
    ),
  (text) => text.replace(/\d+/g, (m) => (int(5) === 0 ? `-${m}` : int(7) === 0 ? '1e308' : m)),
  (text) =>
    text
      .split('\n')
      .map((l) => (int(3) ? l : l.slice(0, int(l.length + 1))))
      .join('\n'),
  (text) => text.replace(/"[a-zA-Z_]+":/g, (m) => (int(6) ? m : '"zz":')),
]

// Blobs written as X'..' literals (Antigravity's protobuf) are held out of the text mutations (whose
// digits they would break into SQL that no longer parses) and get their own: a digit swapped in one
// blob of three, one cut short in one of six.
function mutateSql(text: string, mutation: (text: string) => string): string {
  const blobs: string[] = []
  const held = text.replace(/X'[0-9a-fA-F]*'/g, (m) => `X'${'q'.repeat(blobs.push(m.slice(2, -1)))}'`)
  return mutation(held).replace(/X'(q+)'/g, (_m, q: string) => {
    const hex = blobs[q.length - 1]!
    const roll = int(6)
    if (roll < 2 && hex) {
      const at = int(hex.length)
      return `X'${hex.slice(0, at)}${'0123456789abcdef'[int(16)]}${hex.slice(at + 1)}'`
    }
    return roll === 2 ? `X'${hex.slice(0, int(hex.length + 1) & ~1)}'` : `X'${hex}'`
  })
}

const Sqlite = createRequire(import.meta.url)('better-sqlite3')

/** The database `<f>` built again from its mutated `<f>.sql`; a script cut short leaves what ran. */
function rebuildDatabase(sqlFile: string, mutate: (text: string) => string): void {
  const file = sqlFile.slice(0, -'.sql'.length)
  for (const f of [file, `${file}-wal`, `${file}-shm`]) fs.rmSync(f, { force: true })
  const db = new Sqlite(file)
  try {
    db.exec(mutate(fs.readFileSync(sqlFile, 'utf8')))
  } catch {
    /* a statement the mutation broke: the rows before it stay */
  } finally {
    db.close()
  }
}

t.test('mutated fixtures: no source throws, every record is valid schema v1', async (t) => {
  const root = t.testdir({})
  for (const source of FILE_SOURCES) {
    const fixture = source.name === 'claude-code' ? 'claude' : source.name === 'openclaw-db' ? 'openclaw' : source.name
    let records = 0
    let databases = 0
    for (let round = 0; round < 12; round++) {
      const dir = copyFixture(root, fixture, `${source.name}-${round}`)
      const files = fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((f) => path.join(dir, f))
      const sql = new Set(files.filter((p) => p.endsWith('.sql')))
      for (const p of files) {
        if (sql.has(p)) {
          const mutation = MUTATIONS[int(MUTATIONS.length)]!
          rebuildDatabase(p, (text) => mutateSql(text, mutation))
          if (fs.existsSync(p.slice(0, -'.sql'.length))) databases++
        } else if (!sql.has(`${p}.sql`) && fs.statSync(p).isFile())
          fs.writeFileSync(p, MUTATIONS[int(MUTATIONS.length)]!(fs.readFileSync(p, 'utf8')))
      }
      const env = fakeEnv({ [source.envVar]: dir }, { userHome: path.join(root, 'home') })
      let run: ReturnType<typeof collectOnce>
      try {
        run = collectOnce(env, source)
      } catch (e) {
        t.fail(`${source.name} round ${round} threw: ${(e as Error).message}`)
        continue
      }
      for (const { copy: _copy, ...r } of run.records) {
        const problems = validateRecord(JSON.parse(canonicalLine(r)))
        if (problems.length) t.fail(`${source.name} round ${round}: ${problems.join('; ')} in ${canonicalLine(r)}`)
      }
      records += run.records.length
    }
    // A database source that read nothing in twelve rounds was fuzzing nothing.
    if (source.kind === 'database' && databases) t.ok(records > 0, `${source.name}: mutated rows were read`)
    t.pass(`${source.name}: 12 mutated trees, ${databases} databases rebuilt, ${records} records, all valid`)
  }
})
