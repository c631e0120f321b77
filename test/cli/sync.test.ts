import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { spawnSync } from 'node:child_process'
import { cli, expected, git, pick, sumByDevice, TOKEN_FIELDS, type Totals } from '../helpers/cli.js'
import { machine } from '../helpers/machine.js'
import { startGitServer } from '../helpers/git-server.js'
import { run } from '../helpers/spawn.js'
import { GENESIS_OID } from '../../lib/git/genesis.js'

const TOKEN = 's3cret-token-for-tests'
const ID = { a: 'a1'.repeat(16), b: 'b2'.repeat(16), c: 'c3'.repeat(16), d: 'd4'.repeat(16) }

interface Device {
  env: Record<string, string | undefined>
  dir: string
  gitdir: string
}

async function ok(args: string[], d: Device, input?: string) {
  const r = await cli(args, { env: d.env, input })
  if (r.code !== 0) throw new Error(`${args.join(' ')} exited ${r.code}: ${r.stderr}`)
  return r
}

async function totalsByDevice(d: Device, extra: string[] = []): Promise<Record<string, Totals>> {
  const j = JSON.parse(
    (await ok(['report', 'monthly', '--json', '--tz', 'UTC', '--by', 'device', ...extra], d)).stdout,
  ) as { rows: Array<Record<string, unknown>> }
  return sumByDevice(j.rows)
}

const STDIN = `${[
  JSON.stringify({ ts: '2026-11-20T10:00:00Z', model: 'gpt-5', input_tokens: 1000, output_tokens: 200 }),
  JSON.stringify({
    ts: '2026-11-21T11:00:00Z',
    model: 'gpt-5',
    input_tokens: 3000,
    output_tokens: 400,
    cache_read_input_tokens: 50,
  }),
].join('\n')}\n`

const own = (d: Record<string, Totals>, id: string) => d[id]!

/** A token-checking HTTP git server with one empty bare repository, closed after the test. */
async function ledgerServer(t: { teardown(f: () => unknown): void }, root: string) {
  const server = await startGitServer({ root: path.join(root, 'srv'), token: TOKEN })
  t.teardown(() => server.close())
  return { server, bare: server.createBare('ledger'), url: server.repoUrl('ledger') }
}

t.test('three devices push over HTTP with a token; a fourth home sees every device exactly', async (t) => {
  const root = t.testdir()
  const { url } = await ledgerServer(t, root)
  const a = machine(root, 'a', { id: ID.a, sources: ['claude'], env: { USAGE_LEDGER_TOKEN: TOKEN } })
  const b = machine(root, 'b', { id: ID.b, sources: ['codex'], env: { USAGE_LEDGER_TOKEN: TOKEN } })
  const c = machine(root, 'c', { id: ID.c, env: { USAGE_LEDGER_TOKEN: TOKEN } })
  const d = machine(root, 'd', { id: ID.d, env: { USAGE_LEDGER_TOKEN: TOKEN } })

  for (const m of [a, b, c]) await ok(['init', '--remote', url], m)
  await ok(['record'], a)
  await ok(['record'], b)
  await ok(['record', '--stdin', '--source', 'my-tool'], c, STDIN)
  const mine = {
    a: own(await totalsByDevice(a), ID.a),
    b: own(await totalsByDevice(b), ID.b),
    c: own(await totalsByDevice(c), ID.c),
  }
  const exp = expected()
  t.same(mine.a, exp['claude-code'].totals, 'device a alone = the claude fixture')
  t.same(mine.b, exp.codex.totals, 'device b alone = the codex fixture')

  const init = JSON.parse((await ok(['init', '--remote', url, '--json'], d)).stdout)
  t.same(
    init.devices.map((x: { id: string }) => x.id).sort(),
    [ID.a, ID.b, ID.c],
    'init on a fourth machine fetches every device',
  )
  const all = await totalsByDevice(d)
  t.same(all, { [ID.a]: mine.a, [ID.b]: mine.b, [ID.c]: mine.c }, "per-device totals equal each device's own")
  const grand = JSON.parse((await ok(['report', '--json', '--tz', 'UTC'], d)).stdout).totals
  for (const k of TOKEN_FIELDS) t.equal(grand[k], mine.a[k] + mine.b[k] + mine.c[k], `grand total ${k} is the sum`)
  t.same(await totalsByDevice(d, ['--device', ID.b]), { [ID.b]: mine.b }, '--device filters')

  // A native clone of the remote, as a CI job has it, gives the same totals.
  const clone = path.join(root, 'clone')
  const auth = ['-c', `http.extraHeader=Authorization: Basic ${Buffer.from(`ci:${TOKEN}`).toString('base64')}`]
  const r = await run('git', [...auth, 'clone', '--quiet', url, clone], {
    env: { PATH: process.env.PATH, HOME: root, GIT_TERMINAL_PROMPT: '0' },
  })
  t.equal(r.code, 0, r.stderr)
  const ci = { ...d, env: { ...d.env, USAGE_LEDGER_HOME: path.join(root, 'ci-home') } }
  t.same(await totalsByDevice(ci, ['--repo', clone]), all, 'report --repo on a native clone')
  const cf = await cli(['fetch', '--repo', clone, '--json'], { env: ci.env })
  t.equal(cf.code, 0, cf.stderr)
  t.equal(JSON.parse(cf.stdout).devices.length, 3, 'fetch --repo verifies every device of the clone')
  t.ok(fs.existsSync(path.join(clone, '.git', 'usage-ledger', 'verified.json')), 'its state lives inside the clone')
  t.same(await totalsByDevice(ci, ['--repo', clone]), all, 'and the totals stand')

  // The merged view: one tree with every device directory, the same on every machine.
  const merged = git(d.gitdir, ['ls-tree', '--name-only', 'refs/heads/merged', 'devices/']).trim().split('\n').sort()
  t.same(
    merged,
    [ID.a, ID.b, ID.c].map((id) => `devices/${id}`),
  )
  await ok(['fetch'], a)
  t.equal(
    git(a.gitdir, ['rev-parse', 'refs/heads/merged^{tree}']).trim(),
    git(d.gitdir, ['rev-parse', 'refs/heads/merged^{tree}']).trim(),
    'same merged tree oid on two machines',
  )
  git(path.join(root, 'srv', 'ledger.git'), ['fsck', '--strict'])

  // The token never lands in files or output.
  const leaks = spawnSync('grep', ['-rl', TOKEN, root], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter((f) => f && !f.includes(`${path.sep}srv${path.sep}`))
  t.same(leaks, [], 'the token is in no file of any store or clone')
  t.notMatch(init.remote, TOKEN)
})

t.test('a force-pushed device branch: fetch exits 3 and keeps the old data until --accept-rewrite', async (t) => {
  const root = t.testdir()
  const { bare, url } = await ledgerServer(t, root)
  const b = machine(root, 'b', { id: ID.b, env: { USAGE_LEDGER_TOKEN: TOKEN } })
  const d = machine(root, 'd', { id: ID.d, env: { USAGE_LEDGER_TOKEN: TOKEN } })
  await ok(['init', '--remote', url], b)
  await ok(['record', '--stdin', '--source', 'x'], b, STDIN)
  await ok(
    ['record', '--stdin', '--source', 'x'],
    b,
    `${JSON.stringify({ ts: '2026-11-21T12:00:00Z', model: 'gpt-5', input: 7 })}\n`,
  )
  await ok(['init', '--remote', url], d)
  const before = await totalsByDevice(d)
  t.equal(before[ID.b]!.records, 3)

  // On the server, drop b's last commit.
  const ref = `refs/heads/ledger/${ID.b}`
  git(bare, ['update-ref', ref, git(bare, ['rev-parse', `${ref}~1`]).trim()])
  const f = await cli(['fetch', '--json'], { env: d.env })
  t.equal(f.code, 3, 'a rewrite is an integrity failure')
  const j = JSON.parse(f.stdout)
  t.match(j.findings, [{ code: 'HISTORY_REWRITTEN', device: ID.b, severity: 'error' }])
  t.same(await totalsByDevice(d), before, 'the old data is kept in reports')
  t.equal((await cli(['fetch'], { env: d.env })).code, 3, 'and stays refused')
  const acc = await cli(['fetch', '--accept-rewrite', ID.b], { env: d.env })
  t.equal(acc.code, 0, acc.stderr)
  t.equal((await totalsByDevice(d))[ID.b]!.records, 2, 'accepted: the rewritten branch is what counts now')
  t.equal((await cli(['fetch'], { env: d.env })).code, 0, 'and later fetches are clean')
})

t.test(
  'remote down during record: exit 0, commit kept, delivered by a later push; bad token: one line, exit 1',
  async (t) => {
    const root = t.testdir()
    const { server, url } = await ledgerServer(t, root)
    const a = machine(root, 'a', { id: ID.a, sources: ['claude'], env: { USAGE_LEDGER_TOKEN: TOKEN } })
    const d = machine(root, 'd', { id: ID.d, env: { USAGE_LEDGER_TOKEN: TOKEN } })
    await ok(['init', '--remote', url], a)
    await server.setDown(true)
    const r = await cli(['record', '--json'], { env: a.env })
    t.equal(r.code, 0, 'recording works offline')
    const j = JSON.parse(r.stdout)
    t.equal(j.pushed, false)
    t.equal(j.pending, 1, 'one commit pending')
    const st = JSON.parse((await ok(['status', '--json'], a)).stdout)
    t.equal(st.pending, 1)
    t.equal((await cli(['push'], { env: a.env })).code, 1, 'push while down fails')
    await server.setDown(false)
    const p = await cli(['push', '--json'], { env: a.env })
    t.equal(p.code, 0, p.stderr)
    t.match(JSON.parse(p.stdout), { pushed: true, pending: 0 })
    await ok(['init', '--remote', url], d)
    t.same((await totalsByDevice(d))[ID.a], expected()['claude-code'].totals, 'delivered exactly')

    const bad = await cli(['push'], { env: { ...a.env, USAGE_LEDGER_TOKEN: 'wrong' } })
    t.equal(bad.code, 0, 'nothing pending: nothing to push')
    fs.appendFileSync(
      path.join(a.dir, 'claude/projects/-home-ana-src-infra-tools/e4b96c32-7d64-4baf-83a5-5b1d4e9f7a04.jsonl'),
      '\n',
    )
    const rb = await cli(['record'], { env: { ...a.env, USAGE_LEDGER_TOKEN: 'wrong' } })
    t.equal(rb.code, 0, 'a refused push leaves the commit pending')
    t.match(rb.stderr, /refused the credentials/)
    const pb = await cli(['push'], { env: { ...a.env, USAGE_LEDGER_TOKEN: 'wrong' } })
    t.equal(pb.code, 1)
    t.equal(pb.stderr.trim().split('\n').length, 1, 'one line')
    t.notMatch(pb.stderr + pb.stdout + rb.stderr, /wrong/, 'the token is not printed')
  },
)

t.test('a URL with credentials is refused', async (t) => {
  const d = machine(t.testdir(), 'd', { id: ID.d, env: { USAGE_LEDGER_TOKEN: TOKEN } })
  const r = await cli(['init', '--remote', 'https://user:pw@example.invalid/x.git'], { env: d.env })
  t.equal(r.code, 2)
  t.match(r.stderr, /carries credentials/)
  t.notMatch(r.stderr, /pw@/)
})

t.test('a path remote with the system backend', async (t) => {
  const root = t.testdir()
  const bare = path.join(root, 'remote.git')
  spawnSync('git', ['init', '--bare', '--quiet', bare])
  const a = machine(root, 'a', { id: ID.a, sources: ['claude'], env: { USAGE_LEDGER_TOKEN: '' } })
  const b = machine(root, 'b', { id: ID.b, sources: ['codex'], env: { USAGE_LEDGER_TOKEN: '' } })
  const d = machine(root, 'd', { id: ID.d, env: { USAGE_LEDGER_TOKEN: '' } })
  for (const m of [a, b]) {
    await ok(['--git', 'system', 'init', '--remote', bare], m)
    await ok(['--git', 'system', 'record'], m)
  }
  await ok(['--git', 'system', 'init', '--remote', bare], d)
  const exp = expected()
  t.same(await totalsByDevice(d), { [ID.a]: exp['claude-code'].totals, [ID.b]: exp.codex.totals })
  t.ok(git(bare, ['show', 'refs/heads/main:README.md']).includes('usage-ledger'), 'main was seeded with a README')
})

t.test('the iso backend over HTTP', async (t) => {
  const root = t.testdir()
  const { url } = await ledgerServer(t, root)
  const a = machine(root, 'a', {
    id: ID.a,
    sources: ['claude'],
    env: { USAGE_LEDGER_TOKEN: TOKEN, USAGE_LEDGER_GIT: 'iso' },
  })
  const b = machine(root, 'b', { id: ID.b, sources: ['codex'], env: { USAGE_LEDGER_TOKEN: TOKEN } })
  const d = machine(root, 'd', { id: ID.d, env: { USAGE_LEDGER_TOKEN: TOKEN } })
  await ok(['--git', 'iso', 'init', '--remote', url], a)
  await ok(['--git', 'iso', 'record'], a)
  await ok(['--git', 'system', 'init', '--remote', url], b)
  await ok(['--git', 'system', 'record'], b)
  await ok(['--git', 'iso', 'init', '--remote', url], d)
  const exp = expected()
  t.same(
    await totalsByDevice(d),
    { [ID.a]: exp['claude-code'].totals, [ID.b]: exp.codex.totals },
    'iso fetched what both backends pushed',
  )
  git(path.join(root, 'srv', 'ledger.git'), ['fsck', '--strict'])
})

t.test(
  'a copied ~/.claude on two devices counts once, with a warning; reinstalls continue; collisions are reported',
  async (t) => {
    const root = t.testdir()
    const bare = path.join(root, 'remote.git')
    spawnSync('git', ['init', '--bare', '--quiet', bare])
    const a = machine(root, 'a', { id: ID.a, sources: ['claude'], env: { USAGE_LEDGER_TOKEN: '' } })
    const b = machine(root, 'b', { id: ID.b, sources: ['claude'], env: { USAGE_LEDGER_TOKEN: '' } })
    const d = machine(root, 'd', { id: ID.d, env: { USAGE_LEDGER_TOKEN: '' } })
    for (const m of [a, b]) {
      await ok(['init', '--remote', bare], m)
      await ok(['record'], m)
    }
    await ok(['init', '--remote', bare], d)
    const rep = JSON.parse((await ok(['report', '--json', '--tz', 'UTC'], d)).stdout)
    const exp = expected()['claude-code'].totals
    t.same(pick(rep.totals), exp, 'each response counts once')
    t.match(rep.warnings, [{ code: 'DUPLICATE_ACROSS_DEVICES', records: exp.records }])
    const byDevice = await totalsByDevice(d)
    t.same(byDevice[ID.a], exp, 'the lower device id keeps the tie')
    t.notOk(byDevice[ID.b], 'the copy contributes nothing')

    // A reinstall of a: a fresh home with the same id is not taken for a's own store (another
    // store could be writing as a); asked to, it continues the branch, no ghost device.
    const a2 = machine(root, 'a', {
      id: ID.a,
      env: { USAGE_LEDGER_TOKEN: '', USAGE_LEDGER_HOME: path.join(root, 'a-reinstalled') },
    })
    fs.rmSync(path.join(root, 'a-reinstalled'), { recursive: true, force: true })
    const refused = await cli(['init', '--remote', bare], { env: a2.env })
    t.equal(refused.code, 2, 'a fresh store does not silently take over a device')
    t.match(refused.stderr, /already has a branch .* --continue-device/)
    await ok(['init', '--remote', bare, '--continue-device'], a2)
    const headA = git(bare, ['rev-parse', `refs/heads/ledger/${ID.a}`]).trim()
    t.equal(
      git(path.join(root, 'a-reinstalled/repo.git'), ['rev-parse', `refs/heads/ledger/${ID.a}`]).trim(),
      headA,
      'the local branch continues the remote one',
    )
    await ok(['record', '--stdin', '--source', 'x'], a2, STDIN)
    t.equal(git(bare, ['rev-parse', `refs/heads/ledger/${ID.a}~1`]).trim(), headA, 'the next commit builds on it')

    // Two machines claiming one id: the second push is rejected, said plainly, nothing lost.
    const clash = machine(root, 'a', {
      id: ID.a,
      env: { USAGE_LEDGER_TOKEN: '', USAGE_LEDGER_HOME: path.join(root, 'clash') },
    })
    await ok(['record', '--stdin', '--source', 'y'], clash, STDIN)
    fs.writeFileSync(path.join(root, 'clash', 'config.json'), JSON.stringify({ v: 1, remote: bare }))
    const r = await cli(['record', '--stdin', '--source', 'y'], {
      env: clash.env,
      input: `${JSON.stringify({ ts: '2026-11-21T09:00:00Z', model: 'gpt-5', input: 1 })}\n`,
    })
    t.equal(r.code, 1)
    t.match(
      r.stderr,
      /another store writes as this device .*unset USAGE_LEDGER_DEVICE_ID, then run `usage-ledger init --new-device`/,
    )
    t.equal(
      git(path.join(root, 'clash/repo.git'), [
        'rev-list',
        '--count',
        `refs/heads/ledger/${ID.a}`,
        `^${GENESIS_OID}`,
      ]).trim(),
      '2',
      'its commits are kept',
    )
    // The remedy as printed: its 3 records move to a new device, a's branch is untouched.
    const headBefore = git(bare, ['rev-parse', `refs/heads/ledger/${ID.a}`]).trim()
    await ok(['init', '--new-device'], { ...clash, env: { ...clash.env, USAGE_LEDGER_DEVICE_ID: undefined } })
    t.equal(git(bare, ['rev-parse', `refs/heads/ledger/${ID.a}`]).trim(), headBefore, "a's branch is a's")
    await ok(['fetch'], d)
    const fetched = await totalsByDevice(d)
    t.equal(fetched[ID.a]!.records, exp.records + 2, 'a: its own records')
    const others = Object.entries(fetched).filter(([id]) => id !== ID.a && id !== ID.b)
    t.equal(others.length, 1, 'one new device')
    t.equal(others[0]![1].records, 3, "holding the clash store's 3 records")
  },
)

t.test("fetch runs the store's post-merge hooks after advancing merged", async (t) => {
  const root = t.testdir()
  const bare = path.join(root, 'remote.git')
  spawnSync('git', ['init', '--bare', '--quiet', bare])
  const a = machine(root, 'a', { id: ID.a, sources: ['codex'], env: { USAGE_LEDGER_TOKEN: '' } })
  const d = machine(root, 'd', { id: ID.d, env: { USAGE_LEDGER_TOKEN: '' } })
  await ok(['init', '--remote', bare], a)
  await ok(['init', '--remote', bare], d)
  const hook = path.join(d.gitdir, 'hooks', 'post-merge')
  fs.mkdirSync(path.dirname(hook), { recursive: true })
  fs.writeFileSync(hook, `#!/bin/sh\ngit rev-parse refs/heads/merged^{tree} >> "${path.join(root, 'hook.log')}"\n`, {
    mode: 0o755,
  })
  await ok(['record'], a)
  await ok(['fetch'], d)
  const logged = fs.readFileSync(path.join(root, 'hook.log'), 'utf8').trim()
  t.equal(
    logged,
    git(d.gitdir, ['rev-parse', 'refs/heads/merged^{tree}']).trim(),
    'the hook ran after merged moved, in the store',
  )
  await ok(['fetch'], d)
  t.equal(
    fs.readFileSync(path.join(root, 'hook.log'), 'utf8').trim().split('\n').length,
    1,
    'not again when nothing changed',
  )
})

t.test("a rewrite seen by a fresh machine through another device's witness", async (t) => {
  const root = t.testdir()
  const bare = path.join(root, 'remote.git')
  spawnSync('git', ['init', '--bare', '--quiet', bare])
  const a = machine(root, 'a', { id: ID.a, env: { USAGE_LEDGER_TOKEN: '' } })
  const b = machine(root, 'b', { id: ID.b, env: { USAGE_LEDGER_TOKEN: '' } })
  await ok(['init', '--remote', bare], b)
  await ok(['record', '--stdin', '--source', 'x'], b, STDIN)
  await ok(
    ['record', '--stdin', '--source', 'x'],
    b,
    `${JSON.stringify({ ts: '2026-11-21T12:00:00Z', model: 'gpt-5', input: 7 })}\n`,
  )
  await ok(['init', '--remote', bare], a) // a fetches b's head ...
  await ok(['record', '--stdin', '--source', 'y'], a, STDIN) // ... and witnesses it in its manifest
  const seen = JSON.parse(git(bare, ['show', `refs/heads/ledger/${ID.a}:devices/${ID.a}/manifest.json`])).seen
  t.equal(seen[ID.b], git(bare, ['rev-parse', `refs/heads/ledger/${ID.b}`]).trim(), "a's manifest witnesses b's head")
  const ref = `refs/heads/ledger/${ID.b}`
  git(bare, ['update-ref', ref, git(bare, ['rev-parse', `${ref}~1`]).trim()])
  const fresh = machine(root, 'd', { id: ID.d, env: { USAGE_LEDGER_TOKEN: '' } })
  const r = await cli(['init', '--remote', bare, '--json'], { env: fresh.env })
  t.equal(r.code, 3, 'a machine that never saw the old head still detects the rewrite')
  t.match(JSON.parse(r.stdout).findings, [{ code: 'WITNESS_MISSING', device: ID.b, severity: 'error' }])
})

t.test('devices list, rename and forget', async (t) => {
  const root = t.testdir()
  const bare = path.join(root, 'remote.git')
  spawnSync('git', ['init', '--bare', '--quiet', bare])
  const a = machine(root, 'a', { id: ID.a, env: { USAGE_LEDGER_TOKEN: '' } })
  const b = machine(root, 'b', { id: ID.b, env: { USAGE_LEDGER_TOKEN: '' } })
  await ok(['init', '--remote', bare, '--name', 'laptop'], a)
  await ok(['record', '--stdin', '--source', 'x'], a, STDIN)
  await ok(['init', '--remote', bare, '--name', 'desktop'], b)
  await ok(['record', '--stdin', '--source', 'y'], b, STDIN)
  await ok(['fetch'], a)
  const list = JSON.parse((await ok(['devices', '--json'], a)).stdout).devices
  t.same(
    list.map((d: { id: string; name: string; records: number; thisDevice: boolean }) => [
      d.id,
      d.name,
      d.records,
      d.thisDevice,
    ]),
    [
      [ID.a, 'laptop', 2, true],
      [ID.b, 'desktop', 2, false],
    ],
  )
  await ok(['devices', 'rename', 'work-laptop'], a)
  await ok(['fetch'], b)
  t.same((await totalsByDevice(b))[ID.a]!.records, 2, 'a rename adds no records')
  const names = JSON.parse((await ok(['report', '--json', '--by', 'device'], b)).stdout).rows.map(
    (r: { deviceName: string }) => r.deviceName,
  )
  t.ok(names.includes('work-laptop'), 'other machines see the new name')
  const refused = await cli(['devices', 'forget', ID.b], { env: a.env })
  t.equal(refused.code, 2, 'forget asks for --yes when it cannot ask')
  await ok(['devices', 'forget', ID.b, '--yes'], a)
  t.throws(
    () => git(bare, ['rev-parse', '--verify', `refs/heads/ledger/${ID.b}`]),
    'the branch is gone from the remote',
  )
  t.equal((await totalsByDevice(a))[ID.b]!.records, 2, 'local stores keep what they had')
})

t.test('a ref lock left by a killed git does not block the next fetch or record', async (t) => {
  const root = t.testdir()
  const bare = path.join(root, 'remote.git')
  spawnSync('git', ['init', '--bare', '--quiet', bare])
  const a = machine(root, 'a', { id: ID.a, env: { USAGE_LEDGER_TOKEN: '' } })
  const b = machine(root, 'b', { id: ID.b, env: { USAGE_LEDGER_TOKEN: '' } })
  await ok(['init', '--remote', bare], a)
  await ok(['record', '--stdin', '--source', 'x'], a, STDIN)
  await ok(['init', '--remote', bare], b)
  await ok(
    ['record', '--stdin', '--source', 'x'],
    a,
    `${JSON.stringify({ ts: '2026-11-21T12:00:00Z', model: 'gpt-5', input: 7 })}\n`,
  )
  // What `git fetch` and `git update-ref` leave when killed between taking and renaming a lock.
  fs.writeFileSync(path.join(b.gitdir, `refs/remotes/origin/ledger/${ID.a}.lock`), '')
  fs.mkdirSync(path.join(b.gitdir, 'refs/heads/ledger'), { recursive: true })
  fs.writeFileSync(path.join(b.gitdir, `refs/heads/ledger/${ID.b}.lock`), '')
  await ok(['fetch'], b)
  t.equal((await totalsByDevice(b))[ID.a]!.records, 3, 'the fetch went through')
  await ok(['record', '--stdin', '--source', 'y', '--no-push'], b, STDIN)
  t.equal((await totalsByDevice(b))[ID.b]!.records, 2, 'and so did the next commit')
})
