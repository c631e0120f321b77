/**
 * `init` and device identity end to end (README "Concepts", "Troubleshooting"): a store never
 * silently takes over another store's device, two stores writing one id are told apart from a
 * rewrite, and every remedy the CLI prints is run here as printed, after which every record is
 * on the remote exactly once. Real HTTP git server; plain git plays the other parties.
 */
import t, { type Test } from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { cli, type CliResult } from '../helpers/cli.js'
import { startGitServer } from '../helpers/git-server.js'
import { type Machine, machine } from '../helpers/machine.js'
import { partsAt, tempDir } from '../helpers/ledger-checks.js'
import { gitA } from '../helpers/spawn.js'
import { deviceIdFromMachineId, machineId } from '../../lib/store/device.js'
import { GENESIS_OID } from '../../lib/git/genesis.js'

const TOKEN = 'init-test-token'
const X = 'a1'.repeat(16),
  Y = 'b2'.repeat(16)

/** A cloned VM (or a copied home): the whole store, config and all, copied to a new machine. */
function cloneOf(root: string, m: Machine, name: string): Machine {
  const c = machine(root, name, { env: { USAGE_LEDGER_TOKEN: TOKEN } })
  fs.cpSync(m.store, c.store, { recursive: true })
  return c
}

async function ul(m: Machine, args: string[], input?: string): Promise<CliResult> {
  return cli(args, { env: m.env, input })
}

async function ok(m: Machine, args: string[], input?: string): Promise<CliResult> {
  const r = await ul(m, args, input)
  if (r.code !== 0) throw new Error(`${m.name}: ${args.join(' ')} exited ${r.code}: ${r.stderr}`)
  return r
}

/** One stdin record with a known id (n = 1, 2, …). */
const rec = (n: number) =>
  `${JSON.stringify({
    id: n.toString(16).padStart(32, '0'),
    ts: `2026-11-21T10:${String(n).padStart(2, '0')}:00Z`,
    model: 'gpt-5',
    input: 100 * n,
    output: n,
  })}\n`
const recId = (n: number) => n.toString(16).padStart(32, '0')

/** Record id → how many times it is on the remote, over every device branch. */
async function remoteIds(bare: string): Promise<Map<string, number>> {
  const ids = new Map<string, number>()
  const refs = (await gitA(bare, ['for-each-ref', '--format=%(refname)', 'refs/heads/ledger/']))
    .split('\n')
    .filter(Boolean)
  for (const ref of refs) {
    for (const oid of (await partsAt(bare, ref)).values()) {
      for (const l of (await gitA(bare, ['cat-file', 'blob', oid])).split('\n')) {
        if (!l) continue
        const id = (JSON.parse(l) as { id: string }).id
        ids.set(id, (ids.get(id) ?? 0) + 1)
      }
    }
  }
  return ids
}

/**
 * Every record n of `ns` on the remote exactly once and nothing else; a fresh machine's report totals equal the inputs.
 */
async function exactlyOnce(
  t: Test,
  root: string,
  bare: string,
  url: string,
  ns: number[],
  label: string,
): Promise<void> {
  const ids = await remoteIds(bare)
  t.same(
    Object.fromEntries([...ids].sort()),
    Object.fromEntries(ns.map((n) => [recId(n), 1]).sort()),
    `${label}: every record on the remote exactly once`,
  )
  const fresh = machine(root, `fresh-${label.replace(/\W+/g, '-')}`, { env: { USAGE_LEDGER_TOKEN: TOKEN } })
  await ok(fresh, ['init', '--remote', url])
  const rep = JSON.parse((await ok(fresh, ['report', '--json', '--tz', 'UTC'])).stdout) as {
    totals: { records: number; input: number; output: number }
  }
  t.same(
    { records: rep.totals.records, input: rep.totals.input, output: rep.totals.output },
    { records: ns.length, input: ns.reduce((a, n) => a + 100 * n, 0), output: ns.reduce((a, n) => a + n, 0) },
    `${label}: a fresh machine's report totals equal the inputs`,
  )
}

/** The one command in backquotes of a printed remedy (`usage-ledger …`), as argv. */
function remedy(t: Test, stderr: string): string[] {
  const m = /`usage-ledger ([^`]+)`/.exec(stderr)
  t.ok(m, `a remedy is printed: ${stderr.trim()}`)
  return m ? m[1]!.split(' ') : []
}

const config = (m: Machine) =>
  JSON.parse(fs.readFileSync(path.join(m.store, 'config.json'), 'utf8')) as Record<string, unknown>

async function setup(t: Test) {
  const root = tempDir(t, 'init')
  const server = await startGitServer({ root: path.join(root, 'srv'), token: TOKEN })
  t.teardown(() => server.close())
  return { root, bare: server.createBare('ledger'), url: server.repoUrl('ledger') }
}

t.test(
  'following the old advice for a collision (--device-id, then fetch --accept-rewrite) loses no record',
  async (t) => {
    const { root, bare, url } = await setup(t)
    const a = machine(root, 'a', { env: { USAGE_LEDGER_TOKEN: TOKEN } })
    await ok(a, ['init', '--remote', url, '--device-id', X])
    await ok(a, ['record', '--stdin', '--source', 'x'], rec(1))
    const b = cloneOf(root, a, 'b') // a cloned VM: the same store, so the same device id
    await ok(a, ['record', '--stdin', '--source', 'x'], rec(2))
    const clash = await ul(b, ['record', '--stdin', '--source', 'x'], rec(3))
    t.equal(clash.code, 1, "the second store's push is refused")
    // What the CLI used to print: give one of them its own id with --device-id …
    const init = await ul(b, ['init', '--remote', url, '--device-id', Y])
    t.equal(init.code, 0, `b moves to its own id cleanly: ${init.stderr}`)
    t.match(init.stderr, /1 record of this store moved to device/, 'the record only b had moves with it')
    // … then fetch --accept-rewrite for the old id.
    t.equal((await ul(b, ['fetch', '--accept-rewrite', X])).code, 0)
    t.equal((await ul(b, ['fetch'])).code, 0, 'b fetches cleanly')
    t.equal((await ul(a, ['fetch'])).code, 0, 'a fetches cleanly')
    await exactlyOnce(t, root, bare, url, [1, 2, 3], 'old advice')
    t.equal(config(b).deviceId, Y, 'b keeps its new id')
  },
)

t.test(
  'two stores writing one device id: one accurate message at the first push; its remedy loses nothing',
  async (t) => {
    const { root, bare, url } = await setup(t)
    const a = machine(root, 'a', { env: { USAGE_LEDGER_TOKEN: TOKEN } })
    await ok(a, ['init', '--remote', url])
    const id = config(a).deviceId as string
    t.match(id, /^[0-9a-f]{32}$/, 'a random id kept in config')
    await ok(a, ['record', '--stdin', '--source', 'x'], rec(1))
    const b = cloneOf(root, a, 'b')
    await ok(b, ['record', '--stdin', '--source', 'x'], rec(2)) // b pushes first
    const r = await ul(a, ['record', '--stdin', '--source', 'x'], rec(3))
    t.equal(r.code, 1, 'a collision is an operational failure (exit 1)')
    t.equal(r.stderr.split('\n').filter((l) => l.startsWith('usage-ledger:')).length, 1, 'one error line')
    t.match(
      r.stderr,
      new RegExp(`another store writes as this device ${id}`),
      'says another store writes as this device',
    )
    t.notMatch(r.stderr, /rewritten/, 'not a rewrite')
    const f = await ul(a, ['fetch', '--json'])
    t.equal(f.code, 3)
    t.match(
      JSON.parse(f.stdout).findings,
      [{ code: 'DEVICE_ID_COLLISION', device: id }],
      'fetch says the same: a collision',
    )
    t.notMatch(f.stdout, /HISTORY_REWRITTEN/)
    t.equal((await ul(a, ['push'])).code, 1, 'and so does every later push')

    const fix = await ul(a, remedy(t, r.stderr))
    t.equal(fix.code, 0, fix.stderr)
    t.not(config(a).deviceId, id, 'a is a new device')
    t.match(config(a).deviceId, /^[0-9a-f]{32}$/)
    t.equal((await ul(b, ['record', '--stdin', '--source', 'x'], rec(4))).code, 0, 'b goes on as the device')
    for (const m of [a, b]) t.equal((await ul(m, ['fetch'])).code, 0, `${m.name} fetches cleanly`)
    for (const m of [a, b]) t.equal((await ul(m, ['verify'])).code, 0, `${m.name} verifies`)
    await exactlyOnce(t, root, bare, url, [1, 2, 3, 4], 'collision remedy')
  },
)

t.test(
  "a force-push of this device's branch by someone else is a rewrite, not a collision; its remedies lose nothing",
  async (t) => {
    const { root, bare, url } = await setup(t)
    const a = machine(root, 'a', { env: { USAGE_LEDGER_TOKEN: TOKEN } })
    await ok(a, ['init', '--remote', url])
    const id = config(a).deviceId as string
    const ref = `refs/heads/ledger/${id}`
    await ok(a, ['record', '--stdin', '--source', 'x'], rec(1))
    await ok(a, ['record', '--stdin', '--source', 'x'], rec(2))

    // Someone moves the branch back one commit: a's push restores it.
    const head = (await gitA(bare, ['rev-parse', ref])).trim()
    await gitA(bare, ['update-ref', ref, `${head}~1`])
    const back = await ul(a, ['fetch', '--json'])
    t.equal(back.code, 3, 'a rewound branch is an integrity failure')
    const fb = JSON.parse(back.stdout).findings as Array<{ code: string; detail: string }>
    t.match(fb, [{ code: 'HISTORY_REWRITTEN', device: id }])
    t.notMatch(back.stdout, /DEVICE_ID_COLLISION/)
    const putBack = await ul(a, remedy(t, fb[0]!.detail))
    t.equal(putBack.code, 0, putBack.stderr)
    t.equal((await gitA(bare, ['rev-parse', ref])).trim(), head, 'the remedy put the commits back')
    t.equal((await ul(a, ['fetch'])).code, 0, 'and fetch is clean again')

    // Someone force-pushes a history of their own over it.
    const tree = (await gitA(bare, ['rev-parse', `${head}~1^{tree}`])).trim()
    const forged = (
      await gitA(bare, [
        '-c',
        'user.name=x',
        '-c',
        'user.email=x@x',
        'commit-tree',
        tree,
        '-p',
        `${head}~1`,
        '-m',
        'forged',
      ])
    ).trim()
    await gitA(bare, ['update-ref', ref, forged])
    const r = await ul(a, ['record', '--stdin', '--source', 'x'], rec(3))
    t.equal(r.code, 3, 'the refused push is an integrity failure')
    t.match(
      r.stderr,
      new RegExp(`this device's own branch ledger/${id} was rewritten`),
      "reported as a rewrite of this device's branch",
    )
    t.notMatch(r.stderr, /another store/, 'not a collision')
    const f = await ul(a, ['fetch', '--json'])
    t.equal(f.code, 3)
    t.match(
      JSON.parse(f.stdout).findings,
      [{ code: 'HISTORY_REWRITTEN', device: id }],
      'fetch says the same, every time',
    )
    t.notMatch(f.stdout, /DEVICE_ID_COLLISION/)
    t.equal((await ul(a, ['fetch'])).code, 3, 'every time')

    const fix = await ul(a, remedy(t, r.stderr))
    t.equal(fix.code, 0, fix.stderr)
    t.match(
      fix.stderr,
      /2 records of this store moved/,
      'what the rewrite dropped and what was never pushed move to the new id',
    )
    await exactlyOnce(t, root, bare, url, [1, 2, 3], 'rewrite remedy')
    t.equal((await ul(a, ['fetch'])).code, 0, 'a fetches cleanly')
  },
)

t.test(
  'init finds its device id on the remote: adopts it only for its own store, else stops; both ways it offers work',
  async (t) => {
    const { root, bare, url } = await setup(t)
    const a = machine(root, 'a', { env: { USAGE_LEDGER_TOKEN: TOKEN } })
    await ok(a, ['init', '--remote', url, '--device-id', X, '--name', 'laptop'])
    await ok(a, ['record', '--stdin', '--source', 'x'], rec(1))

    // The same store with its repository lost (config kept): its own install id, so it continues.
    const again = machine(root, 'again', { env: { USAGE_LEDGER_TOKEN: TOKEN } })
    fs.mkdirSync(again.store, { recursive: true })
    fs.copyFileSync(path.join(a.store, 'config.json'), path.join(again.store, 'config.json'))
    const ad = await ul(again, ['init', '--remote', url])
    t.equal(ad.code, 0, ad.stderr)
    t.equal(
      (await gitA(path.join(again.store, 'repo.git'), ['rev-parse', `refs/heads/ledger/${X}`])).trim(),
      (await gitA(bare, ['rev-parse', `refs/heads/ledger/${X}`])).trim(),
      'the branch is continued',
    )
    fs.rmSync(again.dir, { recursive: true })

    // Another store naming the same id: refused, nothing saved, two ways offered.
    const c = machine(root, 'c', { env: { USAGE_LEDGER_TOKEN: TOKEN } })
    const refused = await ul(c, ['init', '--remote', url, '--device-id', X])
    t.equal(refused.code, 2, 'exit 2')
    t.equal(refused.stderr.trim().split('\n').length, 1, 'one line')
    t.match(
      refused.stderr,
      new RegExp(`device ${X} already has a branch .*written by another store .*"laptop"`),
      'names the evidence',
    )
    t.notOk(config(c).remote, 'the remote is not saved')
    const ways = [
      ...refused.stderr.matchAll(
        /run (usage-ledger init [^;]*?)(?:;|$)|new device: (usage-ledger init \S+ \S+ --new-device)/gm,
      ),
    ].map((m) => (m[1] ?? m[2])!.trim())
    t.same(ways.length, 2, `two ways: ${ways.join(' | ')}`)
    const [continueCmd, newCmd] = [
      ways.find((w) => w.includes('--continue-device'))!,
      ways.find((w) => w.includes('--new-device'))!,
    ]
    t.ok(continueCmd && newCmd)

    // Way 1: this machine is that device: continue it.
    const cont = await ul(c, continueCmd.split(' ').slice(1))
    t.equal(cont.code, 0, cont.stderr)
    t.equal((await ul(c, ['record', '--stdin', '--source', 'x'], rec(2))).code, 0, "c records on the device's branch")
    t.equal(
      (await gitA(bare, ['rev-list', '--count', `refs/heads/ledger/${X}`, `^${GENESIS_OID}`])).trim(),
      '2',
      "on top of a's commit",
    )
    // a still writes as that device: its next push is the collision, and its remedy works.
    const clash = await ul(a, ['record', '--stdin', '--source', 'x'], rec(3))
    t.equal(clash.code, 1)
    t.match(clash.stderr, /another store writes as this device/)
    t.equal((await ul(a, remedy(t, clash.stderr))).code, 0)

    // Way 2: a new device.
    const d = machine(root, 'd', { env: { USAGE_LEDGER_TOKEN: TOKEN } })
    const r2 = await ul(d, ['init', '--remote', url, '--device-id', X])
    t.equal(r2.code, 2)
    const nd = await ul(d, newCmd.split(' ').slice(1))
    t.equal(nd.code, 0, nd.stderr)
    t.not(config(d).deviceId, X, 'd has a new id')
    t.equal((await ul(d, ['record', '--stdin', '--source', 'x'], rec(4))).code, 0)
    for (const m of [a, c, d]) t.equal((await ul(m, ['fetch'])).code, 0, `${m.name} fetches cleanly`)
    await exactlyOnce(t, root, bare, url, [1, 2, 3, 4], 'adoption')
  },
)

t.test('two first runs at once on a fresh store make one device', async (t) => {
  const root = tempDir(t, 'first')
  const m = machine(root, 'm', { env: { USAGE_LEDGER_TOKEN: TOKEN } })
  const runs = await Promise.all(
    [1, 2, 3, 4].map((n) => ul(m, ['record', '--stdin', '--source', 'x', '--json'], rec(n))),
  )
  for (const r of runs) t.equal(r.code, 0, r.stderr)
  const devices = new Set(runs.map((r) => JSON.parse(r.stdout).device as string))
  t.equal(devices.size, 1, 'every run wrote as the one id in config')
  t.equal([...devices][0], config(m).deviceId)
})

t.test(
  'a URL with a token in its query is refused like one with credentials and never reaches config.json',
  async (t) => {
    const root = tempDir(t, 'query')
    const m = machine(root, 'm', { env: { USAGE_LEDGER_TOKEN: TOKEN } })
    await ok(m, ['init'])
    const before = fs.readFileSync(path.join(m.store, 'config.json'), 'utf8')
    for (const url of [
      'https://git.example.invalid/me/l.git?access_token=SeCrEt1',
      'https://git.example.invalid/me/l.git?TOKEN=SeCrEt2',
      'https://git.example.invalid/api/l.git?x=1&private_token=SeCrEt3',
    ]) {
      const r = await ul(m, ['init', '--remote', url])
      t.equal(r.code, 2, `${url}: exit 2`)
      t.match(r.stderr, /carries a token in its query/)
      t.notMatch(r.stderr + r.stdout, /SeCrEt/, 'the token is not printed')
      t.equal(fs.readFileSync(path.join(m.store, 'config.json'), 'utf8'), before, 'config.json unchanged')
    }
    const fresh = machine(root, 'fresh', { env: { USAGE_LEDGER_TOKEN: TOKEN } })
    t.equal((await ul(fresh, ['init', '--remote', 'https://h.invalid/l.git?token=SeCrEt4'])).code, 2)
    t.notOk(fs.existsSync(path.join(fresh.store, 'config.json')), 'a fresh store saves nothing')

    // The remedy it prints: the URL without the token, the token in USAGE_LEDGER_TOKEN.
    const server = await startGitServer({ root: path.join(root, 'srv'), token: TOKEN })
    t.teardown(() => server.close())
    server.createBare('q')
    const withToken = await ul({ ...fresh, env: { ...fresh.env, USAGE_LEDGER_TOKEN: undefined } }, [
      'init',
      '--remote',
      `${server.repoUrl('q')}?access_token=${TOKEN}`,
    ])
    t.equal(withToken.code, 2)
    t.match(withToken.stderr, /give the URL without it and the token in USAGE_LEDGER_TOKEN/)
    const fixed = await ul(fresh, ['init', '--remote', server.repoUrl('q')])
    t.equal(fixed.code, 0, fixed.stderr)
    t.notMatch(fs.readFileSync(path.join(fresh.store, 'config.json'), 'utf8'), TOKEN, 'no token in config.json')
  },
)

t.test('--git iso with a remote that is not HTTP fails before anything is saved', async (t) => {
  const root = tempDir(t, 'iso')
  const fresh = machine(root, 'fresh', { env: { USAGE_LEDGER_TOKEN: TOKEN } })
  for (const url of [
    path.join(root, 'remote.git'),
    'ssh://git@example.invalid/l.git',
    'git@example.invalid:me/l.git',
  ]) {
    const r = await ul(fresh, ['--git', 'iso', 'init', '--remote', url])
    t.equal(r.code, 2, `${url}: exit 2`)
    t.match(r.stderr, /speaks only HTTP\(S\)/)
    t.notOk(fs.existsSync(fresh.store), 'nothing created')
  }
  const m = machine(root, 'm', { env: { USAGE_LEDGER_TOKEN: TOKEN } })
  await ok(m, ['--git', 'iso', 'init'])
  const before = fs.readFileSync(path.join(m.store, 'config.json'), 'utf8')
  const r = await ul(m, ['--git', 'iso', 'init', '--remote', path.join(root, 'remote.git')])
  t.equal(r.code, 2)
  t.equal(fs.readFileSync(path.join(m.store, 'config.json'), 'utf8'), before, 'config.json unchanged')
  // The remedy it prints: the system backend.
  t.match(r.stderr, /pass --git system/)
  await gitA(root, ['init', '--bare', '--quiet', path.join(root, 'remote.git')])
  const sys = await ul(m, ['--git', 'system', 'init', '--remote', path.join(root, 'remote.git')])
  t.equal(sys.code, 0, sys.stderr)
  await ok(m, ['--git', 'system', 'record', '--stdin', '--source', 'x'], rec(1))
  t.equal((await remoteIds(path.join(root, 'remote.git'))).get(recId(1)), 1, 'recorded there')
})

t.test(
  'a store made before ids were kept in config keeps its machine-derived id',
  { skip: machineId('linux') ? false : 'no machine id here' },
  async (t) => {
    const root = tempDir(t, 'legacy')
    const m = machine(root, 'm', { env: { USAGE_LEDGER_TOKEN: TOKEN } })
    await ok(m, ['init'])
    fs.writeFileSync(path.join(m.store, 'config.json'), '{"v":1}\n') // what an older usage-ledger wrote
    const r = JSON.parse((await ok(m, ['record', '--stdin', '--source', 'x', '--json'], rec(1))).stdout) as {
      device: string
    }
    t.equal(r.device, deviceIdFromMachineId(machineId('linux')!), 'the id it always used')
    t.equal(config(m).deviceId, r.device, 'now kept in config')
    t.match(config(m).installId, /^[0-9a-f]{32}$/, 'with an install id')
  },
)

t.test('init --new-device with USAGE_LEDGER_DEVICE_ID set: refused, and its remedy works', async (t) => {
  const { root, bare, url } = await setup(t)
  const m = machine(root, 'm', { id: X, env: { USAGE_LEDGER_TOKEN: TOKEN } })
  await ok(m, ['init', '--remote', url])
  await ok(m, ['record', '--stdin', '--source', 'x'], rec(1))
  const r = await ul(m, ['init', '--new-device'])
  t.equal(r.code, 2)
  t.match(r.stderr, /USAGE_LEDGER_DEVICE_ID is set .*unset it, then run usage-ledger init --new-device/)
  const unset = { ...m, env: { ...m.env, USAGE_LEDGER_DEVICE_ID: undefined } }
  const fix = await ul(unset, ['init', '--new-device'])
  t.equal(fix.code, 0, fix.stderr)
  t.not(config(m).deviceId, X)
  await ok(unset, ['record', '--stdin', '--source', 'x'], rec(2))
  await exactlyOnce(t, root, bare, url, [1, 2], 'env')
})

t.test('a non-empty repository that is not a ledger is refused unless --force', async (t) => {
  const { root, bare, url } = await setup(t)
  const blob = (await gitA(bare, ['hash-object', '-w', '--stdin'], 'my project\n')).trim()
  const tree = (await gitA(bare, ['mktree'], `100644 blob ${blob}\tREADME.md\n`)).trim()
  const commit = (
    await gitA(bare, ['-c', 'user.name=me', '-c', 'user.email=me@example.com', 'commit-tree', tree, '-m', 'my project'])
  ).trim()
  await gitA(bare, ['update-ref', 'refs/heads/main', commit])
  await gitA(bare, ['update-ref', 'refs/heads/feature', commit])
  const m = machine(root, 'm', { env: { USAGE_LEDGER_TOKEN: TOKEN } })
  const r = await ul(m, ['init', '--remote', url])
  t.equal(r.code, 2)
  t.match(r.stderr, /is not a usage ledger: it has branches \(feature, main\).*--force/)
  t.notOk(config(m).remote, 'not saved')
  t.equal(
    (await gitA(bare, ['for-each-ref', '--format=%(refname)'])).trim().split('\n').length,
    2,
    'nothing pushed there',
  )
  const forced = await ul(m, ['init', '--remote', url, '--force'])
  t.equal(forced.code, 0, forced.stderr)
  await ok(m, ['record', '--stdin', '--source', 'x'], rec(1))
  await exactlyOnce(t, root, bare, url, [1], 'forced')

  // A ledger whose first machine only ran init (main seeded by usage-ledger, no device yet) is a ledger.
  const seeded = path.join(root, 'srv', 'seeded.git')
  const other = machine(root, 'other', { env: { USAGE_LEDGER_TOKEN: TOKEN } })
  const first = machine(root, 'first', { env: { USAGE_LEDGER_TOKEN: TOKEN } })
  await gitA(path.join(root, 'srv'), ['init', '--bare', '--quiet', seeded])
  await ok(first, ['init', '--remote', seeded])
  t.equal((await ul(other, ['init', '--remote', seeded])).code, 0, 'a seeded ledger is accepted')
})

t.test(
  'init --remote OTHER on a store with another remote: refused unless --switch-remote, then done completely',
  async (t) => {
    const { root, bare, url } = await setup(t)
    const a = machine(root, 'a', { env: { USAGE_LEDGER_TOKEN: TOKEN } }),
      b = machine(root, 'b', { env: { USAGE_LEDGER_TOKEN: TOKEN } }),
      c = machine(root, 'c', { env: { USAGE_LEDGER_TOKEN: TOKEN } })
    await ok(a, ['init', '--remote', url])
    await ok(b, ['init', '--remote', url])
    await ok(a, ['record', '--stdin', '--source', 'x'], rec(1))
    await ok(b, ['record', '--stdin', '--source', 'x'], rec(2))
    await ok(a, ['fetch'])
    await ok(a, ['verify'])
    const idA = config(a).deviceId as string,
      idB = config(b).deviceId as string
    const gitdir = path.join(a.store, 'repo.git')
    t.ok((await gitA(gitdir, ['for-each-ref', `refs/heads/ledger/${idB}`])).trim(), 'a holds b before the switch')

    // The other remote, with a device of its own.
    const server2 = await startGitServer({ root: path.join(root, 'srv2'), token: TOKEN })
    t.teardown(() => server2.close())
    const bare2 = server2.createBare('other'),
      url2 = server2.repoUrl('other')
    await ok(c, ['init', '--remote', url2])
    await ok(c, ['record', '--stdin', '--source', 'x'], rec(3))

    const cfgBefore = fs.readFileSync(path.join(a.store, 'config.json'), 'utf8')
    const r = await ul(a, ['init', '--remote', url2])
    t.equal(r.code, 2, 'refused')
    t.match(r.stderr, /already syncs with .*--switch-remote/)
    t.equal(fs.readFileSync(path.join(a.store, 'config.json'), 'utf8'), cfgBefore, 'config.json unchanged')

    const sw = await ul(a, ['init', '--remote', url2, '--switch-remote', '--json'])
    t.equal(sw.code, 0, sw.stderr)
    t.match(JSON.parse(sw.stdout), { pushed: true, pending: 0 }, 'this device is pushed there')
    t.equal(config(a).remote, url2)
    t.equal(
      (await gitA(bare2, ['rev-parse', `refs/heads/ledger/${idA}`])).trim(),
      (await gitA(gitdir, ['rev-parse', `refs/heads/ledger/${idA}`])).trim(),
      "the new remote has this device's head",
    )
    const refs = (await gitA(gitdir, ['for-each-ref', '--format=%(refname)'])).split('\n').filter(Boolean)
    t.notOk(
      refs.some((r) => r.includes(idB)),
      "no branch or tracking ref of the old remote's other device",
    )
    const state = (f: string) => fs.readFileSync(path.join(a.store, 'state', f), 'utf8')
    t.notMatch(state('verified.json'), idB, 'no verified head of it')
    if (fs.existsSync(path.join(a.store, 'state', 'proved.json')))
      t.notMatch(state('proved.json'), idB, 'no proved head of it')
    const rep = JSON.parse((await ok(a, ['report', '--json', '--tz', 'UTC', '--by', 'device'])).stdout) as {
      rows: Array<{ device: string; records: number }>
    }
    t.same(
      rep.rows.map((x) => [x.device, x.records]).sort(),
      [
        [idA, 1],
        [config(c).deviceId as string, 1],
      ].sort(),
      "the index holds this device and the new remote's, nothing of the old",
    )
    t.equal((await ul(a, ['verify'])).code, 0, 'verify is clean')
    t.equal((await ul(a, ['fetch'])).code, 0, 'fetch is clean')
    await exactlyOnce(t, root, bare2, url2, [1, 3], 'switched')
    t.equal(
      (await gitA(bare, ['rev-parse', `refs/heads/ledger/${idA}`])).trim().length,
      40,
      'the old remote keeps what it had',
    )
  },
)

t.test("init --continue-device over commits of this store's own: they go on top of the remote's branch", async (t) => {
  const { root, bare, url } = await setup(t)
  const a = machine(root, 'a', { env: { USAGE_LEDGER_TOKEN: TOKEN } }),
    b = machine(root, 'b', { env: { USAGE_LEDGER_TOKEN: TOKEN } })
  await ok(a, ['init', '--remote', url, '--device-id', X])
  await ok(a, ['record', '--stdin', '--source', 'x'], rec(1))
  await ok(b, ['init', '--device-id', X]) // no remote yet: records stay local
  await ok(b, ['record', '--stdin', '--source', 'x'], rec(2))
  await ok(b, ['record', '--stdin', '--source', 'x'], rec(3))
  const r = await ul(b, ['init', '--remote', url, '--json'])
  t.equal(r.code, 3, 'two histories of one id: the fetch says so')
  t.match(JSON.parse(r.stdout).findings, [{ code: 'DEVICE_ID_COLLISION', device: X }])
  const c = await ul(b, ['init', '--remote', url, '--continue-device', '--json'])
  t.equal(c.code, 0, c.stderr)
  t.match(JSON.parse(c.stdout), { moved: 2, pushed: true })
  t.equal(
    (await gitA(bare, ['rev-list', '--count', `refs/heads/ledger/${X}`, `^${GENESIS_OID}`])).trim(),
    '2',
    "one commit on top of a's",
  )
  t.equal((await ul(b, ['verify'])).code, 0, 'b verifies')
  await exactlyOnce(t, root, bare, url, [1, 2, 3], 'continue over own')
})

t.test('records held by an init killed before it moved them are moved by the next init', async (t) => {
  const { root, bare, url } = await setup(t)
  const a = machine(root, 'a', { env: { USAGE_LEDGER_TOKEN: TOKEN } }),
    b = machine(root, 'b', { env: { USAGE_LEDGER_TOKEN: TOKEN } })
  await ok(a, ['init', '--remote', url, '--device-id', X])
  await ok(a, ['record', '--stdin', '--source', 'x'], rec(1))
  await ok(b, ['init', '--device-id', X])
  await ok(b, ['record', '--stdin', '--source', 'x'], rec(2))
  await ok(b, ['record', '--stdin', '--source', 'x'], rec(3))
  // What `init --remote URL --continue-device` leaves when killed after holding b's head and
  // letting the branch give way, before the fetch and the move.
  const gitdir = path.join(b.store, 'repo.git')
  const head = (await gitA(gitdir, ['rev-parse', `refs/heads/ledger/${X}`])).trim()
  await gitA(gitdir, ['update-ref', `refs/usage-ledger/moving/${X}-killed`, head])
  await gitA(gitdir, ['update-ref', '-d', `refs/heads/ledger/${X}`, head])
  const again = await ul(b, ['init', '--remote', url, '--continue-device', '--json'])
  t.equal(again.code, 0, again.stderr)
  t.match(JSON.parse(again.stdout), { moved: 2, pushed: true })
  t.equal((await gitA(gitdir, ['for-each-ref', 'refs/usage-ledger/'])).trim(), '', 'the hold is dropped')
  await exactlyOnce(t, root, bare, url, [1, 2, 3], 'killed init')
})

t.test(
  "record as another id (USAGE_LEDGER_DEVICE_ID, then --device-id): the old id's unpushed records move with it",
  async (t) => {
    const { root, bare, url } = await setup(t)
    const m = machine(root, 'm', { id: X, env: { USAGE_LEDGER_TOKEN: TOKEN } })
    await ok(m, ['init', '--remote', url])
    await ok(m, ['record', '--stdin', '--source', 'x'], rec(1))
    await ok(m, ['record', '--stdin', '--source', 'x', '--no-push'], rec(2)) // pending under X
    const asY = { ...m, env: { ...m.env, USAGE_LEDGER_DEVICE_ID: Y } }
    const r = JSON.parse((await ok(asY, ['record', '--stdin', '--source', 'x', '--json'], rec(3))).stdout) as {
      device: string
      pending: number
    }
    t.equal(r.device, Y)
    t.equal(r.pending, 0, 'pushed')
    t.equal(config(m).deviceId, Y, 'the id is kept in config')
    const Z = 'c3'.repeat(16)
    const noEnv = { ...m, env: { ...m.env, USAGE_LEDGER_DEVICE_ID: undefined } }
    await ok(noEnv, ['record', '--stdin', '--source', 'x', '--no-push'], rec(4)) // pending under Y
    await ok(noEnv, ['record', '--stdin', '--source', 'x', '--device-id', Z], rec(5))
    t.equal(config(m).deviceId, Z)
    t.equal((await ul(noEnv, ['fetch'])).code, 0, 'fetch is clean')
    t.equal((await ul(noEnv, ['verify'])).code, 0, 'verify is clean')
    await exactlyOnce(t, root, bare, url, [1, 2, 3, 4, 5], 'record as another id')
    const onX = [...(await partsAt(bare, `refs/heads/ledger/${X}`)).keys()].length
    t.equal(onX, 1, 'X keeps only what it had pushed')
  },
)
