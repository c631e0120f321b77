/** The registry: every file source reads its fixtures, and every model they hold is priced. */
import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { fakeEnv } from '../helpers/env.js'
import { collectOnce, copyFixture } from '../helpers/collect.js'
import { FIXTURES } from '../helpers/cli.js'
import { FILE_SOURCES, SOURCES } from '../../lib/collect/index.js'
import { priceFor } from '../../lib/report/prices.js'

const fixtureDir = (source: string) => (source === 'claude-code' ? 'claude' : source)
const EXPECTED = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'expected.json'), 'utf8'))

t.test('every file source has fixtures, expected totals, and reads exactly those', async (t) => {
  const root = t.testdir({})
  for (const s of FILE_SOURCES) {
    t.ok(fs.existsSync(path.join(FIXTURES, fixtureDir(s.name))), `fixtures/${fixtureDir(s.name)} exists`)
    const want = EXPECTED[s.name]
    t.ok(want, `expected.json has ${s.name}`)
    const dir = copyFixture(root, fixtureDir(s.name), s.name)
    // Only this source's variable points anywhere: the others look under a home with nothing.
    const r = collectOnce(fakeEnv({ [s.envVar]: dir }, { userHome: path.join(root, 'empty-home') }), s)
    const total = r.records.reduce((n, x) => n + x.input + x.output + x.cacheWrite + x.cacheRead, 0)
    t.equal(r.records.length, want.totals.records, `${s.name}: records`)
    t.equal(total, want.totals.totalTokens, `${s.name}: total tokens`)
  }
})

t.test('every model of every fixture is priced (or the run would warn)', async (t) => {
  const root = t.testdir({})
  const models = new Map<string, string>()
  for (const s of FILE_SOURCES) {
    const dir = copyFixture(root, fixtureDir(s.name), s.name)
    const r = collectOnce(fakeEnv({ [s.envVar]: dir }, { userHome: path.join(root, 'empty-home') }), s)
    for (const x of r.records) if (!models.has(x.model)) models.set(x.model, x.ts)
  }
  const unpriced = [...models].filter(([m, ts]) => !priceFor(m, ts)).map(([m]) => m)
  t.same(unpriced, [], `all ${models.size} distinct models priced`)
  t.ok(models.size >= 25, `${models.size} distinct models across the fixtures`)
})

t.test('the registry: unique names, every variable named, stdin last', async (t) => {
  const names = SOURCES.map((s) => s.name)
  t.equal(new Set(names).size, names.length, 'names are unique')
  t.equal(names[names.length - 1], 'stdin')
  for (const s of FILE_SOURCES) {
    t.match(s.envVar, /^[A-Z][A-Z0-9_]+$/, `${s.name} names its variable`)
    t.ok(s.title, `${s.name} has a title`)
    t.ok(['lines', 'documents', 'database'].includes(s.kind), `${s.name} is of a known kind`)
    t.ok(s.looksIn(fakeEnv({}, { userHome: '/h' })).length > 0, `${s.name} says where it looks`)
  }
})
