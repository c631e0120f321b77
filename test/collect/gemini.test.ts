import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { fakeEnv } from '../helpers/env.js'
import { collectOnce, copyFixture, sumBy, sameSumsAsExpected, sha256, hash16, byTs } from '../helpers/collect.js'
import { cli, FIXTURES, isolatedEnv, pick, type Totals } from '../helpers/cli.js'
import { gemini, geminiTokens } from '../../lib/collect/gemini/index.js'
import { canonicalLine, type LedgerRecord } from '../../lib/ledger/record.js'

const EXP = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'expected.json'), 'utf8')).gemini

const H1 = '565e5d46c0953fdce5465114654ac5bcfd7c57a618b852aee54fbcdd98f0e266'
const H2 = 'cad51a9a531ab784353fee6c45057f069b8b091634034e47efd1d39dab48cb64'
const S1_JSON = 'app/chats/session-2026-11-19T09-58-a1b2c3d4.json'
const S1_JSONL = 'app/chats/session-2026-11-19T09-58-a1b2c3d4.jsonl'
const S1_HASH_JSON = `${H1}/chats/session-2026-11-19T09-58-a1b2c3d4.json`
const S3_JSON = `${H2}/chats/session-2026-11-21T16-40-e5f6a7b8.json`

const run = (dir: string, cursors = {}) => collectOnce(fakeEnv({ GEMINI_DATA_DIR: dir }), gemini, cursors)

t.test('full read of fixtures/gemini matches expected.json', async (t) => {
  const dir = copyFixture(t.testdir({}), 'gemini')
  const { records, batch, stats } = run(dir)
  sameSumsAsExpected(t, records, EXP)
  t.equal(stats.malformed, EXP.malformedLines, 'the cut JSONL line and the half-written document')
  t.equal(stats.files, 7, 'chats only: logs.json is not read')
  t.equal(
    records.reduce((n, r) => n + (r.reasoning ?? 0), 0),
    EXP.extras.reasoning,
    'reasoning = thoughts',
  )
  t.equal(batch.duplicates, EXP.extras.messageCopiesRead - EXP.records.length, 'every other copy of a message folded')

  const got = [...records].sort(byTs)
  t.equal(got.length, EXP.records.length)
  EXP.records.forEach((e: Record<string, unknown>, i: number) => {
    const r = got[i]!
    t.equal(r.ts, e.ts, `${e.label} ts`)
    t.equal(r.model, e.model, `${e.label} model`)
    t.same(
      [r.input, r.output, r.cacheWrite, r.cacheRead, r.reasoning ?? 0],
      [e.input, e.output, e.cacheWrite, e.cacheRead, e.reasoning ?? 0],
      `${e.label} tokens`,
    )
    t.equal(r.id, sha256(`gemini\n${e.nativeKey}`).slice(0, 32), `${e.label} id = the message id`)
    t.equal(r.session, hash16(e.session as string), `${e.label} session hash`)
    t.equal(r.project, hash16(e.label === 'M10' ? H2 : H1), `${e.label} project = hash of gemini-cli's projectHash`)
    t.notOk('costUSD' in r || 'sidechain' in r || 'cacheWrite1h' in r)
  })
})

t.test('token semantics: cached out of input, tool into input, thoughts into output', async (t) => {
  t.same(geminiTokens({ input: 18902, output: 1530, cached: 14980, thoughts: 1204, tool: 37, total: 21673 }), {
    input: 3959,
    output: 2734,
    cacheRead: 14980,
    reasoning: 1204,
  })
  t.same(
    geminiTokens({ total: 654 }),
    { input: 0, output: 654, cacheRead: 0, reasoning: 0 },
    'only a total: output (as ccusage)',
  )
  t.same(
    geminiTokens({ input: 10, cached: 40, output: 1 }),
    { input: 0, output: 1, cacheRead: 10, reasoning: 0 },
    'cached never above the prompt',
  )
})

t.test('copies of a session fold: the migrated .json copies and the .jsonl continuation', async (t) => {
  const root = t.testdir({})
  const all = run(copyFixture(root, 'gemini', 'all')).records
  const ids = (rs: LedgerRecord[]) => rs.map((r) => r.id).sort()
  const cases = [[S1_JSON], [S1_HASH_JSON], [S1_JSONL], [S1_JSON, S1_JSONL, S1_HASH_JSON]]
  for (const [i, keep] of cases.entries()) {
    const dir = path.join(root, `case-${i}`)
    for (const rel of keep) {
      fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true })
      fs.copyFileSync(path.join(FIXTURES, 'gemini', rel), path.join(dir, rel))
    }
    const rs = run(dir).records
    const want = keep.some((k) => k.endsWith('.jsonl')) ? 6 : 3
    t.equal(rs.length, want, `${keep.join(' + ')}: ${want} records`)
    const same = all.filter((r) => rs.some((x) => x.id === r.id))
    t.same(
      rs.map(canonicalLine).sort(),
      same.map(canonicalLine).sort(),
      'byte-identical to the records of the whole tree',
    )
  }
  t.equal(new Set(ids(all)).size, 10)
})

t.test('M4: written without tokens, then again with them, then again with tool calls: one record', async (t) => {
  const dir = t.testdir({})
  fs.mkdirSync(path.join(dir, 'p/chats'), { recursive: true })
  const src = fs.readFileSync(path.join(FIXTURES, 'gemini', S1_JSONL), 'utf8').split('\n')
  const m4 = src.filter((l) => l.includes('7e0f4a8b-9c3d-4e5f-8a6b-7c8d9e0f1a2b'))
  t.equal(m4.length, 3)
  fs.writeFileSync(path.join(dir, 'p/chats/s.jsonl'), `${src[0]}\n${m4.join('\n')}\n`)
  const { records, batch } = run(dir)
  t.equal(records.length, 1)
  t.equal(batch.duplicates, 1, 'the tokens-null copy is no record; the tool-call copy folds')
  t.same([records[0]!.input, records[0]!.output, records[0]!.cacheRead], [1491, 406, 18820])
})

t.test('incremental: a second run with the cursors reads nothing; without them, the same records', async (t) => {
  const dir = copyFixture(t.testdir({}), 'gemini')
  const first = run(dir)
  const again = run(dir, first.cursors)
  t.equal(again.records.length, 0)
  t.equal(again.stats.read, 0)
  t.equal(again.stats.unchanged, 6, 'the half-written document keeps no cursor and is tried again')
  t.equal(again.stats.malformed, 1)
  const fresh = run(dir)
  t.same(fresh.records.map(canonicalLine).sort(), first.records.map(canonicalLine).sort(), 'same ids, same lines')
})

t.test('a legacy document rewritten with one more message adds exactly that message', async (t) => {
  const dir = copyFixture(t.testdir({}), 'gemini')
  const first = run(dir)
  const file = path.join(dir, S3_JSON)
  const doc = JSON.parse(fs.readFileSync(file, 'utf8'))
  doc.messages.push({
    id: '4a8b2c6d-7e1f-4a3b-9c4d-5e6f7a8b9c0d',
    timestamp: '2026-11-21T16:45:03.210Z',
    type: 'gemini',
    content: 'Tagged the release.',
    thoughts: [],
    tokens: { input: 3480, output: 96, cached: 3072, thoughts: 64, tool: 0, total: 3640 },
    model: 'gemini-2.5-flash',
  })
  doc.lastUpdated = '2026-11-21T16:45:03.210Z'
  fs.writeFileSync(file, JSON.stringify(doc, null, 2))
  const second = run(dir, first.cursors)
  t.equal(second.stats.read, 1, 'the rewritten document')
  t.equal(second.stats.malformed, 1, 'the half-written one, tried again')
  const before = new Set(first.records.map(canonicalLine))
  const added = second.records.filter((r) => !before.has(canonicalLine(r)))
  t.equal(added.length, 1, 'everything else read again is byte-identical, which the writer drops')
  t.same([added[0]!.input, added[0]!.output, added[0]!.cacheRead, added[0]!.reasoning], [408, 160, 3072, 64])
})

t.test('a JSONL line still being written waits for its newline', async (t) => {
  const dir = t.testdir({})
  fs.mkdirSync(path.join(dir, 'p/chats'), { recursive: true })
  const src = fs.readFileSync(
    path.join(FIXTURES, 'gemini', 'app/chats/session-2026-11-21T08-15-c3d4e5f6.jsonl'),
    'utf8',
  )
  const lines = src.split('\n')
  const file = path.join(dir, 'p/chats/s.jsonl')
  fs.writeFileSync(file, `${lines[0]}\n${lines[2]}`)
  const first = run(dir)
  t.equal(first.records.length, 0)
  t.equal(first.stats.malformed, 0, 'not malformed')
  fs.appendFileSync(file, '\n')
  t.equal(run(dir, first.cursors).records.length, 1)
})

t.test('places', async (t) => {
  const env = (vars: Record<string, string>, platform: NodeJS.Platform, userHome: string) => ({
    ...fakeEnv(vars, { userHome, cwd: '/work' }),
    platform,
  })
  for (const [platform, home] of [
    ['linux', '/home/ana'],
    ['darwin', '/Users/ana'],
    ['win32', 'C:\\Users\\ana'],
  ] as const)
    t.same(gemini.looksIn(env({}, platform, home)), [path.join(home, '.gemini', 'tmp')], `${platform}: ~/.gemini/tmp`)
  t.same(
    gemini.looksIn(env({ GEMINI_CLI_HOME: '/srv/gem' }, 'linux', '/home/ana')),
    ['/srv/gem/.gemini/tmp'],
    'GEMINI_CLI_HOME moves gemini-cli home',
  )
  t.same(
    gemini.looksIn(env({ GEMINI_DATA_DIR: 'a, /b ,', GEMINI_CLI_HOME: '/srv/gem' }, 'linux', '/home/ana')),
    ['/work/a', '/b'],
    'GEMINI_DATA_DIR comma list replaces the defaults, relative to cwd',
  )
  const root = t.testdir({})
  const a = copyFixture(root, 'gemini', 'a')
  const b = copyFixture(root, 'gemini', 'b')
  const home = path.join(root, 'home')
  copyFixture(home, 'gemini', '.gemini/tmp')
  const both = collectOnce(fakeEnv({ GEMINI_DATA_DIR: `${a},${b}` }, { userHome: home }), gemini)
  t.equal(both.stats.files, 14, 'both listed dirs, not the default')
  t.same(sumBy(both.records, () => 'all').all, EXP.totals, 'two copies of the tree count once')
  t.equal(collectOnce(fakeEnv({}, { userHome: home }), gemini).records.length, 10, 'the default place')
})

t.test('no session id, project path or hash of gemini-cli in any record', async (t) => {
  const dir = copyFixture(t.testdir({}), 'gemini')
  const { records, batch } = run(dir)
  const json = JSON.stringify(records)
  for (const secret of ['a1b2c3d4', 'c3d4e5f6', 'd4e5f6a7', 'e5f6a7b8', H1, H2, '/home/ana', 'app', '9f1c2b3a'])
    t.notOk(json.includes(secret), secret)
  t.equal(batch.projectNames.get(hash16(H1)), 'app', 'the project name from .project_root stays local')
  t.notOk(batch.projectNames.has(hash16(H2)), 'a hash-named directory has no name')
})

t.test('end to end: record --source gemini, then report daily', async (t) => {
  const dir = t.testdir({})
  copyFixture(dir, 'gemini')
  const env = isolatedEnv(dir, { USAGE_LEDGER_DEVICE_ID: 'b'.repeat(32), GEMINI_DATA_DIR: path.join(dir, 'gemini') })
  const rec = await cli(['record', '--no-push', '--source', 'gemini'], { env })
  t.equal(rec.code, 0, rec.stderr)
  const again = await cli(['record', '--no-push', '--source', 'gemini'], { env })
  t.equal(again.code, 0, again.stderr)
  const r = await cli(['report', 'daily', '--json', '--tz', 'UTC', '--source', 'gemini'], { env })
  t.equal(r.code, 0, r.stderr)
  const rows = JSON.parse(r.stdout).rows as Array<Record<string, unknown>>
  const days: Record<string, Totals> = Object.fromEntries(rows.map((row) => [row.period as string, pick(row)]))
  t.same(days, EXP.days, 'per day, after two runs')
})
