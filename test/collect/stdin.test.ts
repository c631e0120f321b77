import t from 'tap'
import { sha256 } from '../helpers/collect.js'
import { Readable } from 'node:stream'
import { collectStdinText, readAll, stdinRecord } from '../../lib/collect/stdin/index.js'
import { Batch } from '../../lib/collect/types.js'
import { LedgerError } from '../../lib/errors.js'
import { canonicalLine, type LedgerRecord } from '../../lib/ledger/record.js'

const GOOD =
  '{"v":1,"ts":"2026-11-21T10:15:03.123Z","source":"mytool","model":"m-1","input":1234,"output":567,"cacheWrite":2048,"cacheRead":120000}'

t.test('a good schema-v1 line', async (t) => {
  const { record, problems } = stdinRecord(GOOD, 'mytool')
  t.same(problems, [])
  t.ok(record)
  const r = record!
  t.equal(r.ts, '2026-11-21T10:15:03.123Z')
  t.equal(r.source, 'mytool')
  t.equal(r.model, 'm-1')
  t.same([r.input, r.output, r.cacheWrite, r.cacheRead], [1234, 567, 2048, 120000])
  // id derived from the canonical line without id: sha256(source + "\n" + canonical)[0:32]
  const canon =
    '{"v":1,"id":"","ts":"2026-11-21T10:15:03.123Z","source":"mytool","model":"m-1","input":1234,"output":567,"cacheWrite":2048,"cacheRead":120000}'
  t.equal(canonicalLine({ ...r, id: '' }), canon)
  t.equal(r.id, sha256(`mytool\n${canon}`).slice(0, 32), 'derived id')
  t.equal(canonicalLine(r), canon.replace('"id":""', `"id":"${r.id}"`))
})

t.test('an explicit id is kept; optional fields carried; unknown keys dropped', async (t) => {
  const id = 'ab'.repeat(16)
  const line = JSON.stringify({
    id,
    ts: '2026-11-21T10:15:03.123Z',
    model: 'm',
    input: 5,
    output: 6,
    cacheWrite: 10,
    cacheRead: 0,
    cacheWrite1h: 4,
    reasoning: 2,
    speed: 'fast',
    costUSD: 0.25,
    session: '0123456789abcdef',
    project: 'fedcba9876543210',
    sidechain: true,
    extra: 'x',
  })
  const { record, problems } = stdinRecord(line, 'tool')
  t.same(problems, [])
  t.same(record, {
    v: 1,
    id,
    ts: '2026-11-21T10:15:03.123Z',
    source: 'tool',
    model: 'm',
    input: 5,
    output: 6,
    cacheWrite: 10,
    cacheRead: 0,
    cacheWrite1h: 4,
    reasoning: 2,
    speed: 'fast',
    costUSD: 0.25,
    session: '0123456789abcdef',
    project: 'fedcba9876543210',
    sidechain: true,
  })
})

t.test('snake_case aliases and defaults', async (t) => {
  const line = JSON.stringify({
    timestamp: '2026-11-21T12:15:03+02:00',
    model: 'gpt-x',
    input_tokens: 10,
    output_tokens: 20,
    cache_creation_input_tokens: 30,
    cache_read_input_tokens: 40,
    reasoning_output_tokens: 5,
    cost_usd: 0.5,
  })
  const { record, problems } = stdinRecord(line, 'tool')
  t.same(problems, [])
  const r = record!
  t.equal(r.ts, '2026-11-21T10:15:03.000Z', 'timestamp alias, normalised to UTC with ms')
  t.same([r.input, r.output, r.cacheWrite, r.cacheRead], [10, 20, 30, 40])
  t.equal(r.reasoning, 5)
  t.equal(r.costUSD, 0.5)
  const other = stdinRecord(
    JSON.stringify({
      ts: '2026-11-21T10:15:03.000Z',
      model: 'x',
      cache_read_tokens: 7,
      cache_write_tokens: 8,
      cache_write_1h: 3,
    }),
    'tool',
  ).record!
  t.same(
    [other.input, other.output, other.cacheWrite, other.cacheRead, other.cacheWrite1h],
    [0, 0, 8, 7, 3],
    'missing counts default to 0',
  )
})

t.test('the derived id is deterministic', async (t) => {
  const a = stdinRecord(GOOD, 'mytool').record!
  const b = stdinRecord(GOOD, 'mytool').record!
  t.equal(a.id, b.id)
  // The same record spelled differently (aliases, key order, no v) gets the same id.
  const c = stdinRecord(
    JSON.stringify({
      cache_read_input_tokens: 120000,
      model: 'm-1',
      timestamp: '2026-11-21T10:15:03.123Z',
      input_tokens: 1234,
      output_tokens: 567,
      cache_creation_input_tokens: 2048,
    }),
    'mytool',
  ).record!
  t.equal(c.id, a.id, 'id depends on the canonical record only')
  const d = stdinRecord(GOOD.replace('"output":567', '"output":568'), 'mytool').record!
  t.not(d.id, a.id, 'a different record gets a different id')
  const e = stdinRecord(GOOD.replace('"source":"mytool",', ''), 'other').record!
  t.not(e.id, a.id, 'the source is part of the id')

  const batch = new Batch()
  collectStdinText(`${GOOD}\n${GOOD}\n`, 'mytool', batch)
  t.equal(batch.size, 1, 'the same line twice is one record')
  t.equal(batch.duplicates, 1)
  t.equal(batch.records()[0]!.id, a.id)
})

t.test('problems', async (t) => {
  const p = (line: string, source = 'mytool') => stdinRecord(line, source).problems
  t.same(p('{not json'), ['not valid JSON'])
  t.same(p('[1,2]'), ['not a JSON object'])
  t.same(p('42'), ['not a JSON object'])
  t.match(p(GOOD, 'othertool')[0], /"source" is "mytool" but --source is "othertool"/, '--source mismatch')
  t.match(p('{"model":"m","input":1}')[0], /"ts" is missing/)
  t.match(p('{"ts":"nope","model":"m","input":1}')[0], /"ts" "nope" is not a date-time/)
  t.match(p('{"ts":"2026-11-21T10:15:03.123Z","model":"m"}')[0], /no token counts/)
  t.ok(
    p('{"ts":"2026-11-21T10:15:03.123Z","input":1}').some((s) => /"model"/.test(s)),
    'model missing',
  )
  t.ok(
    p('{"ts":"2026-11-21T10:15:03.123Z","model":"m","input":-1}').some((s) =>
      /"input" must be a non-negative integer/.test(s),
    ),
  )
  t.ok(p('{"ts":"2026-11-21T10:15:03.123Z","model":"m","input":1.5}').some((s) => /"input"/.test(s)))
  t.ok(p('{"ts":"2026-11-21T10:15:03.123Z","model":"m","input":"3"}').some((s) => /"input"/.test(s)))
  t.ok(p('{"ts":"2026-11-21T10:15:03.123Z","model":"m","input":1,"id":"XYZ"}').some((s) => /"id"/.test(s)))
  t.ok(
    p('{"ts":"2026-11-21T10:15:03.123Z","model":"m","cacheWrite":1,"cacheWrite1h":2}').some((s) =>
      /cacheWrite1h/.test(s),
    ),
  )
  t.ok(p('{"ts":"2026-11-21T10:15:03.123Z","model":"m","input":1,"v":2}').some((s) => /"v"/.test(s)))
  t.same(p(GOOD.replace('"source":"mytool",', ''), 'mytool'), [], 'no source in the line is fine')
})

t.test('collectStdinText: good batch', async (t) => {
  const lines = [
    GOOD,
    '',
    '   ',
    `${JSON.stringify({ ts: '2026-11-21T11:00:00.000Z', model: 'm-2', input_tokens: 1, output_tokens: 2 })}\r`,
    JSON.stringify({ ts: '2026-11-22T11:00:00.000Z', model: 'm-3', input: 3 }),
  ]
  const batch = new Batch()
  collectStdinText(lines.join('\n'), 'mytool', batch)
  const rs = batch.records()
  t.equal(rs.length, 3, 'blank lines skipped, CRLF accepted, last line without newline read')
  t.same(rs.map((r: LedgerRecord) => r.model).sort(), ['m-1', 'm-2', 'm-3'])
  t.ok(rs.every((r) => r.source === 'mytool'))
})

t.test('collectStdinText: one bad line rejects the batch, listing every bad line', async (t) => {
  const text = `${[
    GOOD, // 1
    '{"ts":"2026-11-21T11:00:00.000Z","model":"m","input":', // 2: truncated
    JSON.stringify({ ts: '2026-11-21T11:00:01.000Z', model: 'm', input: 1 }), // 3
    '', // 4
    JSON.stringify({ ts: '2026-11-21T11:00:02.000Z', model: 'm', input: 1, source: 'elsewhere' }), // 5: wrong source
    JSON.stringify({ ts: '2026-11-21T11:00:03.000Z', model: 'm', output: 9 }), // 6
  ].join('\n')}\n`
  const batch = new Batch()
  let err: unknown
  try {
    collectStdinText(text, 'mytool', batch)
  } catch (e) {
    err = e
  }
  t.ok(err instanceof LedgerError, 'throws a LedgerError')
  const e = err as LedgerError
  t.equal(e.kind, 'input')
  t.equal(e.code, 'BAD_STDIN')
  t.match(e.message, /2 bad lines/)
  t.equal(e.details.length, 2, 'both bad lines listed')
  t.match(e.details[0], /line 2\b/)
  t.match(e.details[0], /not valid JSON/)
  t.match(e.details[1], /line 5\b/)
  t.match(e.details[1], /"source" is "elsewhere"/)
  t.equal(batch.size, 0, 'the batch is left empty')
  t.same(batch.records(), [])
})

t.test('collectStdinText: a single bad line', async (t) => {
  const batch = new Batch()
  t.throws(() => collectStdinText('{"model":"m","input":1}\n', 'x', batch), {
    kind: 'input',
    code: 'BAD_STDIN',
    message: /^1 bad line on stdin/,
    details: [/stdin line 1: "ts" is missing/],
  })
  t.equal(batch.size, 0)
})

t.test('readAll', async (t) => {
  t.equal(await readAll(Readable.from([Buffer.from('ab'), Buffer.from('c\n'), 'd'])), 'abc\nd')
  t.equal(
    await readAll(Readable.from([Buffer.from([0xe2, 0x82]), Buffer.from([0xac])])),
    '€',
    'multi-byte characters split across chunks',
  )
})

t.test(
  'collectStdinText: a record dated more than 24 hours after now is a bad line; within 24 hours is accepted',
  async (t) => {
    const now = new Date('2026-11-21T12:00:00.000Z')
    const line = (ts: string) => JSON.stringify({ ts, model: 'm', input: 1 })
    const ok = new Batch(now)
    collectStdinText(`${[line('2026-11-22T11:59:59.000Z'), line('2026-11-22T12:00:00.000Z')].join('\n')}\n`, 'x', ok)
    t.equal(ok.records().length, 2, 'up to exactly 24 hours ahead (clock skew between machines) is recorded')
    const batch = new Batch(now)
    t.throws(
      () =>
        collectStdinText(
          `${[
            line('2026-11-21T10:00:00.000Z'),
            line('2099-01-01T00:00:00.000Z'),
            line('2026-11-22T12:00:00.001Z'),
          ].join('\n')}\n`,
          'x',
          batch,
        ),
      {
        kind: 'input',
        code: 'BAD_STDIN',
        message: /^2 bad lines on stdin; nothing was recorded/,
        details: [
          /stdin line 2: "ts" 2099-01-01T00:00:00\.000Z is more than 24 hours after now \(2026-11-21T12:00:00\.000Z\)/,
          /stdin line 3: "ts" 2026-11-22T12:00:00\.001Z is more than 24 hours after now/,
        ],
      },
    )
    t.equal(batch.size, 0, 'the whole batch is rejected')
  },
)

t.test("Batch: collectors' records dated more than 24 hours after now are skipped and counted", async (t) => {
  const now = new Date('2026-11-21T12:00:00.000Z')
  const rec = (id: string, ts: string): LedgerRecord => ({
    v: 1,
    id: id.padEnd(32, '0'),
    ts,
    source: 'claude-code',
    model: 'm',
    input: 1,
    output: 1,
    cacheWrite: 0,
    cacheRead: 0,
  })
  const batch = new Batch(now)
  batch.add(rec('a', '2026-11-21T11:00:00.000Z'))
  batch.add(rec('b', '2099-01-01T00:00:00.000Z'))
  batch.add(rec('c', '2030-01-01T00:00:00.000Z'))
  batch.add(rec('d', '2026-11-22T11:00:00.000Z'))
  t.same(
    batch
      .records()
      .map((r) => r.id[0])
      .sort(),
    ['a', 'd'],
  )
  t.equal(batch.future, 2, 'counted')
  t.equal(batch.latestFuture, '2099-01-01T00:00:00.000Z')
})

t.test('Batch: a record with a count no reader accepts is malformed, never handed to the writer', async (t) => {
  const rec = (id: string, o: Partial<LedgerRecord>): LedgerRecord => ({
    v: 1,
    id: id.padEnd(32, '0'),
    ts: '2026-11-21T11:00:00.000Z',
    source: 'gemini',
    model: 'm',
    input: 1,
    output: 1,
    cacheWrite: 0,
    cacheRead: 0,
    ...o,
  })
  const batch = new Batch()
  batch.add(rec('a', {}))
  batch.add(rec('b', { input: 1e308 }))
  batch.add(rec('c', { output: -5 }))
  batch.add(rec('d', { cacheRead: Number.NaN }))
  batch.add(rec('e', { reasoning: 2 ** 53 }))
  batch.add(rec('f', { cacheWrite: 3, cacheWrite1h: 4 }))
  batch.add(rec('1', { costUSD: Number.POSITIVE_INFINITY }))
  batch.add(rec('2', { input: 1.5 }))
  t.same(
    batch.records().map((r) => r.id[0]),
    ['a'],
  )
  t.equal(batch.malformed, 7)
})
