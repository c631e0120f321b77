import t from 'tap'
import {
  dayDir,
  deviceDir,
  DEVICE_ID_RE,
  LEDGER_REF_PREFIX,
  ledgerRef,
  MERGED_REF,
  partName,
  partNumber,
} from '../../lib/ledger/paths.js'

const ID = '0123456789abcdef0123456789abcdef'

t.test('refs', async (t) => {
  t.equal(ledgerRef(ID), `refs/heads/ledger/${ID}`)
  t.equal(LEDGER_REF_PREFIX, 'refs/heads/ledger/')
  t.ok(ledgerRef(ID).startsWith(LEDGER_REF_PREFIX), 'every ledger ref is under the prefix')
  t.equal(ledgerRef(ID).slice(LEDGER_REF_PREFIX.length), ID, 'and the rest is the device id')
  t.equal(MERGED_REF, 'refs/heads/merged')
})

t.test('device ids', async (t) => {
  t.ok(DEVICE_ID_RE.test(ID))
  for (const bad of [ID.toUpperCase(), ID.slice(1), `${ID}0`, 'g'.repeat(32), `${ID}\n`, ''])
    t.notOk(DEVICE_ID_RE.test(bad), JSON.stringify(bad))
})

t.test('tree paths', async (t) => {
  t.equal(deviceDir(ID), `devices/${ID}`)
  t.equal(dayDir('2026-11-21'), '2026-11/2026-11-21')
  t.equal(dayDir('2027-01-01'), '2027-01/2027-01-01')
  t.equal(
    `${deviceDir(ID)}/${dayDir('2026-11-21')}/${partName(1)}`,
    `devices/${ID}/2026-11/2026-11-21/000001.ndjson`,
    'DESIGN §2 layout',
  )
})

t.test('part names', async (t) => {
  t.equal(partName(1), '000001.ndjson')
  t.equal(partName(42), '000042.ndjson')
  t.equal(partName(999999), '999999.ndjson')
  t.equal(partNumber('000001.ndjson'), 1)
  t.equal(partNumber('000042.ndjson'), 42)
  for (const n of [1, 9, 10, 123, 99999, 999999]) t.equal(partNumber(partName(n)), n, `round-trip ${n}`)
  for (const bad of [
    '1.ndjson',
    '0000001.ndjson',
    '000001.json',
    '000001.ndjson.tmp',
    'x00001.ndjson',
    'device.json',
    'manifest.json',
    '',
  ]) {
    t.equal(partNumber(bad), null, JSON.stringify(bad))
  }
  // Name order is numeric order, which is what "a day is its parts in name order" relies on.
  const names = [10, 2, 100, 1, 9].map(partName)
  t.same([...names].sort().map(partNumber), [1, 2, 9, 10, 100])
})
