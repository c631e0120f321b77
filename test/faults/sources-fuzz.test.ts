/**
 * Every file source over mutated copies of its fixtures (seeded; FAULT_SEED=… replays a run):
 * files cut short, values swapped for other JSON shapes, numbers made negative or 1e308, lines
 * truncated, keys renamed. Collecting never throws, and every record it hands to the writer is
 * valid schema v1: a count no reader accepts would make the device's branch fail every other
 * machine's checks (DESIGN §8), so such a line is malformed instead.
 */
import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
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

t.test('mutated fixtures: no source throws, every record is valid schema v1', async (t) => {
  const root = t.testdir({})
  for (const source of FILE_SOURCES) {
    const fixture = source.name === 'claude-code' ? 'claude' : source.name === 'openclaw-db' ? 'openclaw' : source.name
    let records = 0
    for (let round = 0; round < 12; round++) {
      const dir = copyFixture(root, fixture, `${source.name}-${round}`)
      for (const f of fs.readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
        const p = path.join(dir, f)
        if (fs.statSync(p).isFile()) fs.writeFileSync(p, MUTATIONS[int(MUTATIONS.length)]!(fs.readFileSync(p, 'utf8')))
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
    t.pass(`${source.name}: 12 mutated trees, ${records} records, all valid`)
  }
})
