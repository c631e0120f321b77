/**
 * One way to name a device (issue 11, item 8): `--device` and `fetch --accept-rewrite` take an
 * id, a unique id prefix or a name, through one resolver; unknown or ambiguous is exit 2 with
 * the candidates; two devices with one name are flagged; `--repo` where it does not apply is
 * exit 2.
 */
import t, { type Test } from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { spawnSync } from 'node:child_process'
import { cli, git, type CliResult } from '../helpers/cli.js'
import { type Machine, machine } from '../helpers/machine.js'

// Two ids share the prefix a1a1, so a1a1 is ambiguous and a1a1b unique.
const A = 'a1'.repeat(16)
const B = `a1a1${'b2'.repeat(14)}`
const C = 'c3'.repeat(16)
const OBSERVER = 'd4'.repeat(16)

const day = (n: number) =>
  `${JSON.stringify({ ts: `2026-11-2${n}T10:00:00Z`, model: 'gpt-5', input_tokens: 100 * n, output_tokens: n })}\n`

// The clock after day(4): a record dated more than 24 hours ahead of now is refused.
const NOW = '2026-11-25T12:00:00.000Z'

async function ok(args: string[], m: Machine, input?: string): Promise<CliResult> {
  const r = await cli(args, { env: m.env, input })
  if (r.code !== 0) throw new Error(`${args.join(' ')} exited ${r.code}: ${r.stderr}`)
  return r
}

const reportDevices = async (m: Machine, args: string[]) =>
  (
    JSON.parse((await ok(['report', 'monthly', '--json', '--by', 'device', ...args], m)).stdout).rows as Array<{
      device: string
    }>
  )
    .map((r) => r.device)
    .sort()

/** Exit 2, one line naming the flag and the value, listing the given ids. */
function refused(t: Test, r: CliResult, what: RegExp, ids: string[], label: string) {
  t.equal(r.code, 2, `${label}: exit 2`)
  t.equal(r.stderr.trim().split('\n').length, 1, `${label}: one line`)
  t.match(r.stderr, what, label)
  for (const id of ids) t.match(r.stderr, id, `${label}: lists ${id.slice(0, 8)}`)
  t.notMatch(r.stderr, /\n\s+at /, `${label}: no stack`)
}

t.test(
  '--device and --accept-rewrite: an id, a unique prefix or a name; unknown and ambiguous are exit 2 with the candidates',
  async (t) => {
    const root = t.testdir()
    const bare = path.join(root, 'remote.git')
    spawnSync('git', ['init', '--bare', '--quiet', bare])
    const a = machine(root, 'a', { id: A, env: { USAGE_LEDGER_NOW: NOW } })
    const b = machine(root, 'b', { id: B, env: { USAGE_LEDGER_NOW: NOW } })
    const c = machine(root, 'c', { id: C, env: { USAGE_LEDGER_NOW: NOW } })
    const o = machine(root, 'o', { id: OBSERVER, env: { USAGE_LEDGER_NOW: NOW } })
    for (const [m, name] of [
      [a, 'laptop'],
      [b, 'laptop'],
      [c, 'box'],
      [o, 'observer'],
    ] as const)
      await ok(['init', '--remote', bare, '--name', name], m)
    await ok(['record', '--stdin', '--source', 'x'], a, day(1))
    await ok(['record', '--stdin', '--source', 'x'], b, day(2))
    await ok(['record', '--stdin', '--source', 'x'], c, day(3))
    await ok(['record', '--stdin', '--source', 'x'], c, day(4))
    await ok(['fetch'], o)

    // report --device
    t.same(await reportDevices(o, ['--device', 'box']), [C], 'a name')
    t.same(await reportDevices(o, ['--device', C]), [C], 'a whole id')
    t.same(await reportDevices(o, ['--device', 'a1a1b']), [B], 'a unique id prefix')
    t.same(await reportDevices(o, ['--device', 'box,a1a1a1']), [A, C], 'several, comma-separated')
    refused(
      t,
      await cli(['report', '--device', 'laptop'], { env: o.env }),
      /--device laptop: 2 devices are named "laptop"/,
      [A, B],
      'report, a name two devices have',
    )
    refused(
      t,
      await cli(['report', '--device', 'a1a1'], { env: o.env }),
      /--device a1a1: 2 devices have ids starting with "a1a1"/,
      [A, B],
      'report, an ambiguous prefix',
    )
    refused(
      t,
      await cli(['report', '--device', 'nosuch'], { env: o.env }),
      /--device nosuch: no such device/,
      [A, B, C, OBSERVER].slice(0, 3),
      'report, unknown',
    )

    // verify --device: the same names
    const v = await cli(['verify', '--json', '--device', 'box'], { env: o.env })
    t.equal(v.code, 0, v.stderr)
    t.same(
      JSON.parse(v.stdout).devices.map((d: { id: string }) => d.id),
      [C],
      'verify takes a name',
    )
    const vp = await cli(['verify', '--json', '--device', 'a1a1b2'], { env: o.env })
    t.equal(vp.code, 0, vp.stderr)
    t.same(
      JSON.parse(vp.stdout).devices.map((d: { id: string }) => d.id),
      [B],
      'verify takes a 6-character prefix',
    )
    refused(
      t,
      await cli(['verify', '--device', 'laptop'], { env: o.env }),
      /--device laptop: 2 devices are named "laptop"/,
      [A, B],
      'verify, ambiguous name',
    )
    refused(
      t,
      await cli(['verify', '--device', 'nosuch'], { env: o.env }),
      /--device nosuch: no such device/,
      [A, B, C],
      'verify, unknown',
    )

    // fetch --accept-rewrite
    refused(
      t,
      await cli(['fetch', '--accept-rewrite', 'nosuch'], { env: o.env }),
      /--accept-rewrite nosuch: no such device/,
      [A, B, C],
      'fetch --accept-rewrite, unknown',
    )
    refused(
      t,
      await cli(['fetch', '--accept-rewrite', 'laptop'], { env: o.env }),
      /--accept-rewrite laptop: 2 devices are named/,
      [A, B],
      'fetch --accept-rewrite, ambiguous',
    )
    // box's branch is moved back one commit on the remote: a rewrite, accepted by its name.
    const cRef = `refs/heads/ledger/${C}`
    git(bare, ['update-ref', cRef, git(bare, ['rev-parse', `${cRef}~1`]).trim()])
    const caught = await cli(['fetch'], { env: o.env })
    t.equal(caught.code, 3, 'the rewrite is caught')
    const accepted = await cli(['fetch', '--accept-rewrite', 'box'], { env: o.env })
    t.equal(accepted.code, 0, `--accept-rewrite box accepts it: ${accepted.stderr}`)
    t.equal(
      git(o.gitdir, ['rev-parse', cRef]).trim(),
      git(bare, ['rev-parse', cRef]).trim(),
      'the store follows the accepted head',
    )
    t.equal((await cli(['fetch'], { env: o.env })).code, 0, 'and the next fetch is clean')
  },
)

t.test('two devices with one name are flagged in devices and warned at rename', async (t) => {
  const root = t.testdir()
  const bare = path.join(root, 'remote.git')
  spawnSync('git', ['init', '--bare', '--quiet', bare])
  const a = machine(root, 'a', { id: A, env: { USAGE_LEDGER_NOW: NOW } })
  const b = machine(root, 'b', { id: B, env: { USAGE_LEDGER_NOW: NOW } })
  const c = machine(root, 'c', { id: C, env: { USAGE_LEDGER_NOW: NOW } })
  await ok(['init', '--remote', bare, '--name', 'laptop'], a)
  await ok(['init', '--remote', bare, '--name', 'laptop'], b)
  await ok(['init', '--remote', bare, '--name', 'box'], c)
  await ok(['record', '--stdin', '--source', 'x'], a, day(1))
  await ok(['record', '--stdin', '--source', 'x'], b, day(2))
  await ok(['record', '--stdin', '--source', 'x'], c, day(3))
  await ok(['fetch'], c)

  const j = JSON.parse((await ok(['devices', '--json'], c)).stdout) as {
    devices: Array<{ id: string; duplicateName: boolean }>
  }
  t.same(
    j.devices.map((d) => [d.id, d.duplicateName]),
    [
      [A, true],
      [B, true],
      [C, false],
    ],
    '--json flags both devices named laptop',
  )
  const text = await ok(['devices'], c)
  const line = (id: string) => text.stdout.split('\n').find((l) => l.includes(id))!
  t.match(line(A), /same name as another device/)
  t.match(line(B), /same name as another device/)
  t.notMatch(line(C), /same name/)
  t.match(text.stderr, new RegExp(`warning: 2 devices are named "laptop" \\(${A}, ${B}\\)`), 'a warning names them')

  const r = await ok(['devices', 'rename', 'laptop'], c)
  t.match(
    r.stderr,
    new RegExp(`warning: 3 devices are named "laptop" \\(${C}, ${A}, ${B}\\)`),
    'rename warns about the name it takes',
  )
  const rj = JSON.parse((await ok(['devices', 'rename', 'laptop', '--json'], c)).stdout)
  t.same(rj.sameName, [A, B], 'rename --json lists the devices with that name')
  const fine = await ok(['devices', 'rename', 'server'], c)
  t.notMatch(fine.stderr, /warning/, 'a name of its own: no warning')
})

t.test('--repo on a command that does not read a clone is exit 2, and does nothing', async (t) => {
  const root = t.testdir()
  const clone = path.join(root, 'clone.git')
  spawnSync('git', ['init', '--bare', '--quiet', clone])
  const m = machine(root, 'm', { id: A, env: { USAGE_LEDGER_NOW: NOW } })
  for (const [args, what] of [
    [['record', '--stdin', '--source', 'x'], 'record'],
    [['init'], 'init'],
    [['push'], 'push'],
    [['devices', 'rename', 'x'], 'devices rename'],
    [['devices', 'forget', B, '--yes'], 'devices forget'],
    [['hooks', 'print', 'shell'], 'hooks print'],
  ] as const) {
    // No stdin: every one of them exits before it would read it.
    const r = await cli(['--repo', clone, ...args], { env: m.env })
    t.equal(r.code, 2, `${what} --repo: exit 2`)
    t.match(r.stderr, new RegExp(`^usage-ledger: --repo does not apply to ${what}: .*\\n$`), `${what} --repo: one line`)
  }
  t.notOk(fs.existsSync(path.join(root, 'm/store')), 'no store was created')
  const st = await cli(['--repo', clone, 'status', '--json'], { env: m.env })
  t.equal(st.code, 0, `status still takes --repo: ${st.stderr}`)
})
