import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { fakeEnv } from '../helpers/env.js'
import {
  collectOnce,
  copyFixture,
  sameSumsAsExpected,
  recordIdOf,
  hash16,
  byTs,
  type ExpectedRecord,
} from '../helpers/collect.js'
import { cli, FIXTURES, isolatedEnv, pick } from '../helpers/cli.js'
import { Batch } from '../../lib/collect/index.js'
import { droid, droidModel, droidSession } from '../../lib/collect/droid/index.js'
import { beatsRecorded } from '../../lib/ledger/dedupe.js'
import { totalTokens, type LedgerRecord } from '../../lib/ledger/record.js'

const EXP = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'expected.json'), 'utf8')).droid

const D1 = '-home-ana-src-app/3f6c1e2a-8b4d-4c1e-9a7f-2d5e8b1c4a90.settings.json'
const D3 = '-home-ana-src-infra-tools/c0e4b7d2-1a9f-4e3c-b6d8-5f2a9e1c7b36.settings.json'
const D6 = '-home-ana-src-infra-tools/a4c9e2f7-6b1d-4a3e-8c5f-9d2b7e1a3c69.settings.json'

const idOf = (nativeKey: string) => recordIdOf('droid', nativeKey)

const home = (t: { testdir(): string }) => copyFixture(t.testdir(), 'droid')
const run = (dir: string, cursors = {}) => collectOnce(fakeEnv({ DROID_SESSIONS_DIR: dir }), droid, cursors)

/** Rewrites a settings file as Droid does; its mtime moves on even within one millisecond. */
function rewrite(f: string, edit: (o: Record<string, unknown>) => void): void {
  const o = JSON.parse(fs.readFileSync(f, 'utf8'))
  edit(o)
  const mtime = fs.statSync(f).mtimeMs
  fs.writeFileSync(f, JSON.stringify(o, null, 2))
  fs.utimesSync(f, new Date(), new Date(mtime + 1000))
}

/** What the writer would append on top of `ledger` (DESIGN §4): new ids, or larger copies. */
function appended(ledger: LedgerRecord[], batch: LedgerRecord[]): LedgerRecord[] {
  const best = new Map(ledger.map((r) => [r.id, { total: totalTokens(r), sidechain: false, ts: r.ts }]))
  return batch.filter((r) => beatsRecorded(r, best.get(r.id)))
}

t.test('full read of fixtures/droid matches expected.json', async (t) => {
  const { records, batch, stats } = run(home(t))
  sameSumsAsExpected(t, records, EXP)
  t.equal(stats.malformed, EXP.malformedFiles, 'the settings caught mid-write')
  t.equal(stats.files, EXP.extras.files, 'seven settings files; the sidecars are not sources')
  t.equal(
    records.reduce((n, r) => n + (r.reasoning ?? 0), 0),
    EXP.extras.reasoning,
  )
  const got = [...records].sort(byTs)
  t.equal(got.length, EXP.records.length, 'one record per session; the unused session gives none')
  EXP.records.forEach((e: ExpectedRecord, i: number) => {
    const r = got[i]!
    t.equal(r.id, idOf(e.nativeKey), `${e.label} id = the session`)
    t.equal(r.ts, e.ts, `${e.label} ts = providerLockTimestamp`)
    t.equal(r.model, e.model, `${e.label} model`)
    t.same(
      [r.input, r.output, r.cacheWrite, r.cacheRead, r.reasoning ?? 0],
      [e.input, e.output, e.cacheWrite, e.cacheRead, e.reasoning],
      `${e.label} tokens: output includes thinking`,
    )
    t.equal(r.output - (r.reasoning ?? 0), EXP.extras.ccusageOutput[e.label], `${e.label} ccusage output`)
    t.equal(r.session, hash16(e.session), `${e.label} session`)
    t.equal(r.project, hash16(e.project), `${e.label} project (sidecar session_start cwd)`)
  })
  t.notMatch(JSON.stringify(records), /3f6c1e2a|c0e4b7d2|home|ana/, 'no session id or path in any record')
  t.same([...batch.projectNames.values()].sort(), ['app', 'infra-tools'])
})

t.test('re-reading adds nothing, with the cursors and without them', async (t) => {
  const dir = home(t)
  const first = run(dir)
  const again = run(dir, first.cursors)
  t.same(again.records, [])
  t.same([again.stats.unchanged, again.stats.read, again.stats.malformed], [6, 0, 1])
  t.same(appended(first.records, run(dir).records), [])
})

t.test('a session that grows replaces its record; the ledger sums to the latest total', async (t) => {
  const dir = home(t)
  const first = run(dir)
  const file = path.join(dir, D1)
  // Resumed two days later: the total grows, the session keeps its start.
  rewrite(file, (o) => {
    const u = o.tokenUsage as Record<string, number>
    u.inputTokens! += 1000
    u.outputTokens! += 200
    u.cacheReadTokens! += 50000
    u.thinkingTokens! += 10
  })
  const second = run(dir, first.cursors)
  t.equal(second.stats.read, 1)
  const grown = appended(first.records, second.records)
  t.equal(grown.length, 1)
  const r = grown[0]!
  t.equal(r.id, idOf('3f6c1e2a-8b4d-4c1e-9a7f-2d5e8b1c4a90'), 'same id')
  t.equal(r.ts, '2026-11-18T09:12:03.114Z', 'same ts')
  t.same([r.input, r.output, r.cacheRead, r.reasoning], [49213, 11860 + 210, 952311, 2750], 'the whole new total')
  t.equal(totalTokens(r), 1023928 + 51210)
  // Read again without cursors: nothing beats the larger copy.
  t.same(appended([...first.records, r], run(dir).records), [])
})

t.test('a settings file caught mid-write keeps its old cursor and is read whole once complete', async (t) => {
  const dir = home(t)
  const first = run(dir)
  const file = path.join(dir, D3)
  const whole = fs.readFileSync(file)
  fs.writeFileSync(file, whole.subarray(0, 200))
  const mid = run(dir, first.cursors)
  t.same([mid.records.length, mid.stats.malformed], [0, 2])
  t.same(mid.cursors.droid![file], first.cursors.droid![file])
  fs.writeFileSync(file, whole)
  fs.utimesSync(file, new Date(), new Date(fs.statSync(file).mtimeMs + 1000))
  const done = run(dir, mid.cursors)
  t.same(appended(first.records, done.records), [])
  // D6 completes: its session is read.
  const d6 = path.join(dir, D6)
  fs.writeFileSync(
    d6,
    JSON.stringify({
      model: 'claude-sonnet-4-5-20250929',
      providerLock: 'anthropic',
      providerLockTimestamp: '2026-11-21T12:30:00.000Z',
      tokenUsage: {
        inputTokens: 900,
        outputTokens: 100,
        cacheCreationTokens: 0,
        cacheReadTokens: 0,
        thinkingTokens: 0,
      },
    }),
  )
  t.same(
    run(dir, done.cursors).records.map((r) => [r.ts, totalTokens(r)]),
    [['2026-11-21T12:30:00.000Z', 1000]],
  )
})

t.test('droidSession: times, models and totals', async (t) => {
  const root = t.testdir({
    w: {
      's1.settings.json': '',
      's1.jsonl': `${JSON.stringify({ type: 'session_start', id: 's1', cwd: '/p' })}\n${JSON.stringify({
        type: 'message',
        timestamp: '2026-11-18T08:00:00.000Z',
        message: { role: 'user', content: [{ type: 'text', text: 'Model: Claude Opus 4.5 Thinking [Anthropic]\n' }] },
      })}\n`,
      's2.settings.json': '',
    },
  })
  const file = (s: string) => ({ path: path.join(root, 'w', `${s}.settings.json`), root })
  const one = (s: string, settings: unknown, ctx = {}) => {
    const b = new Batch()
    const next = droidSession(file(s), JSON.stringify(settings), ctx, b, '')
    return { r: b.records()[0], next }
  }
  const usage = { inputTokens: 10, outputTokens: 20 }

  t.test('no model and no providerLockTimestamp: both from the sidecar', async (t) => {
    const { r, next } = one('s1', { providerLock: 'anthropic', tokenUsage: usage })
    t.same([r?.ts, r?.model, r?.project], ['2026-11-18T08:00:00.000Z', 'claude-opus-4.5-thinking', hash16('/p')])
    t.same(next, {}, 'nothing to keep')
  })

  t.test('no time anywhere: the mtime as first seen, kept in the cursor', async (t) => {
    const f = file('s2').path
    fs.utimesSync(f, new Date(), new Date('2026-11-19T07:00:00.000Z'))
    const a = one('s2', { model: 'gpt-5', tokenUsage: usage })
    t.equal(a.r?.ts, '2026-11-19T07:00:00.000Z')
    t.same(a.next, { ts: '2026-11-19T07:00:00.000Z' })
    fs.utimesSync(f, new Date(), new Date('2026-11-21T07:00:00.000Z'))
    t.equal(
      one('s2', { model: 'gpt-5', tokenUsage: usage }, a.next).r?.ts,
      '2026-11-19T07:00:00.000Z',
      'a rewrite does not move it',
    )
    t.same([a.r?.model, a.r?.project], ['gpt-5', undefined], 'no sidecar: no project')
  })

  t.test('no model and no sidecar: the provider stand-in', async (t) => {
    const lock = (providerLock: string) =>
      one('s2', { providerLock, providerLockTimestamp: '2026-11-18T00:00:00Z', tokenUsage: usage }).r?.model
    t.same(['anthropic', 'openai', 'vertex-ai', 'xai', 'fireworks'].map(lock), [
      'claude-unknown',
      'gpt-unknown',
      'gemini-unknown',
      'grok-unknown',
      'unknown',
    ])
  })

  t.test('totals: thinking into output and reasoning; a larger totalTokens into output', async (t) => {
    const ts = '2026-11-18T00:00:00.000Z'
    const r = one('s2', {
      model: 'm',
      providerLockTimestamp: ts,
      tokenUsage: {
        inputTokens: 100,
        outputTokens: 50,
        cacheCreationTokens: 20,
        cacheReadTokens: 10,
        thinkingTokens: 5,
        totalTokens: 200,
      },
    }).r
    t.same([r?.input, r?.output, r?.cacheWrite, r?.cacheRead, r?.reasoning], [100, 50 + 5 + 15, 20, 10, 5])
    t.same(one('s2', { model: 'm', providerLockTimestamp: ts, tokenUsage: { totalTokens: 456 } }).r?.output, 456)
    t.equal(one('s2', { model: 'm', providerLockTimestamp: ts, tokenUsage: { inputTokens: 0 } }).r, undefined)
    t.equal(one('s2', { model: 'm', providerLockTimestamp: ts }).r, undefined)
  })

  t.test('not settings: throws before adding anything', async (t) => {
    for (const bad of ['{"tokenUsage":', '[]', 'null'])
      t.throws(() => droidSession(file('s2'), bad, {}, new Batch(), ''), bad)
  })
})

t.test('droidModel: as ccusage, but dots kept and no custom index', async (t) => {
  t.equal(droidModel('custom:Claude-Opus-4.5-Thinking-[Anthropic]-0'), 'claude-opus-4.5-thinking')
  t.equal(droidModel('Claude-Sonnet-4-[Anthropic]'), 'claude-sonnet-4')
  t.equal(droidModel('gemini-2.5-pro'), 'gemini-2.5-pro')
  t.equal(droidModel('custom:GLM-4.6-[Z.AI]-0'), 'glm-4.6')
  t.equal(droidModel(' Claude  Opus 4.5 Thinking '), 'claude-opus-4.5-thinking')
  t.equal(droidModel('claude-sonnet-4-5-20250929'), 'claude-sonnet-4-5-20250929')
})

t.test('where Droid is looked for', async (t) => {
  const root = t.testdir({
    a: { w: { 's.settings.json': '{}', 's.jsonl': '' } },
    b: { 't.settings.json': '{}', 'other.json': '{}' },
    h: { '.factory': { sessions: { w: { 'u.settings.json': '{}' } } } },
  })
  const h = path.join(root, 'h')
  const rel = (env: ReturnType<typeof fakeEnv>) =>
    droid
      .discover(env)
      .map((f) => path.relative(root, f.path))
      .sort()
  const env = fakeEnv({ DROID_SESSIONS_DIR: `a, ${path.join(root, 'b')} ,` }, { userHome: h, cwd: root })
  t.same(rel(env), ['a/w/s.settings.json', 'b/t.settings.json'], 'the comma list replaces the default')
  for (const platform of ['linux', 'darwin', 'win32'] as const) {
    const e = { ...fakeEnv({}, { userHome: h }), platform }
    t.same(rel(e), ['h/.factory/sessions/w/u.settings.json'], platform)
    t.same(droid.looksIn(e), [path.join(h, '.factory', 'sessions')])
  }
})

t.test('end to end: record --source droid, then report daily', async (t) => {
  const dir = t.testdir()
  const data = copyFixture(dir, 'droid')
  fs.mkdirSync(path.join(dir, 'home'))
  const env = isolatedEnv(dir, { USAGE_LEDGER_DEVICE_ID: 'c'.repeat(32), DROID_SESSIONS_DIR: data })
  const r = await cli(['record', '--no-push', '--json', '--source', 'droid'], { env })
  t.equal(r.code, 0, r.stderr)
  t.equal(JSON.parse(r.stdout).appended, EXP.totals.records)
  rewrite(path.join(data, D1), (o) => {
    ;(o.tokenUsage as Record<string, number>).outputTokens! += 1000
  })
  const again = await cli(['record', '--no-push', '--json', '--source', 'droid'], { env })
  t.equal(JSON.parse(again.stdout).appended, 1, 'the grown session: one larger copy')
  const rep = await cli(['report', 'daily', '--json', '--tz', 'UTC', '--source', 'droid'], { env })
  t.equal(rep.code, 0, rep.stderr)
  const rows = JSON.parse(rep.stdout).rows as Array<Record<string, unknown>>
  const days = structuredClone(EXP.days)
  days['2026-11-18'].output += 1000
  days['2026-11-18'].totalTokens += 1000
  t.same(
    Object.fromEntries(rows.map((row) => [row.period, pick(row)])),
    days,
    'the report counts the latest total once',
  )
})
