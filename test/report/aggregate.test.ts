import t, { type Test } from 'tap'
import { EMBEDDED_PRICES } from '../../lib/report/prices.js'
import {
  aggregate,
  recordRows,
  zeroTotals,
  GROUP_KEYS,
  type AggregateOptions,
  type Row,
} from '../../lib/report/aggregate.js'
import { currentWindows } from '../../lib/report/usage-window.js'
import { localTimeIn } from '../../lib/ledger/zone.js'
import type { LedgerRecord } from '../../lib/ledger/record.js'

const DEV_A = 'a'.repeat(32)
const DEV_B = 'b1b2b3b4'.repeat(4)
const PROJ = '0123456789abcdef'

let n = 0
const rec = (o: Partial<LedgerRecord>): LedgerRecord => ({
  v: 1,
  id: (n++).toString(16).padStart(32, '0'),
  ts: '2026-11-19T09:00:00.000Z',
  source: 'claude-code',
  model: 'claude-sonnet-4-5-20250929',
  input: 0,
  output: 0,
  cacheWrite: 0,
  cacheRead: 0,
  ...o,
})

// r1: sonnet 1000 in / 2000 out → (3000 + 30000) / 1e6 = 0.033
const r1 = rec({ ts: '2026-11-19T09:00:00.000Z', input: 1000, output: 2000, project: PROJ })
// r2: gpt-5 1M in → 1.25; 23:50 UTC
const r2 = rec({ ts: '2026-11-19T23:50:00.000Z', source: 'codex', model: 'gpt-5', input: 1_000_000 })
// r3: unknown model → cost 0, listed
const r3 = rec({ ts: '2026-11-20T10:00:00.000Z', source: 'other', model: 'mystery', input: 5, output: 5 })
// r4: haiku 1M out → 5 calculated, 0.5 reported
const r4 = rec({
  ts: '2026-12-01T00:10:00.000Z',
  model: 'claude-haiku-4-5-20251001',
  output: 1_000_000,
  cacheRead: 10,
  costUSD: 0.5,
})
const winners = [
  { record: r1, device: DEV_A },
  { record: r2, device: DEV_A },
  { record: r3, device: DEV_B },
  { record: r4, device: DEV_B },
]

const opts = (o: Partial<AggregateOptions> = {}): AggregateOptions => ({
  period: 'daily',
  localTime: localTimeIn('UTC'),
  groupBy: [],
  cost: 'auto',
  prices: EMBEDDED_PRICES,
  deviceNames: new Map([[DEV_A, 'laptop']]),
  ...o,
})

/** Rows without costUSD (compared exactly) and their costs (compared with a tolerance). */
function check(t: Test, rows: Row[], want: Array<Partial<Row>>, msg: string) {
  t.same(
    rows.map(({ costUSD: _c, ...r }) => r),
    want.map(({ costUSD: _c, ...r }) => r),
    msg,
  )
  for (const [i, r] of rows.entries())
    t.ok(
      Math.abs(r.costUSD - (want[i]?.costUSD ?? NaN)) < 1e-9,
      `${msg}: row ${i} cost ${r.costUSD} ≈ ${want[i]?.costUSD}`,
    )
}
const tot = (
  records: number,
  input: number,
  output: number,
  cacheWrite: number,
  cacheRead: number,
  costUSD: number,
) => ({ records, input, output, cacheWrite, cacheRead, totalTokens: input + output + cacheWrite + cacheRead, costUSD })

t.test('daily in UTC', async (t) => {
  const a = aggregate(winners, opts())
  check(
    t,
    a.rows,
    [
      { period: '2026-11-19', ...tot(2, 1_001_000, 2000, 0, 0, 1.283) },
      { period: '2026-11-20', ...tot(1, 5, 5, 0, 0, 0) },
      { period: '2026-12-01', ...tot(1, 0, 1_000_000, 0, 10, 0.5) },
    ],
    'rows',
  )
  const { costUSD, ...rest } = a.totals
  t.same(rest, {
    records: 4,
    input: 1_001_005,
    output: 1_002_005,
    cacheWrite: 0,
    cacheRead: 10,
    totalTokens: 2_003_020,
  })
  t.ok(Math.abs(costUSD - 1.783) < 1e-9, `total cost ${costUSD}`)
  t.same(a.unknownModels, ['mystery'])
})

t.test('monthly', async (t) => {
  const a = aggregate(winners, opts({ period: 'monthly' }))
  check(
    t,
    a.rows,
    [
      { period: '2026-11', ...tot(3, 1_001_005, 2005, 0, 0, 1.283) },
      { period: '2026-12', ...tot(1, 0, 1_000_000, 0, 10, 0.5) },
    ],
    'rows',
  )
})

t.test('cost modes', async (t) => {
  const calc = aggregate(winners, opts({ cost: 'calculate', period: 'monthly' }))
  t.ok(
    Math.abs(calc.totals.costUSD - (0.033 + 1.25 + 5 + (10 * 0.1) / 1e6)) < 1e-9,
    'calculate ignores the reported 0.5',
  )
  const disp = aggregate(winners, opts({ cost: 'display', period: 'monthly' }))
  t.equal(disp.totals.costUSD, 0.5, 'display: only reported costs')
  t.same(disp.unknownModels, [], 'display needs no prices')
})

t.test('groupBy', async (t) => {
  const a = aggregate(winners, opts({ groupBy: ['device', 'model'], period: 'monthly' }))
  check(
    t,
    a.rows,
    [
      {
        period: '2026-11',
        device: DEV_A,
        deviceName: 'laptop',
        model: 'claude-sonnet-4-5-20250929',
        ...tot(1, 1000, 2000, 0, 0, 0.033),
      },
      { period: '2026-11', device: DEV_A, deviceName: 'laptop', model: 'gpt-5', ...tot(1, 1_000_000, 0, 0, 0, 1.25) },
      { period: '2026-11', device: DEV_B, deviceName: 'b1b2b3b4', model: 'mystery', ...tot(1, 5, 5, 0, 0, 0) },
      {
        period: '2026-12',
        device: DEV_B,
        deviceName: 'b1b2b3b4',
        model: 'claude-haiku-4-5-20251001',
        ...tot(1, 0, 1_000_000, 0, 10, 0.5),
      },
    ],
    'device,model (unnamed device → first 8 hex)',
  )

  const s = aggregate(winners, opts({ groupBy: ['source'], period: 'monthly' }))
  t.same(
    s.rows.map((r) => [r.period, r.source, r.records]),
    [
      ['2026-11', 'claude-code', 1],
      ['2026-11', 'codex', 1],
      ['2026-11', 'other', 1],
      ['2026-12', 'claude-code', 1],
    ],
  )
  t.notOk('device' in s.rows[0]! || 'model' in s.rows[0]!, 'only the asked group keys')

  const p = aggregate(winners, opts({ groupBy: ['project'], period: 'monthly' }))
  t.same(
    p.rows.map((r) => [r.period, r.project, r.records]),
    [
      ['2026-11', '', 2],
      ['2026-11', PROJ, 1],
      ['2026-12', '', 1],
    ],
    'no project → ""',
  )

  // Sorted by period first, then keys in the order asked.
  const m = aggregate(winners, opts({ groupBy: ['model', 'device'] }))
  t.same(
    m.rows.map((r) => `${r.period} ${r.model} ${r.device?.slice(0, 2)}`),
    [
      '2026-11-19 claude-sonnet-4-5-20250929 aa',
      '2026-11-19 gpt-5 aa',
      '2026-11-20 mystery b1',
      '2026-12-01 claude-haiku-4-5-20251001 b1',
    ],
  )
  t.same(GROUP_KEYS, ['device', 'source', 'model', 'project'])
})

t.test('since / until are inclusive local days', async (t) => {
  const days = (o: Partial<AggregateOptions>) => aggregate(winners, opts(o)).rows.map((r) => `${r.period}:${r.records}`)
  t.same(days({ since: '2026-11-20' }), ['2026-11-20:1', '2026-12-01:1'])
  t.same(days({ until: '2026-11-19' }), ['2026-11-19:2'])
  t.same(days({ since: '2026-11-19', until: '2026-11-19' }), ['2026-11-19:2'])
  t.same(days({ since: '2026-11-21', until: '2026-11-30' }), [])
  const a = aggregate(winners, opts({ since: '2026-11-21', until: '2026-11-30' }))
  t.same(a.totals, zeroTotals(), 'filtered out records are not in the totals')
  t.same(a.unknownModels, [])
  // In Kolkata, r2 (23:50Z on the 19th) is on the 20th.
  t.same(days({ since: '2026-11-20', until: '2026-11-20', localTime: localTimeIn('Asia/Kolkata') }), ['2026-11-20:2'])
  // Monthly with since: the month row sums only the days inside the range.
  t.same(
    aggregate(winners, opts({ period: 'monthly', since: '2026-11-20' })).rows.map((r) => `${r.period}:${r.records}`),
    ['2026-11:1', '2026-12:1'],
  )
})

t.test('a record at 23:50 UTC: next day in Asia/Kolkata, same day in UTC', async (t) => {
  const late = [{ record: rec({ ts: '2026-11-19T23:50:41.302Z', input: 1 }), device: DEV_A }]
  t.same(
    aggregate(late, opts()).rows.map((r) => r.period),
    ['2026-11-19'],
  )
  t.same(
    aggregate(late, opts({ localTime: localTimeIn('Asia/Kolkata') })).rows.map((r) => r.period),
    ['2026-11-20'],
  )
  t.same(
    aggregate(late, opts({ localTime: localTimeIn('Europe/Berlin') })).rows.map((r) => r.period),
    ['2026-11-20'],
  )
  t.same(
    aggregate(late, opts({ localTime: localTimeIn('America/New_York') })).rows.map((r) => r.period),
    ['2026-11-19'],
  )
  // Month boundary moves too.
  const eom = [{ record: rec({ ts: '2026-11-30T20:00:00.000Z', input: 1 }), device: DEV_A }]
  t.same(
    aggregate(eom, opts({ period: 'monthly' })).rows.map((r) => r.period),
    ['2026-11'],
  )
  t.same(
    aggregate(eom, opts({ period: 'monthly', localTime: localTimeIn('Asia/Kolkata') })).rows.map((r) => r.period),
    ['2026-12'],
  )
})

t.test('Asia/Kathmandu (+05:45) boundary', async (t) => {
  const w = [
    { record: rec({ ts: '2026-11-19T18:14:59.999Z', input: 1 }), device: DEV_A },
    { record: rec({ ts: '2026-11-19T18:15:00.000Z', input: 2 }), device: DEV_A },
  ]
  t.same(
    aggregate(w, opts({ localTime: localTimeIn('Asia/Kathmandu') })).rows.map((r) => [r.period, r.input]),
    [
      ['2026-11-19', 1],
      ['2026-11-20', 2],
    ],
  )
  t.same(
    aggregate(w, opts({ localTime: localTimeIn('Asia/Kolkata') })).rows.map((r) => [r.period, r.input]),
    [['2026-11-19', 3]],
    'both on the 19th at +05:30',
  )
})

t.test('America/New_York DST days', async (t) => {
  const at = (ts: string, input: number) => ({ record: rec({ ts, input }), device: DEV_A })
  const w = [
    at('2026-03-08T04:30:00.000Z', 1), // 23:30 EST on 03-07
    at('2026-03-08T05:00:00.000Z', 2), // 00:00 EST on 03-08
    at('2026-03-09T03:59:00.000Z', 4), // 23:59 EDT on 03-08 (a 23-hour day)
    at('2026-03-09T04:00:00.000Z', 8), // 00:00 EDT on 03-09
    at('2026-11-01T03:59:00.000Z', 16), // 23:59 EDT on 10-31
    at('2026-11-01T04:30:00.000Z', 32), // 00:30 EDT on 11-01
    at('2026-11-02T04:59:00.000Z', 64), // 23:59 EST on 11-01 (a 25-hour day)
    at('2026-11-02T05:00:00.000Z', 128), // 00:00 EST on 11-02
  ]
  const want = [
    ['2026-03-07', 1],
    ['2026-03-08', 6],
    ['2026-03-09', 8],
    ['2026-10-31', 16],
    ['2026-11-01', 96],
    ['2026-11-02', 128],
  ]
  // With an exact local-time function, aggregate puts each record on its local day.
  const f = new Intl.DateTimeFormat('en-CA', {
    timeZone: 'America/New_York',
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
  })
  const exact = (ts: string | number) => {
    const p = Object.fromEntries(f.formatToParts(new Date(ts)).map((x) => [x.type, x.value]))
    return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}`
  }
  t.same(
    aggregate(w, opts({ localTime: exact })).rows.map((r) => [r.period, r.input]),
    want,
    'aggregate with exact local times',
  )
  // And with the project's own zone function.
  t.same(
    aggregate(w, opts({ localTime: localTimeIn('America/New_York') })).rows.map((r) => [r.period, r.input]),
    want,
    'aggregate with localTimeIn',
  )
  t.same(
    aggregate(w, opts()).rows.map((r) => [r.period, r.input]),
    [
      ['2026-03-08', 3],
      ['2026-03-09', 12],
      ['2026-11-01', 48],
      ['2026-11-02', 192],
    ],
    'the same records in UTC',
  )
})

t.test('failed calls: counted in failed, out of the tokens unless includeFailed, never any cost', async (t) => {
  const ok1 = rec({ ts: '2026-11-19T10:00:00.000Z', model: 'gpt-5', input: 1000, session: 'a'.repeat(16) })
  const ok2 = rec({ ts: '2026-11-19T16:00:00.000Z', model: 'gpt-5', input: 2000, session: 'a'.repeat(16) })
  // In the block of ok1, with a cost its proxy reported and an unpriced model.
  const f1 = rec({ ts: '2026-11-19T11:00:00.000Z', model: 'mystery-proxy', input: 300, costUSD: 4, failed: true })
  // Between blocks (ok1's ends at 15:00, ok2's starts at 16:00), and one on a day without a call that succeeded.
  const f2 = rec({ ts: '2026-11-19T15:30:00.000Z', model: 'gpt-5', output: 40, failed: true, session: 'b'.repeat(16) })
  const f3 = rec({ ts: '2026-11-21T09:00:00.000Z', model: 'gpt-5', input: 5, failed: true })
  const ws = [ok1, ok2, f1, f2, f3].map((record) => ({ record, device: DEV_A }))
  const gpt = (input: number) => (input * 1.25) / 1e6
  for (const cost of ['auto', 'calculate', 'display'] as const) {
    const without = aggregate(ws, opts({ cost, groupBy: ['model'] }))
    const okCost = cost === 'display' ? 0 : gpt(3000)
    check(
      t,
      without.rows,
      [
        { period: '2026-11-19', model: 'gpt-5', ...tot(2, 3000, 0, 0, 0, okCost), failed: 1 },
        { period: '2026-11-19', model: 'mystery-proxy', ...tot(0, 0, 0, 0, 0, 0), failed: 1 },
        { period: '2026-11-21', model: 'gpt-5', ...tot(0, 0, 0, 0, 0, 0), failed: 1 },
      ],
      `${cost}: without failed calls`,
    )
    check(t, [without.totals as Row], [{ ...tot(2, 3000, 0, 0, 0, okCost), failed: 3 }], `${cost}: totals`)
    t.same(without.unknownModels, [], 'a failed call needs no price')
    const withFailed = aggregate(ws, opts({ cost, groupBy: ['model'], includeFailed: true }))
    check(
      t,
      withFailed.rows,
      [
        { period: '2026-11-19', model: 'gpt-5', ...tot(3, 3000, 40, 0, 0, okCost), failed: 1 },
        { period: '2026-11-19', model: 'mystery-proxy', ...tot(1, 300, 0, 0, 0, 0), failed: 1 },
        { period: '2026-11-21', model: 'gpt-5', ...tot(1, 5, 0, 0, 0, 0), failed: 1 },
      ],
      `${cost}: with failed calls, at cost 0`,
    )
    check(t, [withFailed.totals as Row], [{ ...tot(5, 3305, 40, 0, 0, okCost), failed: 3 }], `${cost}: totals`)
  }
  // A report without failed calls has no failed count at all.
  t.notOk('failed' in aggregate([{ record: ok1, device: DEV_A }], opts()).totals)

  // Blocks: uncounted failed calls shape none; one inside a block is counted there, one outside only in the totals.
  const now = Date.parse('2026-11-19T17:00:00.000Z')
  const blocks = aggregate(ws, opts({ period: 'blocks', now }))
  t.same(
    blocks.rows.map((r) => [r.period, r.records, r.input, r.failed ?? 0]),
    [
      ['2026-11-19T10:00', 1, 1000, 1],
      ['2026-11-19T16:00', 1, 2000, 0],
    ],
  )
  t.equal(blocks.totals.failed, 3)
  t.equal(blocks.rows[1]!.burnRate, null, 'the active block: one instant of counted activity')
  const allBlocks = aggregate(ws, opts({ period: 'blocks', now, includeFailed: true }))
  t.same(
    allBlocks.rows.map((r) => [r.period, r.records, r.input + r.output, r.failed ?? 0]),
    [
      ['2026-11-19T10:00', 2, 1300, 1],
      ['2026-11-19T15:00', 2, 2040, 1], // 15:30 starts a block, 16:00 lies in it
      ['2026-11-21T09:00', 1, 5, 1],
    ],
  )

  // since/until: a failed call outside the range is not counted at all.
  t.equal(aggregate(ws, opts({ since: '2026-11-20' })).totals.failed, 1)
  // Sessions: a session of failed calls only is a row of 0 tokens.
  t.same(
    aggregate(ws, opts({ period: 'session' })).rows.map((r) => [r.period, r.records, r.failed ?? 0]),
    [
      ['(none)', 0, 2],
      ['a'.repeat(16), 2, 0],
      ['b'.repeat(16), 0, 1],
    ],
  )
})

t.test('status windows: failed calls out of the block and week, counted in failed', async (t) => {
  const ws = [
    rec({ ts: '2026-11-19T10:00:00.000Z', model: 'gpt-5', input: 1000 }),
    rec({ ts: '2026-11-19T10:30:00.000Z', model: 'gpt-5', input: 50, failed: true }),
    // Before the block, and it starts none.
    rec({ ts: '2026-11-19T08:00:00.000Z', model: 'gpt-5', input: 7, failed: true }),
  ].map((record) => ({ record, device: DEV_A }))
  const w = currentWindows(
    recordRows(ws, EMBEDDED_PRICES, 'auto'),
    new Date('2026-11-19T11:00:00.000Z'),
    localTimeIn('UTC'),
  )
  t.match(w.block, { start: '2026-11-19T10:00:00.000Z', records: 1, input: 1000, failed: 1 })
  t.match(w.week, { week: '2026-W47', records: 1, input: 1000, failed: 2 })
})
