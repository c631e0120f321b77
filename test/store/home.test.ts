import t from 'tap'
import { fakeEnv as sharedFakeEnv } from '../helpers/env.js'
import fs from 'node:fs'
import path from 'node:path'
import { LedgerError } from '../../lib/errors.js'
import { homePaths, readConfig, resolveHome, writeConfig, CONFIG_VERSION } from '../../lib/store/home.js'

const fakeEnv = (vars: Record<string, string | undefined>, o: { userHome?: string; cwd?: string } = {}) =>
  sharedFakeEnv(vars, { userHome: o.userHome ?? '/home/ana', cwd: o.cwd ?? '/work/dir' })

t.test('resolveHome precedence', async (t) => {
  const all = { USAGE_LEDGER_HOME: '/env/home', XDG_DATA_HOME: '/xdg/data' }
  t.equal(resolveHome(fakeEnv(all), '/flag/home'), '/flag/home', '--home wins over everything')
  t.equal(resolveHome(fakeEnv(all), 'rel/home'), '/work/dir/rel/home', 'a relative --home resolves against cwd')
  t.equal(resolveHome(fakeEnv(all)), '/env/home', 'then USAGE_LEDGER_HOME')
  t.equal(
    resolveHome(fakeEnv({ ...all, USAGE_LEDGER_HOME: 'relenv' })),
    '/work/dir/relenv',
    'a relative USAGE_LEDGER_HOME resolves against cwd',
  )
  t.equal(
    resolveHome(fakeEnv({ XDG_DATA_HOME: '/xdg/data' })),
    '/xdg/data/usage-ledger',
    'then $XDG_DATA_HOME/usage-ledger',
  )
  t.equal(
    resolveHome(fakeEnv({ USAGE_LEDGER_HOME: '', XDG_DATA_HOME: '' })),
    '/home/ana/.local/share/usage-ledger',
    'empty values are unset',
  )
  t.equal(resolveHome(fakeEnv({})), '/home/ana/.local/share/usage-ledger', 'else ~/.local/share/usage-ledger')
  t.equal(resolveHome(fakeEnv({}), ''), '/home/ana/.local/share/usage-ledger', 'an empty flag is no flag')
})

t.test('homePaths layout', async (t) => {
  t.same(homePaths('/h'), {
    home: '/h',
    gitdir: '/h/repo.git',
    state: '/h/state',
    index: '/h/index',
    config: '/h/config.json',
    lock: '/h/state/lock',
    cursors: '/h/state/cursors.json',
    known: '/h/state/known',
    verified: '/h/state/verified.json',
    proved: '/h/state/proved.json',
    quarantine: '/h/state/quarantine.json',
    names: '/h/state/names.json',
  })
})

t.test('readConfig', async (t) => {
  const dir = t.testdir({
    'ok.json': JSON.stringify({
      v: 1,
      deviceName: 'laptop',
      remote: 'https://example.com/r.git',
      timezone: 'Europe/Berlin',
      privacy: { salt: 's' },
    }),
    'nov.json': JSON.stringify({ deviceName: 'x' }),
    'bad.json': '{"v":1, "deviceName": ',
    'array.json': '[1,2]',
    'null.json': 'null',
    'str.json': '"hello"',
    'new.json': JSON.stringify({ v: 2, deviceName: 'future' }),
    adir: {},
  })
  const f = (n: string) => path.join(dir, n)

  t.same(readConfig(f('missing.json')), { v: 1 }, 'missing → defaults')
  t.same(readConfig(f('ok.json')), {
    v: 1,
    deviceName: 'laptop',
    remote: 'https://example.com/r.git',
    timezone: 'Europe/Berlin',
    privacy: { salt: 's' },
  })
  t.same(readConfig(f('nov.json')), { v: 1, deviceName: 'x' }, 'no v → v 1')

  for (const name of ['bad.json', 'array.json', 'null.json', 'str.json']) {
    let err: unknown
    try {
      readConfig(f(name))
    } catch (e) {
      err = e
    }
    t.ok(err instanceof LedgerError, `${name}: LedgerError`)
    t.equal((err as LedgerError).kind, 'input', `${name}: kind input`)
    t.equal((err as LedgerError).code, 'BAD_CONFIG', `${name}: BAD_CONFIG`)
    t.match((err as LedgerError).message, f(name), `${name}: names the file`)
  }

  let err: unknown
  try {
    readConfig(f('new.json'))
  } catch (e) {
    err = e
  }
  t.ok(err instanceof LedgerError)
  t.equal((err as LedgerError).code, 'CONFIG_TOO_NEW')
  t.equal((err as LedgerError).kind, 'input')
  t.match((err as LedgerError).message, f('new.json'))
  t.match((err as LedgerError).message, /upgrade/)

  t.throws(() => readConfig(f('adir')), { code: 'EISDIR' }, 'other read errors are not swallowed')
  t.equal(CONFIG_VERSION, 1)
})

t.test('writeConfig round trip', async (t) => {
  const dir = t.testdir({})
  const file = path.join(dir, 'sub', 'config.json')
  const c = {
    v: 1 as const,
    deviceId: 'a'.repeat(32),
    deviceName: 'box',
    git: { backend: 'iso' as const },
    record: { minInterval: 60 },
  }
  writeConfig(file, c)
  t.same(readConfig(file), c)
  const text = fs.readFileSync(file, 'utf8')
  t.ok(text.endsWith('}\n'), 'ends with a newline')
  t.match(text, /\n {2}"deviceName": "box"/, 'indented for humans')
  t.same(fs.readdirSync(path.dirname(file)), ['config.json'], 'no temp file left')
})
