/**
 * examples/ci/github-actions.yml, run locally: three devices push to a real smart-HTTP git
 * server, a native clone stands in for actions/checkout, and the `run:` lines of the workflow's
 * steps run as GitHub runs them (bash -eo pipefail), read out of the YAML so the example and
 * this test cannot drift apart.
 *
 * This process serves the remote, so every child is spawned asynchronously (helpers/spawn.ts).
 */
import t from 'tap'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parse } from 'yaml'
import { cli, expected, ROOT, TOKEN_FIELDS, type Totals } from '../helpers/cli.js'
import { startGitServer } from '../helpers/git-server.js'
import { machine } from '../helpers/machine.js'
import { run } from '../helpers/spawn.js'

const WORKFLOW = path.join(ROOT, 'examples/ci/github-actions.yml')
const GOLDEN = path.join(ROOT, 'test/examples/ci-monthly.golden.md')
const TOKEN = 'ci-example-token'
const NOW = '2026-11-22T12:00:00.000Z'
const ID = { a: 'a1'.repeat(16), b: 'b2'.repeat(16), c: 'c3'.repeat(16) }

interface Step {
  name?: string
  uses?: string
  run?: string
  with?: Record<string, unknown>
  env?: Record<string, string>
  'working-directory'?: string
}
interface Workflow {
  on: Record<string, unknown>
  jobs: Record<string, { steps: Step[] }>
}
/** Two records of a tool without a collector, piped to `record --stdin`. */
const STDIN_RECORDS = [
  { ts: '2026-11-20T10:00:00Z', model: 'gpt-5', input_tokens: 1000, output_tokens: 200 },
  { ts: '2026-11-21T11:00:00Z', model: 'gpt-5', input_tokens: 3000, output_tokens: 400, cache_read_input_tokens: 50 },
]
const STDIN_TOTALS: Totals = { records: 2, input: 4000, output: 600, cacheWrite: 0, cacheRead: 50, totalTokens: 4650 }

/** The one step of the workflow's one job with this name. */
function step(workflow: Workflow, name: string): Step {
  const steps = Object.values(workflow.jobs).flatMap((job) => job.steps)
  const found = steps.filter((s) => s.name === name)
  if (found.length !== 1) throw new Error(`${WORKFLOW}: expected one step named "${name}", found ${found.length}`)
  return found[0]!
}

/** Sums the `**Total**` row of the Markdown report, in the order of TOKEN_FIELDS. */
function markdownTotals(md: string): Totals {
  const row = md.split('\n').find((l) => l.startsWith('| **Total**'))
  if (!row) throw new Error(`no total row in:\n${md}`)
  const numbers = row
    .split('|')
    .slice(2, 2 + TOKEN_FIELDS.length)
    .map((c) => Number(c.replace(/[*,\s]/g, '')))
  return Object.fromEntries(TOKEN_FIELDS.map((k, i) => [k, numbers[i]])) as unknown as Totals
}

t.test('the GitHub Actions example reports every device of a native clone', async (t) => {
  const workflow = parse(fs.readFileSync(WORKFLOW, 'utf8')) as Workflow
  t.ok('schedule' in workflow.on && 'workflow_dispatch' in workflow.on, 'runs on a schedule and by hand')
  const steps = Object.values(workflow.jobs).flatMap((j) => j.steps)
  const checkout = step(workflow, 'Check out the ledger')
  t.match(checkout.with, { 'fetch-depth': 0, token: /secrets\./ }, 'checks out the whole history with a token secret')
  const install = step(workflow, 'Install usage-ledger')
  // usage-ledger is not on npm: the job builds it from a checkout of its source.
  const source = step(workflow, 'Check out usage-ledger')
  t.match(
    source,
    { uses: /^actions\/checkout@/, with: { path: install['working-directory'], 'persist-credentials': false } },
    'the usage-ledger source is checked out where the install step runs',
  )
  t.notMatch(
    install.run,
    /usage-ledger@|install (--\S+ )*usage-ledger\b/,
    'no install of a usage-ledger package from the registry',
  )
  t.ok(steps.indexOf(install) < steps.indexOf(checkout), 'installed before the ledger (and its token) is checked out')
  const fetchDevices = step(workflow, 'Fetch the device branches')
  const verifyStep = step(workflow, 'Verify the ledger')
  const monthly = step(workflow, 'Monthly report')

  const root = t.testdir()
  const server = await startGitServer({ root: path.join(root, 'srv'), token: TOKEN })
  t.teardown(() => server.close())
  server.createBare('ledger')
  const url = server.repoUrl('ledger')

  // Three machines: Claude Code on one, Codex on another, a third tool through --stdin.
  const device = (name: keyof typeof ID, sources: Array<'claude' | 'codex'>) =>
    machine(root, name, { id: ID[name], sources, env: { USAGE_LEDGER_TOKEN: TOKEN, USAGE_LEDGER_NOW: NOW } }).env
  const ok = async (args: string[], env: Record<string, string | undefined>, input?: string) => {
    const r = await cli(args, { env, input })
    if (r.code !== 0) throw new Error(`usage-ledger ${args.join(' ')} exited ${r.code}: ${r.stderr}`)
  }
  const devices = { a: device('a', ['claude']), b: device('b', ['codex']), c: device('c', []) }
  for (const env of Object.values(devices)) await ok(['init', '--remote', url], env)
  await ok(['record'], devices.a)
  await ok(['record'], devices.b)
  await ok(
    ['record', '--stdin', '--source', 'my-tool'],
    devices.c,
    `${STDIN_RECORDS.map((r) => JSON.stringify(r)).join('\n')}\n`,
  )

  // The runner: a fresh home, npm's global prefix on PATH (as setup-node leaves it; npm's cache
  // is this machine's, so the install needs the registry only for what it lacks), and the job's
  // summary file.
  const runner = path.join(root, 'runner')
  const prefix = path.join(runner, 'node-prefix')
  fs.mkdirSync(path.join(runner, 'home'), { recursive: true })
  const summary = path.join(runner, 'step-summary.md')
  fs.writeFileSync(summary, '')
  const runnerEnv: NodeJS.ProcessEnv = {
    PATH: `${path.join(prefix, 'bin')}${path.delimiter}${process.env.PATH}`,
    HOME: path.join(runner, 'home'),
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_TERMINAL_PROMPT: '0',
    GITHUB_STEP_SUMMARY: summary,
    USAGE_LEDGER_NOW: NOW,
    npm_config_prefix: prefix,
    npm_config_cache: process.env.npm_config_cache ?? path.join(os.homedir(), '.npm'),
    npm_config_prefer_offline: 'true',
    npm_config_update_notifier: 'false',
  }
  const git = (args: string[], cwd?: string) => run('git', args, { cwd, env: runnerEnv })

  // The source checkout: this tree as a fresh clone has it (no dist/, no node_modules), then the
  // install step's own run: line in its working-directory.
  const workspace = path.join(runner, 'workspace')
  const src = path.join(workspace, install['working-directory']!)
  fs.mkdirSync(src, { recursive: true })
  for (const entry of fs.readdirSync(ROOT)) {
    if (['.git', '.tap', 'dist', 'node_modules', 'test-artifacts'].includes(entry) || entry.endsWith('.tgz')) continue
    fs.cpSync(path.join(ROOT, entry), path.join(src, entry), { recursive: true })
  }
  const installed = await run('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', install.run!], {
    cwd: src,
    env: { ...runnerEnv, ...install.env },
  })
  t.equal(installed.code, 0, 'the install step succeeds', { stderr: installed.stderr })
  const version = await run('usage-ledger', ['--version'], { env: runnerEnv })
  t.equal(
    version.stdout.trim(),
    (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version,
    "usage-ledger is on PATH, this tree's version",
  )
  t.ok(
    fs.realpathSync(path.join(prefix, 'bin', 'usage-ledger')).startsWith(path.join(prefix, 'lib')),
    'installed into the prefix (a copy, not a link into the checkout)',
  )
  // The ledger checkout replaces the workspace; the install must not need the source any more.
  fs.rmSync(workspace, { recursive: true, force: true })

  // actions/checkout: main only (as a single-branch clone), the token kept in the clone's config
  // as an HTTP header for the steps after it, exactly how the action persists it.
  const clone = path.join(runner, 'ledger')
  const header = `AUTHORIZATION: basic ${Buffer.from(`x-access-token:${TOKEN}`).toString('base64')}`
  const cloned = await git([
    '-c',
    `http.extraHeader=${header}`,
    'clone',
    '--quiet',
    '--single-branch',
    '--branch',
    'main',
    url,
    clone,
  ])
  t.equal(cloned.code, 0, 'a native clone over HTTP', { stderr: cloned.stderr })
  t.equal(
    (await git(['config', '--local', `http.${server.url}/.extraheader`, header], clone)).code,
    0,
    'the token kept as the action keeps it',
  )
  const ledgerRefs = async () =>
    (await git(['for-each-ref', '--format=%(refname)', 'refs/remotes/origin/ledger/'], clone)).stdout
      .split('\n')
      .filter(Boolean)
      .sort()
  t.same(await ledgerRefs(), [], 'the checkout alone has no device branch')

  // GitHub runs a `run:` with `bash --noprofile --norc -eo pipefail`, in the workspace, with the step's env.
  const runStep = (s: Step) =>
    run('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', s.run!], {
      cwd: clone,
      env: { ...runnerEnv, ...s.env },
    })

  const fetched = await runStep(fetchDevices)
  t.equal(fetched.code, 0, 'the fetch step succeeds', { stderr: fetched.stderr })
  t.same(
    await ledgerRefs(),
    Object.values(ID)
      .sort()
      .map((id) => `refs/remotes/origin/ledger/${id}`),
    'the fetch step brings every device branch',
  )

  const verified = await runStep(verifyStep)
  t.equal(verified.code, 0, 'the verify step succeeds', { stderr: verified.stderr })
  t.match(verified.stdout, /^ok: 3 devices verified \(full check\)$/m, 'every device proved in the clone')

  const reported = await runStep(monthly)
  t.equal(reported.code, 0, 'the report step succeeds', { stderr: reported.stderr })
  t.equal(reported.stdout, '', 'the report went to the summary, not the log')
  const markdown = fs.readFileSync(summary, 'utf8')

  // The numbers, from the hand-computed expectations rather than from an earlier run.
  const exp = expected()
  const want = Object.fromEntries(
    TOKEN_FIELDS.map((k) => [k, exp['claude-code'].totals[k] + exp.codex.totals[k] + STDIN_TOTALS[k]]),
  )
  t.same(markdownTotals(markdown), want, "the total row is the three devices' fixtures summed")
  t.match(markdown, /^\| 2026-11 \|/m, 'one row for November 2026')

  if (process.env.UPDATE_GOLDEN) fs.writeFileSync(GOLDEN, markdown)
  t.equal(
    markdown,
    fs.readFileSync(GOLDEN, 'utf8'),
    `the summary equals ${path.relative(ROOT, GOLDEN)} (UPDATE_GOLDEN=1 rewrites it)`,
  )
})
