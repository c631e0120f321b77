import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { fakeEnv } from '../helpers/env.js'
import { collectOnce, copyFixture, hash16, byTs, sameSumsAsExpected } from '../helpers/collect.js'
import { cli, FIXTURES, isolatedEnv, pick } from '../helpers/cli.js'
import { kimi, kimiRecord, type KimiFile } from '../../lib/collect/kimi/index.js'
import type { LedgerRecord } from '../../lib/ledger/record.js'

const EXP = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'expected.json'), 'utf8')).kimi

const W = 'sessions/e52d75081ff21df708c0d6b37aed0752'
const S1 = `${W}/4f2c9a4e-0b7e-4d2a-9d7c-1a2b3c4d5e6f/wire.jsonl`
const SUB = `${W}/4f2c9a4e-0b7e-4d2a-9d7c-1a2b3c4d5e6f/subagents/a7f3c2d1/wire.jsonl`
const S2 = `${W}/9b3e7d10-55aa-4c1f-8e2b-0c9d8e7f6a5b/wire.jsonl`
const MAIN = 'sessions/c0de5e1f00d2a7b4/019a8c2e-77d4-7b1a-9f0e-3c2d1b0a9f8e/agents/main/wire.jsonl'

const run = (home: string, cursors = {}) => collectOnce(fakeEnv({ KIMI_DATA_DIR: home }), kimi, cursors)

/** A home holding only the given files of the fixture. */
function only(root: string, name: string, rels: string[]): string {
  const home = path.join(root, name)
  for (const rel of rels) {
    fs.mkdirSync(path.dirname(path.join(home, rel)), { recursive: true })
    fs.copyFileSync(path.join(FIXTURES, 'kimi', rel), path.join(home, rel))
  }
  return home
}

t.test('full read of fixtures/kimi matches expected.json', async (t) => {
  const home = copyFixture(t.testdir({}), 'kimi')
  const { records, batch, stats } = run(home)
  sameSumsAsExpected(t, records, EXP)
  t.equal(records.length, 9)
  t.equal(stats.files, 5, 'old, subagent, fork, and both Kimi Code agents')
  t.equal(stats.malformed, EXP.malformedLines, 'the cut-off line')
  t.equal(batch.duplicates, EXP.extras.foldedCopies, 'the exact repeat and the fork copies fold')
  t.same(
    records.sort(byTs).map((r) => r.ts),
    [
      '2026-11-16T09:14:07.402Z',
      '2026-11-16T09:14:12.500Z',
      '2026-11-16T09:14:20.913Z',
      '2026-11-16T23:58:41.250Z',
      '2026-11-17T00:04:10.004Z',
      '2026-11-17T14:30:12.731Z',
      '2026-11-18T10:00:00.123Z',
      '2026-11-18T10:00:50.777Z',
      '2026-11-18T10:01:35.480Z',
    ],
    'epoch seconds truncated to the ms; Kimi Code epoch ms',
  )
  for (const r of records) {
    t.equal(r.source, 'kimi')
    t.notOk('costUSD' in r || 'reasoning' in r, 'the wire has no cost and no reasoning count')
  }
})

t.test('the session is the directory under the work dir; the project the work dir; names stay local', async (t) => {
  const home = copyFixture(t.testdir({}), 'kimi')
  const { records, batch } = run(home)
  const at = (ts: string) => records.find((r) => r.ts === ts)!
  t.equal(
    at('2026-11-16T09:14:12.500Z').session,
    hash16('4f2c9a4e-0b7e-4d2a-9d7c-1a2b3c4d5e6f'),
    'a subagent: its session',
  )
  t.equal(at('2026-11-17T14:30:12.731Z').session, hash16('9b3e7d10-55aa-4c1f-8e2b-0c9d8e7f6a5b'), 'the fork: its own')
  t.equal(at('2026-11-18T10:00:50.777Z').session, hash16('019a8c2e-77d4-7b1a-9f0e-3c2d1b0a9f8e'), 'Kimi Code agent')
  t.equal(at('2026-11-16T09:14:07.402Z').project, hash16('e52d75081ff21df708c0d6b37aed0752'))
  t.equal(batch.projectNames.get(hash16('e52d75081ff21df708c0d6b37aed0752')), 'api', 'kimi.json names the work dir')
  t.equal(batch.projectNames.get(hash16('c0de5e1f00d2a7b4')), 'c0de5e1f00d2a7b4', 'unnamed: its directory')
  const text = JSON.stringify(records)
  for (const raw of ['4f2c9a4e', '9b3e7d10', '019a8c2e', 'e52d75081ff2', 'c0de5e1f', '/home/ana', 'chatcmpl', 'api']) {
    t.notOk(text.includes(raw), `no raw ${raw} in any record`)
  }
})

t.test('fork copies, exact repeats, subagent events and session totals', async (t) => {
  const root = t.testdir({})
  const s1 = run(only(root, 's1', [S1])).records.sort(byTs)
  t.same(
    s1.map((r) => r.output),
    [412, 655, 1304, 233],
    'S1: A1, A2 (its repeat folds), A3, A4; the SubagentEvent is not read',
  )
  const s2 = run(only(root, 's2', [S2])).records.sort(byTs)
  t.same(
    s2.map((r) => r.id),
    [s1[0]!.id, s1[1]!.id, s2[2]!.id],
    'the fork alone: its copies of A1 and A2 carry the ids they have in S1',
  )
  const both = run(only(root, 'both', [S1, S2]))
  t.equal(both.records.length, 5, 'A1, A2, A3, A4, C1 once each')
  const sub = run(only(root, 'sub', [SUB])).records
  t.same(
    sub.map((r) => [r.input, r.output, r.cacheRead]),
    [[3100, 280, 1024]],
    "the subagent's usage from its own file",
  )
  const main = run(only(root, 'main', [MAIN])).records.sort(byTs)
  t.same(
    main.map((r) => [r.model, r.input, r.output, r.cacheWrite, r.cacheRead]),
    [
      ['kimi-for-coding', 3099, 32, 0, 18176],
      ['k3', 6243, 141, 512, 18432],
    ],
    'turn records only; the session-scope running total is not counted',
  )
})

t.test('re-reading adds nothing; an appended line adds exactly itself', async (t) => {
  const home = copyFixture(t.testdir({}), 'kimi')
  const first = run(home)
  const again = run(home, first.cursors)
  t.equal(again.records.length, 0, 'with the cursors: nothing read')
  t.equal(again.stats.unchanged, 5)
  t.same(
    run(home)
      .records.map((r) => r.id)
      .sort(),
    first.records.map((r) => r.id).sort(),
    'without them: the same ids',
  )
  const line = {
    timestamp: 1794873900.5,
    message: {
      type: 'StatusUpdate',
      payload: {
        token_usage: { input_other: 100, output: 20, input_cache_read: 8000, input_cache_creation: 0 },
        message_id: 'chatcmpl-new',
      },
    },
  }
  fs.appendFileSync(path.join(home, S1), `${JSON.stringify(line)}\n`)
  const more = run(home, first.cursors)
  t.same(
    more.records.map((r) => [r.ts, r.input, r.output, r.cacheRead]),
    [['2026-11-17T00:05:00.500Z', 100, 20, 8000]],
  )
  t.equal(more.stats.malformed, 0, 'read from the cursor: the old malformed line is not counted again')
})

t.test('line rules', async (t) => {
  const f: KimiFile = { session: 's', project: 'p', cwd: 'p', model: 'kimi-for-coding' }
  const rec = (o: object) => kimiRecord(o, f, '')
  const su = (timestamp: unknown, token_usage: object) => ({
    timestamp,
    message: { type: 'StatusUpdate', payload: { token_usage, message_id: 'm' } },
  })
  const r = rec(su(1794820447.5, { total: 432 })) as LedgerRecord
  t.same([r.input, r.output], [0, 432], 'a total no bucket explains is output (ccusage: output when it is 0)')
  const r2 = rec(su(1794820447.5, { input_other: 10, output: 5, total: 20 })) as LedgerRecord
  t.same([r2.input, r2.output], [10, 10], '… and otherwise too (ccusage: extra, inside its total)')
  t.equal(rec(su(1794820447.5, { input_other: 0, output: 0 })), null, 'all zero: nothing')
  t.equal(rec(su(undefined, { input_other: 5, output: 1 })), 'malformed', 'no time: never the file mtime')
  t.equal((rec(su('1794820447.5', { input_other: '5', output: 1 })) as LedgerRecord).input, 5, 'numeric strings')
  const u = (o: object) =>
    rec({ type: 'usage.record', model: 'kimi-code/k3', usage: { inputOther: 7, output: 1 }, ...o })
  t.equal(u({ usageScope: 'session', time: 1 }), null, 'session scope')
  t.equal(u({ time: 1794996000123 }), null, 'no scope: not a turn (as ccusage)')
  t.equal(
    (u({ usageScope: 'turn', time: 1794996000123.96 }) as LedgerRecord).ts,
    '2026-11-18T10:00:00.123Z',
    'float ms',
  )
  t.equal(
    (u({ usageScope: 'turn', time: '2026-11-18T10:00:01Z' }) as LedgerRecord).ts,
    '2026-11-18T10:00:01.000Z',
    'ISO time',
  )
  t.equal(
    (rec({ type: 'usage.record', usageScope: 'turn', time: 1, usage: { output: 1 } }) as LedgerRecord).model,
    'kimi-for-coding',
    'no model: kimi-for-coding',
  )
  const model = (dir: string) => {
    const home = only(dir, 'h', [S1])
    fs.writeFileSync(path.join(home, 'config.json'), JSON.stringify({ model: 'kimi-k2-turbo-preview' }))
    return run(home).records[0]!.model
  }
  t.equal(model(t.testdir({})), 'kimi-k2-turbo-preview', "config.json's model, as ccusage reads it")
})

t.test('places: the variable replaces the defaults; the agents own variables move the defaults', async (t) => {
  const root = t.testdir({})
  const a = only(root, 'a', [S1])
  const b = only(root, 'b', [MAIN])
  const env = fakeEnv({ KIMI_DATA_DIR: `${a}, ${b}` }, { userHome: root })
  t.same(kimi.looksIn(env), [path.join(a, 'sessions'), path.join(b, 'sessions')])
  t.equal(collectOnce(env, kimi).records.length, 6, 'both roots read')
  t.same(kimi.looksIn(fakeEnv({}, { userHome: '/home/ana' })), [
    '/home/ana/.kimi/sessions',
    '/home/ana/.kimi-code/sessions',
  ])
  const mac = fakeEnv({}, { userHome: '/Users/ana' })
  mac.platform = 'darwin'
  t.same(kimi.looksIn(mac), ['/Users/ana/.kimi/sessions', '/Users/ana/.kimi-code/sessions'], 'macOS: the same')
  const win = fakeEnv({}, { userHome: 'C:/Users/ana' })
  win.platform = 'win32'
  t.same(
    kimi.looksIn(win),
    [path.join('C:/Users/ana', '.kimi', 'sessions'), path.join('C:/Users/ana', '.kimi-code', 'sessions')],
    'Windows: under the profile too (Path.home())',
  )
  t.same(
    kimi.looksIn(fakeEnv({ KIMI_SHARE_DIR: '/data/kimi', KIMI_CODE_HOME: '/data/kc' }, { userHome: '/home/ana' })),
    ['/data/kimi/sessions', '/data/kc/sessions'],
    "KIMI_SHARE_DIR and KIMI_CODE_HOME, the agents' own",
  )
  const rs = collectOnce(fakeEnv({}, { userHome: path.dirname(a) }), kimi)
  t.equal(rs.records.length, 0, 'nothing in the defaults of that home')
})

t.test('record then report through the CLI', async (t) => {
  const dir = t.testdir({})
  const home = copyFixture(dir, 'kimi')
  const env = isolatedEnv(dir, { USAGE_LEDGER_DEVICE_ID: 'b'.repeat(32), KIMI_DATA_DIR: home })
  const rec = await cli(['record', '--no-push', '--source', 'kimi'], { env })
  t.equal(rec.code, 0, rec.stderr)
  const r = await cli(['report', 'daily', '--json', '--tz', 'UTC', '--source', 'kimi'], { env })
  t.equal(r.code, 0, r.stderr)
  const rows = (JSON.parse(r.stdout) as { rows: Array<Record<string, unknown>> }).rows
  t.same(Object.fromEntries(rows.map((row) => [row.period, pick(row)])), EXP.days)
  const again = await cli(['record', '--no-push', '--source', 'kimi'], { env })
  t.equal(again.code, 0)
  const r2 = await cli(['report', 'daily', '--json', '--tz', 'UTC', '--source', 'kimi'], { env })
  t.same(JSON.parse(r2.stdout).totals, JSON.parse(r.stdout).totals, 'a second record adds nothing')
})
