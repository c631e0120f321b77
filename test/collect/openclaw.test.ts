import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { fakeEnv } from '../helpers/env.js'
import { collectOnce, copyFixture, sameSumsAsExpected, hash16, byTs } from '../helpers/collect.js'
import { cli, isolatedEnv, pick, type Totals } from '../helpers/cli.js'
import { Batch, type SourceCursors } from '../../lib/collect/index.js'
import { openclaw, openclawLine, sessionOfFile } from '../../lib/collect/openclaw/index.js'
import { newSessionCtx } from '../../lib/collect/pi/index.js'
import type { LedgerRecord } from '../../lib/ledger/record.js'

const FIXTURES = fileURLToPath(new URL('../../fixtures/', import.meta.url))
const EXP = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'expected.json'), 'utf8')).openclaw

const O1 = 'ab9b55c4-f540-4587-ab94-72b63b29147c'
const MAIN = 'agents/main/sessions'
const LIVE = `${MAIN}/${O1}.jsonl`

const run = (dir: string, cursors: Record<string, SourceCursors> = {}) =>
  collectOnce(fakeEnv({ OPENCLAW_DIR: dir }), openclaw, cursors)
const ids = (rs: LedgerRecord[]) => rs.map((r) => r.id).sort()

t.test('full read of fixtures/openclaw matches expected.json', async (t) => {
  const dir = copyFixture(t.testdir(), 'openclaw')
  const { records, batch, stats } = run(dir)
  sameSumsAsExpected(t, records, EXP)
  t.equal(stats.files, 5, 'live, reset, deleted, thread fork, second agent')
  t.equal(stats.malformed, EXP.malformedLines)
  t.equal(batch.duplicates, 2, 'B4 written twice; B1 copied into the thread fork')
  const got = [...records].sort(byTs)
  const want = [...EXP.records].sort((a, b) => (a.ts < b.ts ? -1 : 1))
  t.equal(got.length, EXP.records.length)
  want.forEach((e: Record<string, unknown>, i: number) => {
    const r = got[i]!
    t.equal(r.ts, e.ts, `${e.label} ts (the message's own time)`)
    t.equal(r.model, e.model, `${e.label} model`)
    t.same([r.input, r.output, r.cacheWrite, r.cacheRead], [e.input, e.output, e.cacheWrite, e.cacheRead], `${e.label}`)
    t.equal(r.costUSD, e.costUSD, `${e.label} cost`)
    t.equal(r.session, hash16(e.session as string), `${e.label} session`)
    t.equal(r.project, hash16(e.label === 'B6' ? '/home/ana/.openclaw/workspace-ops' : '/home/ana/.openclaw/workspace'))
  })
  const text = JSON.stringify(records)
  for (const raw of [O1, '/home/ana', 'workspace']) t.notOk(text.includes(raw), `no ${raw} in a record`)
})

t.test('a session renamed to its reset or deleted archive adds nothing', async (t) => {
  const dir = copyFixture(t.testdir(), 'openclaw')
  const first = run(dir)
  for (const suffix of ['reset.2026-11-21T08-00-00.000Z', 'deleted.2026-11-21T09-00-00.000Z']) {
    const from = fs.readdirSync(path.join(dir, MAIN)).find((f) => f.startsWith(O1))!
    fs.renameSync(path.join(dir, MAIN, from), path.join(dir, MAIN, `${O1}.jsonl.${suffix}`))
    const next = run(dir, first.cursors)
    t.equal(next.stats.read, 1, 'the archive is a new path: read whole')
    t.equal(next.records.length, 2)
    t.ok(
      next.records.every((r) => first.records.some((f) => f.id === r.id && f.session === r.session)),
      'B1 and B2 with the ids (and session) they had',
    )
  }
  // A live file and a copy of it under an archive name in one run: once.
  fs.copyFileSync(
    path.join(dir, MAIN, `${O1}.jsonl.deleted.2026-11-21T09-00-00.000Z`),
    path.join(dir, MAIN, `${O1}.jsonl`),
  )
  const both = run(dir)
  t.same(ids(both.records), ids(first.records))
  t.equal(both.batch.duplicates, 4)
})

t.test('a vanished file takes nothing out; incremental runs read nothing new', async (t) => {
  const dir = copyFixture(t.testdir(), 'openclaw')
  const first = run(dir)
  const again = run(dir, first.cursors)
  t.equal(again.records.length, 0)
  t.equal(again.stats.unchanged, 5)
  fs.rmSync(path.join(dir, LIVE))
  const gone = run(dir, again.cursors)
  t.equal(gone.records.length, 0)
  t.notOk(path.join(dir, LIVE) in gone.cursors.openclaw!, 'its cursor is dropped')
})

t.test('an appended response; the model from the last model_change or model-snapshot', async (t) => {
  const dir = copyFixture(t.testdir(), 'openclaw')
  const first = run(dir)
  const snap = {
    type: 'custom',
    customType: 'model-snapshot',
    data: {
      timestamp: 1795737000000,
      provider: 'anthropic',
      modelApi: 'anthropic-messages',
      modelId: 'claude-haiku-4-5',
    },
    id: 'c0ffee01',
    parentId: '6a7b8c9d',
    timestamp: '2026-11-21T08:30:00.000Z',
  }
  const line = {
    type: 'message',
    id: 'c0ffee02',
    parentId: 'c0ffee01',
    timestamp: '2026-11-21T08:30:05.000Z',
    message: {
      role: 'assistant',
      content: [],
      usage: { input: 9, output: 40, cacheRead: 300, cacheWrite: 0, totalTokens: 349, cost: { total: 0.00026 } },
      timestamp: 1795249801000,
    },
  }
  fs.appendFileSync(path.join(dir, LIVE), `${JSON.stringify(snap)}\n${JSON.stringify(line)}\n`)
  const next = run(dir, first.cursors)
  t.equal(next.records.length, 1)
  t.match(next.records[0], {
    ts: '2026-11-21T08:30:01.000Z',
    model: 'claude-haiku-4-5',
    input: 9,
    output: 40,
    cacheRead: 300,
    costUSD: 0.00026,
    session: hash16(O1),
  })
})

t.test('openclawLine: times and models', async (t) => {
  const add = (lines: object[]) => {
    const batch = new Batch()
    const c = { ...newSessionCtx(), session: 's' }
    for (const o of lines) openclawLine(o, c, batch, '')
    return batch.records()
  }
  const usage = { input: 1660, output: 55, cacheRead: 108928, cost: { total: 0.02 } }
  // ccusage's own test line: no model on the message, no line timestamp.
  const [r] = add([
    { type: 'model_change', provider: 'openai-codex', modelId: 'gpt-5.2' },
    { type: 'message', message: { role: 'assistant', usage, timestamp: 1769753935279 } },
  ])
  t.match(r, { ts: '2026-01-30T06:18:55.279Z', model: 'gpt-5.2', input: 1660, output: 55, cacheRead: 108928 })
  t.equal(
    add([{ type: 'message', timestamp: '2026-11-20T10:00:00.000Z', message: { role: 'assistant', usage } }])[0]!.model,
    'unknown',
  )
  t.equal(
    add([
      { type: 'message', timestamp: '2026-11-20T10:00:00.000Z', message: { role: 'assistant', usage, model: 'm' } },
    ])[0]!.ts,
    '2026-11-20T10:00:00.000Z',
    'the line time when the message has none',
  )
  t.equal(add([{ type: 'message', message: { role: 'assistant', usage } }]).length, 0, 'no time: not a record')
  t.equal(
    add([{ message: { role: 'assistant', usage, timestamp: 1769753935279 } }]).length,
    0,
    'a typeless line is not an OpenClaw message',
  )
  t.equal(
    add([
      { type: 'message', message: { role: 'assistant', usage: { input: 1, output: 1, totalTokens: 2 }, timestamp: 1 } },
      { type: 'message', message: { role: 'assistant', usage: { input: 1, output: 1, totalTokens: 2 }, timestamp: 1 } },
    ]).length,
    1,
    'a repeated line folds (ccusage deduplicates_repeated_openclaw_records)',
  )
})

t.test('which files are transcripts', async (t) => {
  t.equal(sessionOfFile(`${O1}.jsonl`), O1)
  t.equal(sessionOfFile(`${O1}.jsonl.reset.2026-11-19T22-00-00.000Z`), O1)
  t.equal(sessionOfFile(`${O1}.jsonl.deleted.2026-11-19T22-00-00.000Z`), O1)
  t.equal(sessionOfFile(`${O1}-topic-42.jsonl`), `${O1}-topic-42`)
  for (const name of [`${O1}.jsonl.bak`, `${O1}.json`, '.jsonl', 'sessions.json', `${O1}.jsonl.full.bak`])
    t.equal(sessionOfFile(name), null, name)

  const line =
    '{"type":"message","timestamp":"2026-11-20T10:00:00.000Z","message":{"role":"assistant","usage":{"input":1}}}\n'
  const root = t.testdir({
    agents: { main: { sessions: { 'a.jsonl': line, 'b.jsonl.bak': line, archive: { 'c.jsonl.reset.x': line } } } },
    sessions: { 'd.jsonl': line },
    workspace: { 'notes.jsonl': line },
    cron: { runs: { 'job.jsonl': line } },
  })
  fs.symlinkSync(path.join(root, 'agents/main/sessions/a.jsonl'), path.join(root, 'agents/main/sessions/e.jsonl'))
  const found = openclaw
    .discover(fakeEnv({ OPENCLAW_DIR: root }))
    .map((f) => path.relative(root, f.path))
    .sort()
  t.same(found, ['agents/main/sessions/a.jsonl', 'agents/main/sessions/archive/c.jsonl.reset.x', 'sessions/d.jsonl'])
})

t.test('where it looks', async (t) => {
  const home = '/home/ana'
  const homes = ['.openclaw', '.clawdbot', '.moltbot', '.moldbot'].map((d) => path.join(home, d))
  for (const platform of ['linux', 'darwin', 'win32'] as const)
    t.same(openclaw.looksIn({ ...fakeEnv({}, { userHome: home }), platform }), homes, platform)
  t.same(openclaw.looksIn(fakeEnv({ OPENCLAW_STATE_DIR: '~/.openclaw-work' }, { userHome: home })), [
    path.join(home, '.openclaw-work'),
    ...homes,
  ])
  t.same(openclaw.looksIn(fakeEnv({ OPENCLAW_DIR: '/a, b' }, { userHome: home, cwd: '/w' })), ['/a', '/w/b'])
  const dir = copyFixture(t.testdir(), 'openclaw')
  t.equal(openclaw.discover(fakeEnv({ OPENCLAW_DIR: `${dir},/nonexistent` }, { userHome: dir })).length, 5)
  t.equal(
    openclaw.discover(fakeEnv({ OPENCLAW_DIR: '/nonexistent' }, { userHome: path.dirname(dir) })).length,
    0,
    'the variable replaces the defaults',
  )
})

t.test('end to end: record, the session reset (renamed), record again', async (t) => {
  const dir = t.testdir({})
  const state = copyFixture(dir, 'openclaw')
  fs.mkdirSync(path.join(dir, 'home'))
  const env = isolatedEnv(dir, { OPENCLAW_DIR: state, USAGE_LEDGER_DEVICE_ID: 'c'.repeat(32) })
  const first = await cli(['record', '--no-push', '--json', '--source', 'openclaw'], { env })
  t.equal(first.code, 0, first.stderr)
  t.equal(JSON.parse(first.stdout).appended, 6)
  fs.renameSync(path.join(state, LIVE), path.join(state, `${LIVE}.reset.2026-11-21T08-00-00.000Z`))
  const second = await cli(['record', '--no-push', '--json', '--source', 'openclaw'], { env })
  t.equal(JSON.parse(second.stdout).appended, 0)
  const r = await cli(['report', 'daily', '--json', '--tz', 'UTC', '--source', 'openclaw'], { env })
  t.equal(r.code, 0, r.stderr)
  const rows = JSON.parse(r.stdout).rows as Array<Record<string, unknown>>
  const days: Record<string, Totals> = Object.fromEntries(rows.map((row) => [row.period as string, pick(row)]))
  t.same(days, EXP.days)
})
