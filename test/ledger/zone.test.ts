import t from 'tap'
import { checkZone, localTimeIn, systemZone } from '../../lib/ledger/zone.js'
import { LedgerError } from '../../lib/errors.js'

t.test('checkZone', async (t) => {
  for (const z of ['UTC', 'Europe/Berlin', 'Asia/Kolkata', 'Asia/Kathmandu', 'America/New_York', 'Pacific/Chatham'])
    t.equal(checkZone(z), z, z)
  for (const z of ['Mars/Olympus', 'Europe/Atlantis', 'not a zone']) {
    let err: unknown
    try {
      checkZone(z)
    } catch (e) {
      err = e
    }
    t.ok(err instanceof LedgerError, `${z}: LedgerError`)
    t.equal((err as LedgerError).kind, 'usage', `${z}: kind usage`)
    t.equal((err as LedgerError).code, 'BAD_TIMEZONE')
    t.match((err as LedgerError).message, z, 'names the zone')
  }
})

t.test('systemZone', async (t) => {
  const z = systemZone()
  t.type(z, 'string')
  t.equal(checkZone(z), z, 'a valid zone')
})

/** Independent oracle: Intl formats the instant in the zone. */
function intlLocal(tz: string): (ts: string) => string {
  const f = new Intl.DateTimeFormat('en-CA', {
    timeZone: tz,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
  })
  return (ts) => {
    const p = Object.fromEntries(f.formatToParts(new Date(ts)).map((x) => [x.type, x.value]))
    return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}`
  }
}

t.test('localTimeIn', async (t) => {
  const cases: Array<[string, string, string]> = [
    ['UTC', '2026-11-19T23:50:41.302Z', '2026-11-19T23:50'],
    ['Europe/Berlin', '2026-11-19T23:50:41.302Z', '2026-11-20T00:50'],
    ['Europe/Berlin', '2026-07-01T22:00:00.000Z', '2026-07-02T00:00'],
    // +05:30
    ['Asia/Kolkata', '2026-11-19T23:50:41.302Z', '2026-11-20T05:20'],
    ['Asia/Kolkata', '2026-11-19T18:29:59.999Z', '2026-11-19T23:59'],
    ['Asia/Kolkata', '2026-11-19T18:30:00.000Z', '2026-11-20T00:00'],
    // +05:45
    ['Asia/Kathmandu', '2026-11-19T18:14:59.999Z', '2026-11-19T23:59'],
    ['Asia/Kathmandu', '2026-11-19T18:15:00.000Z', '2026-11-20T00:00'],
    // +13:45 in (southern) summer
    ['Pacific/Chatham', '2026-11-19T10:14:00.000Z', '2026-11-19T23:59'],
    ['Pacific/Chatham', '2026-11-19T10:15:00.000Z', '2026-11-20T00:00'],
    // New York, DST starts 2026-03-08 07:00Z (02:00 EST → 03:00 EDT): a 23-hour day
    ['America/New_York', '2026-03-08T04:59:00.000Z', '2026-03-07T23:59'],
    ['America/New_York', '2026-03-08T05:00:00.000Z', '2026-03-08T00:00'],
    ['America/New_York', '2026-03-08T06:59:00.000Z', '2026-03-08T01:59'],
    ['America/New_York', '2026-03-08T07:00:00.000Z', '2026-03-08T03:00'],
    ['America/New_York', '2026-03-09T03:59:00.000Z', '2026-03-08T23:59'],
    ['America/New_York', '2026-03-09T04:00:00.000Z', '2026-03-09T00:00'],
    // DST ends 2026-11-01 06:00Z (02:00 EDT → 01:00 EST): a 25-hour day
    ['America/New_York', '2026-11-01T03:59:00.000Z', '2026-10-31T23:59'],
    ['America/New_York', '2026-11-01T04:00:00.000Z', '2026-11-01T00:00'],
    ['America/New_York', '2026-11-01T05:30:00.000Z', '2026-11-01T01:30'],
    ['America/New_York', '2026-11-01T06:30:00.000Z', '2026-11-01T01:30'],
    ['America/New_York', '2026-11-02T04:59:00.000Z', '2026-11-01T23:59'],
    ['America/New_York', '2026-11-02T05:00:00.000Z', '2026-11-02T00:00'],
  ]
  const fns = new Map<string, (ts: string) => string>()
  for (const [tz, ts, want] of cases) {
    let f = fns.get(tz)
    if (!f) fns.set(tz, (f = localTimeIn(tz)))
    t.equal(intlLocal(tz)(ts), want, `oracle agrees: ${ts} in ${tz}`)
    t.equal(f(ts), want, `${ts} in ${tz}`)
    t.equal(localTimeIn(tz)(ts), want, `${ts} in ${tz} (fresh cache)`)
  }
  // The per-quarter-hour cache answers every minute of a DST-switch day correctly.
  const ny = localTimeIn('America/New_York')
  let bad = 0
  for (let ms = Date.parse('2026-11-01T00:00:00Z'); ms < Date.parse('2026-11-02T12:00:00Z'); ms += 60_000) {
    const want = new Date(ms - (ms >= Date.parse('2026-11-01T06:00:00Z') ? 5 : 4) * 3_600_000)
      .toISOString()
      .slice(0, 16)
    if (ny(new Date(ms).toISOString()) !== want) bad++
  }
  t.equal(bad, 0, 'every minute around the switch')
  // Away from the switch the cache is exact, in half- and quarter-hour zones too.
  for (const tz of ['Asia/Kolkata', 'Asia/Kathmandu', 'Pacific/Chatham', 'Europe/Berlin', 'America/New_York']) {
    const f = localTimeIn(tz),
      o = intlLocal(tz)
    let wrong = 0
    for (
      let ms = Date.parse('2026-11-18T00:00:00Z');
      ms < Date.parse('2026-11-20T00:00:00Z');
      ms += 7 * 60_000 + 13_000
    ) {
      const ts = new Date(ms).toISOString()
      if (f(ts) !== o(ts)) wrong++
    }
    t.equal(wrong, 0, `${tz}: every 7m13s over two days`)
  }
})
