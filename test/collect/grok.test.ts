import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { fakeEnv } from '../helpers/env.js'
import { collectOnce, copyFixture, sameSumsAsExpected, recordIdOf, hash16 } from '../helpers/collect.js'
import { cli, isolatedEnv } from '../helpers/cli.js'
import { grok } from '../../lib/collect/grok/index.js'
import type { SourceCursors } from '../../lib/collect/index.js'
import type { LedgerRecord } from '../../lib/ledger/record.js'

const FIXTURES = fileURLToPath(new URL('../../fixtures/', import.meta.url))
const EXP = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'expected.json'), 'utf8')).grok
const { S1, S2, S3 } = EXP.extras.sessions as Record<string, string>
const API = 'sessions/%2Fhome%2Fana%2Fsrc%2Fapi'
const WEB = 'sessions/%2Fhome%2Fana%2Fsrc%2Fweb'

const idOf = (nativeKey: string) => recordIdOf('grok', nativeKey)
const byTs = (a: LedgerRecord, b: LedgerRecord) =>
  a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : a.model < b.model ? -1 : a.model > b.model ? 1 : 0
const run = (home: string, cursors: Record<string, SourceCursors> = {}) =>
  collectOnce(fakeEnv({ GROK_HOME: home }), grok, cursors)
const tokens = (r: LedgerRecord) => [r.input, r.output, r.cacheWrite, r.cacheRead]

const turn = (event: string | null, ms: number, usage: object) =>
  `${JSON.stringify({
    timestamp: Math.floor(ms / 1000),
    method: '_x.ai/session/update',
    params: {
      sessionId: S1,
      update: { sessionUpdate: 'turn_completed', usage },
      _meta: event ? { eventId: event, agentTimestampMs: ms } : { agentTimestampMs: ms },
    },
  })}\n`

t.test('full read of fixtures/grok matches expected.json', async (t) => {
  const home = copyFixture(t.testdir({}), 'grok')
  const { records, batch, stats } = run(home)
  sameSumsAsExpected(t, records, EXP)
  t.equal(stats.files, 3)
  t.equal(stats.malformed, EXP.malformedLines)
  t.equal(batch.duplicates, EXP.extras.duplicates, "S1's first turn replayed later in S1 and at the top of its fork S3")
  t.equal(
    records.reduce((n, r) => n + (r.reasoning ?? 0), 0),
    EXP.extras.reasoning,
  )
  t.equal(Math.round(records.reduce((n, r) => n + (r.costUSD ?? 0), 0) * 1e6) / 1e6, EXP.extras.costUSD)
  const got = [...records].sort(byTs)
  t.equal(got.length, EXP.records.length)
  EXP.records.forEach((e: LedgerRecord & { label: string }, i: number) => {
    const r = got[i]!
    t.equal(r.ts, e.ts, `${e.label} ts`)
    t.equal(r.model, e.model, `${e.label} model`)
    t.same(tokens(r), tokens(e), `${e.label} tokens`)
    t.equal(r.reasoning, e.reasoning, `${e.label} reasoning`)
    t.equal(r.costUSD, e.costUSD, `${e.label} costUSD = costUsdTicks / 1e10`)
    const s = { S1, S2, S3 }[e.label.slice(0, 2)]!
    t.equal(r.session, hash16(s), `${e.label} session`)
    t.equal(
      r.project,
      hash16(e.label.startsWith('S2') ? '/home/ana/src/web' : '/home/ana/src/api'),
      `${e.label} project`,
    )
  })
  t.equal(
    got[0]!.id,
    idOf('evt-01a1|grok-4.5-build'),
    'id = eventId|model, the same in every file the event is written to',
  )
  const text = JSON.stringify(records)
  for (const raw of [S1, S2, S3, '/home/ana', 'evt-01a1']) t.notOk(text.includes(raw), `no raw ${raw} in any record`)
})

t.test('the turn totals under the current model when modelUsage is absent; envelope seconds as time', async (t) => {
  const home = copyFixture(t.testdir({}), 'grok')
  const rs = run(home).records.filter((r) => r.session === hash16(S2))
  t.same(
    rs.sort(byTs).map((r) => [r.ts, r.model, ...tokens(r)]),
    [
      ['2026-11-19T09:12:03.000Z', 'grok-4.5-build', 6624, 2300, 0, 24576],
      ['2026-11-19T09:20:44.480Z', 'grok-code-fast-1', 4608, 1900, 0, 8192],
    ],
    'summary.json current_model_id; input = inputTokens − cachedReadTokens',
  )
  fs.rmSync(path.join(home, WEB, S2, 'summary.json'))
  const bare = run(home).records.filter((r) => r.ts.startsWith('2026-11-19T09:12'))
  t.equal(bare[0]?.model, 'unknown', 'no summary: unknown (as ccusage)')
  t.equal(bare[0]?.project, hash16('/home/ana/src/web'), 'the project from the URL-encoded directory')
})

t.test('cache creation is inside inputTokens too; no eventId: a key from the turn itself', async (t) => {
  const home = t.testdir({})
  const dir = path.join(home, API, S1)
  fs.mkdirSync(dir, { recursive: true })
  const u = {
    inputTokens: 1000,
    outputTokens: 50,
    cachedReadTokens: 600,
    cacheCreationTokens: 100,
    reasoningTokens: 30,
  }
  const line = turn(null, Date.parse('2026-11-21T10:00:00.000Z'), { modelUsage: { 'grok-4.5-build': u } })
  fs.writeFileSync(path.join(dir, 'updates.jsonl'), line + line)
  const { records, batch } = run(home)
  t.same(
    records.map((r) => [...tokens(r), r.reasoning]),
    [[300, 50, 100, 600, 30]],
    'reasoning kept within output',
  )
  t.equal(batch.duplicates, 1, 'the same line twice is one turn')
  t.notOk(records[0]!.costUSD, 'no ticks, no cost')
})

t.test('re-reading adds nothing; an appended turn adds exactly itself', async (t) => {
  const home = copyFixture(t.testdir({}), 'grok')
  const first = run(home)
  const again = run(home, first.cursors)
  t.equal(again.records.length, 0)
  t.equal(again.stats.unchanged, 3)
  t.same(
    run(home)
      .records.map((r) => r.id)
      .sort(),
    first.records.map((r) => r.id).sort(),
    'without cursors: same ids',
  )
  fs.appendFileSync(
    path.join(home, API, S3, 'updates.jsonl'),
    turn('evt-03c2', Date.parse('2026-11-20T08:40:00.000Z'), {
      modelUsage: {
        'grok-4.5-build': { inputTokens: 500, outputTokens: 40, cachedReadTokens: 256, costUsdTicks: 5000000 },
      },
    }),
  )
  const more = run(home, first.cursors)
  t.same(
    more.records.map((r) => [r.ts, ...tokens(r), r.costUSD]),
    [['2026-11-20T08:40:00.000Z', 244, 40, 0, 256, 0.0005]],
  )
})

t.test('GROK_HOME replaces the default, takes a comma list; default places per platform', async (t) => {
  const root = t.testdir({})
  const home = copyFixture(root, 'grok')
  const userHome = path.join(root, 'user')
  fs.cpSync(home, path.join(userHome, '.grok'), { recursive: true })
  const other = path.join(root, 'other')
  fs.mkdirSync(other)
  t.equal(collectOnce(fakeEnv({}, { userHome }), grok).records.length, EXP.totals.records, 'default ~/.grok')
  t.equal(collectOnce(fakeEnv({ GROK_HOME: other }, { userHome }), grok).records.length, 0, 'replaced')
  t.equal(
    collectOnce(fakeEnv({ GROK_HOME: `${other},${home}` }, { userHome }), grok).records.length,
    EXP.totals.records,
    'comma list',
  )
  for (const [platform, u] of [
    ['linux', '/home/ana'],
    ['darwin', '/Users/ana'],
    ['win32', 'C:\\Users\\ana'],
  ] as const)
    t.same(grok.looksIn({ ...fakeEnv({}, { userHome: u }), platform }), [path.join(u, '.grok', 'sessions')], platform)
})

t.test('end to end: record --source grok, then report daily', async (t) => {
  const dir = t.testdir({})
  const home = copyFixture(dir, 'grok')
  const env = isolatedEnv(dir, { GROK_HOME: home, USAGE_LEDGER_DEVICE_ID: '0123456789abcdef0123456789abcdef' })
  const rec = await cli(['record', '--no-push', '--json', '--source', 'grok'], { env })
  t.equal(rec.code, 0, rec.stderr)
  t.equal(JSON.parse(rec.stdout).appended, EXP.totals.records)
  const rep = await cli(['report', 'daily', '--json', '--tz', 'UTC', '--source', 'grok'], { env })
  t.equal(rep.code, 0, rep.stderr)
  const out = JSON.parse(rep.stdout)
  const rows = out.rows as Array<Record<string, number | string>>
  t.same(
    Object.fromEntries(
      rows.map((r) => [
        r.period,
        {
          records: r.records,
          input: r.input,
          output: r.output,
          cacheWrite: r.cacheWrite,
          cacheRead: r.cacheRead,
          totalTokens: r.totalTokens,
        },
      ]),
    ),
    EXP.days,
  )
  t.equal(Math.round(out.totals.costUSD * 1e6) / 1e6, EXP.extras.costUSD, "Grok's own cost, as ccusage reports it")
})
