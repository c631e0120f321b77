import t from 'tap'
import { fakeEnv } from '../helpers/env.js'
import { collectOnce, copyFixture, sumBy, sameSumsAsExpected, recordIdOf, hash16, byTs } from '../helpers/collect.js'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Env } from '../../lib/env.js'
import { Batch, type SourceCursors } from '../../lib/collect/index.js'
import { codex, codexLine, uuidV7Ms, SOURCE, type CodexCtx } from '../../lib/collect/codex/index.js'
import { accountHash } from '../../lib/ledger/limits.js'

const FIXTURES = fileURLToPath(new URL('../../fixtures/', import.meta.url))
const expected = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'expected.json'), 'utf8'))
const EXP = expected.codex

const C1 = 'sessions/2026/11/19/rollout-2026-11-19T10-00-00-01a1f33f-b1b8-7531-baee-cb359a08c614.jsonl'
const C2 = 'sessions/2026/11/20/rollout-2026-11-20T23-41-07-01a1fb55-d04d-7581-813a-503bc2690e3d.jsonl'
const C3 = 'sessions/2026/11/21/rollout-2026-11-21T09-30-00-01a1fd70-f35c-7f5d-b8e2-b11d772402e8.jsonl'
const C4 = 'archived_sessions/rollout-2026-11-18T16-20-45-01a1ef75-eba2-75dc-9a3d-3da662efbce4.jsonl'
const FILES = [C1, C2, C3, C4]

const idOf = (nativeKey: string) => recordIdOf('codex', nativeKey)

const copyCodex = (root: string, name = 'codex') => copyFixture(root, 'codex', name)

const run = (env: Env, cursors: Record<string, SourceCursors> = {}) => collectOnce(env, codex, cursors)

t.test('full read of fixtures/codex matches expected.json', async (t) => {
  const home = copyCodex(t.testdir({}))
  const { records, batch, stats } = run(fakeEnv({ CODEX_HOME: home }))

  sameSumsAsExpected(t, records, EXP)
  t.equal(stats.malformed, EXP.malformedLines, 'malformed')
  t.equal(batch.malformed, 1)
  t.equal(stats.files, 4)
  t.equal(
    records.reduce((n, r) => n + (r.reasoning ?? 0), 0),
    EXP.extras.reasoning,
    'reasoning',
  )
  t.equal(batch.duplicates, 0, 'no duplicate ids inside the fixtures')

  // Every expected record, in time order (the fixture timestamps are all distinct).
  const got = [...records].sort(byTs)
  t.equal(got.length, EXP.records.length)
  EXP.records.forEach((e: Record<string, unknown>, i: number) => {
    const r = got[i]!
    t.equal(r.ts, e.ts, `${e.label} ts`)
    t.equal(r.model, e.model, `${e.label} model`)
    t.same(
      [r.input, r.output, r.cacheWrite, r.cacheRead],
      [e.input, e.output, e.cacheWrite, e.cacheRead],
      `${e.label} tokens`,
    )
    t.equal(r.reasoning, e.reasoning, `${e.label} reasoning`)
    t.equal(r.session, hash16(e.session as string), `${e.label} session hash (own session id, also in the fork)`)
    t.equal(
      r.project,
      hash16(String(e.label).startsWith('C2') ? '/home/ana/src/billing' : '/home/ana/src/api'),
      `${e.label} project hash (session_meta cwd)`,
    )
    t.equal(r.source, 'codex')
    t.notOk('sidechain' in r || 'cacheWrite1h' in r || 'costUSD' in r)
  })

  // The id is built from the session and the cumulative total (FORMATS.md §2).
  const c12 = records.find((r) => r.ts === '2026-11-19T10:01:02.118Z')
  t.equal(
    c12?.id,
    idOf('01a1f33f-b1b8-7531-baee-cb359a08c614:19328:13440:1628:1088'),
    'C1#2 id = session + cumulative total',
  )
})

t.test('per-file behaviour', async (t) => {
  const root = t.testdir({})
  const home = copyCodex(root)
  const only = (rel: string) => {
    const h = path.join(root, `only-${path.basename(rel)}`)
    fs.mkdirSync(path.dirname(path.join(h, rel)), { recursive: true })
    fs.copyFileSync(path.join(home, rel), path.join(h, rel))
    return run(fakeEnv({ CODEX_HOME: h })).records.sort(byTs)
  }

  t.test('C1: last_token_usage, info:null and re-emission skipped, model switch', async (t) => {
    const rs = only(C1)
    t.same(
      rs.map((r) => r.ts),
      ['2026-11-19T10:00:27.702Z', '2026-11-19T10:01:02.118Z', '2026-11-19T10:15:11.406Z', '2026-11-19T10:16:40.251Z'],
      'lines 9, 11, 19, 22 only (6 null, 12 re-emit skipped)',
    )
    t.same(
      rs.map((r) => r.model),
      ['gpt-5-codex', 'gpt-5-codex', 'gpt-5', 'gpt-5'],
      'model switch at line 15',
    )
    t.same(
      [rs[1]!.input, rs[1]!.cacheRead, rs[1]!.output, rs[1]!.reasoning],
      [1030, 9088, 1240, 832],
      'input = in − cached',
    )
    t.equal(sumBy(rs, () => 'x').x!.totalTokens, 49904, "= C1's final total_tokens")
  })

  t.test('C2: total-only events → deltas; crossing midnight', async (t) => {
    const rs = only(C2)
    t.equal(rs.length, 3)
    t.same(
      rs.map((r) => [r.input, r.cacheRead, r.output, r.reasoning]),
      [
        [3048, 3072, 455, 320],
        [1250, 7040, 832, 576],
        [1279, 9344, 814, 448],
      ],
    )
    t.same(
      rs.map((r) => r.ts.slice(0, 10)),
      ['2026-11-20', '2026-11-20', '2026-11-21'],
      'dated by the event, not the path',
    )
  })

  t.test('C3: the fork replay is not counted; model from the fork own turn', async (t) => {
    const rs = only(C3)
    t.equal(rs.length, 2, 'replayed parent token_counts and the inherited re-emit skipped')
    t.same(
      rs.map((r) => r.ts),
      ['2026-11-21T09:31:58.604Z', '2026-11-21T09:33:20.987Z'],
    )
    t.same(
      rs.map((r) => r.model),
      ['gpt-5-codex', 'gpt-5-codex'],
    )
    t.same(
      rs.map((r) => r.input + r.output + r.cacheRead),
      [16532, 18904],
    )
    t.equal(rs[0]!.session, hash16('01a1fd70-f35c-7f5d-b8e2-b11d772402e8'), "the fork's own session id")
  })

  t.test('C3 without C1 still gives the same (needs only the fork file) and does not collide with C1', async (t) => {
    const all = run(fakeEnv({ CODEX_HOME: home })).records
    const c3 = only(C3)
    const c1 = only(C1)
    t.same(new Set([...c1, ...c3].map((r) => r.id)).size, 6)
    t.ok(c3.every((r) => all.some((a) => a.id === r.id)))
  })

  t.test('C4: archived_sessions is scanned', async (t) => {
    const rs = only(C4)
    t.same(
      rs.map((r) => [r.ts, r.model, r.input, r.cacheRead, r.output]),
      [
        ['2026-11-18T16:21:30.455Z', 'gpt-5', 5512, 0, 610],
        ['2026-11-18T16:24:02.918Z', 'gpt-5', 1964, 5376, 1122],
      ],
    )
  })
})

t.test('incremental: second run reads nothing', async (t) => {
  const home = copyCodex(t.testdir({}))
  const env = fakeEnv({ CODEX_HOME: home })
  const first = run(env)
  const second = run(env, first.cursors)
  t.same(second.records, [])
  t.equal(second.stats.unchanged, 4)
  t.equal(second.stats.read, 0)
  for (const f of FILES) {
    const cur = first.cursors[SOURCE]![path.join(home, f)]
    t.ok(cur, `cursor for ${f}`)
    t.equal(cur?.offset, fs.statSync(path.join(home, f)).size)
    t.ok(cur?.ctx && typeof cur.ctx === 'object', 'ctx kept')
  }
  // The ctx survives a JSON round trip (it is saved in cursors.json).
  const c1 = first.cursors[SOURCE]![path.join(home, C1)]!.ctx as CodexCtx
  t.same(JSON.parse(JSON.stringify(c1)), c1)
  t.equal(c1.model, 'gpt-5')
  t.same(c1.prev, [45735, 36992, 4169, 2752], "running total = C1's final total_token_usage")
})

t.test('incremental reading across a split gives the same records as one read', async (t) => {
  const root = t.testdir({})
  const src = copyCodex(root, 'src')
  for (const rel of FILES) {
    const whole = fs.readFileSync(path.join(src, rel))
    const h = path.join(root, `split-${path.basename(rel)}`)
    const file = path.join(h, rel)
    fs.mkdirSync(path.dirname(file), { recursive: true })
    fs.writeFileSync(file, whole)
    const env = fakeEnv({ CODEX_HOME: h })
    const reference = run(env).records.sort(byTs)

    // Split after every line, and in the middle of every line.
    const cuts: number[] = []
    for (let i = whole.indexOf(10); i >= 0; i = whole.indexOf(10, i + 1)) {
      cuts.push(i + 1)
      if (i > 20) cuts.push(i - 20)
    }
    let failures = 0
    for (const cut of cuts.filter((c) => c < whole.length)) {
      fs.writeFileSync(file, whole.subarray(0, cut))
      const a = run(env)
      fs.appendFileSync(file, whole.subarray(cut))
      const b = run(env, a.cursors)
      const union = [...a.records, ...b.records].sort(byTs)
      const offsetA = a.cursors[SOURCE]![file]!.offset
      const ok =
        JSON.stringify(union) === JSON.stringify(reference) &&
        b.stats.bytes === whole.length - offsetA &&
        (offsetA === 0 || whole[offsetA - 1] === 10) &&
        offsetA <= cut
      if (!ok) {
        failures++
        t.same(union, reference, `${path.basename(rel)} cut at ${cut}`)
        t.equal(b.stats.bytes, whole.length - offsetA, 'second run reads only from the cursor')
        t.ok((offsetA === 0 || whole[offsetA - 1] === 10) && offsetA <= cut, 'cursor at a line end before the cut')
      }
    }
    t.equal(
      failures,
      0,
      `${path.basename(rel)}: ${cuts.length} splits all equal one whole read (${reference.length} records)`,
    )
  }
})

t.test('a session moved to archived_sessions yields only ids already recorded', async (t) => {
  const home = copyCodex(t.testdir({}))
  const env = fakeEnv({ CODEX_HOME: home })
  const first = run(env)
  const ids = new Set(first.records.map((r) => r.id))
  const from = path.join(home, C1)
  const to = path.join(home, 'archived_sessions', path.basename(C1))
  fs.renameSync(from, to)
  const second = run(env, first.cursors)
  t.equal(second.stats.read, 1, 'the moved file is read (new path)')
  t.equal(second.records.length, 4)
  t.ok(
    second.records.every((r) => ids.has(r.id)),
    'same ids as before the move: dedupe by id adds nothing',
  )
  const c1 = first.records.filter((r) => r.ts.startsWith('2026-11-19')).sort(byTs)
  t.same(second.records.sort(byTs), c1, 'identical records')
  t.notOk(from in second.cursors[SOURCE]!, 'cursor of the vanished path dropped')
  t.ok(to in second.cursors[SOURCE]!)
})

t.test('codexLine edge cases', async (t) => {
  const ctx = (): CodexCtx => ({
    session: '',
    cwd: '',
    model: 'unknown',
    prev: null,
    replay: false,
    forkIdMs: null,
    firstLineMs: 0,
    lines: 0,
  })
  const usage = (i: number, c: number, o: number, r: number) => ({
    input_tokens: i,
    cached_input_tokens: c,
    output_tokens: o,
    reasoning_output_tokens: r,
    total_tokens: i + o,
  })
  const tc = (ts: string, total: object | undefined, last?: object) => ({
    timestamp: ts,
    type: 'event_msg',
    payload: {
      type: 'token_count',
      info: { ...(total ? { total_token_usage: total } : {}), ...(last ? { last_token_usage: last } : {}) },
    },
  })
  const meta = (extra: object = {}) => ({
    timestamp: '2026-11-21T09:00:00.000Z',
    type: 'session_meta',
    payload: { id: 'sess-1', cwd: '/w', ...extra },
  })

  t.test('totals that go down: last_token_usage when present, else skipped and rebased', async (t) => {
    const b = new Batch(),
      c = ctx()
    codexLine(meta(), c, b, '')
    codexLine({ timestamp: '2026-11-21T09:00:01.000Z', type: 'turn_context', payload: { model: 'gpt-5' } }, c, b, '')
    codexLine(tc('2026-11-21T09:00:02.000Z', usage(1000, 100, 50, 10)), c, b, '')
    codexLine(tc('2026-11-21T09:00:03.000Z', usage(400, 0, 20, 0), usage(300, 0, 20, 0)), c, b, '') // compaction: drop, last present
    codexLine(tc('2026-11-21T09:00:04.000Z', usage(200, 0, 10, 0)), c, b, '') // drop, no last → skipped
    codexLine(tc('2026-11-21T09:00:05.000Z', usage(260, 0, 15, 0)), c, b, '') // delta from 200/10
    const rs = b.records().sort(byTs)
    t.same(
      rs.map((r) => [r.input, r.cacheRead, r.output]),
      [
        [900, 100, 50],
        [300, 0, 20],
        [60, 0, 5],
      ],
    )
    t.ok(rs.every((r) => r.model === 'gpt-5'))
  })

  t.test('fallback model from info.model; unknown otherwise', async (t) => {
    const b = new Batch(),
      c = ctx()
    codexLine(meta(), c, b, '')
    const ev = tc('2026-11-21T09:00:02.000Z', usage(10, 0, 1, 0)) as { payload: { info: Record<string, unknown> } }
    ev.payload.info.model = 'gpt-5-mini'
    codexLine(ev as never, c, b, '')
    t.equal(b.records()[0]?.model, 'gpt-5-mini')
  })

  t.test('subagent fork with non-v7 ids: the 1 s gap ends the replay', async (t) => {
    const b = new Batch(),
      c = ctx()
    codexLine(
      meta({ id: 'not-a-uuid', source: { subagent: { thread_spawn: { parent_thread_id: 'parent' } } } }),
      c,
      b,
      '',
    )
    t.equal(c.replay, true)
    codexLine(
      { timestamp: '2026-11-21T09:00:00.010Z', type: 'turn_context', payload: { model: 'old', turn_id: 'x' } },
      c,
      b,
      '',
    )
    codexLine(tc('2026-11-21T09:00:00.011Z', usage(500, 0, 50, 0), usage(500, 0, 50, 0)), c, b, '')
    t.equal(c.replay, true, 'still replay within the first second')
    codexLine(
      { timestamp: '2026-11-21T09:00:01.500Z', type: 'turn_context', payload: { model: 'new', turn_id: 'y' } },
      c,
      b,
      '',
    )
    t.equal(c.replay, false)
    codexLine(tc('2026-11-21T09:00:02.000Z', usage(500, 0, 50, 0), usage(500, 0, 50, 0)), c, b, '') // inherited re-emit
    codexLine(tc('2026-11-21T09:00:03.000Z', usage(700, 0, 80, 0)), c, b, '') // delta vs baseline
    const rs = b.records()
    t.same(
      rs.map((r) => [r.model, r.input, r.output]),
      [['new', 200, 30]],
    )
  })

  t.test('all-zero and null info skipped', async (t) => {
    const b = new Batch(),
      c = ctx()
    codexLine(meta(), c, b, '')
    codexLine(
      { timestamp: '2026-11-21T09:00:01.000Z', type: 'event_msg', payload: { type: 'token_count', info: null } },
      c,
      b,
      '',
    )
    codexLine(tc('2026-11-21T09:00:02.000Z', usage(0, 0, 0, 0), usage(0, 0, 0, 0)), c, b, '')
    t.equal(b.records().length, 0)
  })
})

t.test('uuidV7Ms', async (t) => {
  const ms = uuidV7Ms('01a1f33f-b1b8-7531-baee-cb359a08c614')
  t.equal(ms, 0x01a1f33fb1b8)
  t.equal(ms, 1795082400184, 'the 48-bit prefix in ms')
  t.equal(new Date(ms!).toISOString(), '2026-11-19T10:00:00.184Z', "= C1's session_meta timestamp")
  t.equal(uuidV7Ms('01A1F33F-B1B8-7531-BAEE-CB359A08C614'), ms, 'upper case accepted')
  t.equal(uuidV7Ms('3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6b'), null, 'UUIDv4 → null')
  t.equal(uuidV7Ms('01a1f33f-b1b8-7531-caee-cb359a08c614'), null, 'bad variant → null')
  t.equal(uuidV7Ms('01a1f33fb1b87531baeecb359a08c614'), null, 'no dashes → null')
  t.equal(uuidV7Ms(42), null)
  t.equal(uuidV7Ms(undefined), null)
  // The fork's turn id sorts after the fork's own id.
  t.ok(uuidV7Ms('01a1fd72-0b32-7258-b771-1a46e2ebeaa3')! >= uuidV7Ms('01a1fd70-f35c-7f5d-b8e2-b11d772402e8')!)
})

// A fork whose own turns write no turn_context after the copied parent history (seen in real
// rollouts): its own events must still count, against the parent's final total, with the model
// the copied history named. Lines in the real layout (FORMATS.md §2).
t.test('a fork with no turn_context of its own after the copied prefix', async (t) => {
  const v7 = (iso: string, tail: string) => {
    const h = Date.parse(iso).toString(16).padStart(12, '0')
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-7${tail.slice(0, 3)}-8${tail.slice(3, 6)}-${tail.slice(6, 18)}`
  }
  const PARENT = v7('2026-11-21T20:00:00.000Z', 'aaa111222333444555')
  const FORK = v7('2026-11-22T08:00:00.000Z', 'bbb111222333444555')
  const rl = {
    primary: { used_percent: 3.0, window_minutes: 300, resets_at: 1795420000 },
    secondary: { used_percent: 20.0, window_minutes: 10080, resets_at: 1795900000 },
  }
  const u = (i: number, c: number, o: number, r: number) => ({
    input_tokens: i,
    cached_input_tokens: c,
    output_tokens: o,
    reasoning_output_tokens: r,
    total_tokens: i + o,
  })
  const tc = (ts: string, total: object | null, last?: object) => ({
    timestamp: ts,
    type: 'event_msg',
    payload: {
      type: 'token_count',
      info: total
        ? { total_token_usage: total, ...(last ? { last_token_usage: last } : {}), model_context_window: 272000 }
        : null,
      rate_limits: rl,
    },
  })
  const meta = (ts: string, id: string, extra: object = {}) => ({
    timestamp: ts,
    type: 'session_meta',
    payload: {
      id,
      timestamp: ts,
      cwd: '/home/ana/src/api',
      originator: 'codex_cli_rs',
      cli_version: '0.121.0',
      instructions: null,
      source: 'cli',
      model_provider: 'openai',
      ...extra,
    },
  })
  const turn = (ts: string, turnId: string, model: string) => ({
    timestamp: ts,
    type: 'turn_context',
    payload: {
      turn_id: turnId,
      cwd: '/home/ana/src/api',
      approval_policy: 'on-request',
      sandbox_policy: { type: 'workspace-write' },
      model,
      effort: 'medium',
      summary: 'auto',
    },
  })
  const item = (ts: string, role: string, text: string) => ({
    timestamp: ts,
    type: 'response_item',
    payload: { type: 'message', role, content: [{ type: role === 'user' ? 'input_text' : 'output_text', text }] },
  })
  const at = (ms: number) => new Date(Date.parse('2026-11-22T08:00:00.000Z') + ms).toISOString()

  // Line 1: the fork; lines 2-8: the parent's history re-stamped within milliseconds; then the
  // fork's own turn 40 s later, with no turn_context.
  const copied = [
    meta(at(1), PARENT),
    turn(at(2), v7('2026-11-21T20:00:05.000Z', 'ccc111222333444555'), 'gpt-5'),
    item(at(3), 'user', 'add retries to the client'),
    tc(at(4), null),
    tc(at(5), u(6000, 2000, 500, 300), u(6000, 2000, 500, 300)),
    item(at(6), 'assistant', 'done'),
    tc(at(7), u(14000, 9000, 900, 500), u(8000, 7000, 400, 200)),
    tc(at(8), u(14000, 9000, 900, 500), u(8000, 7000, 400, 200)), // re-emitted
  ]
  const own = [
    item(at(40_000), 'user', 'now the same for the uploader'),
    tc(at(40_001), u(14000, 9000, 900, 500), u(8000, 7000, 400, 200)), // the inherited total, re-emitted at turn start
    tc(at(52_000), u(24000, 17000, 1500, 900), u(10000, 8000, 600, 400)),
    item(at(52_001), 'assistant', 'done too'),
    tc(at(61_000), u(31000, 21000, 1800, 1000), u(7000, 4000, 300, 100)),
  ]
  const forkLines = [meta(at(0), FORK, { forked_from_id: PARENT }), ...copied, ...own]
  const jsonl = (lines: object[]) => `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`
  const REL = `sessions/2026/11/22/rollout-2026-11-22T08-00-00-${FORK}.jsonl`
  const read = (text: string) => {
    const home = t.testdir({})
    fs.mkdirSync(path.dirname(path.join(home, REL)), { recursive: true })
    fs.writeFileSync(path.join(home, REL), text)
    return run(fakeEnv({ CODEX_HOME: home }))
  }

  const r = read(jsonl(forkLines))
  const rs = r.records.sort(byTs)
  t.same(
    rs.map((x) => [x.ts, x.model, x.input, x.cacheRead, x.output, x.reasoning]),
    [
      [at(52_000), 'gpt-5', 2000, 8000, 600, 400],
      [at(61_000), 'gpt-5', 3000, 4000, 300, 100],
    ],
    "the fork's own two calls, from last_token_usage, with the model of the copied history; the copy and the inherited re-emit are not counted",
  )
  t.same(
    rs.map((x) => x.id),
    [idOf(`${FORK}:24000:17000:1500:900`), idOf(`${FORK}:31000:21000:1800:1000`)],
  )
  t.ok(
    rs.every((x) => x.session === hash16(FORK)),
    "the fork's own session",
  )
  t.equal(r.stats.malformed, 0)

  // Total-only events (older builds): deltas against the parent's final total.
  const strip = (l: ReturnType<typeof tc>) =>
    l.payload.info
      ? {
          ...l,
          payload: {
            ...l.payload,
            info: { total_token_usage: l.payload.info.total_token_usage, model_context_window: 272000 },
          },
        }
      : l
  const totalsOnly = forkLines.map((l) =>
    (l as { payload: { type?: string } }).payload.type === 'token_count' ? strip(l as ReturnType<typeof tc>) : l,
  )
  t.same(
    read(jsonl(totalsOnly))
      .records.sort(byTs)
      .map((x) => [x.input, x.cacheRead, x.output, x.reasoning]),
    [
      [2000, 8000, 600, 400],
      [3000, 4000, 300, 100],
    ],
    'total-only: the same usage',
  )

  // Read in two runs, cut after every line: the same records.
  const whole = Buffer.from(jsonl(forkLines))
  let failures = 0
  for (let cut = whole.indexOf(10) + 1; cut > 0 && cut < whole.length; cut = whole.indexOf(10, cut) + 1) {
    const home = t.testdir({})
    const file = path.join(home, REL)
    fs.mkdirSync(path.dirname(file), { recursive: true })
    fs.writeFileSync(file, whole.subarray(0, cut))
    const env = fakeEnv({ CODEX_HOME: home })
    const a = run(env)
    const ctx = JSON.parse(JSON.stringify(a.cursors)) // as cursors.json keeps it
    fs.appendFileSync(file, whole.subarray(cut))
    const b = run(env, ctx)
    if (JSON.stringify([...a.records, ...b.records].sort(byTs)) !== JSON.stringify(rs)) failures++
  }
  t.equal(failures, 0, 'every split reads the same two records')

  // A long copy burst (lines 1 ms apart for more than a second) is still the copy.
  const long = [
    meta(at(0), FORK, { forked_from_id: PARENT }),
    meta(at(1), PARENT),
    turn(at(2), v7('2026-11-21T20:00:05.000Z', 'ccc111222333444555'), 'gpt-5'),
  ]
  let total = u(0, 0, 0, 0)
  for (let i = 0; i < 1500; i++) {
    if (i % 100 === 99) {
      total = u(total.input_tokens + 1000, total.cached_input_tokens + 500, total.output_tokens + 50, 0)
      long.push(tc(at(3 + i), total, u(1000, 500, 50, 0)) as never)
    } else long.push(item(at(3 + i), 'assistant', `copied ${i}`) as never)
  }
  long.push(
    tc(
      at(30_000),
      u(total.input_tokens + 700, total.cached_input_tokens, total.output_tokens + 70, 0),
      u(700, 0, 70, 0),
    ) as never,
  )
  const lr = read(jsonl(long)).records
  t.same(
    lr.map((x) => [x.ts, x.input, x.output]),
    [[at(30_000), 700, 70]],
    'copied token_counts written over 1.5 s are not counted; the own one after the pause is',
  )

  // Copied lines that kept their original (older) timestamps are copies too.
  const old = [
    meta(at(0), FORK, { forked_from_id: PARENT }),
    meta('2026-11-21T20:00:00.000Z', PARENT),
    tc('2026-11-21T20:01:00.000Z', u(6000, 2000, 500, 300), u(6000, 2000, 500, 300)),
    tc('2026-11-21T20:05:00.000Z', u(14000, 9000, 900, 500), u(8000, 7000, 400, 200)),
    tc(at(52_000), u(24000, 17000, 1500, 900), u(10000, 8000, 600, 400)),
  ]
  t.same(
    read(jsonl(old)).records.map((x) => [x.ts, x.input, x.output]),
    [[at(52_000), 2000, 600]],
    'only the own event',
  )

  // A subagent spawned with no turn_context anywhere: counted, model from the event or unknown.
  const spawned = [
    meta(at(0), FORK, { source: { subagent: { thread_spawn: { parent_thread_id: PARENT, depth: 1 } } } }),
    ...copied.filter((l) => l.type !== 'turn_context'),
    ...own,
  ]
  const sp = read(jsonl(spawned)).records.sort(byTs)
  t.same(
    sp.map((x) => [x.model, x.input, x.output]),
    [
      ['unknown', 2000, 600],
      ['unknown', 3000, 300],
    ],
    'counted; an unknown model is priced 0 and warned about by reports, never dropped',
  )

  // A byte-order mark before the fork's session_meta changes nothing.
  t.same(
    read(`\uFEFF${jsonl(forkLines)}`).records.sort(byTs),
    rs,
    'BOM: line 1 is still the session_meta, so the copy is still recognised',
  )
})

t.test('rate_limits become limit readings: the newest per window of the run (DESIGN §4a)', async (t) => {
  const home = copyCodex(t.testdir({}))
  const { batch } = run(fakeEnv({ CODEX_HOME: home }))
  const readings = [...batch.readings.values()].sort((a, b) => a.minutes - b.minutes)
  // Every token_count of the fixtures carries the same two windows; the newest event is C3's last.
  t.same(
    readings.map((r) => [r.source, r.account, r.window, r.minutes, r.usedPercent, r.resetsAt, r.ts]),
    [
      ['codex', 'unknown', '5h', 300, 14, new Date(1795108200_000).toISOString(), '2026-11-21T09:33:20.987Z'],
      ['codex', 'unknown', '7d', 10080, 41, new Date(1795459800_000).toISOString(), '2026-11-21T09:33:20.987Z'],
    ],
    'classified by window_minutes; no auth.json: the account is unknown',
  )
  fs.writeFileSync(path.join(home, 'auth.json'), JSON.stringify({ tokens: { account_id: 'acc-1' } }))
  const signed = copyCodex(t.testdir({}), 'codex2')
  fs.writeFileSync(path.join(signed, 'auth.json'), JSON.stringify({ tokens: { account_id: 'acc-1' } }))
  const again = run(fakeEnv({ CODEX_HOME: signed }))
  t.same(
    [...new Set([...again.batch.readings.values()].map((r) => r.account))],
    [accountHash('acc-1')],
    "auth.json's account id, hashed: the same account on every machine",
  )
})

t.test(
  'rate_limits edge cases: null windows, a window without length, a second bucket, legacy resets_in_seconds',
  async (t) => {
    const b = new Batch()
    const c = {
      ...({} as CodexCtx),
      session: 's',
      cwd: '',
      model: 'gpt-5',
      prev: null,
      replay: false,
      forkIdMs: null,
      firstLineMs: 0,
      lines: 1,
    }
    const ev = (ts: string, rate_limits: unknown) => ({
      timestamp: ts,
      type: 'event_msg',
      payload: { type: 'token_count', info: null, rate_limits },
    })
    codexLine(ev('2026-11-21T09:00:00.000Z', null), c, b, '')
    codexLine(
      ev('2026-11-21T09:00:01.000Z', {
        primary: { used_percent: 50, window_minutes: null, resets_at: 1 },
        secondary: null,
      }),
      c,
      b,
      '',
    )
    t.equal(b.readings.size, 0, 'no reading from null rate_limits or a window of no length')
    codexLine(
      ev('2026-11-21T09:00:02.000Z', {
        primary: { used_percent: 7.5, window_minutes: 300, resets_in_seconds: 600 },
        plan_type: 'pro',
      }),
      c,
      b,
      '',
    )
    codexLine(
      ev('2026-11-21T09:00:03.000Z', {
        limit_id: 'codex_other',
        primary: { used_percent: 90, window_minutes: 300, resets_at: 1795108200 },
      }),
      c,
      b,
      '',
    )
    codexLine(ev('2026-11-21T08:00:00.000Z', { primary: { used_percent: 99, window_minutes: 300 } }), c, b, '')
    const rs = [...b.readings.values()].sort((x, y) => (x.ts < y.ts ? -1 : 1))
    t.same(
      rs.map((r) => [r.limit ?? null, r.usedPercent, r.resetsAt, r.plan ?? null]),
      [
        [null, 7.5, '2026-11-21T09:10:02.000Z', 'pro'],
        ['codex_other', 90, new Date(1795108200_000).toISOString(), null],
      ],
      "each bucket its own reading; an older event does not replace the newest; resets_in_seconds counts from the event's time",
    )
    t.notOk(
      rs.some((r) => r.usedPercent === 99),
      'the older reading lost',
    )
    t.ok(b.records().length === 0, 'readings are no records')
  },
)
