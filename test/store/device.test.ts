import t from 'tap'
import { fakeEnv as sharedFakeEnv } from '../helpers/env.js'
import fs from 'node:fs'
import { createHash } from 'node:crypto'
import type { Env } from '../../lib/env.js'
import { LedgerError } from '../../lib/errors.js'
import { checkDeviceId, deviceIdFromMachineId, machineId, resolveDeviceId } from '../../lib/store/device.js'

const fakeEnv = (vars: Record<string, string | undefined>, platform: NodeJS.Platform = 'linux'): Env => ({
  ...sharedFakeEnv(vars, { userHome: '/home/ana' }),
  platform,
})

const A = 'a'.repeat(32),
  B = 'b'.repeat(32),
  C = 'c'.repeat(32)

t.test('deviceIdFromMachineId', async (t) => {
  const mid = '4c5d3f0a9b8e4f21a7c6d5e4f3a2b1c0'
  const want = createHash('sha256').update(`usage-ledger/device/v1\0${mid}`).digest('hex').slice(0, 32)
  t.equal(deviceIdFromMachineId(mid), want)
  t.match(deviceIdFromMachineId(mid), /^[0-9a-f]{32}$/)
  t.equal(deviceIdFromMachineId(mid), deviceIdFromMachineId(mid), 'stable')
  t.not(deviceIdFromMachineId(mid), deviceIdFromMachineId(`${mid}0`))
  t.not(deviceIdFromMachineId(mid).slice(0, 8), mid.slice(0, 8), 'the raw id does not show')
  // A known value, so a change of the prefix or separator is caught.
  t.equal(
    deviceIdFromMachineId('x'),
    createHash('sha256').update(Buffer.from('usage-ledger/device/v1\u0000x')).digest('hex').slice(0, 32),
  )
  t.not(
    deviceIdFromMachineId('x'),
    createHash('sha256').update('usage-ledger/device/v1x').digest('hex').slice(0, 32),
    'the NUL separator matters',
  )
})

t.test('resolveDeviceId precedence', async (t) => {
  const env = fakeEnv({ USAGE_LEDGER_DEVICE_ID: B })
  t.match(resolveDeviceId(env, { v: 1, deviceId: C }, A), { id: A, source: 'flag', own: C, save: false }, 'flag first')
  t.match(resolveDeviceId(env, { v: 1, deviceId: C }), { id: B, source: 'env', own: C }, 'then the environment')
  t.match(resolveDeviceId(fakeEnv({}), { v: 1, deviceId: C }), { id: C, source: 'config', save: false }, 'then config')
  t.match(
    resolveDeviceId(fakeEnv({ USAGE_LEDGER_DEVICE_ID: '' }), { v: 1, deviceId: C }),
    { id: C, source: 'config' },
    'an empty variable is unset',
  )
  t.match(
    resolveDeviceId(fakeEnv({}), { v: 1, deviceId: C }, undefined, true),
    { id: C, source: 'config' },
    'a kept id wins over the machine id, also in an old store',
  )

  // A new store: a random id per store, never the machine's (two stores, cloned VMs and
  // containers of one machine would otherwise share one device).
  const r1 = resolveDeviceId(fakeEnv({}, 'linux'), { v: 1 })
  const r2 = resolveDeviceId(fakeEnv({}, 'linux'), { v: 1 })
  t.match(r1, { source: 'new', save: true })
  t.match(r1.id, /^[0-9a-f]{32}$/)
  t.not(r1.id, r2.id, 'random each time (the caller saves it)')
  const mid = machineId('linux')
  if (mid) t.not(r1.id, deviceIdFromMachineId(mid), 'not the machine-derived id')
  t.match(
    resolveDeviceId(fakeEnv({}, 'linux'), { v: 1, installId: A }, undefined, true),
    { source: 'new' },
    'a store with an install id is not a pre-config store',
  )

  // A store made before ids were kept in config keeps the machine-derived id it always used.
  const old = resolveDeviceId(fakeEnv({}, 'linux'), { v: 1 }, undefined, true)
  if (mid) {
    t.match(
      old,
      { id: deviceIdFromMachineId(mid), source: 'legacy', save: true },
      'an old store: the machine id, saved from now on',
    )
    t.equal(
      mid,
      (() => {
        for (const f of ['/etc/machine-id', '/var/lib/dbus/machine-id']) {
          try {
            const s = fs.readFileSync(f, 'utf8').trim()
            if (s) return s
          } catch {
            /* next */
          }
        }
        return null
      })(),
      'linux reads /etc/machine-id first',
    )
    t.match(
      resolveDeviceId(fakeEnv({}, 'linux'), { v: 1 }, A, true),
      { id: A, source: 'flag', own: deviceIdFromMachineId(mid), ownSource: 'legacy' },
      'a flag over an old store names the id it replaces',
    )
  } else {
    t.equal(old.source, 'new', 'no machine id here: random')
  }
  t.match(
    resolveDeviceId(fakeEnv({}, 'aix'), { v: 1 }, undefined, true),
    { source: 'new' },
    'unknown platform: random id',
  )
  t.equal(machineId('aix'), null)
})

t.test('bad ids are usage errors', async (t) => {
  const cases: Array<[string, () => unknown, RegExp]> = [
    ['flag', () => resolveDeviceId(fakeEnv({}), { v: 1 }, 'xyz'), /--device-id/],
    ['flag upper case', () => resolveDeviceId(fakeEnv({}), { v: 1 }, A.toUpperCase()), /--device-id/],
    ['flag 31 hex', () => resolveDeviceId(fakeEnv({}), { v: 1 }, A.slice(1)), /--device-id/],
    ['env', () => resolveDeviceId(fakeEnv({ USAGE_LEDGER_DEVICE_ID: 'nope' }), { v: 1 }), /USAGE_LEDGER_DEVICE_ID/],
    ['config', () => resolveDeviceId(fakeEnv({}), { v: 1, deviceId: `${A}0` }), /config\.json/],
  ]
  for (const [name, fn, where] of cases) {
    let err: unknown
    try {
      fn()
    } catch (e) {
      err = e
    }
    t.ok(err instanceof LedgerError, `${name}: LedgerError`)
    t.equal((err as LedgerError).kind, 'usage', `${name}: kind usage`)
    t.equal((err as LedgerError).code, 'BAD_DEVICE_ID', `${name}: code`)
    t.match((err as LedgerError).message, where, `${name}: says where`)
  }
  t.equal(checkDeviceId(A, 'x'), A)
})
