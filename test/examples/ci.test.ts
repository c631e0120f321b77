/**
 * examples/ci/github-actions.yml, run locally: three devices push to a real smart-HTTP git
 * server, a native clone stands in for actions/checkout, and the `run:` lines of the workflow's
 * steps run as GitHub runs them (bash -eo pipefail), read out of the YAML so the example and
 * this test cannot drift apart.
 *
 * This process serves the remote, so every git child is spawned asynchronously: a blocking spawn
 * would stop the server answering it.
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { parse } from 'yaml'
import { BIN, cli, expected, FIXTURES, isolatedEnv, ROOT, TOKEN_FIELDS, type Totals } from '../helpers/cli.js'
import { startGitServer } from '../helpers/git-server.js'

const WORKFLOW = path.join(ROOT, 'examples/ci/github-actions.yml')
const GOLDEN = path.join(ROOT, 'test/examples/ci-monthly.golden.md')
const TOKEN = 'ci-example-token'
const NOW = '2026-11-22T12:00:00.000Z'
const ID = { a: 'a1'.repeat(16), b: 'b2'.repeat(16), c: 'c3'.repeat(16) }

interface Step { name?: string; uses?: string; run?: string; with?: Record<string, unknown>; env?: Record<string, string> }
interface Workflow { on: Record<string, unknown>; jobs: Record<string, { steps: Step[] }> }
interface RunResult { code: number; stdout: string; stderr: string }

/** Two records of a tool without a collector, piped to `record --stdin`. */
const STDIN_RECORDS = [
  { ts: '2026-11-20T10:00:00Z', model: 'gpt-5', input_tokens: 1000, output_tokens: 200 },
  { ts: '2026-11-21T11:00:00Z', model: 'gpt-5', input_tokens: 3000, output_tokens: 400, cache_read_input_tokens: 50 },
]
const STDIN_TOTALS: Totals = { records: 2, input: 4000, output: 600, cacheWrite: 0, cacheRead: 50, totalTokens: 4650 }

function spawnAsync(cmd: string, args: string[], opts: { cwd?: string; env: NodeJS.ProcessEnv }): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = '', stderr = ''
    child.stdout.on('data', (b) => (stdout += b))
    child.stderr.on('data', (b) => (stderr += b))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }))
  })
}

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
  const numbers = row.split('|').slice(2, 2 + TOKEN_FIELDS.length).map((c) => Number(c.replace(/[*,\s]/g, '')))
  return Object.fromEntries(TOKEN_FIELDS.map((k, i) => [k, numbers[i]])) as unknown as Totals
}

t.test('the GitHub Actions example reports every device of a native clone', async (t) => {
  const workflow = parse(fs.readFileSync(WORKFLOW, 'utf8')) as Workflow
  t.ok('schedule' in workflow.on && 'workflow_dispatch' in workflow.on, 'runs on a schedule and by hand')
  const checkout = Object.values(workflow.jobs).flatMap((j) => j.steps).find((s) => s.uses?.startsWith('actions/checkout@'))
  t.match(checkout?.with, { 'fetch-depth': 0, token: /secrets\./ }, 'checks out the whole history with a token secret')
  const install = step(workflow, 'Install usage-ledger')
  const fetchDevices = step(workflow, 'Fetch the device branches')
  const verifyStep = step(workflow, 'Verify the ledger')
  const monthly = step(workflow, 'Monthly report')
  t.match(install.run, /^npm install --global .*\busage-ledger\b/, 'installs usage-ledger from npm')

  const root = t.testdir()
  const server = await startGitServer({ root: path.join(root, 'srv'), token: TOKEN })
  t.teardown(() => server.close())
  server.createBare('ledger')
  const url = server.repoUrl('ledger')

  // Three machines: Claude Code on one, Codex on another, a third tool through --stdin.
  const machine = (name: keyof typeof ID, sources: Array<'claude' | 'codex'>) => {
    const dir = path.join(root, name)
    fs.mkdirSync(path.join(dir, 'home'), { recursive: true })
    for (const s of sources) fs.cpSync(path.join(FIXTURES, s), path.join(dir, s), { recursive: true })
    return isolatedEnv(dir, { USAGE_LEDGER_DEVICE_ID: ID[name], USAGE_LEDGER_TOKEN: TOKEN, USAGE_LEDGER_NOW: NOW })
  }
  const ok = async (args: string[], env: Record<string, string | undefined>, input?: string) => {
    const r = await cli(args, { env, input })
    if (r.code !== 0) throw new Error(`usage-ledger ${args.join(' ')} exited ${r.code}: ${r.stderr}`)
  }
  const devices = { a: machine('a', ['claude']), b: machine('b', ['codex']), c: machine('c', []) }
  for (const env of Object.values(devices)) await ok(['init', '--remote', url], env)
  await ok(['record'], devices.a)
  await ok(['record'], devices.b)
  await ok(['record', '--stdin', '--source', 'my-tool'], devices.c, STDIN_RECORDS.map((r) => JSON.stringify(r)).join('\n') + '\n')

  // The runner: a fresh home, usage-ledger on PATH (what the install step provides; the package
  // under test is this tree's build, not the registry's), and the job's summary file.
  const runner = path.join(root, 'runner')
  const shims = path.join(runner, 'bin')
  fs.mkdirSync(shims, { recursive: true })
  fs.mkdirSync(path.join(runner, 'home'))
  fs.writeFileSync(path.join(shims, 'usage-ledger'), `#!/bin/sh\nexec '${process.execPath}' '${BIN}' "$@"\n`, { mode: 0o755 })
  const summary = path.join(runner, 'step-summary.md')
  fs.writeFileSync(summary, '')
  const runnerEnv: NodeJS.ProcessEnv = {
    PATH: `${shims}${path.delimiter}${process.env.PATH}`,
    HOME: path.join(runner, 'home'),
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_TERMINAL_PROMPT: '0',
    GITHUB_STEP_SUMMARY: summary,
    USAGE_LEDGER_NOW: NOW,
  }
  const git = (args: string[], cwd?: string) => spawnAsync('git', args, { cwd, env: runnerEnv })

  // actions/checkout: main only (as a single-branch clone), the token kept in the clone's config
  // as an HTTP header for the steps after it, exactly how the action persists it.
  const clone = path.join(runner, 'ledger')
  const header = `AUTHORIZATION: basic ${Buffer.from('x-access-token:' + TOKEN).toString('base64')}`
  const cloned = await git(['-c', `http.extraHeader=${header}`, 'clone', '--quiet', '--single-branch', '--branch', 'main', url, clone])
  t.equal(cloned.code, 0, 'a native clone over HTTP', { stderr: cloned.stderr })
  t.equal((await git(['config', '--local', `http.${server.url}/.extraheader`, header], clone)).code, 0, 'the token kept as the action keeps it')
  const ledgerRefs = async () => (await git(['for-each-ref', '--format=%(refname)', 'refs/remotes/origin/ledger/'], clone)).stdout.split('\n').filter(Boolean).sort()
  t.same(await ledgerRefs(), [], 'the checkout alone has no device branch')

  // GitHub runs a `run:` with `bash --noprofile --norc -eo pipefail`, in the workspace, with the step's env.
  const runStep = (s: Step) => spawnAsync('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', s.run!], { cwd: clone, env: { ...runnerEnv, ...s.env } })

  const fetched = await runStep(fetchDevices)
  t.equal(fetched.code, 0, 'the fetch step succeeds', { stderr: fetched.stderr })
  t.same(await ledgerRefs(), Object.values(ID).sort().map((id) => `refs/remotes/origin/ledger/${id}`), 'the fetch step brings every device branch')

  const verified = await runStep(verifyStep)
  t.equal(verified.code, 0, 'the verify step succeeds', { stderr: verified.stderr })
  t.match(verified.stdout, /^ok: 3 devices verified \(full check\)$/m, 'every device proved in the clone')

  const reported = await runStep(monthly)
  t.equal(reported.code, 0, 'the report step succeeds', { stderr: reported.stderr })
  t.equal(reported.stdout, '', 'the report went to the summary, not the log')
  const markdown = fs.readFileSync(summary, 'utf8')

  // The numbers, from the hand-computed expectations rather than from an earlier run.
  const exp = expected()
  const want = Object.fromEntries(TOKEN_FIELDS.map((k) => [k, exp['claude-code'].totals[k] + exp.codex.totals[k] + STDIN_TOTALS[k]]))
  t.same(markdownTotals(markdown), want, 'the total row is the three devices\' fixtures summed')
  t.match(markdown, /^\| 2026-11 \|/m, 'one row for November 2026')

  if (process.env.UPDATE_GOLDEN) fs.writeFileSync(GOLDEN, markdown)
  t.equal(markdown, fs.readFileSync(GOLDEN, 'utf8'), `the summary equals ${path.relative(ROOT, GOLDEN)} (UPDATE_GOLDEN=1 rewrites it)`)
})
