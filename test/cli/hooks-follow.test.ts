/**
 * README "The post-merge hook", the native clone that follows the devices: its shell blocks run
 * as written (read out of README.md, so the documentation and this test cannot drift apart)
 * against the real smart-HTTP test server with native git, and a plain `git pull` then merges
 * every device branch into main (one octopus merge), runs the installed post-merge hook and
 * refreshes the index. Also the one-off join of a ledger begun before the shared root.
 *
 * This process serves the remote, so every git child is spawned asynchronously.
 */
import t, { type Test } from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { BIN, cli, expected, isolatedEnv, ROOT, TOKEN_FIELDS, type Totals } from '../helpers/cli.js'
import { startGitServer } from '../helpers/git-server.js'
import { machine } from '../helpers/machine.js'
import { fsckProblems } from '../helpers/ledger-checks.js'
import { gitA, run } from '../helpers/spawn.js'
import { GENESIS_OID } from '../../lib/git/genesis.js'

const TOKEN = 'follow-test-token'
const ID = { a: 'a1'.repeat(16), b: 'b2'.repeat(16), c: 'c3'.repeat(16), d: 'd4'.repeat(16) }
const README_URL = 'https://git.example.com/me/usage-ledger.git'
const NOW = '2026-11-22T12:00:00.000Z'

/** The ```sh blocks of the README's native-clone paragraphs: [clone and follow, pull and report, one-off join]. */
function readmeBlocks(): { setup: string; pull: string; report: string; join: string } {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8')
  const start = readme.indexOf('**A native clone that follows the devices**')
  const end = readme.indexOf('\n### ', start)
  if (start < 0 || end < 0)
    throw new Error('README.md: the native-clone paragraphs are gone from "The post-merge hook"')
  const blocks = [...readme.slice(start, end).matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!)
  if (blocks.length !== 3)
    throw new Error(`README.md: expected 3 sh blocks about the native clone, found ${blocks.length}`)
  const [pull, report, ...rest] = blocks[1]!.split('\n').filter(Boolean)
  if (!pull?.startsWith('git pull') || !report?.startsWith('usage-ledger --repo . report') || rest.length)
    throw new Error(`README.md: the second block should be git pull, then a report:\n${blocks[1]}`)
  return { setup: blocks[0]!, pull, report, join: blocks[2]!.trim() }
}

const sum = (...xs: Totals[]): Totals =>
  Object.fromEntries(TOKEN_FIELDS.map((k) => [k, xs.reduce((n, x) => n + x[k], 0)])) as unknown as Totals

/** The device heads an index was built from, as written on disk. */
function indexedHeads(clone: string): Record<string, string> | null {
  let meta: { devices: Record<string, { head: string }> }
  try {
    meta = JSON.parse(fs.readFileSync(path.join(clone, '.git/usage-ledger/index/index.v1.json'), 'utf8'))
  } catch {
    return null
  }
  return Object.fromEntries(Object.entries(meta.devices).map(([id, d]) => [id, d.head]))
}

async function world(t: Test) {
  const root = t.testdir()
  const server = await startGitServer({ root: path.join(root, 'srv'), token: TOKEN })
  t.teardown(() => server.close())
  const bare = server.createBare('ledger')
  const url = server.repoUrl('ledger')
  const device = (name: keyof typeof ID, sources: Array<'claude' | 'codex'>) =>
    machine(root, name, { id: ID[name], sources, env: { USAGE_LEDGER_TOKEN: TOKEN, USAGE_LEDGER_NOW: NOW } }).env
  const ok = async (args: string[], env: Record<string, string | undefined>, input?: string) => {
    const r = await cli(args, { env, input })
    if (r.code !== 0) throw new Error(`usage-ledger ${args.join(' ')} exited ${r.code}: ${r.stderr}`)
    return r
  }

  // The person reading the ledger: usage-ledger on PATH (this tree's build), a git identity for
  // merges, and git's own credentials for the remote (an HTTP header from the environment).
  const runner = path.join(root, 'runner')
  const shims = path.join(runner, 'bin')
  fs.mkdirSync(shims, { recursive: true })
  fs.mkdirSync(path.join(runner, 'home'))
  fs.writeFileSync(path.join(shims, 'usage-ledger'), `#!/bin/sh\nexec '${process.execPath}' '${BIN}' "$@"\n`, {
    mode: 0o755,
  })
  const env: NodeJS.ProcessEnv = {
    PATH: `${shims}${path.delimiter}${process.env.PATH}`,
    HOME: path.join(runner, 'home'),
    TZ: 'UTC',
    USAGE_LEDGER_NOW: NOW,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_TERMINAL_PROMPT: '0',
    GIT_AUTHOR_NAME: 'reader',
    GIT_AUTHOR_EMAIL: 'reader@example.invalid',
    GIT_COMMITTER_NAME: 'reader',
    GIT_COMMITTER_EMAIL: 'reader@example.invalid',
    GIT_CONFIG_COUNT: '1',
    GIT_CONFIG_KEY_0: 'http.extraHeader',
    GIT_CONFIG_VALUE_0: `Authorization: Basic ${Buffer.from(`reader:${TOKEN}`).toString('base64')}`,
  }
  const clone = path.join(runner, 'ledger')
  /** A README line or block, as written (only the example URL becomes the test server's). */
  const sh = (script: string, cwd: string) =>
    run('bash', ['--noprofile', '--norc', '-e', '-c', script.split(README_URL).join(url)], { cwd, env })
  const git = async (args: string[]) => (await run('git', args, { cwd: clone, env })).stdout.trim()
  const remoteHeads = async () =>
    Object.fromEntries(
      (await gitA(bare, ['for-each-ref', '--format=%(refname:lstrip=3) %(objectname)', 'refs/heads/ledger/']))
        .trim()
        .split('\n')
        .map((l) => l.split(' ')),
    )
  const reportTotals = async (args: string[]): Promise<Totals> => {
    const j = JSON.parse((await ok([...args, 'report', '--json', '--tz', 'UTC'], isolatedEnv(runner))).stdout) as {
      totals: Record<string, number>
    }
    return Object.fromEntries(TOKEN_FIELDS.map((k) => [k, j.totals[k]])) as unknown as Totals
  }
  return { root, bare, url, device, ok, runner, env, clone, sh, git, remoteHeads, reportTotals }
}

const ONE = (ts: string, input: number) =>
  `${JSON.stringify({ ts, model: 'gpt-5', input_tokens: input, output_tokens: 10 })}\n`
const ONE_TOTALS = (input: number): Totals => ({
  records: 1,
  input,
  output: 10,
  cacheWrite: 0,
  cacheRead: 0,
  totalTokens: input + 10,
})

t.test(
  "the README's native clone: git pull merges every device branch at once, the hook refreshes the index",
  async (t) => {
    const readme = readmeBlocks()
    const w = await world(t)
    const a = w.device('a', ['claude']),
      b = w.device('b', ['codex']),
      c = w.device('c', [])
    for (const m of [a, b]) {
      await w.ok(['init', '--remote', w.url], m)
      await w.ok(['record'], m)
    }
    t.equal(
      await gitA(w.bare, ['rev-list', '--max-parents=0', 'main', `ledger/${ID.a}`, `ledger/${ID.b}`]).then((s) =>
        s.trim(),
      ),
      GENESIS_OID,
      'main and both device branches start from the one genesis',
    )

    const setup = await w.sh(readme.setup, w.runner)
    t.equal(setup.code, 0, 'the clone-and-follow block runs', { stderr: setup.stderr })
    t.notMatch(setup.stderr, /warning/, 'no warning: the histories are related')
    t.same(
      (await w.git(['config', '--get-all', 'branch.main.merge'])).split('\n'),
      ['refs/heads/main', `refs/heads/ledger/${ID.a}`, `refs/heads/ledger/${ID.b}`],
      'main follows itself and both devices',
    )
    t.equal(indexedHeads(w.clone), null, 'no index before the first pull')

    const pull1 = await w.sh(readme.pull, w.clone)
    t.equal(pull1.code, 0, 'git pull succeeds', { stderr: pull1.stderr })
    t.match(pull1.stdout, /octopus/, 'one merge of both device branches')
    t.equal(
      (await w.git(['rev-list', '--parents', '-1', 'HEAD'])).split(' ').length,
      4,
      'the merge commit has main and both devices as parents',
    )
    t.same(indexedHeads(w.clone), await w.remoteHeads(), 'the post-merge hook built the index from every device head')
    const exp = expected()
    const report1 = await w.sh(readme.report, w.clone)
    t.equal(report1.code, 0, 'the report line runs', { stderr: report1.stderr })
    t.same(
      await w.reportTotals(['--repo', w.clone]),
      sum(exp['claude-code'].totals, exp.codex.totals),
      'report --repo: a + b, exact',
    )

    // A device records more and a new one joins; the next pull brings both into the index.
    await w.ok(['record', '--stdin', '--source', 'late'], a, ONE('2026-11-22T09:00:00Z', 70))
    await w.ok(['init', '--remote', w.url], c)
    await w.ok(['record', '--stdin', '--source', 'mine'], c, ONE('2026-11-22T10:00:00Z', 500))
    const pull2 = await w.sh(readme.pull, w.clone)
    t.equal(pull2.code, 0, 'the second git pull succeeds', { stderr: pull2.stderr })
    t.same(
      indexedHeads(w.clone),
      await w.remoteHeads(),
      "the hook refreshed the index: a's new head, and c from its first fetch",
    )
    t.same(
      await w.reportTotals(['--repo', w.clone]),
      sum(exp['claude-code'].totals, exp.codex.totals, ONE_TOTALS(70), ONE_TOTALS(500)),
      'report --repo: every record once',
    )
    t.notOk(fs.existsSync(path.join(w.clone, 'devices', ID.c)), 'c is not merged into main before it is followed')

    // Following again adds the new device; the next pull merges its files.
    const again = await w.sh(
      readme.setup
        .split('\n')
        .filter((l) => l.startsWith('usage-ledger hooks install'))
        .join('\n'),
      w.clone,
    )
    t.equal(again.code, 0, again.stderr)
    t.match(again.stderr, /1 newly followed/)
    const pull3 = await w.sh(readme.pull, w.clone)
    t.equal(pull3.code, 0, 'the third git pull succeeds', { stderr: pull3.stderr })
    t.ok(fs.existsSync(path.join(w.clone, 'devices', ID.c, 'manifest.json')), "c's directory is in main")
    t.same(await fsckProblems(path.join(w.clone, '.git')), [], 'git fsck --strict clean in the clone')
    const log = (await w.git(['log', '--format=%H %s'])).split('\n')
    t.equal(
      log[log.length - 1],
      `${GENESIS_OID} usage-ledger: ledger root`,
      'git log of main ends at the one shared root',
    )
    t.equal(log.filter((l) => l.startsWith(GENESIS_OID)).length, 1, 'which git log shows once')
    const v = await cli(['--repo', w.clone, 'verify', '--full'], { env: isolatedEnv(w.runner) })
    t.equal(v.code, 0, 'verify --full in the clone', { stderr: v.stderr })
    t.match(v.stdout, /ok: 3 devices verified/)
  },
)

t.test(
  "a ledger begun before the shared root: follow warns with the README's one-off join; after it git pull works",
  async (t) => {
    const readme = readmeBlocks()
    const w = await world(t)
    const a = w.device('a', ['claude']),
      b = w.device('b', ['codex']),
      c = w.device('c', [])
    // Both devices set up before either records, so neither witnessed the other's head.
    for (const m of [a, b]) await w.ok(['init', '--remote', w.url], m)
    for (const m of [a, b]) await w.ok(['record'], m)
    // What an older usage-ledger wrote: every branch's first commit is a root of its own.
    for (const ref of ['main', `ledger/${ID.a}`, `ledger/${ID.b}`]) {
      const old = (await gitA(w.bare, ['rev-parse', ref])).trim()
      const root = (
        await gitA(w.bare, [
          '-c',
          'user.name=old',
          '-c',
          'user.email=old@usage-ledger',
          'commit-tree',
          `${old}^{tree}`,
          '-m',
          `old ${ref}`,
        ])
      ).trim()
      await gitA(w.bare, ['update-ref', `refs/heads/${ref}`, root, old])
    }
    t.equal(
      (await gitA(w.bare, ['rev-list', '--max-parents=0', '--all'])).trim().split('\n').length,
      3,
      'three unrelated roots',
    )
    // A device that joins after the upgrade starts from the genesis.
    await w.ok(['init', '--remote', w.url], c)
    await w.ok(['record', '--stdin', '--source', 'mine'], c, ONE('2026-11-21T10:00:00Z', 500))

    const setup = await w.sh(readme.setup, w.runner)
    t.equal(setup.code, 0, 'following is set up', { stderr: setup.stderr })
    t.ok(setup.stderr.includes(readme.join), "the warning prints the README's one-off join line", {
      stderr: setup.stderr,
    })
    const refused = await w.sh(readme.pull, w.clone)
    t.not(refused.code, 0, 'git pull refuses the unrelated histories')
    t.match(refused.stderr, /refusing to merge unrelated histories/)
    t.equal(indexedHeads(w.clone), null, 'no merge, no hook')

    const joined = await w.sh(readme.join, w.clone)
    t.equal(joined.code, 0, 'the one-off join runs', { stderr: joined.stderr })
    t.same(indexedHeads(w.clone), await w.remoteHeads(), 'its merges ran the hook')
    const exp = expected()
    const all = sum(exp['claude-code'].totals, exp.codex.totals, ONE_TOTALS(500))
    t.same(await w.reportTotals(['--repo', w.clone]), all, 'report --repo: every device of the old ledger')

    // From then on: a device records, another joins and is followed; one pull merges both.
    const d = w.device('d', [])
    await w.ok(['record', '--stdin', '--source', 'mine'], c, ONE('2026-11-22T10:00:00Z', 30))
    await w.ok(['init', '--remote', w.url], d)
    await w.ok(['record', '--stdin', '--source', 'mine'], d, ONE('2026-11-22T11:00:00Z', 40))
    const again = await w.sh(
      readme.setup
        .split('\n')
        .filter((l) => l.startsWith('usage-ledger hooks install'))
        .join('\n'),
      w.clone,
    )
    t.equal(again.code, 0, again.stderr)
    t.notMatch(again.stderr, /warning/, 'joined: no device is unrelated any more')
    const pull = await w.sh(readme.pull, w.clone)
    t.equal(pull.code, 0, 'from then on git pull works', { stderr: pull.stderr })
    t.match(pull.stdout, /octopus/, 'c and d in one merge')
    t.same(indexedHeads(w.clone), await w.remoteHeads(), 'and the hook refreshes the index')
    t.same(
      await w.reportTotals(['--repo', w.clone]),
      sum(all, ONE_TOTALS(30), ONE_TOTALS(40)),
      'report --repo: the new records too',
    )
    const v = await cli(['--repo', w.clone, 'verify', '--full'], { env: isolatedEnv(w.runner) })
    t.equal(v.code, 0, 'the old roots verify', { stderr: v.stderr })
    t.match(v.stdout, /ok: 4 devices verified/)
    t.same(await fsckProblems(path.join(w.clone, '.git')), [], 'git fsck --strict clean in the clone')
  },
)

t.test('--follow needs --repo and a checked-out branch; --uninstall --follow stops following', async (t) => {
  const w = await world(t)
  const a = w.device('a', [])
  await w.ok(['init', '--remote', w.url], a)
  await w.ok(['record', '--stdin', '--source', 'x'], a, ONE('2026-11-22T10:00:00Z', 5))
  const noRepo = await cli(['hooks', 'install', '--follow'], { env: a })
  t.equal(noRepo.code, 2, 'without --repo: exit 2')
  t.match(noRepo.stderr, /--follow .*--repo GITDIR/)
  t.equal((await cli(['hooks', 'print', 'shell', '--follow'], { env: a })).code, 2, 'hooks print --follow: exit 2')
  t.equal((await w.sh(`git clone --quiet ${README_URL} ledger`, w.runner)).code, 0)
  await w.git(['checkout', '--quiet', '--detach'])
  const detached = await cli(['hooks', 'install', '--repo', w.clone, '--follow'], { env: isolatedEnv(w.runner) })
  t.equal(detached.code, 2, 'a detached HEAD: exit 2')
  t.match(detached.stderr, /no branch checked out.*git checkout main/)
  await w.git(['checkout', '--quiet', 'main'])
  const j = JSON.parse(
    (
      await cli(['hooks', 'install', '--repo', w.clone, '--follow', '--json'], {
        env: { ...isolatedEnv(w.runner), ...w.env },
      })
    ).stdout,
  )
  t.match(j, {
    schema: 'usage-ledger/hooks@1',
    action: 'install',
    changed: true,
    follow: { branch: 'main', remote: 'origin', devices: [ID.a], added: [ID.a], unrelated: [] },
  })
  const un = JSON.parse(
    (await cli(['hooks', 'uninstall', '--repo', w.clone, '--follow', '--json'], { env: isolatedEnv(w.runner) })).stdout,
  )
  t.match(un, { action: 'uninstall', changed: true })
  t.same(
    (await w.git(['config', '--get-all', 'branch.main.merge'])).split('\n'),
    ['refs/heads/main'],
    'only main is merged again',
  )
  t.notMatch(await w.git(['config', '--get-all', 'remote.origin.fetch']), /ledger/, 'the ledger refspec is gone')
})
