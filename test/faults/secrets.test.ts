/**
 * The token never leaves the environment (DESIGN §6): every command of both backends, in every
 * output form, with --debug on failures (wrong token, server down, HTTP 500, a stalled server),
 * with the token from USAGE_LEDGER_TOKEN and from git's credential helper. Searched for: the
 * token itself and the Basic header that carries it, in every stdout and stderr of this file,
 * in every file under the machines' homes, stores, clones and report outputs (not the server's
 * own directory), and in the argv of every process while a push is in flight.
 */
import t, { type Test } from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { startGitServer, type GitServer } from '../helpers/git-server.js'
import {
  TOKEN,
  failsWithOneLine,
  leaksInFiles,
  leaksInText,
  needles,
  stdinRecord,
  succeeded,
  transcript,
  ul,
} from './harness.js'
import { tempDir } from '../helpers/ledger-checks.js'
import { type Machine, machine } from '../helpers/machine.js'
import { run } from '../helpers/spawn.js'

const root = tempDir(t, 'secrets')
let server: GitServer
t.before(async () => {
  server = await startGitServer({ root: path.join(root, 'srv'), token: TOKEN })
})
t.teardown(() => server?.close())
const ID = { system: 'a7'.repeat(16), iso: 'b8'.repeat(16), helper: 'c9'.repeat(16), ci: 'da'.repeat(16) }

/** Processes whose command line holds a needle, as `pid: argv`. */
function argvLeaks(ns: string[]): { leaks: string[]; gitPushes: number } {
  const leaks: string[] = []
  let gitPushes = 0
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue
    let argv: string
    try {
      argv = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').join(' ')
    } catch {
      continue
    }
    if (/\bgit\b.*\bpush\b|git-remote-http/.test(argv)) gitPushes++
    for (const n of ns) if (argv.includes(n)) leaks.push(`${d}: ${argv.slice(0, 200)}`)
  }
  return { leaks, gitPushes }
}

/** Every command, in every output form; `more` adds the records that make a push. */
async function everything(t: Test, m: Machine, g: string[], url: string, n: number) {
  succeeded(t, await ul([...g, 'init', '--remote', url, '--name', `secret-${n}`], m.env))
  succeeded(t, await ul([...g, 'record'], m.env))
  succeeded(
    t,
    await ul([...g, 'record', '--json', '--stdin', '--source', 'secret'], m.env, {
      input: stdinRecord(`2026-11-20T0${n}:00:00Z`, 10 + n, 5).line,
    }),
  )
  succeeded(t, await ul([...g, 'record', '--dry-run', '--json'], m.env))
  for (const args of [
    ['push'],
    ['push', '--json'],
    ['fetch'],
    ['fetch', '--json'],
    ['status'],
    ['status', '--json'],
    ['devices'],
    ['devices', '--json'],
    ['devices', 'rename', `renamed-${n}`],
    ['index'],
    ['index', '--rebuild'],
    ['verify'],
    ['verify', '--full', '--json', '--transcript', path.join(m.dir, 'transcripts')],
    ['hooks', 'install'],
    ['hooks', 'print', 'shell'],
    ['hooks', 'print', 'systemd'],
  ]) {
    succeeded(t, await ul([...g, ...args], m.env))
  }
  for (const format of ['table', 'json', 'csv', 'markdown', 'html']) {
    succeeded(
      t,
      await ul(
        [
          ...g,
          'report',
          'monthly',
          '--by',
          'device,source,model',
          '--format',
          format,
          '--output',
          path.join(m.dir, 'reports', `r.${format}`),
        ],
        m.env,
      ),
    )
    succeeded(t, await ul([...g, 'report', '--format', format, '--chart'], m.env))
  }
}

for (const backend of ['system', 'iso'] as const) {
  t.test(`${backend}: every command, and failures with --debug`, async (t) => {
    server.createBare(`secret-${backend}`)
    const url = server.repoUrl(`secret-${backend}`)
    const g = ['--git', backend]
    const m = machine(root, backend, {
      id: ID[backend],
      sources: ['claude', 'codex'],
      env: { USAGE_LEDGER_TOKEN: TOKEN },
    })
    await everything(t, m, g, url, backend === 'system' ? 1 : 2)

    // Failures, with stack traces asked for: they must not carry the token either.
    const more = (k: number) => ({ input: stdinRecord(`2026-11-21T0${k}:00:00Z`, 100 + k, 1).line })
    const wrong = { ...m.env, USAGE_LEDGER_TOKEN: `wrong-${TOKEN.slice(0, 4)}` }
    succeeded(
      t,
      await ul([...g, 'record', '--debug', '--stdin', '--source', 'secret'], wrong, more(1)),
      'a refused push leaves the commit pending',
    )
    const denied = await ul([...g, 'push', '--debug'], wrong)
    t.equal(denied.code, 1, 'push with a wrong token fails')
    t.match(denied.stderr, /refused the credentials/)
    failsWithOneLine(t, await ul([...g, 'fetch'], wrong), 1, /refused the credentials/, 'fetch with a wrong token')
    server.setFault(() => ({ status: 500 }))
    t.equal((await ul([...g, 'push', '--debug'], m.env)).code, 1, 'push to a failing server')
    t.equal((await ul([...g, 'fetch', '--debug'], m.env)).code, 1, 'fetch from a failing server')
    server.setFault(null)
    await server.setDown(true)
    t.equal((await ul([...g, 'push', '--debug'], m.env)).code, 1, 'push to a server that is down')
    const offline = succeeded(
      t,
      await ul([...g, 'record', '--json', '--debug', '--stdin', '--source', 'secret'], m.env, more(2)),
    )
    t.match(
      JSON.parse(offline.stdout || '{}'),
      { appended: 1, pushed: false },
      `recorded while the server is down${`\n${offline.stdout}${offline.stderr}`}`,
    )
    await server.setDown(false)

    // While a push waits on a silent server, no process shows the token in its argv.
    server.setFault(() => ({ delayMs: 60_000 }))
    const inflight = ul([...g, 'push', '--debug'], { ...m.env, USAGE_LEDGER_NET_TIMEOUT: '3' })
    let seen = { leaks: [] as string[], gitPushes: 0 }
    for (let i = 0; i < 40 && (backend === 'iso' || seen.gitPushes === 0); i++) {
      await new Promise((r) => setTimeout(r, 50))
      const s = argvLeaks(needles())
      seen = { leaks: [...seen.leaks, ...s.leaks], gitPushes: Math.max(seen.gitPushes, s.gitPushes) }
    }
    const timedOut = await inflight
    server.setFault(null)
    t.same(seen.leaks, [], 'no argv holds the token during a push')
    if (backend === 'system') t.ok(seen.gitPushes > 0, 'the scan saw the git push processes')
    t.equal(
      timedOut.code,
      1,
      `the silent server: push timed out${timedOut.code === 1 ? '' : `\n${timedOut.stdout}${timedOut.stderr}`}`,
    )
    t.match(timedOut.stderr, /timed out/)
    t.match(
      JSON.parse(succeeded(t, await ul([...g, 'push', '--json'], m.env)).stdout),
      { pushed: true, pending: 0 },
      'delivered in the end',
    )
  })
}

t.test("the token from git's credential helper: used, and stored nowhere of ours", async (t) => {
  server.createBare('secret-helper')
  const url = server.repoUrl('secret-helper')
  // The user's own git config lives outside the searched directories: it holds the token by design.
  const userConfig = path.join(root, 'srv', 'user.gitconfig')
  fs.writeFileSync(userConfig, `[credential]\n\thelper = "!f() { echo username=me; echo password=${TOKEN}; }; f"\n`)
  const m = machine(root, 'helper', {
    id: ID.helper,
    sources: ['codex'],
    env: { USAGE_LEDGER_TOKEN: undefined, GIT_CONFIG_GLOBAL: userConfig },
  })
  for (const backend of ['system', 'iso']) {
    const g = ['--git', backend]
    if (backend === 'system') succeeded(t, await ul([...g, 'init', '--remote', url], m.env))
    const r = JSON.parse(
      succeeded(
        t,
        await ul([...g, 'record', '--json', '--stdin', '--source', 'helper'], m.env, {
          input: stdinRecord(backend === 'iso' ? '2026-11-20T05:00:00Z' : '2026-11-20T04:00:00Z', 3, 3).line,
        }),
      ).stdout,
    )
    t.match(r, { pushed: true, pending: 0 }, `${backend}: pushed with the helper's token`)
    succeeded(t, await ul([...g, 'fetch'], m.env))
    succeeded(t, await ul([...g, 'status'], m.env))
  }
  // Without any token: refused, one line, and no prompt hangs.
  const none = await ul(['push'], { ...m.env, GIT_CONFIG_GLOBAL: '/dev/null' })
  t.equal(none.code, 0, 'nothing pending')
  failsWithOneLine(
    t,
    await ul(['fetch'], { ...m.env, GIT_CONFIG_GLOBAL: '/dev/null' }),
    1,
    /refused the credentials.*USAGE_LEDGER_TOKEN/,
    'fetch without any token',
  )
})

t.test('a CI clone made with the token as a header: report --repo and fetch --repo keep it out', async (t) => {
  const url = server.repoUrl('secret-system')
  const clone = path.join(root, 'ci', 'clone')
  const header = `http.extraHeader=Authorization: Basic ${Buffer.from(`usage-ledger:${TOKEN}`).toString('base64')}`
  const { code } = await run('git', ['-c', header, 'clone', '--quiet', url, clone], {
    env: { PATH: process.env.PATH, HOME: path.join(root, 'ci'), GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1' },
  })
  t.equal(code, 0, 'cloned')
  const ci = machine(root, 'ci-user', { id: ID.ci, env: { USAGE_LEDGER_TOKEN: TOKEN } })
  succeeded(t, await ul(['fetch', '--repo', clone], ci.env))
  succeeded(t, await ul(['report', 'monthly', '--repo', clone, '--json'], ci.env))
  succeeded(t, await ul(['status', '--repo', clone], ci.env))
  succeeded(t, await ul(['verify', '--repo', clone, '--full'], ci.env))
})

t.test('the search finds a planted token (a control)', async (t) => {
  const dir = tempDir(t, 'planted')
  fs.mkdirSync(path.join(dir, 'a'))
  fs.writeFileSync(
    path.join(dir, 'a', 'b.txt'),
    `x Authorization: Basic ${Buffer.from(`usage-ledger:${TOKEN}`).toString('base64')} y`,
  )
  fs.writeFileSync(path.join(dir, 'c.bin'), Buffer.concat([Buffer.alloc((1 << 20) - 3), Buffer.from(TOKEN)]))
  t.same(
    leaksInFiles(dir)
      .hits.map((h) => path.relative(dir, h.split(':')[0]!))
      .sort(),
    ['a/b.txt', 'c.bin'],
    'in a file, and across a read chunk boundary',
  )
  t.equal(
    leaksInText([{ args: ['x'], code: 1, stdout: '', stderr: `oops ${TOKEN}`, killed: false, ms: 0 }]).length,
    1,
    'in an output',
  )
})

t.test('the token is in no output, no file and no argv', async (t) => {
  const ns = needles()
  t.ok(ns.length >= 2, `searching for ${ns.length} forms of the token`)
  t.same(
    leaksInText(transcript, ns),
    [],
    `none of ${transcript.length} outputs (stdout and stderr, --debug included) holds it`,
  )
  const { files, hits } = leaksInFiles(root, [path.join(root, 'srv')], ns)
  t.same(hits, [], `none of ${files} files under the homes, stores, clones, reports and transcripts holds it`)
  t.ok(
    transcript.some((r) => /at .*\(/.test(r.stderr) || /Error/.test(r.stderr)),
    'stack traces were among the outputs searched',
  )
  t.comment(`${transcript.length} CLI runs, ${files} files, ${ns.length} forms of the token searched`)
})
