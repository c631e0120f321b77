import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { BIN, cli, copyFixtures, expected, isolatedEnv, TOKEN_FIELDS, type Totals } from '../helpers/cli.js'
import { machine } from '../helpers/machine.js'
import { startGitServer } from '../helpers/git-server.js'
import { run } from '../helpers/spawn.js'
import { refreshDone } from '../helpers/statusline.js'

// The `fetch` side (a store's own post-merge hooks run after `merged` moves) is proved in
// test/cli/sync.test.ts, "fetch runs the store's post-merge hooks after advancing merged"; here
// the shipped hook runs in the store and chains to a hook that was there before.

const TOKEN = 's3cret-token-for-hooks'
const ID = { a: 'a1'.repeat(16), b: 'b2'.repeat(16), c: 'c3'.repeat(16), d: 'd4'.repeat(16) }
const GIT_USER = {
  GIT_AUTHOR_NAME: 'ci',
  GIT_AUTHOR_EMAIL: 'ci@example.invalid',
  GIT_COMMITTER_NAME: 'ci',
  GIT_COMMITTER_EMAIL: 'ci@example.invalid',
}

async function ok(args: string[], env: Record<string, string | undefined>, input?: string) {
  const r = await cli(args, { env, input })
  if (r.code !== 0) throw new Error(`${args.join(' ')} exited ${r.code}: ${r.stderr}`)
  return r
}

async function gitOk(args: string[], opts: { cwd?: string; env: Record<string, string | undefined> }): Promise<string> {
  const r = await run('git', args, opts)
  if (r.code !== 0) throw new Error(`git ${args.join(' ')} exited ${r.code}: ${r.stderr}`)
  return r.stdout
}

async function reportTotals(env: Record<string, string | undefined>, extra: string[] = []): Promise<Totals> {
  const j = JSON.parse((await ok(['report', '--json', '--tz', 'UTC', ...extra], env)).stdout) as {
    totals: Record<string, number>
  }
  return Object.fromEntries(TOKEN_FIELDS.map((k) => [k, j.totals[k]])) as unknown as Totals
}

const sum = (...xs: Totals[]): Totals =>
  Object.fromEntries(TOKEN_FIELDS.map((k) => [k, xs.reduce((n, x) => n + x[k], 0)])) as unknown as Totals

/** The device heads an index was built from, as written on disk (index.v1.json). */
function indexedHeads(indexDir: string): Record<string, string> | null {
  let meta: { devices: Record<string, { head: string }> }
  try {
    meta = JSON.parse(fs.readFileSync(path.join(indexDir, 'index.v1.json'), 'utf8'))
  } catch {
    return null
  }
  return Object.fromEntries(Object.entries(meta.devices).map(([id, d]) => [id, d.head]))
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

t.test(
  'a native clone with the hook installed: git merge alone creates and refreshes the index inside the clone',
  async (t) => {
    const root = t.testdir()
    const server = await startGitServer({ root: path.join(root, 'srv'), token: TOKEN })
    t.teardown(() => server.close())
    server.createBare('ledger')
    const url = server.repoUrl('ledger')
    const a = machine(root, 'a', { id: ID.a, sources: ['claude'], env: { USAGE_LEDGER_TOKEN: TOKEN } })
    const b = machine(root, 'b', { id: ID.b, sources: ['codex'], env: { USAGE_LEDGER_TOKEN: TOKEN } })
    const c = machine(root, 'c', { id: ID.c, env: { USAGE_LEDGER_TOKEN: TOKEN } })
    for (const m of [a, b]) {
      await ok(['init', '--remote', url], m.env)
      await ok(['record'], m.env)
    }

    // A CI box: its own (empty) usage-ledger home, and a plain git clone of the remote.
    const ci = machine(root, 'd', { id: ID.d, env: { USAGE_LEDGER_TOKEN: TOKEN } })
    const gitEnv = { ...ci.env, ...GIT_USER, GIT_TERMINAL_PROMPT: '0' }
    const auth = ['-c', `http.extraHeader=Authorization: Basic ${Buffer.from(`ci:${TOKEN}`).toString('base64')}`]
    const clone = path.join(root, 'clone')
    await gitOk([...auth, 'clone', '--quiet', url, clone], { env: gitEnv })
    const installed = JSON.parse((await ok(['hooks', 'install', '--repo', clone, '--json'], ci.env)).stdout)
    t.match(installed, {
      schema: 'usage-ledger/hooks@1',
      action: 'install',
      hooksDir: path.join(clone, '.git', 'hooks'),
      changed: true,
      chained: null,
      cli: BIN,
    })
    const hook = fs.readFileSync(path.join(clone, '.git/hooks/post-merge'), 'utf8')
    t.match(hook, `USAGE_LEDGER_NODE=${process.execPath}`, 'the hook names this node ...')
    t.match(hook, `USAGE_LEDGER_BIN=${BIN}`, '... and this CLI, so it needs no PATH')

    const indexDir = path.join(clone, '.git', 'usage-ledger', 'index')
    t.equal(indexedHeads(indexDir), null, 'no index before a merge')
    const remoteHeads = async () =>
      Object.fromEntries(
        (await gitOk([...auth, 'ls-remote', url, 'refs/heads/ledger/*'], { env: gitEnv }))
          .trim()
          .split('\n')
          .map((l) => l.split('\t'))
          .map(([oid, ref]) => [ref!.slice('refs/heads/ledger/'.length), oid!]),
      )

    // Watch device a's branch, bring in b's: a native merge, which runs post-merge.
    await gitOk(['checkout', '--quiet', '-b', 'watch', `origin/ledger/${ID.a}`], { cwd: clone, env: gitEnv })
    await gitOk([...auth, 'fetch', '--quiet', 'origin', 'refs/heads/ledger/*:refs/remotes/origin/ledger/*'], {
      cwd: clone,
      env: gitEnv,
    })
    const merge1 = await run('git', ['merge', '--no-edit', '--allow-unrelated-histories', `origin/ledger/${ID.b}`], {
      cwd: clone,
      env: gitEnv,
    })
    t.equal(merge1.code, 0, merge1.stderr)
    t.notMatch(merge1.stdout + merge1.stderr, /usage-ledger|index/, 'the hook prints nothing')
    t.same(
      indexedHeads(indexDir),
      await remoteHeads(),
      'the hook alone built the index, from every device head of the clone',
    )
    t.notOk(fs.existsSync(path.join(ci.dir, 'store')), 'and touched no usage-ledger home')
    const exp = expected()
    const mine = { a: exp['claude-code'].totals, b: exp.codex.totals }
    t.same(await reportTotals(ci.env, ['--repo', clone]), sum(mine.a, mine.b), 'report --repo on the clone: a + b')

    // Another device pushes; fetching alone changes nothing, the next merge refreshes the index.
    await ok(['init', '--remote', url], c.env)
    await ok(['record', '--stdin', '--source', 'my-tool'], c.env, STDIN)
    const before = fs.readFileSync(path.join(indexDir, 'index.v1.json'), 'utf8')
    await gitOk([...auth, 'fetch', '--quiet', 'origin', 'refs/heads/ledger/*:refs/remotes/origin/ledger/*'], {
      cwd: clone,
      env: gitEnv,
    })
    t.equal(fs.readFileSync(path.join(indexDir, 'index.v1.json'), 'utf8'), before, 'a fetch runs no post-merge')
    const merge2 = await run('git', ['merge', '--no-edit', '--allow-unrelated-histories', `origin/ledger/${ID.c}`], {
      cwd: clone,
      env: gitEnv,
    })
    t.equal(merge2.code, 0, merge2.stderr)
    const heads = await remoteHeads()
    t.equal(Object.keys(heads).length, 3)
    t.same(indexedHeads(indexDir), heads, 'the merge refreshed the index with the third device')
    const mineC = await reportTotals(c.env, ['--device', ID.c])
    t.equal(mineC.records, 2)
    t.same(await reportTotals(ci.env, ['--repo', clone]), sum(mine.a, mine.b, mineC), 'report --repo: a + b + c')
  },
)

t.test('install chains to an existing hook, is idempotent, and --uninstall restores it', async (t) => {
  const root = t.testdir()
  const env = { ...isolatedEnv(root), ...GIT_USER }
  const repo = path.join(root, 'repo')
  await gitOk(['init', '--quiet', '--initial-branch=main', repo], { env })
  await gitOk(['commit', '--quiet', '--allow-empty', '-m', 'one'], { cwd: repo, env })
  const hooksDir = path.join(repo, '.git', 'hooks')
  const hook = path.join(hooksDir, 'post-merge')
  const marker = path.join(root, 'foreign-hook-ran')
  const foreign = `#!/bin/sh\necho "$@" >> '${marker}'\nexit 3\n`
  fs.mkdirSync(hooksDir, { recursive: true })
  fs.writeFileSync(hook, foreign, { mode: 0o755 })

  const first = JSON.parse((await ok(['hooks', 'install', '--repo', repo, '--json'], env)).stdout)
  t.match(first, { changed: true, chained: `${hook}.usage-ledger-chained` })
  t.equal(fs.readFileSync(`${hook}.usage-ledger-chained`, 'utf8'), foreign, 'the foreign hook is kept, byte for byte')
  const ours = fs.readFileSync(hook, 'utf8')
  t.match(ours, /^# usage-ledger-hook: post-merge/m)
  t.ok(fs.statSync(hook).mode & 0o100, 'ours is executable')
  const second = JSON.parse((await ok(['hooks', 'install', '--repo', repo, '--json'], env)).stdout)
  t.match(second, { changed: false }, 'installing twice changes nothing')
  t.equal(fs.readFileSync(hook, 'utf8'), ours)
  t.equal(fs.readFileSync(`${hook}.usage-ledger-chained`, 'utf8'), foreign, 'the chained hook is not chained to itself')

  // A merge runs ours, which runs the foreign one first with the same arguments.
  await gitOk(['checkout', '--quiet', '-b', 'topic'], { cwd: repo, env })
  await gitOk(['commit', '--quiet', '--allow-empty', '-m', 'two'], { cwd: repo, env })
  await gitOk(['checkout', '--quiet', 'main'], { cwd: repo, env })
  const m = await run('git', ['merge', '--quiet', '--no-ff', '--no-edit', 'topic'], { cwd: repo, env })
  t.equal(m.code, 0, 'the merge succeeds whatever the hooks exit with')
  t.equal(fs.readFileSync(marker, 'utf8'), '0\n', 'the foreign hook ran, with the squash flag git passed')
  t.notOk(fs.existsSync(path.join(repo, '.git', 'usage-ledger')), 'a repository without ledger branches gets no index')
  const direct = await run(hook, ['0'], { cwd: repo, env })
  t.equal(direct.code, 3, "the hook exits with the chained hook's status")
  t.equal(direct.stdout + direct.stderr, '', 'and prints nothing of its own')

  const un = JSON.parse((await ok(['hooks', 'install', '--uninstall', '--repo', repo, '--json'], env)).stdout)
  t.match(un, { action: 'uninstall', changed: true })
  t.equal(fs.readFileSync(hook, 'utf8'), foreign, '--uninstall puts the foreign hook back')
  t.notOk(fs.existsSync(`${hook}.usage-ledger-chained`))
  t.match(
    JSON.parse((await ok(['hooks', 'uninstall', '--repo', repo, '--json'], env)).stdout),
    { changed: false },
    'and leaves a foreign hook alone',
  )
  t.equal(fs.readFileSync(hook, 'utf8'), foreign)

  // Both a foreign hook and a chained one: nothing is overwritten.
  fs.writeFileSync(`${hook}.usage-ledger-chained`, foreign, { mode: 0o755 })
  const refused = await cli(['hooks', 'install', '--repo', repo], { env })
  t.equal(refused.code, 1)
  t.match(refused.stderr, /move one of them aside/)
  t.equal(fs.readFileSync(hook, 'utf8'), foreign)

  // core.hooksPath is where git looks, so that is where the hook goes.
  await gitOk(['config', 'core.hooksPath', '.githooks'], { cwd: repo, env })
  const moved = JSON.parse((await ok(['hooks', 'install', '--repo', repo, '--json'], env)).stdout)
  t.equal(moved.hooksDir, path.join(repo, '.githooks'))
  t.match(fs.readFileSync(path.join(repo, '.githooks', 'post-merge'), 'utf8'), /^# usage-ledger-hook: post-merge/m)
})

t.test(
  "in the store: fetch runs the installed hook, which runs the chained one and refreshes the store's index",
  async (t) => {
    const root = t.testdir()
    const bare = path.join(root, 'remote.git')
    await gitOk(['init', '--bare', '--quiet', bare], { env: isolatedEnv(root) })
    const a = machine(root, 'a', { id: ID.a, sources: ['codex'], env: { USAGE_LEDGER_TOKEN: '' } })
    const d = machine(root, 'd', { id: ID.d, env: { USAGE_LEDGER_TOKEN: '' } })
    await ok(['init', '--remote', bare], a.env)
    t.equal((await cli(['hooks', 'install'], { env: d.env })).code, 2, 'no store yet: say so')
    await ok(['init', '--remote', bare], d.env)
    const hooksDir = path.join(d.gitdir, 'hooks')
    const marker = path.join(root, 'store-hook-ran')
    fs.mkdirSync(hooksDir, { recursive: true })
    fs.writeFileSync(
      path.join(hooksDir, 'post-merge'),
      `#!/bin/sh\necho "$@ $(git rev-parse refs/heads/merged)" >> '${marker}'\n`,
      { mode: 0o755 },
    )
    t.match(JSON.parse((await ok(['hooks', 'install', '--json'], d.env)).stdout), {
      hooksDir,
      changed: true,
      chained: path.join(hooksDir, 'post-merge.usage-ledger-chained'),
    })

    await ok(['record'], a.env)
    const f = JSON.parse((await ok(['fetch', '--json'], d.env)).stdout)
    t.same(f.hooks, [path.join(hooksDir, 'post-merge')], "fetch ran the store's post-merge hook")
    t.equal(fs.readFileSync(marker, 'utf8'), `0 ${f.merged.commit}\n`, 'which ran the chained hook after merged moved')
    t.notOk(fs.existsSync(path.join(d.gitdir, 'usage-ledger')), "the store's index is not kept inside its repository")

    // The hook alone, the way fetch runs it: the store's index (in its home) comes back.
    const indexDir = path.join(d.dir, 'store', 'index')
    fs.rmSync(indexDir, { recursive: true, force: true })
    const r = await run(path.join(hooksDir, 'post-merge'), ['0'], {
      cwd: d.gitdir,
      env: { ...d.env, GIT_DIR: d.gitdir },
    })
    t.equal(r.code, 0)
    t.same(indexedHeads(indexDir), {
      [ID.a]: (
        await gitOk(['rev-parse', `refs/heads/ledger/${ID.a}`], { env: { ...d.env, GIT_DIR: d.gitdir } })
      ).trim(),
    })
  },
)

t.test('hooks print: a ready-to-paste snippet for each target', async (t) => {
  const root = t.testdir()
  copyFixtures(root)
  const env = isolatedEnv(root, { USAGE_LEDGER_DEVICE_ID: ID.a })
  const print = async (target: string) => {
    const r = await ok(['hooks', 'print', target], env)
    t.ok(r.stdout.trim().length > 0, `${target}: not empty`)
    t.match(
      r.stdout,
      `${BIN} --home ${path.join(root, 'store')} record --quiet`,
      `${target}: runs this CLI's record for this store`,
    )
    return r.stdout
  }

  const shell = await print('shell')
  t.match(shell, /PROMPT_COMMAND/)
  t.match(shell, /add-zsh-hook precmd/)
  t.match(shell, /record\.minInterval/)
  // Sourced into bash: the prompt function returns at once with the status it found, and the
  // record it started in the background lands in the store.
  const rc = path.join(root, 'snippet.sh')
  fs.writeFileSync(rc, shell)
  const started = Date.now()
  const b = await run(
    'bash',
    [
      '-c',
      `. '${rc}'; case "$PROMPT_COMMAND" in *_usage_ledger_record*) ;; *) exit 9 ;; esac; (exit 7); _usage_ledger_record; echo "status=$?"`,
    ],
    { env },
  )
  t.equal(b.code, 0, b.stderr)
  t.equal(b.stdout, 'status=7\n', 'the prompt sees the status of the last command, and no output')
  t.ok(Date.now() - started < 5000, 'it does not wait for record')
  const lastRun = path.join(root, 'store', 'state', 'last-record.json')
  for (let i = 0; i < 200 && !fs.existsSync(lastRun); i++) await new Promise((r) => setTimeout(r, 50))
  t.ok(fs.existsSync(lastRun), 'the background record ran')

  const claude = JSON.parse(await print('claude-code'))
  for (const event of ['SessionEnd', 'Stop']) {
    const [entry] = claude.hooks[event]
    t.match(
      entry.hooks[0],
      { type: 'command', command: /record --quiet .*(\|\| true|&\))$/ },
      `${event}: a command hook that cannot fail`,
    )
  }

  t.match(claude.statusLine, { type: 'command', padding: 0 }, 'the statusLine block beside the hooks')
  t.ok(
    claude.statusLine.command.endsWith(`${BIN} statusline --home ${path.join(root, 'store')}`),
    '`statusline` first, where the bin takes its own bundle, for this store',
  )
  // The README's block is this one with the installed command's name.
  const readme = fs.readFileSync(path.join(path.dirname(BIN), '..', 'README.md'), 'utf8')
  const block = /^(\{ "statusLine": .*\})$/m.exec(readme)
  t.ok(block, "the README's statusLine block")
  t.same(
    JSON.parse(block![1]!).statusLine,
    { ...claude.statusLine, command: 'usage-ledger statusline' },
    "the README's statusLine block is the printed one, run by its installed name",
  )
  const line = await run('bash', ['-c', claude.statusLine.command], { env: { ...env, NO_COLOR: '1' }, input: '{}' })
  t.equal(line.code, 0, line.stderr)
  t.equal(line.stdout.split('\n').length, 2, 'which prints one line')
  await refreshDone(path.join(root, 'store')) // the refresh it started, before the directory goes

  const cron = await print('cron')
  t.match(cron, /^\*\/15 \* \* \* \* .* record --quiet >\/dev\/null 2>&1 \|\| true$/m)

  const systemd = await print('systemd')
  t.match(systemd, /^\[Service\]$/m)
  t.match(systemd, /^\[Timer\]$/m)
  t.match(systemd, /^ExecStart=-.* record --quiet$/m)
  t.match(systemd, /^OnCalendar=\*:0\/15$/m)

  const r = await ok(['hooks', 'print', 'launchd'], env)
  t.match(r.stdout, /^<\?xml/)
  t.match(r.stdout, /<plist version="1.0">/)
  t.match(r.stdout, /<key>StartInterval<\/key>\s*<integer>900<\/integer>/)
  t.match(r.stdout, `<string>${BIN}</string>`)
  t.match(r.stdout, /<string>record<\/string>\s*<string>--quiet<\/string>/)

  // The CLIProxyAPI queue collector: a long-running service, its key never in the unit.
  const queueEnv = {
    ...env,
    USAGE_LEDGER_CLIPROXY_URL: 'redis://10.1.2.3:8317',
    USAGE_LEDGER_CLIPROXY_KEY: 'k3y-n0t-inline',
  }
  const unit = (await ok(['hooks', 'print', 'systemd-cliproxy'], queueEnv)).stdout
  t.match(unit, new RegExp(`^ExecStart=\\S*node ${BIN} --home ${path.join(root, 'store')} collect cliproxy$`, 'm'))
  t.match(unit, /^EnvironmentFile=%h\/\.config\/usage-ledger\/cliproxy\.env$/m)
  t.match(unit, /^Type=simple$/m)
  t.match(unit, /^KillSignal=SIGTERM$/m)
  t.match(unit, /^Restart=on-abnormal$/m, 'not restarted after its own errors (a refused key)')
  t.match(unit, /USAGE_LEDGER_CLIPROXY_URL=redis:\/\/10\.1\.2\.3:8317\\nUSAGE_LEDGER_CLIPROXY_KEY=<management key>/)
  t.notMatch(unit, /k3y-n0t-inline/, 'the key is never printed')
  const plist = (await ok(['hooks', 'print', 'launchd-cliproxy'], queueEnv)).stdout
  t.match(plist, /<string>collect<\/string>\s*<string>cliproxy<\/string>\s*<\/array>/)
  t.match(plist, /<key>USAGE_LEDGER_CLIPROXY_URL<\/key>\s*<string>redis:\/\/10\.1\.2\.3:8317<\/string>/)
  t.match(plist, /<key>KeepAlive<\/key>\s*<dict>\s*<key>Crashed<\/key>\s*<true\/>/)
  t.match(
    plist,
    /host=10\.1\.2\.3:8317\\nusername=usage-ledger/,
    'the key goes to the Keychain through git credential approve',
  )
  t.notMatch(plist, /k3y-n0t-inline/)
  t.notMatch(plist, /USAGE_LEDGER_CLIPROXY_KEY/)

  t.equal((await cli(['hooks', 'print'], { env })).code, 2, 'print needs a target')
  t.equal((await cli(['hooks', 'print', 'fish'], { env })).code, 2, 'an unknown target is refused')
})

t.test(
  'record.minInterval: within it a full record run reads nothing; past it, --force, --source or --stdin run',
  async (t) => {
    const root = t.testdir()
    copyFixtures(root)
    const NOW = Date.parse('2026-11-22T12:00:00.000Z')
    const at = (seconds: number) =>
      isolatedEnv(root, {
        USAGE_LEDGER_DEVICE_ID: ID.a,
        USAGE_LEDGER_NOW: new Date(NOW + seconds * 1000).toISOString(),
      })
    fs.mkdirSync(path.join(root, 'store'), { recursive: true })
    fs.writeFileSync(path.join(root, 'store', 'config.json'), JSON.stringify({ v: 1, record: { minInterval: 600 } }))
    const record = async (seconds: number, extra: string[] = [], input?: string) =>
      JSON.parse((await ok(['record', '--json', ...extra], at(seconds), input)).stdout)
    const exp = expected()
    const file = path.join(root, 'claude/projects/-home-ana-src-app/b1f4c2de-7a31-4e0b-9c55-0d2e8f6a1c01.jsonl')
    const line = (id: string, ts: string) =>
      `${JSON.stringify({
        type: 'assistant',
        timestamp: ts,
        sessionId: 'b1f4c2de-7a31-4e0b-9c55-0d2e8f6a1c01',
        cwd: '/home/ana/src/app',
        requestId: `req_${id}`,
        message: {
          id,
          model: 'claude-sonnet-4-5-20250929',
          usage: { input_tokens: 3, output_tokens: 5, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
        },
      })}\n`

    t.equal(
      (await record(0)).appended,
      exp['claude-code'].totals.records + exp.codex.totals.records,
      'the first run records everything',
    )
    const cursors = path.join(root, 'store', 'state', 'cursors.json')
    const cursorsAfterFirst = fs.readFileSync(cursors, 'utf8')
    fs.appendFileSync(file, line('msg_min_1', '2026-11-22T11:00:00.000Z'))

    const skipped = await record(300)
    t.match(
      skipped,
      {
        skipped: 'minInterval',
        appended: 0,
        lastRunAt: '2026-11-22T12:00:00.000Z',
        nextRunAt: '2026-11-22T12:10:00.000Z',
      },
      '5 minutes later: skipped, exit 0',
    )
    t.equal(fs.readFileSync(cursors, 'utf8'), cursorsAfterFirst, 'the sources were not read')
    const quiet = await cli(['record', '--quiet'], { env: at(301) })
    t.same([quiet.code, quiet.stdout, quiet.stderr], [0, '', ''], 'a quiet skipped run says nothing')

    const later = await record(601)
    t.equal(later.skipped, undefined)
    t.equal(later.appended, 1, 'past the interval it records again')
    fs.appendFileSync(file, line('msg_min_2', '2026-11-22T11:01:00.000Z'))
    t.match(await record(700), { skipped: 'minInterval' }, 'the interval starts again from the last run')
    t.equal((await record(700, ['--force'])).appended, 1, '--force runs now')
    fs.appendFileSync(file, line('msg_min_3', '2026-11-22T11:02:00.000Z'))
    t.equal((await record(710, ['--source', 'claude-code'])).appended, 1, 'an explicit --source runs now')
    t.equal(
      (
        await record(
          720,
          ['--stdin', '--source', 'x'],
          `${JSON.stringify({ ts: '2026-11-22T11:00:00Z', model: 'gpt-5', input: 1 })}\n`,
        )
      ).appended,
      1,
      '--stdin runs now',
    )
    t.match(
      await record(1200),
      { skipped: 'minInterval', lastRunAt: new Date(NOW + 700_000).toISOString() },
      'runs with --source or --stdin do not move the interval',
    )
  },
)
