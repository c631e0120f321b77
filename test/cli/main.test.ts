import t from 'tap'
import path from 'node:path'
import { main } from '../../lib/cli/main.js'
import { fakeEnv } from '../helpers/env.js'
import { copyFixtures, expected } from '../helpers/cli.js'

/** The in-process way to run any command: a fixed env with captured output. */
function env(dir: string, opts: { tty?: boolean } = {}) {
  const e = fakeEnv(
    {
      CLAUDE_CONFIG_DIR: path.join(dir, 'claude'),
      CODEX_HOME: path.join(dir, 'codex'),
      USAGE_LEDGER_DEVICE_ID: 'b'.repeat(32),
    },
    { userHome: path.join(dir, 'home'), cwd: dir, tty: opts.tty },
  )
  return { env: e, out: e.out, err: e.err }
}

t.test('commands run in-process with a fixed env and captured output', async (t) => {
  const dir = t.testdir()
  copyFixtures(dir)
  const home = path.join(dir, 'store')
  const rec = env(dir, { tty: true })
  t.equal(await main(['--home', home, 'record'], rec.env), 0)
  t.match(rec.err(), /reading sources \[/, 'a backfill shows progress on a TTY')
  t.match(rec.err(), /recorded 28 records in 4 parts \(2026-11-18\.\.2026-11-21\)/)
  t.equal(rec.out(), '', 'nothing on stdout without --json')

  const quiet = env(dir)
  t.equal(await main(['--home', home, 'record', '-q'], quiet.env), 0)
  t.equal(quiet.err(), '', '--quiet prints nothing')

  const rep = env(dir)
  t.equal(
    await main(['--home', home, 'report', 'monthly', '--json', '--tz', 'Asia/Kolkata', '--by', 'device'], rep.env),
    0,
  )
  const j = JSON.parse(rep.out())
  const exp = expected()
  t.equal(j.schema, 'usage-ledger/report@1')
  t.equal(j.period, 'monthly')
  t.same(j.groupBy, ['device'])
  t.same(
    j.rows.map((r: { period: string; device: string; deviceName: string }) => [r.period, r.device, r.deviceName]),
    [['2026-11', 'b'.repeat(32), 'test-host']],
  )
  t.equal(j.totals.totalTokens, exp['claude-code'].totals.totalTokens + exp.codex.totals.totalTokens)
  t.same(
    j.devices.map((d: { id: string; name: string }) => [d.id, d.name]),
    [['b'.repeat(32), 'test-host']],
  )
  t.match(j.pricing, { asOf: /^\d{4}-\d{2}-\d{2}$/, sha256: /^[0-9a-f]{64}$/ })

  const table = env(dir)
  t.equal(await main(['--home', home, 'report', '--tz', 'UTC', '--no-color'], table.env), 0)
  t.match(table.out(), /│ 2026-11-21 +│ +9 │/)
  t.match(table.out(), /│ Total +│ +28 │/)
  t.notMatch(table.out(), /\x1b\[/, 'no colour codes with --no-color')

  const help = env(dir)
  t.equal(await main(['--help'], help.env), 0)
  t.match(help.out(), /usage-ledger record/)
  const version = env(dir)
  t.equal(await main(['--version'], version.env), 0)
  t.match(version.out(), /^\d+\.\d+\.\d+/)
})

t.test('errors map to exit codes; stacks only with --debug', async (t) => {
  const dir = t.testdir()
  const a = env(dir)
  t.equal(await main(['--home', path.join(dir, 's'), 'report', '--tz', 'Nowhere/Land'], a.env), 2)
  t.notMatch(a.err(), /\n\s+at /)
  const b = env(dir)
  t.equal(await main(['--home', path.join(dir, 's'), '--debug', 'report', '--tz', 'Nowhere/Land'], b.env), 2)
  t.match(b.err(), /\n\s+at /, 'stack with --debug')
})
