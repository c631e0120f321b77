import t from 'tap'
import { BestById, beatsRecorded, laterCopyWins } from '../../lib/ledger/dedupe.js'
import type { LedgerRecord } from '../../lib/ledger/record.js'

const DEV_LOW = '11111111111111111111111111111111'
const DEV_HIGH = 'eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee'

/** A record with a marker in `model` so tests can tell copies apart. */
const rec = (
  id: string,
  tokens: [number, number, number, number],
  mark: string,
  extra: Partial<LedgerRecord> = {},
): LedgerRecord => ({
  v: 1,
  id: id.padEnd(32, '0'),
  ts: '2026-11-21T10:00:00.000Z',
  source: 'claude-code',
  model: mark,
  input: tokens[0],
  output: tokens[1],
  cacheWrite: tokens[2],
  cacheRead: tokens[3],
  ...extra,
})

t.test('beatsRecorded (writer side)', async (t) => {
  const r = rec('a', [10, 5, 0, 100], 'x')
  t.equal(beatsRecorded(r, undefined), true, 'a new id is appended')
  t.equal(beatsRecorded(r, { total: 114, sidechain: false }), true, 'more tokens than recorded')
  t.equal(beatsRecorded(r, { total: 116, sidechain: false }), false, 'fewer tokens than recorded')
  t.equal(
    beatsRecorded(r, { total: 115, sidechain: false }),
    false,
    'equal tokens: re-reading a source never grows the ledger',
  )
  t.equal(
    beatsRecorded(r, { total: 115, sidechain: true }),
    true,
    'equal tokens: the non-sidechain copy beats a recorded sidechain copy',
  )
  t.equal(
    beatsRecorded(r, { total: 114, sidechain: true }),
    true,
    'non-sidechain with more tokens than a recorded sidechain copy',
  )
  t.equal(
    beatsRecorded(r, { total: 116, sidechain: true }),
    false,
    'non-sidechain with fewer tokens than a recorded sidechain copy is not appended (readers would not pick it)',
  )
  const side = rec('a', [10, 5, 0, 100], 'x', { sidechain: true })
  t.equal(beatsRecorded(side, undefined), true, 'a new id is appended even as a sidechain copy')
  t.equal(
    beatsRecorded(side, { total: 115, sidechain: true }),
    false,
    'sidechain vs recorded sidechain, equal: not appended',
  )
  t.equal(
    beatsRecorded(side, { total: 114, sidechain: true }),
    true,
    'sidechain vs recorded sidechain, more tokens: appended',
  )
  t.equal(beatsRecorded(side, { total: 115, sidechain: false }), false, 'sidechain never beats an equal non-sidechain')
  t.equal(
    beatsRecorded(side, { total: 1, sidechain: false }),
    false,
    'nor a smaller one: a sidechain copy never displaces a recorded non-sidechain one',
  )
  t.equal(beatsRecorded(rec('a', [0, 0, 0, 0], 'z'), { total: 0, sidechain: false }), false, 'zero vs zero')
  // Equal totals: the earlier ts is what readers keep, so the writer appends it (and only it).
  const at = (ts: string, extra: Partial<LedgerRecord> = {}) => rec('a', [10, 5, 0, 100], 'x', { ts, ...extra })
  t.equal(
    beatsRecorded(at('2026-11-21T09:00:00.000Z'), { total: 115, sidechain: false, ts: '2026-11-21T10:00:00.000Z' }),
    true,
    'equal total, earlier ts: appended',
  )
  t.equal(
    beatsRecorded(at('2026-11-21T10:00:00.000Z'), { total: 115, sidechain: false, ts: '2026-11-21T10:00:00.000Z' }),
    false,
    'equal total, same ts: not appended',
  )
  t.equal(
    beatsRecorded(at('2026-11-21T11:00:00.000Z'), { total: 115, sidechain: false, ts: '2026-11-21T10:00:00.000Z' }),
    false,
    'equal total, later ts: not appended',
  )
  t.equal(
    beatsRecorded(at('2026-11-21T09:00:00.000Z', { sidechain: true }), {
      total: 115,
      sidechain: false,
      ts: '2026-11-21T10:00:00.000Z',
    }),
    false,
    'an earlier sidechain copy never displaces a main one',
  )
  t.equal(
    beatsRecorded(at('2026-11-21T11:00:00.000Z'), { total: 115, sidechain: true, ts: '2026-11-21T10:00:00.000Z' }),
    true,
    'a later main copy still beats an equal sidechain one',
  )
})

t.test(
  'laterCopyWins (within one run): non-sidechain first, then largest, then earliest ts, never read order',
  async (t) => {
    const small = rec('a', [10, 1, 0, 0], 'small')
    const big = rec('a', [10, 50, 0, 0], 'big')
    t.equal(laterCopyWins(small, big), true, 'more tokens later wins')
    t.equal(laterCopyWins(big, small), false, 'fewer tokens later loses')
    const a = rec('a', [10, 5, 0, 0], 'first')
    const b = rec('a', [10, 5, 0, 0], 'second')
    t.equal(laterCopyWins(a, b), false, 'full tie: the same copy wins in either order (the smaller canonical line)')
    t.equal(laterCopyWins(b, a), true, 'full tie, other order')
    const early = rec('a', [10, 5, 0, 0], 'resumed', { ts: '2026-11-21T09:00:00.000Z' })
    t.equal(laterCopyWins(a, early), true, 'equal totals: the earlier ts replaces the later one')
    t.equal(laterCopyWins(early, a), false, 'equal totals: a later ts does not replace an earlier one')
    const side = (r: LedgerRecord) => ({ ...r, sidechain: true as const })
    t.equal(laterCopyWins(side(a), b), true, 'tie: non-sidechain replaces sidechain')
    t.equal(laterCopyWins(a, side(b)), false, 'tie: sidechain does not replace non-sidechain')
    t.equal(laterCopyWins(side(a), side(early)), true, 'tie between two sidechain copies: the earlier ts')
    t.equal(laterCopyWins(side(small), side(big)), true, 'two sidechain copies: the larger')
    t.equal(laterCopyWins(side(big), side(small)), false)
    t.equal(laterCopyWins(small, side(big)), false, 'a larger sidechain copy does not replace a non-sidechain one')
    t.equal(laterCopyWins(side(big), small), true, 'a smaller non-sidechain copy replaces a sidechain one')
  },
)

t.test('BestById: largest total wins, in either order', async (t) => {
  const partial = rec('a', [10, 1, 0, 500], 'partial')
  const final = rec('a', [10, 80, 0, 500], 'final')
  for (const order of [
    [partial, final],
    [final, partial],
  ]) {
    const best = new BestById()
    for (const r of order) best.offer(r, DEV_LOW)
    t.equal(
      best.best.get(partial.id)!.record.model,
      'final',
      `winner is the largest (${order.map((r) => r.model).join(' then ')})`,
    )
    t.equal(best.best.get(partial.id)!.total, 590, 'winner total')
    t.equal(best.dropped, 1)
    t.equal(best.crossDevice.size, 0)
  }
  // Largest total even when split differently across the four counts.
  const best = new BestById()
  best.offer(rec('b', [1000, 0, 0, 0], 'input-heavy'), DEV_HIGH)
  best.offer(rec('b', [0, 0, 0, 1001], 'cache-heavy'), DEV_HIGH)
  best.offer(rec('b', [0, 999, 0, 0], 'output-heavy'), DEV_HIGH)
  t.equal(
    best.best.get(rec('b', [0, 0, 0, 0], '').id)!.record.model,
    'cache-heavy',
    'total = input + output + cacheWrite + cacheRead',
  )
})

t.test('BestById: ties', async (t) => {
  const first = rec('c', [5, 5, 5, 5], 'first')
  const second = rec('c', [5, 5, 5, 5], 'second')
  const same = new BestById()
  same.offer(first, DEV_HIGH)
  same.offer(second, DEV_HIGH)
  t.equal(same.best.get(first.id)!.record.model, 'first', 'full tie on the same device: the earlier line')

  for (const [label, offers] of [
    [
      'high first',
      [
        [first, DEV_HIGH],
        [second, DEV_LOW],
      ],
    ],
    [
      'low first',
      [
        [second, DEV_LOW],
        [first, DEV_HIGH],
      ],
    ],
  ] as Array<[string, Array<[LedgerRecord, string]>]>) {
    const b = new BestById()
    for (const [r, d] of offers) b.offer(r, d)
    const w = b.best.get(first.id)!
    t.equal(w.device, DEV_LOW, `full tie across devices (same ts, same commit time): the lower deviceId (${label})`)
    t.equal(w.record.model, 'second', `and its record (${label})`)
    t.same([...b.crossDevice], [first.id], 'counted as cross-device')
    t.equal(b.dropped, 1)
  }

  // The result does not depend on the order devices are read in.
  const lowA = rec('d', [1, 1, 1, 1], 'low-a'),
    lowB = rec('d', [1, 1, 1, 1], 'low-b'),
    highA = rec('d', [1, 1, 1, 1], 'high-a')
  const winners = new Set<string>()
  for (const order of [
    [
      ['L', lowA],
      ['L', lowB],
      ['H', highA],
    ],
    [
      ['H', highA],
      ['L', lowA],
      ['L', lowB],
    ],
  ] as Array<Array<[string, LedgerRecord]>>) {
    const b = new BestById()
    for (const [d, r] of order) b.offer(r, d === 'L' ? DEV_LOW : DEV_HIGH)
    winners.add(b.best.get(lowA.id)!.record.model)
  }
  t.same([...winners], ['low-a'], 'device order does not change the winner: the lower device, its earlier copy')

  const bigger = rec('c', [5, 5, 5, 6], 'bigger-on-high')
  const b = new BestById()
  b.offer(first, DEV_LOW)
  b.offer(bigger, DEV_HIGH)
  t.equal(b.best.get(first.id)!.device, DEV_HIGH, 'a larger total beats a lower deviceId')
})

t.test('BestById: dropped and crossDevice counts, winners()', async (t) => {
  const b = new BestById()
  // id x: 3 copies on LOW; id y: 1 on LOW + 2 on HIGH; id z: once on HIGH.
  b.offer(rec('x', [1, 1, 0, 0], 'x1'), DEV_LOW)
  b.offer(rec('x', [1, 2, 0, 0], 'x2'), DEV_LOW)
  b.offer(rec('x', [1, 1, 0, 0], 'x3'), DEV_LOW)
  b.offer(rec('y', [9, 9, 0, 0], 'y-low'), DEV_LOW)
  b.offer(rec('y', [9, 9, 0, 0], 'y-high1'), DEV_HIGH)
  b.offer(rec('y', [9, 10, 0, 0], 'y-high2'), DEV_HIGH)
  b.offer(rec('z', [0, 0, 0, 7], 'z'), DEV_HIGH)
  t.equal(b.dropped, 4, 'seven lines, three ids: four dropped')
  t.same([...b.crossDevice], [rec('y', [0, 0, 0, 0], '').id], 'only y was seen on two devices')
  const won = [...b.winners()]
    .map((w) => `${w.record.model}@${w.device === DEV_LOW ? 'low' : 'high'}:${w.total}`)
    .sort()
  t.same(won, ['x2@low:3', 'y-high2@high:19', 'z@high:7'])
})

t.test(
  'BestById: equal totals go to the earliest ts, then to the copy committed first, never to read order',
  async (t) => {
    const at = (ts: string, mark: string) => rec('e', [3, 3, 3, 3], mark, { ts })
    const orig = at('2026-11-21T10:00:00.000Z', 'original')
    const restamped = at('2026-11-22T08:00:00.000Z', 'resumed-copy')
    for (const order of [
      [orig, restamped],
      [restamped, orig],
    ]) {
      for (const [dOrig, dCopy] of [
        [DEV_LOW, DEV_HIGH],
        [DEV_HIGH, DEV_LOW],
        [DEV_LOW, DEV_LOW],
      ]) {
        const b = new BestById()
        for (const r of order)
          b.offer(r, r === orig ? dOrig! : dCopy!, r === orig ? 'z' : 'a', r === orig ? 2000 : 1000)
        t.equal(
          b.best.get(orig.id)!.record.model,
          'original',
          `the earliest ts wins (${order.map((r) => r.model).join(' then ')})`,
        )
      }
    }
    // Same ts on two devices: the device whose commit added its copy first, whatever its id.
    const a = at('2026-11-21T10:00:00.000Z', 'on-original-device'),
      c = at('2026-11-21T10:00:00.000Z', 'on-copying-device')
    for (const order of [
      [
        [a, DEV_HIGH, 1000],
        [c, DEV_LOW, 5000],
      ],
      [
        [c, DEV_LOW, 5000],
        [a, DEV_HIGH, 1000],
      ],
    ] as Array<Array<[LedgerRecord, string, number]>>) {
      const b = new BestById()
      for (const [r, d, added] of order) b.offer(r, d, '2026-11-21/000000/000000001', added)
      const w = b.best.get(a.id)!
      t.equal(w.device, DEV_HIGH, 'the device that committed it first, though its id is higher')
      t.same([...b.devicesOf.get(a.id)!].sort(), [DEV_LOW, DEV_HIGH], 'both devices are named')
    }
    // A larger total still wins over everything else.
    const b = new BestById()
    b.offer(at('2026-11-21T10:00:00.000Z', 'early-small'), DEV_LOW, 'a', 1)
    b.offer(rec('e', [3, 3, 3, 4], 'late-big', { ts: '2026-11-22T10:00:00.000Z' }), DEV_HIGH, 'b', 9)
    t.equal(b.best.get(a.id)!.record.model, 'late-big')
  },
)
