import t from 'tap'
import { fakeEnv as sharedFakeEnv } from '../helpers/env.js'
import fs from 'node:fs'
import { createHash } from 'node:crypto'
import type { Env } from '../../lib/env.js'
import { LedgerError } from '../../lib/errors.js'
import { checkDeviceId, deviceIdFromMachineId, machineId, resolveDeviceId } from '../../lib/store/device.js'

const fakeEnv = (vars: Record<string, string | undefined>, platform: NodeJS.Platform = 'linux'): Env =>
  ({ ...sharedFakeEnv(vars, { userHome: '/home/ana' }), platform })

const A = 'a'.repeat(32), B = 'b'.repeat(32), C = 'c'.repeat(32)

t.test('deviceIdFromMachineId', async (t) => {
  const mid = '4c5d3f0a9b8e4f21a7c6d5e4f3a2b1c0'
  const want = createHash('sha256').update('usage-ledger/device/v1\0' + mid).digest('hex').slice(0, 32)
  t.equal(deviceIdFromMachineId(mid), want)
  t.match(deviceIdFromMachineId(mid), /^[0-9a-f]{32}$/)
  t.equal(deviceIdFromMachineId(mid), deviceIdFromMachineId(mid), 'stable')
  t.not(deviceIdFromMachineId(mid), deviceIdFromMachineId(mid + '0'))
  t.not(deviceIdFromMachineId(mid).slice(0, 8), mid.slice(0, 8), 'the raw id does not show')
  // A known value, so a change of the prefix or separator is caught.
  t.equal(deviceIdFromMachineId('x'), createHash('sha256').update(Buffer.from('usage-ledger/device/v1\u0000x')).digest('hex').slice(0, 32))
  t.not(deviceIdFromMachineId('x'), createHash('sha256').update('usage-ledger/device/v1x').digest('hex').slice(0, 32), 'the NUL separator matters')
})

t.test('resolveDeviceId precedence', async (t) => {
  const env = fakeEnv({ USAGE_LEDGER_DEVICE_ID: B })
  t.same(resolveDeviceId(env, { v: 1, deviceId: C }, A), { id: A, fromRandom: false }, 'flag first')
  t.same(resolveDeviceId(env, { v: 1, deviceId: C }), { id: B, fromRandom: false }, 'then the environment')
  t.same(resolveDeviceId(fakeEnv({}), { v: 1, deviceId: C }), { id: C, fromRandom: false }, 'then config')
  t.same(resolveDeviceId(fakeEnv({ USAGE_LEDGER_DEVICE_ID: '' }), { v: 1, deviceId: C }), { id: C, fromRandom: false }, 'an empty variable is unset')

  const mid = machineId('linux')
  const got = resolveDeviceId(fakeEnv({}, 'linux'), { v: 1 })
  if (mid) {
    t.same(got, { id: deviceIdFromMachineId(mid), fromRandom: false }, 'then the machine id')
    t.equal(mid, (() => { for (const f of ['/etc/machine-id', '/var/lib/dbus/machine-id']) { try { const s = fs.readFileSync(f, 'utf8').trim(); if (s) return s } catch { /* next */ } } return null })(), 'linux reads /etc/machine-id first')
  } else {
    t.equal(got.fromRandom, true, 'no machine id here: random')
  }

  const r1 = resolveDeviceId(fakeEnv({}, 'aix'), { v: 1 })
  const r2 = resolveDeviceId(fakeEnv({}, 'aix'), { v: 1 })
  t.equal(r1.fromRandom, true, 'unknown platform: random id')
  t.match(r1.id, /^[0-9a-f]{32}$/)
  t.not(r1.id, r2.id, 'random each time (the caller saves it)')
  t.equal(machineId('aix'), null)
})

t.test('bad ids are usage errors', async (t) => {
  const cases: Array<[string, () => unknown, RegExp]> = [
    ['flag', () => resolveDeviceId(fakeEnv({}), { v: 1 }, 'xyz'), /--device-id/],
    ['flag upper case', () => resolveDeviceId(fakeEnv({}), { v: 1 }, A.toUpperCase()), /--device-id/],
    ['flag 31 hex', () => resolveDeviceId(fakeEnv({}), { v: 1 }, A.slice(1)), /--device-id/],
    ['env', () => resolveDeviceId(fakeEnv({ USAGE_LEDGER_DEVICE_ID: 'nope' }), { v: 1 }), /USAGE_LEDGER_DEVICE_ID/],
    ['config', () => resolveDeviceId(fakeEnv({}), { v: 1, deviceId: A + '0' }), /config\.json/],
  ]
  for (const [name, fn, where] of cases) {
    let err: unknown
    try { fn() } catch (e) { err = e }
    t.ok(err instanceof LedgerError, `${name}: LedgerError`)
    t.equal((err as LedgerError).kind, 'usage', `${name}: kind usage`)
    t.equal((err as LedgerError).code, 'BAD_DEVICE_ID', `${name}: code`)
    t.match((err as LedgerError).message, where, `${name}: says where`)
  }
  t.equal(checkDeviceId(A, 'x'), A)
})
