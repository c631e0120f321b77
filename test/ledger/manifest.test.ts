import t from 'tap'
import { createHash } from 'node:crypto'
import {
  addToMonth,
  emptyManifest,
  parseManifest,
  sealDigest,
  sealDigestLines,
  sealRoot,
  sealedDays,
  serializeManifest,
  type Manifest,
} from '../../lib/ledger/manifest.js'
import { canonicalLine, type LedgerRecord } from '../../lib/ledger/record.js'

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex')
const DEV = '0123456789abcdef0123456789abcdef'

const rec = (id: string, output: number, extra: Partial<LedgerRecord> = {}): LedgerRecord => ({
  v: 1,
  id: id.padEnd(32, '0'),
  ts: '2026-11-20T10:00:00.000Z',
  source: 'claude-code',
  model: 'm',
  input: 1,
  output,
  cacheWrite: 0,
  cacheRead: 0,
  ...extra,
})

t.test('sealDigest', async (t) => {
  const rs = [rec('c', 1), rec('a', 2, { sidechain: true }), rec('b', 3), rec('a', 1)]
  const sortedLines = [canonicalLine(rs[3]!), canonicalLine(rs[1]!), canonicalLine(rs[2]!), canonicalLine(rs[0]!)]
  t.ok(sortedLines[0]! < sortedLines[1]!, 'fixture: two lines of id a, ordered by line')
  const expected = sha256(`${sortedLines.join('\n')}\n`)
  t.equal(
    sealDigest(rs),
    expected,
    'sha256 of the canonical lines sorted by id (then line), joined with \\n, trailing \\n',
  )

  const perms = [
    [0, 1, 2, 3],
    [3, 2, 1, 0],
    [1, 3, 0, 2],
    [2, 0, 3, 1],
  ]
  for (const p of perms) t.equal(sealDigest(p.map((i) => rs[i]!)), expected, `independent of input order ${p}`)
  t.same(
    rs.map((r) => r.id[0]),
    ['c', 'a', 'b', 'a'],
    'the input array is not reordered',
  )

  t.equal(sealDigest([]), sha256(''), 'no records: sha256 of nothing')
  t.equal(sealDigest([rec('a', 1)]), sha256(`${canonicalLine(rec('a', 1))}\n`), 'one record: its line and a newline')
  t.not(sealDigest([rec('a', 1)]), sealDigest([rec('a', 2)]), 'any token change changes the digest')
  t.not(sealDigest([rec('a', 1), rec('a', 1)]), sealDigest([rec('a', 1)]), 'a duplicated line changes the digest')
  t.equal(
    sealDigestLines([...rs].reverse().map(canonicalLine)),
    expected,
    'sealDigestLines over canonical lines gives the same digest',
  )
  t.equal(sealDigestLines([]), sha256(''))
  // Keys a newer version might add are not part of the canonical line, so not of the digest.
  t.equal(
    sealDigest([{ ...rec('a', 1), futureKey: 1 } as LedgerRecord]),
    sealDigest([rec('a', 1)]),
    'non-schema keys do not count',
  )
})

const sample = (): Manifest => {
  const m = emptyManifest(DEV, '2026-11-21T10:00:00.000Z')
  m.records = 3
  m.lastRecordAt = '2026-11-21T09:00:00.000Z'
  m.days['2026-11-21'] = { parts: 1, records: 1 }
  m.days['2026-10-02'] = { parts: 2, records: 1, digest: sealDigest([rec('b', 7)]) }
  m.days['2026-11-03'] = { parts: 1, records: 1, digest: sealDigest([rec('a', 5)]) }
  addToMonth(m, '2026-11', rec('a', 5), 1)
  addToMonth(m, '2026-10', rec('b', 7), 1)
  m.seen.ffffffffffffffffffffffffffffffff = 'f'.repeat(40)
  m.seen['00000000000000000000000000000000'] = '0'.repeat(40)
  m.sealed = { through: '2026-11-20', records: 2, root: sealRoot(m.days, '2026-11-20') }
  return m
}

t.test('emptyManifest', async (t) => {
  const m = emptyManifest(DEV, '2026-11-21T10:00:00.000Z')
  t.same(m, {
    v: 2,
    deviceId: DEV,
    updatedAt: '2026-11-21T10:00:00.000Z',
    records: 0,
    lastRecordAt: null,
    days: {},
    months: {},
    sealed: { through: '', records: 0, root: sha256('') },
    seen: {},
  })
})

t.test('serializeManifest: sorted maps, two-space indent, trailing newline; round-trips', async (t) => {
  const m = sample()
  const text = serializeManifest(m)
  t.ok(text.endsWith('}\n'), 'ends with a newline')
  t.match(text, /^\{\n {2}"v": 2,\n {2}"deviceId": /, 'two-space indent, schema order at the top')
  const o = JSON.parse(text)
  t.same(Object.keys(o), ['v', 'deviceId', 'updatedAt', 'records', 'lastRecordAt', 'days', 'months', 'seal', 'seen'])
  t.same(
    o.seal,
    m.sealed,
    'v2 names its seal `seal`: readers from before v2 check `sealed` when present, and skip it otherwise',
  )
  t.same(Object.keys(o.days), ['2026-10-02', '2026-11-03', '2026-11-21'], 'days sorted')
  t.same(Object.keys(o.months), ['2026-10', '2026-11'], 'months sorted')
  t.same(Object.keys(o.seen), ['00000000000000000000000000000000', 'ffffffffffffffffffffffffffffffff'], 'seen sorted')
  t.same(Object.keys(m.days), ['2026-11-21', '2026-10-02', '2026-11-03'], 'the input object is left as it was')

  const back = parseManifest(text)
  t.same(back, m, 'parseManifest(serializeManifest(m)) equals m')
  t.equal(serializeManifest(back), text, 'and serialises to the same bytes again')

  // The same content built in another insertion order serialises identically.
  const other = emptyManifest(DEV, '2026-11-21T10:00:00.000Z')
  other.records = 3
  other.lastRecordAt = '2026-11-21T09:00:00.000Z'
  other.days['2026-11-03'] = { ...m.days['2026-11-03']! }
  other.days['2026-11-21'] = { parts: 1, records: 1 }
  other.days['2026-10-02'] = { ...m.days['2026-10-02']! }
  addToMonth(other, '2026-10', rec('b', 7), 1)
  addToMonth(other, '2026-11', rec('a', 5), 1)
  other.seen['00000000000000000000000000000000'] = '0'.repeat(40)
  other.seen.ffffffffffffffffffffffffffffffff = 'f'.repeat(40)
  other.sealed = { ...m.sealed }
  t.equal(serializeManifest(other), text, 'insertion order of days, months and seen does not matter')
})

t.test('parseManifest: v1 keeps `sealed`; v2 takes `seal` and ignores a `sealed` beside it', async (t) => {
  const v1 = {
    v: 1,
    deviceId: DEV,
    days: {},
    months: {},
    seen: {},
    sealed: { through: '2026-11-20', records: 0, digest: sha256('') },
  }
  t.same(parseManifest(JSON.stringify(v1)).sealed, v1.sealed)
  t.equal(
    serializeManifest(parseManifest(JSON.stringify(v1))).includes('"sealed"'),
    true,
    'a v1 manifest serialises as v1',
  )
  const root = { through: '2026-11-20', records: 0, root: sha256('') }
  const v2 = { v: 2, deviceId: DEV, days: {}, seal: root, sealed: { through: 'x', records: 9, root: 'forged' } }
  t.same(parseManifest(JSON.stringify(v2)).sealed, root)
  t.equal(
    parseManifest(JSON.stringify({ v: 2, deviceId: DEV, days: {} })).sealed,
    undefined,
    'no seal: none (verify reports it)',
  )
})

t.test('parseManifest rejects what is not a manifest', async (t) => {
  t.throws(() => parseManifest('{"records":1}'), /not a usage-ledger manifest/)
  t.throws(() => parseManifest('[]'), /not a usage-ledger manifest/)
  t.throws(() => parseManifest('{"deviceId":"x"}'), /not a usage-ledger manifest/, 'no days')
  t.throws(() => parseManifest('{'), SyntaxError)
})

t.test('addToMonth', async (t) => {
  const m = emptyManifest(DEV, 'now')
  addToMonth(m, '2026-11', { input: 1, output: 2, cacheWrite: 3, cacheRead: 4 }, 1)
  addToMonth(m, '2026-11', { input: 10, output: 20, cacheWrite: 30, cacheRead: 40 }, 1)
  addToMonth(m, '2026-12', { input: 5, output: 0, cacheWrite: 0, cacheRead: 0 }, 1)
  t.same(m.months, {
    '2026-11': { records: 2, input: 11, output: 22, cacheWrite: 33, cacheRead: 44 },
    '2026-12': { records: 1, input: 5, output: 0, cacheWrite: 0, cacheRead: 0 },
  })
  // A better copy of a response replaces the old winner: subtract it, add the new one.
  addToMonth(m, '2026-11', { input: 1, output: 2, cacheWrite: 3, cacheRead: 4 }, -1)
  addToMonth(m, '2026-11', { input: 1, output: 9, cacheWrite: 3, cacheRead: 4 }, 1)
  t.same(
    m.months['2026-11'],
    { records: 2, input: 11, output: 29, cacheWrite: 33, cacheRead: 44 },
    'sign -1 undoes a +1',
  )
})

t.test('sealDigestLines sorts like a plain string sort, also when ids share their first digits', async (t) => {
  const naive = (lines: string[]) => {
    const h = createHash('sha256')
    for (const l of [...lines].sort()) h.update(`${l}\n`)
    return h.digest('hex')
  }
  let seed = 3
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31
    return seed % n
  }
  const hex = (n: number) => Array.from({ length: n }, () => '0123456789abcdef'[rnd(16)]).join('')
  const lines: string[] = []
  for (let i = 0; i < 3000; i++) {
    // Few distinct 8-digit prefixes, so many ties go through the string comparison.
    const id = ['00000000', 'ffffffff', 'a0a0a0a0', hex(8)][rnd(4)]! + hex(24)
    lines.push(
      `{"v":1,"id":"${id}","ts":"2026-11-21T10:00:00.000Z","source":"x","model":"m","input":${rnd(100)},"output":0,"cacheWrite":0,"cacheRead":0}`,
    )
  }
  lines.push(lines[5]!, lines[17]!) // duplicates too
  t.equal(sealDigestLines([...lines]), naive(lines))
  const odd = [...lines.slice(0, 100), 'not a canonical line', '{"v":1,"id":"zz"}']
  t.equal(sealDigestLines([...odd]), naive(odd), 'other lines fall back to the plain sort')
  const few = lines.slice(0, 10)
  t.equal(sealDigestLines([...few]), naive(few))
})

t.test(
  'sealRoot: sha256 over "YYYY-MM-DD <digest>\\n" for each day through `through` that holds records',
  async (t) => {
    const m = sample()
    t.same(sealedDays(m.days, '2026-11-20'), ['2026-10-02', '2026-11-03'], 'in order; the open day left out')
    t.equal(
      sealRoot(m.days, '2026-11-20'),
      sha256(`2026-10-02 ${sealDigest([rec('b', 7)])}\n2026-11-03 ${sealDigest([rec('a', 5)])}\n`),
    )
    t.equal(sealRoot({}, ''), sha256(''), 'no sealed day: sha256 of nothing')
    t.equal(
      sealRoot(m.days, '2026-10-31'),
      sha256(`2026-10-02 ${sealDigest([rec('b', 7)])}\n`),
      'only days through `through`',
    )
    const other = sample()
    other.days['2026-11-03']!.digest = sealDigest([rec('a', 6)])
    t.not(sealRoot(other.days, '2026-11-20'), sealRoot(m.days, '2026-11-20'), "any day's digest changes the root")
    other.days['2026-11-03']!.digest = undefined
    t.equal(
      sealRoot(other.days, '2026-11-20'),
      sha256(`2026-10-02 ${sealDigest([rec('b', 7)])}\n2026-11-03 \n`),
      'a sealed day without a digest hashes as an empty one',
    )
  },
)
