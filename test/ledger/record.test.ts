import t from 'tap'
import { createHash } from 'node:crypto'
import {
  canonicalLine,
  isCanonicalLine,
  normaliseTs,
  parseLedgerLine,
  privacyHash,
  recordId,
  SCHEMA_VERSION,
  sha256hex,
  toRecord,
  totalTokens,
  validateRecord,
  type LedgerRecord,
} from '../../lib/ledger/record.js'

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex')

const base = (): LedgerRecord => ({
  v: 1,
  id: '0123456789abcdef0123456789abcdef',
  ts: '2026-11-21T10:15:03.123Z',
  source: 'claude-code',
  model: 'claude-sonnet-4-5-20250929',
  input: 1234,
  output: 567,
  cacheWrite: 2048,
  cacheRead: 120000,
})

t.test('recordId = first 32 hex of sha256(source + "\\n" + nativeKey)', async (t) => {
  const key = 'msg_01ABC:req_011XYZ'
  t.equal(recordId('claude-code', key), sha256(`claude-code\n${key}`).slice(0, 32))
  t.match(recordId('codex', 'x'), /^[0-9a-f]{32}$/)
  t.equal(recordId('codex', 'x'), sha256('codex\nx').slice(0, 32))
  t.not(recordId('codex', 'x'), recordId('claude-code', 'x'), 'the source is part of the id')
  t.equal(recordId('claude-code', 'ü:€'), sha256('claude-code\nü:€').slice(0, 32), 'UTF-8 keys hash as UTF-8')
  t.equal(
    sha256hex('abc'),
    'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    'sha256hex is plain sha256',
  )
})

t.test('privacyHash = first 16 hex of sha256("usage-ledger/project/v1\\0" + salt + value)', async (t) => {
  t.equal(privacyHash('/home/me/proj'), sha256('usage-ledger/project/v1\0/home/me/proj').slice(0, 16))
  t.equal(privacyHash('/home/me/proj', 'pepper'), sha256('usage-ledger/project/v1\0pepper/home/me/proj').slice(0, 16))
  t.not(privacyHash('/home/me/proj', 'pepper'), privacyHash('/home/me/proj'), 'the salt changes the hash')
  t.match(privacyHash('session-uuid'), /^[0-9a-f]{16}$/)
})

t.test('totalTokens', async (t) => {
  t.equal(totalTokens(base()), 1234 + 567 + 2048 + 120000)
  t.equal(totalTokens({ input: 0, output: 0, cacheWrite: 0, cacheRead: 0 }), 0)
})

t.test('canonicalLine: schema key order, optional keys only when present and non-zero', async (t) => {
  t.equal(
    canonicalLine(base()),
    '{"v":1,"id":"0123456789abcdef0123456789abcdef","ts":"2026-11-21T10:15:03.123Z","source":"claude-code","model":"claude-sonnet-4-5-20250929","input":1234,"output":567,"cacheWrite":2048,"cacheRead":120000}',
    'the DESIGN §4 example',
  )

  // Optional keys given in a scrambled insertion order still come out in schema order.
  const full = {
    ...base(),
    sidechain: true,
    project: '1111111111111111',
    session: '2222222222222222',
    costUSD: 0.0123,
    speed: 'fast',
    reasoning: 40,
    cacheWrite1h: 1024,
  } as LedgerRecord
  const line = canonicalLine(full)
  t.equal(
    line,
    '{"v":1,"id":"0123456789abcdef0123456789abcdef","ts":"2026-11-21T10:15:03.123Z","source":"claude-code","model":"claude-sonnet-4-5-20250929","input":1234,"output":567,"cacheWrite":2048,"cacheRead":120000,' +
      '"cacheWrite1h":1024,"reasoning":40,"speed":"fast","costUSD":0.0123,"session":"2222222222222222","project":"1111111111111111","sidechain":true}',
  )
  t.same(Object.keys(JSON.parse(line)), [
    'v',
    'id',
    'ts',
    'source',
    'model',
    'input',
    'output',
    'cacheWrite',
    'cacheRead',
    'cacheWrite1h',
    'reasoning',
    'speed',
    'costUSD',
    'session',
    'project',
    'sidechain',
  ])
  t.same(JSON.parse(line), full, 'the line is valid JSON holding exactly the record')

  const zeros = { ...base(), cacheWrite1h: 0, reasoning: 0, costUSD: 0, session: '', project: '' } as LedgerRecord
  t.equal(canonicalLine(zeros), canonicalLine(base()), 'zero and empty optionals are omitted')
  t.equal(
    canonicalLine({ ...base(), input: 0, output: 0, cacheWrite: 0, cacheRead: 0 }),
    '{"v":1,"id":"0123456789abcdef0123456789abcdef","ts":"2026-11-21T10:15:03.123Z","source":"claude-code","model":"claude-sonnet-4-5-20250929","input":0,"output":0,"cacheWrite":0,"cacheRead":0}',
    'the four token counts are always written, even when zero',
  )
  const odd = { ...base(), model: 'we"ird\\model\n' }
  t.equal(JSON.parse(canonicalLine(odd)).model, 'we"ird\\model\n', 'model strings are JSON-escaped')
  t.notMatch(canonicalLine(odd), /\n/, 'one line even with a newline in a string')
})

t.test('normaliseTs', async (t) => {
  t.equal(normaliseTs('2026-11-21T10:15:03Z'), '2026-11-21T10:15:03.000Z', 'adds milliseconds')
  t.equal(normaliseTs('2026-11-21T11:15:03.5+01:00'), '2026-11-21T10:15:03.500Z', 'converts offsets to UTC')
  t.equal(normaliseTs(Date.UTC(2026, 10, 21, 10, 15, 3, 123)), '2026-11-21T10:15:03.123Z', 'epoch milliseconds')
  t.equal(normaliseTs('not a date'), null)
  t.equal(normaliseTs(null), null)
  t.equal(normaliseTs({}), null)
})

t.test('validateRecord', async (t) => {
  t.same(validateRecord(base()), [], 'the example is valid')
  t.same(
    validateRecord({
      ...base(),
      cacheWrite1h: 2048,
      reasoning: 3,
      speed: 'fast',
      costUSD: 0.5,
      session: 'abcdef0123456789',
      project: '0123456789abcdef',
      sidechain: true,
    }),
    [],
    'every optional key, valid',
  )
  t.same(validateRecord({ ...base(), futureKey: { a: 1 } }), [], 'unknown keys are allowed')

  t.same(validateRecord(null), ['not a JSON object'])
  t.same(validateRecord([base()]), ['not a JSON object'])
  t.same(validateRecord('x'), ['not a JSON object'])

  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['v 2', { v: 2 }, /"v"/],
    ['id too short', { id: 'abc' }, /"id"/],
    ['id upper case', { id: '0123456789ABCDEF0123456789ABCDEF' }, /"id"/],
    ['ts without ms', { ts: '2026-11-21T10:15:03Z' }, /"ts"/],
    ['ts with an offset', { ts: '2026-11-21T10:15:03.123+01:00' }, /"ts"/],
    ['ts impossible date', { ts: '2026-02-30T10:15:03.123Z' }, /"ts"/],
    ['source upper case', { source: 'Claude' }, /"source"/],
    ['source empty', { source: '' }, /"source"/],
    ['model empty', { model: '' }, /"model"/],
    ['model not a string', { model: 5 }, /"model"/],
    ['negative input', { input: -1 }, /"input"/],
    ['fractional output', { output: 1.5 }, /"output"/],
    ['string cacheWrite', { cacheWrite: '5' }, /"cacheWrite"/],
    ['missing cacheRead', { cacheRead: undefined }, /"cacheRead"/],
    ['unsafe integer', { input: 2 ** 53 }, /"input"/],
    ['cacheWrite1h > cacheWrite', { cacheWrite1h: 4096 }, /"cacheWrite1h" exceeds/],
    ['negative reasoning', { reasoning: -3 }, /"reasoning"/],
    ['speed slow', { speed: 'slow' }, /"speed"/],
    ['negative cost', { costUSD: -0.1 }, /"costUSD"/],
    ['NaN cost', { costUSD: Number.NaN }, /"costUSD"/],
    ['session not 16 hex', { session: '/home/me' }, /"session"/],
    ['project 32 hex', { project: '0123456789abcdef0123456789abcdef' }, /"project"/],
    ['sidechain false', { sidechain: false }, /"sidechain"/],
  ]
  for (const [label, patch, re] of cases) {
    const problems = validateRecord({ ...base(), ...patch })
    t.equal(problems.length, 1, `${label}: exactly one problem (${problems.join('; ')})`)
    t.match(problems[0] ?? '', re, `${label}: names the key`)
  }
  const many = validateRecord({
    v: 1,
    id: 'x',
    ts: 'y',
    source: 'z',
    model: 'm',
    input: -1,
    output: 0,
    cacheWrite: 0,
    cacheRead: 0,
  })
  t.equal(many.length, 3, 'every problem is listed, not only the first')
  t.match(many.join('\n'), /"id"[\s\S]*"ts"[\s\S]*"input"/)
})

t.test('toRecord keeps schema keys only, so a record read back canonicalises identically', async (t) => {
  const withExtra = { ...base(), reasoning: 7, futureKey: 'x', nested: { a: 1 }, sidechain: true }
  const r = toRecord(withExtra)
  t.same(
    Object.keys(r),
    ['v', 'id', 'ts', 'source', 'model', 'input', 'output', 'cacheWrite', 'cacheRead', 'reasoning', 'sidechain'],
    'unknown keys dropped',
  )
  t.equal(canonicalLine(r), canonicalLine({ ...base(), reasoning: 7, sidechain: true }))
  t.notOk('cacheWrite1h' in toRecord({ ...base(), cacheWrite1h: 0 }), 'zero optional is not carried')
  t.notOk('speed' in toRecord({ ...base(), speed: 'slow' }), 'only speed "fast" is carried')
})

t.test('parseLedgerLine', async (t) => {
  const line = canonicalLine({ ...base(), project: 'aaaaaaaaaaaaaaaa' })
  const ok = parseLedgerLine(line)
  t.same(ok, { kind: 'record', record: { ...base(), project: 'aaaaaaaaaaaaaaaa' } }, 'a canonical line parses')
  if (ok.kind === 'record') t.equal(canonicalLine(ok.record), line, 'and canonicalises back to the same bytes')

  const extra = `${line.slice(0, -1)},"newField":{"x":[1,2]},"another":"y"}`
  const parsed = parseLedgerLine(extra)
  t.equal(parsed.kind, 'record', 'unknown keys are ignored')
  if (parsed.kind === 'record') {
    t.notOk('newField' in parsed.record, 'and dropped')
    t.equal(canonicalLine(parsed.record), line, 'the canonical line is unaffected by unknown keys')
  }

  t.equal(SCHEMA_VERSION, 1)
  t.same(parseLedgerLine('{"v":2,"whatever":true}'), { kind: 'newer', v: 2 }, 'a higher v is "newer", not invalid')
  t.same(parseLedgerLine(JSON.stringify({ ...base(), v: 7 })), { kind: 'newer', v: 7 })
  t.same(parseLedgerLine('{"v":0}').kind, 'invalid', 'a lower v is invalid')
  t.same(parseLedgerLine('not json'), { kind: 'invalid', problems: ['not valid JSON'] })
  t.same(parseLedgerLine(''), { kind: 'invalid', problems: ['not valid JSON'] })
  t.same(parseLedgerLine('[1]'), { kind: 'invalid', problems: ['not a JSON object'] })
  const bad = parseLedgerLine(JSON.stringify({ ...base(), input: -5 }))
  t.equal(bad.kind, 'invalid')
  if (bad.kind === 'invalid') t.match(bad.problems, [/"input"/])
})

t.test('isCanonicalLine: exactly the lines canonicalLine writes for valid records', async (t) => {
  let seed = 7
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31
    return seed % n
  }
  const hex = (n: number) => Array.from({ length: n }, () => '0123456789abcdef'[rnd(16)]).join('')
  for (let i = 0; i < 500; i++) {
    const r: LedgerRecord = {
      ...base(),
      id: hex(32),
      ts: new Date(Date.UTC(2024, 0, 1) + rnd(1000) * 86_400_000 + rnd(86_400_000)).toISOString(),
      source: ['claude-code', 'codex', 'my.tool_2'][rnd(3)]!,
      model: ['gpt-5', 'claude-opus-4-1', 'modèle “x”'][rnd(3)]!,
      input: rnd(2) ? 0 : rnd(1e9),
      output: rnd(1e6),
      cacheWrite: rnd(1e6),
      cacheRead: rnd(2) ? 2 ** 40 + rnd(1e6) : 0,
    }
    if (rnd(2)) r.cacheWrite1h = Math.min(r.cacheWrite, 1 + rnd(1000))
    if (rnd(2)) r.reasoning = 1 + rnd(1000)
    if (rnd(4) === 0) r.speed = 'fast'
    if (rnd(2)) r.costUSD = [0.0123, 1e-7, 12.5, 3][rnd(4)]!
    if (rnd(2)) r.session = hex(16)
    if (rnd(2)) r.project = hex(16)
    if (rnd(4) === 0) r.sidechain = true
    if (r.cacheWrite1h === 0) delete r.cacheWrite1h
    const line = canonicalLine(r)
    if (!isCanonicalLine(line)) {
      t.fail(`not recognised: ${line}`)
      return
    }
    const back = parseLedgerLine(line)
    if (back.kind !== 'record' || canonicalLine(back.record) !== line) {
      t.fail(`does not round-trip: ${line}`)
      return
    }
    // parseLedgerLine takes a canonical line without validating it: the match must imply what validation checks,
    // and give the record the full parse gives, key for key.
    const full = toRecord(JSON.parse(line))
    if (
      validateRecord(JSON.parse(line)).length ||
      JSON.stringify(Object.entries(back.record)) !== JSON.stringify(Object.entries(full))
    ) {
      t.fail(`the fast parse differs from the full one: ${line}`)
      return
    }
  }
  t.pass('500 random canonical lines recognised, each parses (as the full parse does) and re-serialises to itself')

  const line = canonicalLine(base())
  const not = {
    'keys out of order': line.replace('"input":1234,"output":567', '"output":567,"input":1234'),
    'a zero optional key': line.replace('}', ',"reasoning":0}'),
    'an unknown key': line.replace('}', ',"extra":1}'),
    'cacheWrite1h above cacheWrite': line.replace('}', ',"cacheWrite1h":4096}'),
    'an impossible day': line.replace('2026-11-21', '2026-02-30'),
    'hour 24': line.replace('T10:', 'T24:'),
    'a cost not as JSON writes it': line.replace('}', ',"costUSD":1.50}'),
    'a zero cost': line.replace('}', ',"costUSD":0}'),
    'an escaped model': line.replace('claude-sonnet-4-5-20250929', 'a\\"b'),
    'a 16-digit count': line.replace('"input":1234', '"input":1234567890123456'),
    'a leading zero': line.replace('"input":1234', '"input":01234'),
    'v 2': line.replace('"v":1', '"v":2'),
    'upper-case id': line.replace('0123456789abcdef0123456789abcdef', '0123456789ABCDEF0123456789abcdef'),
    'trailing space': `${line} `,
  }
  for (const [what, l] of Object.entries(not)) t.notOk(isCanonicalLine(l), what)
  t.ok(isCanonicalLine(line.replace('2026-11-21', '2024-02-29')), 'a leap day is a day')
})
