import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { fakeEnv } from '../helpers/env.js'
import { collectOnce, copyFixture, sumBy, sameSumsAsExpected, sha256, hash16, byTs } from '../helpers/collect.js'
import { cli, FIXTURES, isolatedEnv, pick, type Totals } from '../helpers/cli.js'
import { qwen, qwenTokens } from '../../lib/collect/qwen/index.js'
import { canonicalLine } from '../../lib/ledger/record.js'

const EXP = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'expected.json'), 'utf8')).qwen

const S1 = '4a1f0c2e-6b3d-4e5a-9f70-8c1d2e3f4a5b'
const S2 = '5b2a1d3f-7c4e-4f6b-8a81-9d2e3f4a5b6c'
const S3 = '6c3b2e4a-8d5f-4a7c-9b92-0e3f4a5b6c7d'
const API = 'projects/-home-ana-src-api/chats'
const WEB = 'projects/-home-ana-src-web/chats'

const run = (dir: string, cursors = {}) => collectOnce(fakeEnv({ QWEN_DATA_DIR: dir }), qwen, cursors)

t.test('full read of fixtures/qwen matches expected.json', async (t) => {
  const dir = copyFixture(t.testdir({}), 'qwen')
  const { records, batch, stats } = run(dir)
  sameSumsAsExpected(t, records, EXP)
  t.equal(stats.malformed, EXP.malformedLines, 'the line cut off by a crash')
  t.equal(stats.files, 3)
  t.equal(batch.duplicates, EXP.extras.forkCopies, "the fork's copies fold into the originals")
  t.equal(
    records.reduce((n, r) => n + (r.reasoning ?? 0), 0),
    EXP.extras.reasoning,
  )
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
    t.equal(r.id, sha256(`qwen\n${e.nativeKey}`).slice(0, 32), `${e.label} id = the record's uuid`)
    t.equal(r.session, hash16(e.session as string), `${e.label} session hash`)
    t.equal(r.project, hash16(e.label === 'Q6' || e.label === 'Q7' ? '/home/ana/src/web' : '/home/ana/src/api'))
    t.notOk('costUSD' in r || 'sidechain' in r || 'cacheWrite1h' in r)
  })
})

t.test('token semantics: cached out of the prompt, never counted twice; thoughts by the total', async (t) => {
  const openai = { promptTokenCount: 18340, candidatesTokenCount: 2210, thoughtsTokenCount: 1460 }
  t.same(
    qwenTokens({ ...openai, cachedContentTokenCount: 16896, totalTokenCount: 20550 }),
    { input: 1444, output: 2210, cacheRead: 16896, reasoning: 1460 },
    'OpenAI-compatible (total = prompt + candidates): reasoning already inside candidates',
  )
  t.same(
    qwenTokens({
      promptTokenCount: 8820,
      candidatesTokenCount: 640,
      thoughtsTokenCount: 1288,
      cachedContentTokenCount: 4096,
      totalTokenCount: 10748,
    }),
    { input: 4724, output: 1928, cacheRead: 4096, reasoning: 1288 },
    'Gemini (total = prompt + candidates + thoughts): thoughts added to output',
  )
  const q2 = qwenTokens({
    promptTokenCount: 15102,
    candidatesTokenCount: 512,
    cachedContentTokenCount: 13824,
    totalTokenCount: 15614,
  })
  t.equal(q2.input + q2.output + q2.cacheRead, 15614, "ours = the provider's total; ccusage says 29438")
  t.same(qwenTokens({ totalTokenCount: 321 }), { input: 0, output: 321, cacheRead: 0, reasoning: 0 }, 'only a total')
})

t.test('/branch: the fork alone gives the copied responses under the parent session', async (t) => {
  const dir = t.testdir({})
  fs.mkdirSync(path.join(dir, API), { recursive: true })
  fs.copyFileSync(path.join(FIXTURES, 'qwen', API, `${S2}.jsonl`), path.join(dir, API, `${S2}.jsonl`))
  const fork = run(dir).records.sort(byTs)
  t.equal(fork.length, 5)
  t.same(
    fork.map((r) => r.session),
    [...Array(4).fill(hash16(S1)), hash16(S2)],
    'copies keep forkedFrom.sessionId; the new response is the fork session',
  )
  const all = run(copyFixture(dir, 'qwen', 'all')).records
  const lines = new Set(all.map(canonicalLine))
  t.ok(
    fork.every((r) => lines.has(canonicalLine(r))),
    'byte-identical to the records read from the whole tree, so the writer keeps one',
  )
})

t.test('incremental: a second run reads nothing; an appended response is exactly one record', async (t) => {
  const dir = copyFixture(t.testdir({}), 'qwen')
  const first = run(dir)
  const again = run(dir, first.cursors)
  t.equal(again.records.length, 0)
  t.equal(again.stats.read, 0)
  t.equal(again.stats.unchanged, 3)
  const fresh = run(dir)
  t.same(
    fresh.records.map(canonicalLine).sort(),
    first.records.map(canonicalLine).sort(),
    'without cursors: same lines',
  )
  const line = {
    uuid: '00000012-0000-4000-8000-000000000018',
    parentUuid: '00000011-0000-4000-8000-000000000017',
    sessionId: S3,
    timestamp: '2026-11-21T14:15:02.400Z',
    type: 'assistant',
    cwd: '/home/ana/src/web',
    version: '0.9.2',
    message: { role: 'model', parts: [{ text: 'Build passes.' }] },
    usageMetadata: {
      promptTokenCount: 10412,
      candidatesTokenCount: 88,
      thoughtsTokenCount: 0,
      totalTokenCount: 10500,
      cachedContentTokenCount: 9856,
    },
    model: 'qwen3-coder-plus',
  }
  fs.appendFileSync(path.join(dir, WEB, `${S3}.jsonl`), `${JSON.stringify(line)}\n`)
  const third = run(dir, first.cursors)
  t.equal(third.records.length, 1)
  t.same([third.records[0]!.input, third.records[0]!.output, third.records[0]!.cacheRead], [556, 88, 9856])
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
    t.same(qwen.looksIn(env({}, platform, home)), [path.join(home, '.qwen', 'projects')], `${platform}: ~/.qwen`)
  t.same(
    qwen.looksIn(env({ QWEN_RUNTIME_DIR: 'rt' }, 'linux', '/home/ana')),
    ['/work/rt/projects', '/home/ana/.qwen/projects'],
    "QWEN_RUNTIME_DIR (qwen-code's own runtime dir) too",
  )
  t.same(
    qwen.looksIn(env({ QWEN_DATA_DIR: '/a,b', QWEN_RUNTIME_DIR: '/rt' }, 'linux', '/home/ana')),
    ['/a/projects', '/work/b/projects'],
    'QWEN_DATA_DIR comma list replaces the defaults',
  )
  const root = t.testdir({})
  const a = copyFixture(root, 'qwen', 'a')
  const b = copyFixture(root, 'qwen', 'b')
  const home = path.join(root, 'home')
  copyFixture(home, 'qwen', '.qwen')
  const both = collectOnce(fakeEnv({ QWEN_DATA_DIR: `${a},${b}` }, { userHome: home }), qwen)
  t.equal(both.stats.files, 6)
  t.same(sumBy(both.records, () => 'all').all, EXP.totals, 'two copies of the tree count once')
  t.equal(collectOnce(fakeEnv({}, { userHome: home }), qwen).records.length, 7, 'the default place')
  fs.mkdirSync(path.join(a, API, 'deeper'), { recursive: true })
  fs.copyFileSync(path.join(a, API, `${S1}.jsonl`), path.join(a, API, 'deeper', 'x.jsonl'))
  t.equal(qwen.discover(fakeEnv({ QWEN_DATA_DIR: a })).length, 3, 'exactly projects/<project>/chats/<file>.jsonl')
})

t.test('no session id or path in any record', async (t) => {
  const dir = copyFixture(t.testdir({}), 'qwen')
  const { records, batch } = run(dir)
  const json = JSON.stringify(records)
  for (const secret of [S1.slice(0, 8), S2.slice(0, 8), S3.slice(0, 8), '/home/ana', 'src-api', '00000002-'])
    t.notOk(json.includes(secret), secret)
  t.equal(batch.projectNames.get(hash16('/home/ana/src/api')), 'api', 'names stay local')
  t.equal(batch.sessionIds.get(hash16(S1)), S1)
})

t.test('end to end: record --source qwen, then report daily', async (t) => {
  const dir = t.testdir({})
  copyFixture(dir, 'qwen')
  const env = isolatedEnv(dir, { USAGE_LEDGER_DEVICE_ID: 'c'.repeat(32), QWEN_DATA_DIR: path.join(dir, 'qwen') })
  const rec = await cli(['record', '--no-push', '--source', 'qwen'], { env })
  t.equal(rec.code, 0, rec.stderr)
  const r = await cli(['report', 'daily', '--json', '--tz', 'UTC', '--source', 'qwen'], { env })
  t.equal(r.code, 0, r.stderr)
  const rows = JSON.parse(r.stdout).rows as Array<Record<string, unknown>>
  const days: Record<string, Totals> = Object.fromEntries(rows.map((row) => [row.period as string, pick(row)]))
  t.same(days, EXP.days)
})
