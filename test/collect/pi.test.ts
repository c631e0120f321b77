import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { fakeEnv } from '../helpers/env.js'
import { collectOnce, copyFixture, sameSumsAsExpected, hash16, byTs } from '../helpers/collect.js'
import { cli, isolatedEnv, pick, type Totals } from '../helpers/cli.js'
import { Batch, type SourceCursors } from '../../lib/collect/index.js'
import { newSessionCtx, pi, piLine, usageOf, type SessionLine } from '../../lib/collect/pi/index.js'
import type { LedgerRecord } from '../../lib/ledger/record.js'

const FIXTURES = fileURLToPath(new URL('../../fixtures/', import.meta.url))
const EXP = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'expected.json'), 'utf8')).pi

const S1 = '5f0c8a52-3c1e-4d7b-9b1a-6e2f4a8c0d11'
const S2 = '8a1e2b3c-4d5e-4f60-8a71-92b3c4d5e6f7'
const APP = '--home-ana-src-app--'
const P1 = `${APP}/2026-11-19T10-00-00-000Z_${S1}.jsonl`
const P2 = `${APP}/2026-11-20T09-15-00-000Z_${S2}.jsonl`
const P3 = '--home-ana-src-site--/2026-11-20T14-00-00-000Z_c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e6f.jsonl'

const run = (dir: string, cursors: Record<string, SourceCursors> = {}) =>
  collectOnce(fakeEnv({ PI_AGENT_DIR: dir }), pi, cursors)
const ids = (rs: LedgerRecord[]) => rs.map((r) => r.id).sort()

t.test('full read of fixtures/pi matches expected.json', async (t) => {
  const dir = copyFixture(t.testdir(), 'pi')
  const { records, batch, stats } = run(dir)
  sameSumsAsExpected(t, records, EXP)
  t.equal(stats.files, 3)
  t.equal(stats.malformed, EXP.malformedLines, 'the cut line of P1')
  t.equal(batch.duplicates, 3, 'A2 written twice, A1 and A2 copied into the fork')
  const got = [...records].sort(byTs)
  t.equal(got.length, EXP.records.length)
  EXP.records.forEach((e: Record<string, unknown>, i: number) => {
    const r = got[i]!
    t.equal(r.ts, e.ts, `${e.label} ts`)
    t.equal(r.model, e.model, `${e.label} model`)
    t.same([r.input, r.output, r.cacheWrite, r.cacheRead], [e.input, e.output, e.cacheWrite, e.cacheRead], `${e.label}`)
    t.equal(r.costUSD, e.costUSD, `${e.label} cost as pi reported it`)
    t.equal(r.session, hash16(e.session as string), `${e.label}: the original's session, not the fork's`)
    t.equal(r.project, hash16(e.label === 'A5' || e.label === 'A6' ? '/home/ana/src/site' : '/home/ana/src/app'))
    t.notOk('reasoning' in r || 'sidechain' in r)
  })
  const text = JSON.stringify(records)
  for (const raw of [S1, S2, '/home/ana', 'src/app', APP]) t.notOk(text.includes(raw), `no ${raw} in a record`)
  t.equal(batch.sessionIds.get(hash16(S1)), S1, 'the names stay local')
  t.equal(batch.projectNames.get(hash16('/home/ana/src/app')), 'app')
})

t.test('a fork counts its copied entries once: parent read first, fork read first, parent gone', async (t) => {
  const dir = copyFixture(t.testdir(), 'pi')
  const all = run(dir).records
  const fork = fs.readFileSync(path.join(dir, P2))
  const parent = fs.readFileSync(path.join(dir, P1))

  // Only the fork (its parent deleted): the copies count, as nobody's session.
  fs.rmSync(path.join(dir, P1))
  const alone = run(dir).records
  const copies = alone.filter((r) => r.ts < '2026-11-20T09:15:00.000Z')
  t.equal(copies.length, 2, 'A1 and A2 from the fork')
  t.ok(
    copies.every((r) => r.session === undefined && r.project === undefined),
    'a copy carries no session or project',
  )
  t.ok(
    ids(alone).every((id) => all.some((r) => r.id === id)),
    'every id the fork gives is one the full read gives',
  )

  // The parent appears later: its records are the same ids (a writer keeps the one it has).
  fs.writeFileSync(path.join(dir, P1), parent)
  const later = run(dir).records
  t.same(ids(later), ids(all))
  const a1 = later.find((r) => r.ts === '2026-11-19T10:00:05.120Z')!
  t.equal(a1.session, hash16(S1), "in one run the parent's copy wins")

  // Within a run the order of lines does not matter either.
  for (const order of [
    [fork, parent],
    [parent, fork],
  ]) {
    const batch = new Batch()
    for (const [i, buf] of order.entries()) {
      const p = pi.parser({ path: i ? 'b.jsonl' : 'a.jsonl', root: '' }, undefined, batch, '')
      for (const l of buf.toString().split('\n')) if (l) p.line(Buffer.from(l), 0)
    }
    const rs = batch.records()
    t.equal(rs.find((r) => r.ts === a1.ts)!.session, hash16(S1))
    t.equal(rs.length, 4, 'A1 A2 A3 A4, nothing twice')
  }
})

t.test('incremental: a second run with the cursors reads nothing; without them, the same ids', async (t) => {
  const dir = copyFixture(t.testdir(), 'pi')
  const first = run(dir)
  const again = run(dir, first.cursors)
  t.equal(again.records.length, 0)
  t.equal(again.stats.unchanged, 3)
  t.same(ids(run(dir).records), ids(first.records))
})

t.test('an appended assistant entry yields exactly that record', async (t) => {
  const dir = copyFixture(t.testdir(), 'pi')
  const first = run(dir)
  const line = {
    type: 'message',
    id: '0a1b2c3d',
    parentId: 'f7b8c9d0',
    timestamp: '2026-11-20T14:09:00.000Z',
    message: {
      role: 'assistant',
      content: [],
      api: 'google-generative-ai',
      provider: 'google',
      model: 'gemini-2.5-flash',
      usage: { input: 700, output: 90, cacheRead: 512, cacheWrite: 0, totalTokens: 790, cost: { total: 0.0004 } },
      stopReason: 'stop',
      timestamp: 1795788530000,
    },
  }
  fs.appendFileSync(path.join(dir, P3), `${JSON.stringify(line)}\n`)
  const next = run(dir, first.cursors)
  t.equal(next.records.length, 1)
  t.match(next.records[0], { model: 'gemini-2.5-flash', input: 188, output: 90, cacheRead: 512, cacheWrite: 0 })
  t.notOk('costUSD' in next.records[0]!, "pi's cost over the doubled input is not kept")
  t.equal(next.records[0]!.session, hash16('c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e6f'), 'the header from the cursor')
})

t.test("pi's v1→v3 migration rewrites a file in place with entry ids: no new ids", async (t) => {
  const dir = t.testdir({})
  const file = path.join(dir, '--w--', `2026-11-18T08-00-00-000Z_${S1}.jsonl`)
  fs.mkdirSync(path.dirname(file))
  const v1 = [
    { type: 'session', id: S1, timestamp: '2026-11-18T08:00:00.000Z', cwd: '/w' },
    {
      type: 'message',
      timestamp: '2026-11-18T08:00:04.000Z',
      message: {
        role: 'assistant',
        model: 'claude-sonnet-4-5',
        usage: { input: 3, output: 50, cacheRead: 0, cacheWrite: 900 },
      },
    },
  ]
  fs.writeFileSync(file, `${v1.map((o) => JSON.stringify(o)).join('\n')}\n`)
  const first = run(dir)
  t.equal(first.records.length, 1)
  const v3 = v1.map((o, i) => (i ? { ...o, id: 'aa11bb22', parentId: null } : { ...o, version: 3 }))
  fs.writeFileSync(file, `${v3.map((o) => JSON.stringify(o)).join('\n')}\n`)
  t.same(ids(run(dir).records), ids(first.records), 'read again whole: the same id')
  const next = run(dir, first.cursors)
  t.ok(
    next.records.every((r) => r.id === first.records[0]!.id),
    'read on from the old offset: nothing new',
  )
})

t.test('usageOf', async (t) => {
  const m = (usage: Record<string, unknown>, api = 'anthropic-messages') => ({ role: 'assistant', api, usage })
  t.same(usageOf(m({ input: 3, output: 5, cacheRead: 7, cacheWrite: 11, totalTokens: 26, cost: { total: 0.1 } })), {
    input: 3,
    output: 5,
    cacheWrite: 11,
    cacheRead: 7,
    costUSD: 0.1,
  })
  t.same(
    usageOf(m({ input: 5200, output: 830, cacheRead: 4096, cacheWrite: 0, totalTokens: 6030 }, 'google-vertex')),
    { input: 1104, output: 830, cacheWrite: 0, cacheRead: 4096 },
    "Gemini's prompt count includes the cached tokens",
  )
  t.same(
    usageOf(m({ input: 1104, output: 830, cacheRead: 4096, cacheWrite: 0, totalTokens: 6030 }, 'google-generative-ai')),
    { input: 1104, output: 830, cacheWrite: 0, cacheRead: 4096 },
    'a pi-ai that already split them: the total equals the sum, nothing is subtracted',
  )
  t.same(
    usageOf(m({ input: 5200, output: 830, cacheRead: 4096 }, 'google-generative-ai')),
    { input: 5200, output: 830, cacheWrite: 0, cacheRead: 4096 },
    'no total to tell by: left as written',
  )
  t.same(
    usageOf(m({ input: 100, output: 20, cacheRead: 50, totalTokens: 170 }, 'openai-completions')),
    { input: 100, output: 20, cacheWrite: 0, cacheRead: 50 },
    'other providers never',
  )
  t.same(usageOf(m({ totalTokens: 333 })), { input: 0, output: 333, cacheWrite: 0, cacheRead: 0 }, 'total only')
  t.same(usageOf(m({ input: 10, output: 5, totalTokens: 20 })), { input: 10, output: 10, cacheWrite: 0, cacheRead: 0 })
  t.equal(usageOf(m({ input: 0, output: 0, cost: { total: 0 } })), null, 'an aborted request')
  t.same(usageOf(m({ input: 1, output: 2, cost: 0 })), { input: 1, output: 2, cacheWrite: 0, cacheRead: 0 })
})

t.test('piLine: what is and is not a record', async (t) => {
  const add = (o: SessionLine) => {
    const batch = new Batch()
    piLine(o, { ...newSessionCtx(), session: 's' }, batch, '')
    return batch.records()
  }
  const message = { role: 'assistant', model: 'm', usage: { input: 1, output: 2 } }
  t.equal(add({ type: 'message', timestamp: '2026-11-20T10:00:00.000Z', message }).length, 1)
  t.equal(add({ timestamp: '2026-11-20T10:00:00.000Z', message }).length, 1, 'v1: no type')
  t.equal(add({ type: 'custom_message', timestamp: '2026-11-20T10:00:00.000Z', message }).length, 0)
  t.equal(add({ type: 'message', message }).length, 0, 'no time, no record')
  t.equal(
    add({ type: 'message', timestamp: '2026-11-20T10:00:00.000Z', message: { ...message, role: 'user' } }).length,
    0,
  )
  t.equal(add({ type: 'message', timestamp: 'x', message }).length, 0)
  t.equal(
    add({ type: 'message', timestamp: '2026-11-20T10:00:00.000Z', message: { ...message, model: undefined } })[0]!
      .model,
    'unknown',
  )
})

t.test('where it looks', async (t) => {
  const home = t.testdir({ '.pi': { agent: { sessions: { '--a--': { '2026-11-20T10-00-00-000Z_x.jsonl': '' } } } } })
  t.same(pi.looksIn(fakeEnv({}, { userHome: home })), [path.join(home, '.pi/agent/sessions')])
  for (const platform of ['darwin', 'win32'] as const) {
    const env = { ...fakeEnv({}, { userHome: home }), platform }
    t.same(pi.looksIn(env), [path.join(home, '.pi/agent/sessions')], `${platform}: os.homedir() too`)
  }
  t.equal(pi.discover(fakeEnv({}, { userHome: home })).length, 1)
  t.same(pi.looksIn(fakeEnv({ PI_CODING_AGENT_DIR: '~/pi-dev' }, { userHome: home })), [
    path.join(home, 'pi-dev/sessions'),
    path.join(home, '.pi/agent/sessions'),
  ])
  const a = t.testdir({ x: {}, y: {} })
  t.same(pi.looksIn(fakeEnv({ PI_AGENT_DIR: `${a}/x, y` }, { userHome: home, cwd: a })), [
    path.join(a, 'x'),
    path.join(a, 'y'),
  ])
  t.equal(
    pi.discover(fakeEnv({ PI_AGENT_DIR: `${a}/x` }, { userHome: home })).length,
    0,
    'the variable replaces ~/.pi/agent/sessions',
  )
})

t.test('end to end: the fork recorded before its parent, then the parent; the copies once', async (t) => {
  const dir = t.testdir({})
  const sessions = copyFixture(dir, 'pi')
  const parent = path.join(sessions, P1)
  const saved = fs.readFileSync(parent)
  fs.rmSync(parent)
  fs.mkdirSync(path.join(dir, 'home'))
  const env = isolatedEnv(dir, { PI_AGENT_DIR: sessions, USAGE_LEDGER_DEVICE_ID: 'b'.repeat(32) })
  const first = await cli(['record', '--no-push', '--json', '--source', 'pi'], { env })
  t.equal(first.code, 0, first.stderr)
  t.equal(JSON.parse(first.stdout).appended, 5, 'A1 A2 (copies) A4 A5 A6')
  fs.writeFileSync(parent, saved)
  const second = await cli(['record', '--no-push', '--json', '--source', 'pi'], { env })
  t.equal(JSON.parse(second.stdout).appended, 1, 'only A3 is new')
  const r = await cli(['report', 'daily', '--json', '--tz', 'UTC', '--source', 'pi'], { env })
  t.equal(r.code, 0, r.stderr)
  const rows = JSON.parse(r.stdout).rows as Array<Record<string, unknown>>
  const days: Record<string, Totals> = Object.fromEntries(rows.map((row) => [row.period as string, pick(row)]))
  t.same(days, EXP.days)
})
