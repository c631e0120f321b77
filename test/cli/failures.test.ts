/**
 * Failures you can see (issue 11, item 7): a push that fails for a reason other than being
 * offline is kept with its time and reason (state/push.json), shown by `status` and carried by
 * `status --json` and `record --json` until a push succeeds; hooks (`record --quiet`) stay quiet
 * and exit 0; git's own error text reaches the user whole; `--json` errors are JSON.
 */
import t, { type Test } from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { spawnSync } from 'node:child_process'
import { cli, type CliResult } from '../helpers/cli.js'
import { machine } from '../helpers/machine.js'
import { startGitServer } from '../helpers/git-server.js'

const TOKEN = 'failures-test-token'
const T0 = '2026-11-22T12:00:00.000Z'
const at = (hours: number) => new Date(Date.parse(T0) + hours * 3600_000).toISOString()
const line = (n: number) =>
  `${JSON.stringify({
    ts: `2026-11-21T${String(n).padStart(2, '0')}:00:00Z`,
    model: 'gpt-5',
    input_tokens: 100 + n,
    output_tokens: 10,
  })}\n`

interface Machine {
  env: Record<string, string | undefined>
  dir: string
  git?: string[]
}

const run = (m: Machine, args: string[], extra: Record<string, string | undefined> = {}, input?: string) =>
  cli([...(m.git ?? []), ...args], { env: { ...m.env, ...extra }, input })
async function ok(
  m: Machine,
  args: string[],
  extra: Record<string, string | undefined> = {},
  input?: string,
): Promise<CliResult> {
  const r = await run(m, args, extra, input)
  if (r.code !== 0) throw new Error(`${args.join(' ')} exited ${r.code}: ${r.stderr}`)
  return r
}
const statusJson = async (m: Machine, extra: Record<string, string | undefined> = {}) =>
  JSON.parse((await ok(m, ['status', '--json'], extra)).stdout)
const stateFile = (m: Machine) => JSON.parse(fs.readFileSync(path.join(m.dir, 'store/state/push.json'), 'utf8'))

for (const backend of ['system', 'iso'] as const) {
  t.test(`${backend}: a refused push is kept, shown and cleared; offline is not kept; hooks stay quiet`, async (t) => {
    const root = t.testdir()
    const server = await startGitServer({ root: path.join(root, 'srv'), token: TOKEN })
    t.teardown(() => server.close())
    server.createBare('ledger')
    const url = server.repoUrl('ledger')
    const m = {
      ...machine(root, 'm', { id: 'a1'.repeat(16), env: { USAGE_LEDGER_TOKEN: TOKEN, USAGE_LEDGER_NOW: T0 } }),
      git: ['--git', backend],
    }
    await ok(m, ['init', '--remote', url])
    await ok(m, ['record', '--stdin', '--source', 'x'], {}, line(1))
    t.equal((await statusJson(m)).lastPushFailure, null, 'no failure yet')

    // A wrong token from a hook: quiet, exit 0, and kept.
    const wrong = { USAGE_LEDGER_TOKEN: 'not-the-token' }
    const hook = await run(m, ['record', '--quiet', '--stdin', '--source', 'x'], wrong, line(2))
    t.equal(hook.code, 0, 'record --quiet (a hook) exits 0 although the push was refused')
    t.equal(hook.stderr, '', 'and prints nothing')
    const rj = JSON.parse((await ok(m, ['record', '--json', '--stdin', '--source', 'x'], wrong, line(3))).stdout)
    t.match(rj, { pushed: false, pending: 2, pushError: /refused the credentials/ }, 'record --json: the push failed')
    t.match(
      rj.lastPushFailure,
      { at: T0, code: 'AUTH_FAILED', message: /refused the credentials.*USAGE_LEDGER_TOKEN/ },
      'record --json carries the kept failure',
    )
    t.match(stateFile(m), { v: 1, lastFailure: { code: 'AUTH_FAILED', at: T0 } }, 'kept in a versioned state file')
    t.notMatch(JSON.stringify(stateFile(m)), /not-the-token/, 'the token is not kept')

    const later = { USAGE_LEDGER_NOW: at(2) }
    const st = await ok(m, ['status'], later)
    t.match(
      st.stdout,
      /^remote .*, 2 commits pending; last push failed 2 h ago: .*refused the credentials.*USAGE_LEDGER_TOKEN/m,
      'status says it, and when',
    )
    t.match((await statusJson(m, later)).lastPushFailure, { at: T0, code: 'AUTH_FAILED' }, 'status --json carries it')

    // Offline is the normal state of a laptop: not kept, the earlier failure stays.
    await server.setDown(true)
    const off = JSON.parse(
      (await ok(m, ['record', '--json', '--stdin', '--source', 'x'], { USAGE_LEDGER_NOW: at(3) }, line(4))).stdout,
    )
    t.match(off, { pushed: false, pending: 3, pushError: /unreachable/ })
    t.match(off.lastPushFailure, { at: T0, code: 'AUTH_FAILED' }, 'an offline push does not replace the kept failure')
    await server.setDown(false)

    // 403 on every request: kept with its new time.
    server.setFault(() => ({ status: 403 }))
    const forbidden = await run(m, ['push'], { USAGE_LEDGER_NOW: at(4) })
    server.setFault(null)
    t.equal(forbidden.code, 1, 'push answered 403: exit 1')
    t.match((await statusJson(m)).lastPushFailure, { at: at(4), code: 'AUTH_FAILED' }, 'a 403 is kept with its time')

    // No such repository (HTTP 404).
    const config = path.join(m.dir, 'store/config.json')
    const saved = fs.readFileSync(config, 'utf8')
    fs.writeFileSync(config, JSON.stringify({ ...JSON.parse(saved), remote: server.repoUrl('nosuch') }))
    const missing = await run(m, ['push'], { USAGE_LEDGER_NOW: at(5) })
    t.equal(missing.code, 1)
    t.match(missing.stderr, /has no such repository/, `push to a missing repository says so: ${missing.stderr}`)
    t.match((await statusJson(m)).lastPushFailure, {
      at: at(5),
      code: 'REMOTE_NOT_FOUND',
      message: /no such repository/,
    })
    t.match(
      (await ok(m, ['status'], { USAGE_LEDGER_NOW: at(7) })).stdout,
      /last push failed 2 h ago: .*no such repository/,
    )
    fs.writeFileSync(config, saved)

    // A push that succeeds clears it.
    const pushed = await ok(m, ['push', '--json'])
    t.match(JSON.parse(pushed.stdout), { pushed: true, pending: 0, lastPushFailure: null })
    t.equal((await statusJson(m)).lastPushFailure, null, 'status --json: cleared')
    t.notMatch((await ok(m, ['status'])).stdout, /last push failed/, 'status: cleared')
    t.equal(
      JSON.parse((await ok(m, ['record', '--json', '--stdin', '--source', 'x'], {}, line(5))).stdout).lastPushFailure,
      null,
      'record --json: cleared',
    )
  })
}

t.test('a rejected push from a hook: exit 0, quiet, kept for status', async (t) => {
  const root = t.testdir()
  const bare = path.join(root, 'remote.git')
  spawnSync('git', ['init', '--bare', '--quiet', bare])
  const id = 'b2'.repeat(16)
  const first = machine(root, 'first', { id, env: { USAGE_LEDGER_TOKEN: '' } })
  const second = machine(root, 'second', { id, env: { USAGE_LEDGER_TOKEN: '' } })
  await ok(first, ['init', '--remote', bare])
  await ok(first, ['record', '--stdin', '--source', 'x'], {}, line(1))
  await ok(second, ['record', '--stdin', '--source', 'y'], {}, line(2))
  fs.writeFileSync(path.join(second.dir, 'store/config.json'), JSON.stringify({ v: 1, remote: bare }))
  const hook = await run(second, ['record', '--quiet', '--stdin', '--source', 'y'], {}, line(3))
  t.equal(hook.code, 0, 'a hook never fails its caller')
  t.equal(hook.stderr, '', 'and says nothing')
  const kept = (await statusJson(second)).lastPushFailure
  t.ok(kept, 'the rejection is kept')
  t.match((await ok(second, ['status'])).stdout, /last push failed \d+ s ago: /, 'and shown by status')
})

t.test("git's own error text reaches the user whole (ssh host-key failure)", async (t) => {
  const root = t.testdir()
  const ssh = path.join(root, 'fake-ssh.sh')
  const said = [
    '@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@',
    '@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @',
    'Host key for example.invalid has changed and you have requested strict checking.',
    'Host key verification failed.',
  ]
  fs.writeFileSync(ssh, `#!/bin/sh\n${said.map((l) => `echo '${l}' >&2`).join('\n')}\nexit 255\n`, { mode: 0o755 })
  const m = machine(root, 'm', { id: 'c3'.repeat(16), env: { USAGE_LEDGER_TOKEN: '', GIT_SSH_COMMAND: ssh } })
  await ok(m, ['record', '--stdin', '--source', 'x'], {}, line(1))
  fs.writeFileSync(
    path.join(m.dir, 'store/config.json'),
    JSON.stringify({ v: 1, remote: 'ssh://git@example.invalid/me/ledger.git' }),
  )

  const check = (tt: Test, text: string, label: string) => {
    for (const l of said) tt.ok(text.includes(l), `${label}: "${l.slice(0, 40)}" reaches the user`)
    tt.match(text, /and the repository exists/, `${label}: git's own last words too`)
  }
  const push = await run(m, ['push'])
  t.equal(push.code, 1)
  t.match(
    push.stderr,
    /^usage-ledger: 1 commit pending: git push ssh:\/\/example\.invalid\/me\/ledger\.git failed: Host key/,
    'the message names the cause',
  )
  check(t, push.stderr, 'push')
  const fetch = await run(m, ['fetch'])
  t.equal(fetch.code, 1)
  t.match(fetch.stderr, /^usage-ledger: git ls-remote .* failed: Host key/)
  check(t, fetch.stderr, 'fetch')
  const st = await ok(m, ['status'])
  t.match(st.stdout, /last push failed 0 s ago: .*Host key/)
  check(t, st.stdout, 'status')
  t.match((await statusJson(m)).lastPushFailure, { code: 'GIT_FAILED' })
  const fj = await run(m, ['fetch', '--json'])
  t.equal(fj.code, 1)
  const err = JSON.parse(fj.stdout)
  t.match(err, { schema: 'usage-ledger/error@1', code: 'GIT_FAILED', message: /Host key/, exitCode: 1 })
  check(t, err.details.join('\n'), 'fetch --json details')
})

t.test('a path remote that does not exist: not offline, kept and shown', async (t) => {
  const root = t.testdir()
  const m = machine(root, 'm', { id: 'e5'.repeat(16), env: { USAGE_LEDGER_TOKEN: '' } })
  await ok(m, ['record', '--stdin', '--source', 'x'], {}, line(1))
  const gone = path.join(root, 'gone.git')
  fs.writeFileSync(path.join(m.dir, 'store/config.json'), JSON.stringify({ v: 1, remote: gone }))
  const hook = await run(m, ['record', '--quiet', '--stdin', '--source', 'x'], {}, line(2))
  t.equal(hook.code, 0, 'a hook exits 0')
  t.equal(hook.stderr, '', 'quietly')
  const j = JSON.parse((await ok(m, ['record', '--json', '--stdin', '--source', 'x'], {}, line(3))).stdout)
  t.match(j, {
    pushed: false,
    pending: 3,
    lastPushFailure: { code: 'REMOTE_NOT_FOUND', message: /has no such repository/ },
  })
  t.match(
    (await ok(m, ['status'])).stdout,
    new RegExp(
      `3 commits pending; last push failed 0 s ago: ${gone.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} has no such repository`,
    ),
  )
})

t.test('--json errors are one JSON object on stdout, for every command', async (t) => {
  const root = t.testdir()
  const m = machine(root, 'm', { id: 'd4'.repeat(16), env: { USAGE_LEDGER_TOKEN: '' } })
  const cases: Array<[string[], number, string]> = [
    [['init', '--remote', '', '--json'], 2, 'BAD_REMOTE'],
    [['record', '--stdin', '--json'], 2, 'STDIN_SOURCE'],
    [['record', '--stdin', '--source', 'x', '--json'], 2, 'BAD_STDIN'],
    [['push', '--json'], 2, 'NO_REMOTE'],
    [['fetch', '--json'], 2, 'NO_REMOTE'],
    [['report', '--json', '--tz', 'Nowhere/Land'], 2, ''],
    [['report', '--format', 'json', '--by', 'planet'], 2, 'BAD_GROUP'],
    [['verify', '--json'], 2, 'NO_STORE'],
    [['status', '--json', '--frobnicate'], 2, 'BAD_USAGE'],
    [['devices', 'rename', '--json'], 2, 'NO_NAME'],
    [['--json', 'index', '--repo', path.join(root, 'nowhere')], 2, 'BAD_REPO'],
    [['hooks', 'install', '--json'], 2, 'NO_STORE'],
  ]
  for (const [args, exitCode, code] of cases) {
    // Only `record --stdin --source` reads stdin: the others may exit before a write to it could land.
    const r = await run(m, args, {}, args.includes('--source') ? 'not json\n' : undefined)
    t.equal(r.code, exitCode, `${args.join(' ')}: exit ${exitCode}`)
    let j: Record<string, unknown> = {}
    try {
      j = JSON.parse(r.stdout)
    } catch {
      t.fail(`${args.join(' ')}: stdout is one JSON object: ${JSON.stringify(r.stdout)}`)
    }
    t.match(
      j,
      { schema: 'usage-ledger/error@1', code: code || String, message: String, exitCode, details: Array },
      `${args.join(' ')}: the error object`,
    )
    t.equal(r.stdout.trim().split('\n').length, 1, `${args.join(' ')}: one line on stdout`)
    t.match(r.stderr, /^usage-ledger: /, `${args.join(' ')}: the human line still on stderr`)
  }
  const plain = await run(m, ['push'])
  t.equal(plain.stdout, '', 'without --json, stdout stays empty')
})
