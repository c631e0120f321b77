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
import { amp, ampThread } from '../../lib/collect/amp/index.js'
import { beatsRecorded } from '../../lib/ledger/dedupe.js'
import { totalTokens, type LedgerRecord } from '../../lib/ledger/record.js'

const EXP = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'expected.json'), 'utf8')).amp

const A1 = 'threads/T-0a1b2c3d-1111-4e5f-8a9b-0c1d2e3f4a5b.json'
const A2 = 'threads/T-019a9c2e-5b7d-7e41-9c3a-2f8e6d4b1a07.json'
const A3 = 'threads/T-019aa4f1-0c2b-7d8e-a5f6-3b9c1e7d2a44.json'
const A4 = 'threads/T-019aa5d0-7e6f-7a1b-8c2d-4e5f6a7b8c9d.json'

const idOf = (nativeKey: string) => recordIdOf('amp', nativeKey)

const home = (t: { testdir(): string }) => copyFixture(t.testdir(), 'amp')
const run = (dir: string, cursors = {}) => collectOnce(fakeEnv({ AMP_DATA_DIR: dir }), amp, cursors)
const readJson = (f: string) => JSON.parse(fs.readFileSync(f, 'utf8'))
/** Rewrites a thread as Amp does; its mtime moves on even within one millisecond. */
function writeJson(f: string, o: unknown): void {
  const mtime = fs.statSync(f).mtimeMs
  fs.writeFileSync(f, JSON.stringify(o, null, 2))
  fs.utimesSync(f, new Date(), new Date(mtime + 1000))
}

/** What the writer would append on top of `ledger` (DESIGN §4): new ids, or larger copies. */
function appended(ledger: LedgerRecord[], batch: LedgerRecord[]): LedgerRecord[] {
  const best = new Map(ledger.map((r) => [r.id, { total: totalTokens(r), sidechain: false, ts: r.ts }]))
  return batch.filter((r) => beatsRecorded(r, best.get(r.id)))
}

t.test('full read of fixtures/amp matches expected.json', async (t) => {
  const { records, batch, stats } = run(home(t))
  sameSumsAsExpected(t, records, EXP)
  t.equal(stats.malformed, EXP.malformedFiles, 'the thread caught mid-write')
  t.equal(stats.files, EXP.extras.files)
  t.equal(batch.duplicates, 0)
  const got = [...records].sort(byTs)
  t.equal(got.length, EXP.records.length)
  EXP.records.forEach((e: ExpectedRecord, i: number) => {
    const r = got[i]!
    t.equal(r.id, idOf(e.nativeKey), `${e.label} id`)
    t.equal(r.ts, e.ts, `${e.label} ts`)
    t.equal(r.model, e.model, `${e.label} model`)
    t.same(
      [r.input, r.output, r.cacheWrite, r.cacheRead],
      [e.input, e.output, e.cacheWrite, e.cacheRead],
      `${e.label} tokens`,
    )
    t.equal(r.session, hash16(e.session), `${e.label} session`)
    t.equal(r.project, hash16(e.project), `${e.label} project (env.initial.trees[0].uri)`)
    t.notOk('reasoning' in r || 'costUSD' in r || 'sidechain' in r, `${e.label}: no credits as USD`)
  })
  const json = JSON.stringify(records)
  t.notMatch(json, /T-0|T-019|\/home\/ana|file:/, 'no thread id or path in any record')
  t.same([...batch.projectNames.values()].sort(), ['api', 'app', 'infra'], 'names kept locally')
  t.ok([...batch.sessionIds.values()].includes('T-0a1b2c3d-1111-4e5f-8a9b-0c1d2e3f4a5b'))
})

t.test('re-reading adds nothing, with the cursors and without them', async (t) => {
  const dir = home(t)
  const first = run(dir)
  const again = run(dir, first.cursors)
  t.same(again.records, [], 'unchanged threads are not opened')
  t.same([again.stats.unchanged, again.stats.read], [3, 0])
  t.equal(again.stats.malformed, 1, 'the broken thread, without a cursor, is tried (and counted) again')
  const fresh = run(dir)
  t.same(appended(first.records, fresh.records), [], 'a read without cursors gives the same ids and totals')
  t.same(fresh.records.map((r) => r.id).sort(), first.records.map((r) => r.id).sort())
})

t.test('a thread rewritten with one more message adds exactly that message', async (t) => {
  const dir = home(t)
  const first = run(dir)
  const file = path.join(dir, A2)
  const thread = readJson(file)
  const e = EXP.extras.afterOneMoreMessage
  // The streaming response completes (Amp rewrites the whole thread), then the user writes on.
  thread.messages[7] = {
    ...thread.messages[7],
    content: [{ type: 'text', text: 'Tests added.' }],
    state: { type: 'complete', stopReason: 'end_turn' },
    usage: {
      model: e.model,
      inputTokens: e.input,
      outputTokens: e.output,
      cacheCreationInputTokens: e.cacheWrite,
      cacheReadInputTokens: e.cacheRead,
      timestamp: e.ts,
    },
  }
  thread.messages.push({ role: 'user', messageId: 8, content: [{ type: 'text', text: 'thanks' }] })
  writeJson(file, thread)
  const second = run(dir, first.cursors)
  t.equal(second.stats.read, 1, 'only the rewritten thread is read')
  t.equal(second.records.length, 4, 'read whole')
  const added = appended(first.records, second.records)
  t.equal(added.length, 1)
  t.same(pick({ records: 1, ...added[0]!, totalTokens: totalTokens(added[0]!) }), pick({ records: 1, ...e }))
  t.equal(added[0]!.id, idOf(`T-019a9c2e-5b7d-7e41-9c3a-2f8e6d4b1a07:message:${e.messageId}`))
  t.equal(added[0]!.ts, e.ts)

  // A usage block that grows while it streams keeps its id: the larger copy replaces the smaller.
  thread.messages[7].usage.outputTokens = e.output + 100
  writeJson(file, thread)
  const third = run(dir, second.cursors)
  const grown = appended([...first.records, ...added], third.records)
  t.same(
    grown.map((r) => [r.id, r.output]),
    [[added[0]!.id, e.output + 100]],
  )
})

t.test('a thread caught mid-write keeps its old cursor and is read whole once complete', async (t) => {
  const dir = home(t)
  const first = run(dir)
  const file = path.join(dir, A3)
  const whole = fs.readFileSync(file)
  fs.writeFileSync(file, whole.subarray(0, 700))
  const mid = run(dir, first.cursors)
  t.equal(mid.stats.malformed, 2, 'A3 and A4')
  t.same(mid.records, [])
  t.same(mid.cursors.amp![file], first.cursors.amp![file], 'the old cursor stays')
  fs.writeFileSync(file, whole)
  fs.utimesSync(file, new Date(), new Date(fs.statSync(file).mtimeMs + 1000))
  const done = run(dir, mid.cursors)
  t.same(
    done.records.map((r) => r.ts),
    ['2026-11-21T08:15:30.118Z', '2026-11-21T08:16:02.447Z'],
  )
  t.same(appended(first.records, done.records), [])
  // A4 completed: its one response is read.
  const a4 = path.join(dir, A4)
  fs.writeFileSync(
    a4,
    JSON.stringify({
      v: 3,
      id: 'T-019aa5d0-7e6f-7a1b-8c2d-4e5f6a7b8c9d',
      messages: [
        {
          role: 'assistant',
          messageId: 1,
          usage: {
            model: 'claude-sonnet-4-5-20250929',
            inputTokens: 40,
            outputTokens: 20,
            cacheCreationInputTokens: 100,
            cacheReadInputTokens: 0,
            timestamp: '2026-11-21T11:40:02.000Z',
          },
        },
      ],
    }),
  )
  const a4r = run(dir, done.cursors)
  t.equal(a4r.stats.malformed, 0)
  t.same(
    a4r.records.map((r) => [r.ts, totalTokens(r)]),
    [['2026-11-21T11:40:02.000Z', 160]],
  )
})

t.test('ampThread edge cases', async (t) => {
  const one = (thread: unknown) => {
    const b = new Batch()
    ampThread(JSON.stringify(thread), b, '')
    return b.records()
  }
  const msg = (id: number, usage: Record<string, unknown>) => ({ role: 'assistant', messageId: id, usage })

  t.test('a ledger event is keyed by the message it ends at: the same ids without the ledger', async (t) => {
    const a1 = readJson(path.join(FIXTURES, 'amp', A1))
    const withLedger = one(a1)
    const events = a1.usageLedger.events as Array<{ toMessageId?: number; timestamp: string }>
    delete a1.usageLedger
    for (const m of a1.messages) {
      const ev = events.find((e) => e.toMessageId === m.messageId)
      if (ev) m.usage.timestamp = ev.timestamp
    }
    const without = one(a1)
    t.same(
      without.map((r) => [r.id, totalTokens(r)]).sort(),
      withLedger
        .filter((r) => r.model !== 'claude-haiku-4-5-20251001')
        .map((r) => [r.id, totalTokens(r)])
        .sort(),
    )
  })

  t.test('two events ending at one message: the second is keyed by its own id', async (t) => {
    const ev = (id: string, output: number) => ({
      id,
      timestamp: '2026-11-18T10:00:00.000Z',
      model: 'm',
      tokens: { input: 1, output },
      toMessageId: 1,
    })
    const rs = one({ id: 'T-x', usageLedger: { events: [ev('e1', 2), ev('e2', 3)] }, messages: [msg(1, {})] })
    t.same(rs.map((r) => r.id).sort(), [idOf('T-x:message:1'), idOf('T-x:event:e2')].sort())
  })

  t.test('ledger precedes messages; cache from the message; total fallback into output', async (t) => {
    const rs = one({
      id: 'T-y',
      usageLedger: {
        events: [
          { id: 'a', timestamp: '2026-11-18T10:00:00.000Z', model: 'gpt-5', tokens: { total: 345 } },
          {
            id: 'b',
            timestamp: '2026-11-18T10:01:00.000Z',
            model: 'gpt-5',
            tokens: { input: 10, output: 5, total: 100 },
            toMessageId: 2,
          },
          { id: 'c', timestamp: 'not a time', model: 'gpt-5', tokens: { input: 1 } },
          { id: 'd', timestamp: '2026-11-18T10:02:00.000Z', model: 'gpt-5', tokens: { input: 0, output: 0 } },
        ],
      },
      messages: [msg(2, { cacheCreationInputTokens: 30, cacheReadInputTokens: 40, inputTokens: 999 })],
    }).sort(byTs)
    t.same(
      rs.map((r) => [r.input, r.output, r.cacheWrite, r.cacheRead]),
      [
        [0, 345, 0, 0],
        [10, 20, 30, 40],
      ],
      'total-only event → output (as ccusage); 100 − (10+5+30+40) = 15 more output (ccusage: extra)',
    )
  })

  t.test('messages: timestamp and model from the message when the usage lacks them', async (t) => {
    const rs = one({
      id: 'T-z',
      messages: [
        { role: 'assistant', messageId: 1, timestamp: '2026-11-18T10:00:00Z', model: 'x', usage: { inputTokens: 3 } },
        { role: 'user', messageId: 2, usage: { inputTokens: 5, timestamp: '2026-11-18T10:00:00Z' } },
        msg(3, { inputTokens: 4 }),
        { role: 'assistant', usage: { model: 'y', totalTokens: 7, timestamp: '2026-11-18T11:00:00.000Z' } },
      ],
    }).sort(byTs)
    t.same(
      rs.map((r) => [r.ts, r.model, r.input, r.output]),
      [
        ['2026-11-18T10:00:00.000Z', 'x', 3, 0],
        ['2026-11-18T11:00:00.000Z', 'y', 0, 7],
      ],
      'a user message and an undated one are skipped',
    )
  })

  t.test('not a thread: throws before adding anything', async (t) => {
    for (const bad of ['{"id":"T-1","messages":[', '[]', '{"messages":[]}', 'null'])
      t.throws(() => ampThread(bad, new Batch(), ''), bad)
  })
})

t.test('where Amp is looked for', async (t) => {
  const root = t.testdir({
    a: { threads: { 'T-1.json': '{}' } },
    b: { threads: { sub: { 'T-2.json': '{}' }, 'notes.txt': '' } },
    xdg: { amp: { threads: { 'T-3.json': '{}' } } },
    h: { '.local': { share: { amp: { threads: { 'T-4.json': '{}' } } } } },
  })
  const h = path.join(root, 'h')
  const rel = (env: ReturnType<typeof fakeEnv>) =>
    amp
      .discover(env)
      .map((f) => path.relative(root, f.path))
      .sort()

  t.test('AMP_DATA_DIR comma list replaces the defaults', async (t) => {
    const env = fakeEnv(
      { AMP_DATA_DIR: ` a ,${path.join(root, 'b')},missing`, XDG_DATA_HOME: path.join(root, 'xdg') },
      {
        userHome: h,
        cwd: root,
      },
    )
    t.same(rel(env), ['a/threads/T-1.json', 'b/threads/sub/T-2.json'])
    t.same(
      amp.looksIn(env),
      ['a', 'b', 'missing'].map((d) => path.join(root, d, 'threads')),
    )
  })

  t.test('else $XDG_DATA_HOME/amp and ~/.local/share/amp, on every platform', async (t) => {
    for (const platform of ['linux', 'darwin', 'win32'] as const) {
      const env = { ...fakeEnv({ XDG_DATA_HOME: path.join(root, 'xdg') }, { userHome: h }), platform }
      t.same(rel(env), ['h/.local/share/amp/threads/T-4.json', 'xdg/amp/threads/T-3.json'], platform)
    }
    const plain = fakeEnv({ XDG_DATA_HOME: 'relative/ignored' }, { userHome: h })
    t.same(
      amp.looksIn(plain),
      [path.join(h, '.local', 'share', 'amp', 'threads')],
      'a relative XDG_DATA_HOME is ignored',
    )
    const win = { ...fakeEnv({}, { userHome: 'C:\\Users\\ana' }), platform: 'win32' as const }
    t.same(amp.looksIn(win), [path.join('C:\\Users\\ana', '.local', 'share', 'amp', 'threads')])
  })
})

t.test('end to end: record --source amp, then report daily', async (t) => {
  const dir = t.testdir()
  const data = copyFixture(dir, 'amp')
  fs.mkdirSync(path.join(dir, 'home'))
  const env = isolatedEnv(dir, { USAGE_LEDGER_DEVICE_ID: 'b'.repeat(32), AMP_DATA_DIR: data })
  const r = await cli(['record', '--no-push', '--json', '--source', 'amp'], { env })
  t.equal(r.code, 0, r.stderr)
  t.equal(JSON.parse(r.stdout).appended, EXP.totals.records)
  const again = await cli(['record', '--no-push', '--json', '--source', 'amp'], { env })
  t.equal(JSON.parse(again.stdout).appended, 0, 'a second record appends nothing')
  const rep = await cli(['report', 'daily', '--json', '--tz', 'UTC', '--source', 'amp'], { env })
  t.equal(rep.code, 0, rep.stderr)
  const rows = JSON.parse(rep.stdout).rows as Array<Record<string, unknown>>
  t.same(Object.fromEntries(rows.map((row) => [row.period, pick(row)])), EXP.days)
})
