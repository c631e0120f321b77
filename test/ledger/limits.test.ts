import t from 'tap'
import {
  accountHash,
  instantOf,
  makeReading,
  newestByKey,
  parseReadingLine,
  readingKey,
  readingLine,
  validateReading,
  windowName,
} from '../../lib/ledger/limits.js'

const base = { ts: '2026-11-22T10:00:00.000Z', source: 'claude-code', account: accountHash('uuid-1') }

t.test('windows are named by their length, never by the provider', async (t) => {
  t.equal(windowName(300), '5h')
  t.equal(windowName(10080), '7d')
  t.equal(windowName(1440), '1440m')
  t.equal(makeReading({ ...base, minutes: 10080, usedPercent: 3 })!.window, '7d')
})

t.test('a reading: canonical line, round trip, validation', async (t) => {
  const r = makeReading({ ...base, minutes: 300, usedPercent: 23.456, resetsAt: 1795870800, plan: 'max' })!
  t.equal(
    readingLine(r),
    `{"v":1,"id":"${r.id}","ts":"2026-11-22T10:00:00.000Z","source":"claude-code","account":"${base.account}","window":"5h","minutes":300,"usedPercent":23.46,"resetsAt":"2026-11-28T13:00:00.000Z","plan":"max"}`,
  )
  const back = parseReadingLine(readingLine(r))
  t.same(back, { kind: 'reading', reading: r }, 'the line reads back as the reading')
  t.same(
    parseReadingLine(`${readingLine(r).slice(0, -1)},"future":1}`),
    { kind: 'reading', reading: r },
    'unknown keys are ignored',
  )
  t.same(parseReadingLine('{"v":2,"x":1}'), { kind: 'newer', v: 2 })
  t.equal(parseReadingLine('nope').kind, 'invalid')
  t.match(validateReading({ ...r, window: '7d' }).join(), /"window" must be "5h" for 300 minutes/)
  t.match(validateReading({ ...r, usedPercent: -1 }).join(), /usedPercent/)
  t.match(validateReading({ ...r, account: 'raw-account-id' }).join(), /account/)
  t.equal(makeReading({ ...base, minutes: null, usedPercent: 5 }), null, 'no length, no reading')
  t.equal(makeReading({ ...base, minutes: 300, usedPercent: 'x' }), null, 'no percent, no reading')
  t.equal(makeReading({ ...base, minutes: 300, usedPercent: 1e9 }), null, 'garbage percent, no reading')
  t.notOk(
    'resetsAt' in makeReading({ ...base, minutes: 300, usedPercent: 5, resetsAt: 'soon' })!,
    'a reset time that is no time is left out',
  )
})

t.test('reset instants: Unix seconds, milliseconds, ISO strings', async (t) => {
  t.equal(instantOf(1795870800), '2026-11-28T13:00:00.000Z')
  t.equal(instantOf(1795870800000), '2026-11-28T13:00:00.000Z')
  t.equal(instantOf('1795870800'), '2026-11-28T13:00:00.000Z')
  t.equal(instantOf('2026-11-28T14:00:00+01:00'), '2026-11-28T13:00:00.000Z')
  t.equal(instantOf(-5), null)
  t.equal(instantOf({}), null)
})

t.test('the newest reading per account, bucket and window wins; readings are never summed', async (t) => {
  const at = (ts: string, used: number, extra: Record<string, unknown> = {}) =>
    makeReading({ ...base, ts, minutes: 300, usedPercent: used, ...extra })!
  const a = at('2026-11-22T10:00:00.000Z', 10)
  const b = at('2026-11-22T11:00:00.000Z', 40)
  const other = at('2026-11-22T09:00:00.000Z', 70, { account: accountHash('uuid-2') })
  const bucket = at('2026-11-22T09:00:00.000Z', 5, { limit: 'codex_other' })
  const best = newestByKey([b, a, other, bucket])
  t.equal(best.size, 3)
  t.equal(best.get(readingKey(a))!.usedPercent, 40, 'the later reading, whatever the order')
  t.equal(best.get(readingKey(other))!.usedPercent, 70, 'another account is its own')
  t.equal(best.get(readingKey(bucket))!.usedPercent, 5, 'another bucket is its own')
  t.not(accountHash('uuid-1'), 'uuid-1', 'the account id never appears raw')
  t.match(accountHash('uuid-1'), /^[0-9a-f]{16}$/)
})
