import t from 'tap'
import { addDays, DAY_MS, isValidDay, utcDay, utcMonth } from '../../lib/ledger/time.js'

t.test('utcDay and utcMonth', async (t) => {
  t.equal(utcDay('2026-11-21T10:15:03.123Z'), '2026-11-21')
  t.equal(utcDay('2026-11-21T23:59:59.999Z'), '2026-11-21', 'last millisecond of the day')
  t.equal(utcDay('2026-11-22T00:00:00.000Z'), '2026-11-22', 'first millisecond of the next')
  t.equal(utcMonth('2026-11-21'), '2026-11')
  t.equal(utcMonth(utcDay('2026-01-01T00:00:00.000Z')), '2026-01')
})

t.test('addDays', async (t) => {
  t.equal(DAY_MS, 24 * 60 * 60 * 1000)
  t.equal(addDays('2026-11-21', 1), '2026-11-22')
  t.equal(addDays('2026-11-21', -1), '2026-11-20')
  t.equal(addDays('2026-11-21', 0), '2026-11-21')
  t.equal(addDays('2026-11-30', 1), '2026-12-01', 'month end')
  t.equal(addDays('2026-12-31', 1), '2027-01-01', 'year end')
  t.equal(addDays('2027-01-01', -1), '2026-12-31', 'back over a year end')
  t.equal(addDays('2028-02-28', 1), '2028-02-29', 'leap year')
  t.equal(addDays('2026-02-28', 1), '2026-03-01', 'not a leap year')
  t.equal(addDays('2100-02-28', 1), '2100-03-01', 'century, not a leap year')
  t.equal(addDays('2026-03-28', 2), '2026-03-30', 'across the EU DST change (UTC has none)')
  t.equal(addDays('2026-11-21', 365), '2027-11-21')
  // Must not depend on the process time zone.
  const tz = process.env.TZ
  try {
    process.env.TZ = 'Pacific/Kiritimati'
    t.equal(addDays('2026-03-29', 1), '2026-03-30', 'unaffected by TZ')
  } finally {
    if (tz === undefined) delete process.env.TZ
    else process.env.TZ = tz
  }
})

t.test('isValidDay', async (t) => {
  for (const d of ['2026-11-21', '2028-02-29', '2000-02-29', '1999-12-31', '2026-01-01']) t.ok(isValidDay(d), d)
  for (const d of [
    '2026-02-29',
    '2100-02-29',
    '2026-13-01',
    '2026-00-10',
    '2026-11-31',
    '2026-11-00',
    '2026-1-21',
    '26-11-21',
    '2026-11-21T00:00:00Z',
    '2026/11/21',
    '',
    ' 2026-11-21',
  ]) {
    t.notOk(isValidDay(d), JSON.stringify(d))
  }
})
