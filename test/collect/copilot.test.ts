import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { fakeEnv } from '../helpers/env.js'
import { collectOnce, copyFixture, sumBy, sameSumsAsExpected, hash16 } from '../helpers/collect.js'
import { cli, isolatedEnv } from '../helpers/cli.js'
import { copilot } from '../../lib/collect/copilot/index.js'
import type { SourceCursors } from '../../lib/collect/index.js'
import type { LedgerRecord } from '../../lib/ledger/record.js'

const FIXTURES = fileURLToPath(new URL('../../fixtures/', import.meta.url))
const EXP = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'expected.json'), 'utf8')).copilot

const A = '6f1e2c3a-0b7d-4e55-9a61-2c0d3b4a5e01'
const B = '8a2b4c6d-1e3f-4a5b-8c7d-9e0f1a2b3c4d'
const OTEL = 'otel/copilot-traces.jsonl'
const eventsOf = (s: string) => `session-state/${s}/events.jsonl`

const byTs = (a: LedgerRecord, b: LedgerRecord) =>
  a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : a.model < b.model ? -1 : a.model > b.model ? 1 : 0
const run = (home: string, cursors: Record<string, SourceCursors> = {}, vars: Record<string, string> = {}) =>
  collectOnce(fakeEnv({ COPILOT_HOME: home, ...vars }), copilot, cursors)
const tokens = (r: LedgerRecord) => [r.input, r.output, r.cacheWrite, r.cacheRead]

t.test('full read of fixtures/copilot matches expected.json', async (t) => {
  const home = copyFixture(t.testdir({}), 'copilot')
  const { records, stats } = run(home)
  sameSumsAsExpected(t, records, EXP)
  t.equal(stats.files, 3, 'two session-state files and one OTel file')
  t.equal(stats.malformed, EXP.malformedLines, 'the truncated line of each kind')
  t.equal(
    records.reduce((n, r) => n + (r.reasoning ?? 0), 0),
    EXP.extras.reasoning,
  )
  const got = [...records].sort(byTs)
  const want = [...EXP.records].sort((a, b) => byTs(a, b))
  t.equal(got.length, want.length)
  want.forEach((e: LedgerRecord & { label: string }, i: number) => {
    const r = got[i]!
    t.equal(r.ts, e.ts, `${e.label} ts`)
    t.equal(r.model, e.model, `${e.label} model`)
    t.same(tokens(r), tokens(e), `${e.label} tokens`)
    t.equal(r.reasoning, e.reasoning, `${e.label} reasoning`)
    t.equal(r.session, hash16(EXP.extras.sessions[e.label]), `${e.label} session hash`)
    t.notOk('costUSD' in r, 'Copilot reports no USD cost (requests.cost counts premium requests)')
  })
  t.equal(got.find((r) => r.ts.startsWith('2026-11-18'))?.project, hash16('/home/ana/src/api'), 'session.start cwd')
  t.equal(got.find((r) => r.ts.startsWith('2026-11-19T23'))?.project, hash16('/home/ana/src/web'))
  t.notOk(got.find((r) => r.ts.startsWith('2026-11-20'))?.project, 'OTel rows name no directory')

  const text = JSON.stringify(records)
  for (const raw of [A, B, '0b9e7d1c-5a4f-4c3b-9d2e-7f6a5b4c3d21', '/home/ana', 'chatcmpl-A1', '4bf92f35'])
    t.notOk(text.includes(raw), `no raw ${raw} in any record`)
})

t.test('session-state: each shutdown adds what its running totals grew by', async (t) => {
  const root = t.testdir({})
  const home = copyFixture(root, 'copilot')
  fs.rmSync(path.join(home, 'otel'), { recursive: true })
  fs.rmSync(path.join(home, 'session-state', B), { recursive: true })
  const rs = run(home).records.sort(byTs)
  t.same(
    rs.map((r) => [r.ts, r.model, ...tokens(r)]),
    [
      ['2026-11-18T23:52:41.204Z', 'claude-sonnet-4.5', 4310, 3120, 4100, 39800],
      ['2026-11-18T23:52:41.204Z', 'gpt-5-mini', 2800, 2210, 0, 9600],
      ['2026-11-19T09:40:12.560Z', 'claude-sonnet-4.5', 2600, 2900, 2800, 36700],
    ],
    'input = inputTokens − cacheRead − cacheWrite; the resume shutdown adds the deltas; gpt-5-mini unchanged adds nothing',
  )
  t.equal(
    sumBy(rs, (r) => r.model)['claude-sonnet-4.5']!.totalTokens,
    90310 + 6020,
    'a model sums to its latest shutdown total (inputTokens already holds the cache)',
  )
})

t.test('OTel: copies of one call count once; sessions with session-state are left to it', async (t) => {
  const root = t.testdir({})
  const home = copyFixture(root, 'copilot')
  const otelOnly = run(home).records.filter((r) => r.ts >= '2026-11-20')
  t.same(
    otelOnly.sort(byTs).map((r) => [r.ts, r.model, ...tokens(r), r.reasoning]),
    [
      ['2026-11-20T10:13:00.500Z', 'gpt-5', 3936, 1300, 0, 11264, 640],
      ['2026-11-20T10:13:31.020Z', 'claude-sonnet-4.5', 3000, 1100, 3000, 16000, 300],
      ['2026-11-21T23:57:59.250Z', 'gpt-5-mini', 904, 700, 0, 4096, undefined],
    ],
    'the re-exported chat span (same response and usage) and the invoke_agent summary of the trace are dropped; ' +
      'input excludes cache read and write; a total beyond the buckets is output (reasoning)',
  )
  // Without session A's session-state directory, its chat span is the only copy: it counts.
  fs.rmSync(path.join(home, 'session-state', A), { recursive: true })
  const rs = run(home).records
  const a = rs.find((r) => r.session === hash16(A))
  t.same(a && [a.ts, a.model, ...tokens(a)], ['2026-11-18T23:30:00.125Z', 'claude-sonnet-4.5', 1500, 1040, 1400, 13300])
  t.equal(rs.length, 6, 'B (2) + OTel (3 + A)')
})

t.test('a lower copy of a call counts when no better copy of its trace exists', async (t) => {
  const home = t.testdir({ otel: {} })
  const span = (o: object) =>
    JSON.stringify({ type: 'span', startTime: [1795600000, 0], endTime: [1795600010, 0], ...o })
  fs.writeFileSync(
    path.join(home, 'otel', 'x.jsonl'),
    [
      span({
        traceId: 't1',
        spanId: 's1',
        name: 'invoke_agent GitHub Copilot',
        attributes: {
          'gen_ai.operation.name': 'invoke_agent',
          'gen_ai.response.model': 'gpt-5',
          'gen_ai.conversation.id': 'conv-1',
          'gen_ai.usage.input_tokens': 100,
          'gen_ai.usage.output_tokens': 30,
        },
      }),
      span({
        traceId: 't2',
        spanId: 's2',
        name: 'chat gpt-5',
        attributes: {
          'gen_ai.operation.name': 'chat',
          'gen_ai.request.model': 'gpt-5',
          'gen_ai.usage.total_tokens': 567,
        },
      }),
      span({
        traceId: 't2',
        spanId: 's3',
        name: 'invoke_agent GitHub Copilot',
        attributes: {
          'gen_ai.operation.name': 'invoke_agent',
          'gen_ai.request.model': 'gpt-5',
          'gen_ai.conversation.id': 'conv-2',
          'gen_ai.usage.input_tokens': 900,
        },
      }),
    ]
      .map((l) => `${l}\n`)
      .join(''),
  )
  const rs = run(home).records.sort(byTs)
  t.same(
    rs.map((r) => [r.model, ...tokens(r)]),
    [
      ['gpt-5', 100, 30, 0, 0],
      ['gpt-5', 0, 567, 0, 0],
    ],
    'a trace with only its summary span counts; a chat span with only a total is output; its summary is dropped',
  )
  t.equal(rs[0]!.session, hash16('conv-1'))
  t.equal(
    rs[1]!.session,
    hash16('t2'),
    'a span naming no session: its trace (the summary after it is not looked ahead to)',
  )
})

t.test('re-reading adds nothing; appended events add exactly what they grew by', async (t) => {
  const home = copyFixture(t.testdir({}), 'copilot')
  const first = run(home)
  const again = run(home, first.cursors)
  t.equal(again.records.length, 0, 'unchanged files are not read')
  t.equal(again.stats.unchanged, 3)
  const fresh = run(home)
  t.same(fresh.records.map((r) => r.id).sort(), first.records.map((r) => r.id).sort(), 'without cursors: same ids')

  // Another resume of session B: one more shutdown with larger totals for gpt-5 only.
  const shutdown = {
    type: 'session.shutdown',
    data: {
      modelMetrics: {
        'gpt-5': { usage: { inputTokens: 41500, outputTokens: 5000, cacheReadTokens: 30000, reasoningTokens: 2900 } },
        'claude-sonnet-4.5': { usage: { inputTokens: 8000, outputTokens: 900, cacheWriteTokens: 6000 } },
      },
    },
    id: 'b0000001-0000-4000-8000-000000000009',
    timestamp: '2026-11-21T08:00:00.000Z',
  }
  fs.appendFileSync(path.join(home, eventsOf(B)), `${JSON.stringify(shutdown)}\n`)
  const more = run(home, first.cursors)
  t.same(
    more.records.map((r) => [r.ts, r.model, ...tokens(r), r.reasoning]),
    [['2026-11-21T08:00:00.000Z', 'gpt-5', 2000, 600, 0, 9000, 340]],
    'from the cursor: only the growth since the previous shutdown in the file',
  )
  const whole = run(home)
  t.same(
    whole.records.map((r) => r.id).sort(),
    [...first.records.map((r) => r.id), more.records[0]!.id].sort(),
    'read again from the start: the same records and ids',
  )
})

t.test('COPILOT_HOME replaces the default; the OTel exporter file is read too', async (t) => {
  const root = t.testdir({})
  const home = copyFixture(root, 'copilot')
  const userHome = path.join(root, 'user')
  fs.cpSync(home, path.join(userHome, '.copilot'), { recursive: true })
  const other = path.join(root, 'other')
  fs.mkdirSync(other)
  const byDefault = collectOnce(fakeEnv({}, { userHome }), copilot)
  t.equal(byDefault.records.length, EXP.totals.records, 'default ~/.copilot')
  t.equal(collectOnce(fakeEnv({ COPILOT_HOME: other }, { userHome }), copilot).records.length, 0, 'replaced')
  const list = collectOnce(fakeEnv({ COPILOT_HOME: `${other},${home}` }, { userHome }), copilot)
  t.equal(list.records.length, EXP.totals.records, 'a comma list')
  const exporter = path.join(root, 'traces.jsonl')
  fs.copyFileSync(path.join(home, OTEL), exporter)
  const file = collectOnce(fakeEnv({ COPILOT_HOME: other, COPILOT_OTEL_FILE_EXPORTER_PATH: exporter }), copilot)
  t.equal(file.records.length, 4, 'the exporter file alone: its three calls and session A (no session-state here)')
  t.same(copilot.looksIn(fakeEnv({ COPILOT_OTEL_FILE_EXPORTER_PATH: exporter }, { userHome: '/u' })), [
    '/u/.copilot/session-state',
    '/u/.copilot/otel',
    exporter,
  ])
})

t.test('default places per platform', async (t) => {
  for (const [platform, userHome] of [
    ['linux', '/home/ana'],
    ['darwin', '/Users/ana'],
    ['win32', 'C:\\Users\\ana'],
  ] as const) {
    const env = { ...fakeEnv({}, { userHome }), platform }
    t.same(
      copilot.looksIn(env),
      [path.join(userHome, '.copilot', 'session-state'), path.join(userHome, '.copilot', 'otel')],
      platform,
    )
  }
})

t.test('end to end: record --source copilot, then report daily', async (t) => {
  const dir = t.testdir({})
  const home = copyFixture(dir, 'copilot')
  const env = isolatedEnv(dir, { COPILOT_HOME: home, USAGE_LEDGER_DEVICE_ID: '0123456789abcdef0123456789abcdef' })
  const rec = await cli(['record', '--no-push', '--json', '--source', 'copilot'], { env })
  t.equal(rec.code, 0, rec.stderr)
  const summary = JSON.parse(rec.stdout)
  t.equal(summary.appended, EXP.totals.records)
  t.equal(summary.malformed, EXP.malformedLines)
  t.equal(JSON.parse((await cli(['record', '--no-push', '--json', '--source', 'copilot'], { env })).stdout).appended, 0)
  const rep = await cli(['report', 'daily', '--json', '--tz', 'UTC', '--source', 'copilot'], { env })
  t.equal(rep.code, 0, rep.stderr)
  const rows = JSON.parse(rep.stdout).rows as Array<Record<string, number | string>>
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
})
