/**
 * Issue 7: a soak of 400 `record` runs over two devices (two homes, one HTTP remote), with
 * random appends to both machines' Claude Code and Codex logs, pushes and fetches between
 * them, and copies of responses on both machines (a synced ~/.claude, the fixtures on both).
 * The two devices' streams run concurrently; device A uses the system git backend, device B
 * isomorphic-git. At every checkpoint both devices push and fetch, and each one's
 * `report --json` must equal the independent expectation over every line generated so far
 * (test/helpers/sources.ts), with the same merged tree on both and clean `git fsck --strict`.
 *
 * The seed is printed; FAULT_SEED=<seed> replays the appends (the interleaving of the two
 * streams is up to the machine).
 */
import t from 'tap'
import path from 'node:path'
import { cli, expected, sumDays } from '../helpers/cli.js'
import { machine } from '../helpers/machine.js'
import { startGitServer } from '../helpers/git-server.js'
import { rng } from '../helpers/random.js'
import { SourceLog, Truth } from '../helpers/sources.js'
import { fsckProblems, historyProblems, ledgerLines, reportDays, tempDir } from '../helpers/ledger-checks.js'
import { gitA } from '../helpers/spawn.js'

const TOKEN = 'soak-test-token-9c2d'
// A fixed amount of work: 400 runs, 4 checkpoints, 40 pushing runs, 24 fetches (about a minute
// on a quiet 2-core machine). Pushes and fetches come twice as often per run as in the first
// soak of 1,000 runs (50 pushing runs, 28 fetches), so nearly as many of them cross.
const RUNS_PER_DEVICE = 200
const CHECKPOINT_EVERY = 50
const PUSH_EVERY = 10
const FETCH_EVERY = 25

// A loaded machine takes several times as long, past tap's 300 s per file: this file may take
// up to 10 minutes (tap's runner reads the "# timeout=N" comment).
const TIMEOUT_MS = 600_000
t.setTimeout(TIMEOUT_MS)
t.comment(`timeout=${TIMEOUT_MS}`)

t.test(`soak: ${2 * RUNS_PER_DEVICE} record runs on two devices, pushes and fetches between them`, async (t) => {
  const seedRnd = rng()
  t.comment(`seed ${seedRnd.seed} (FAULT_SEED=${seedRnd.seed} replays the appends)`)
  const root = tempDir(t, 'soak')
  const server = await startGitServer({ root: path.join(root, 'srv'), token: TOKEN })
  t.teardown(() => server.close())
  const bare = server.createBare('ledger')
  const url = server.repoUrl('ledger')

  const exp = expected()
  // Both machines start from a copy of the fixtures: each response in them counts once.
  const truth = new Truth(sumDays(exp['claude-code'].days, exp.codex.days))
  const device = (name: string, id: string, backend: 'system' | 'iso', seed: number) => {
    const m = machine(root, name, { id, sources: ['claude', 'codex'], env: { USAGE_LEDGER_TOKEN: TOKEN } })
    const rnd = rng(seed)
    return {
      name,
      id,
      rnd,
      backend,
      gitdir: m.gitdir,
      env: m.env,
      log: new SourceLog(m.dir, rnd, truth, {
        start: name === 'a' ? '2026-11-21T22:00:00.000Z' : '2026-11-21T23:00:00.000Z',
        fixtureFiles: true,
      }),
      runs: 0,
      pushes: 0,
      fetches: 0,
      commits: 0,
      failures: [] as string[],
    }
  }
  const a = device('a', 'a1'.repeat(16), 'system', seedRnd.seed)
  const b = device('b', 'b2'.repeat(16), 'iso', (seedRnd.seed + 1) >>> 0)
  type Device = typeof a

  const run = async (d: Device, args: string[]) => {
    // The clock follows the generated logs (they span days): a record dated more than 24 hours
    // after now is refused, as it would be on the real machine.
    const r = await cli(['--git', d.backend, ...args], { env: { ...d.env, USAGE_LEDGER_NOW: d.log.now } })
    if (r.code !== 0) d.failures.push(`${d.name} ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`)
    return r
  }
  for (const d of [a, b]) await run(d, ['init', '--remote', url])

  /** One device's stream of record runs up to `until`, fetching now and then. */
  const stream = async (d: Device, until: number) => {
    while (d.runs < until) {
      d.log.step(d.rnd.int(0, 3)) // sometimes nothing new: the run must then write nothing
      d.runs++
      const push = d.runs % PUSH_EVERY === 0
      const r = await run(d, push ? ['record', '--json'] : ['record', '--no-push', '--json'])
      if (r.code === 0) {
        const o = JSON.parse(r.stdout) as { commit: string | null; pushed: boolean }
        if (o.commit) d.commits++
        if (o.pushed) d.pushes++
      }
      if (d.runs % FETCH_EVERY === 0) {
        // While the other device records and pushes: exit 0 and no integrity findings.
        const f = await run(d, ['fetch', '--json'])
        d.fetches++
        if (f.code === 0) {
          const errors = (JSON.parse(f.stdout) as { findings: Array<{ severity: string }> }).findings.filter(
            (x) => x.severity === 'error',
          )
          if (errors.length) d.failures.push(`${d.name} fetch findings: ${JSON.stringify(errors)}`)
        }
      }
    }
  }

  for (let until = CHECKPOINT_EVERY; until <= RUNS_PER_DEVICE; until += CHECKPOINT_EVERY) {
    await Promise.all([stream(a, until), stream(b, until)])
    const final = until === RUNS_PER_DEVICE
    if (final) {
      a.log.settle()
      b.log.settle()
    }
    // Checkpoint: both deliver and fetch everything, then both must see exactly the truth.
    await Promise.all([run(a, ['record']), run(b, ['record'])])
    await Promise.all([run(a, ['fetch']), run(b, ['fetch'])])
    a.fetches++
    b.fetches++
    t.same([...a.failures, ...b.failures], [], `after ${until} runs per device: every run exited 0, no fetch finding`)
    a.failures.length = b.failures.length = 0
    const want = truth.days()
    for (const d of [a, b]) {
      const rep = await reportDays(d.env)
      t.same(rep.days, want, `after ${until} runs per device: ${d.name}'s report exact per UTC day`)
      if (final) t.same(rep.totals, truth.totals(), `${d.name}'s final report --json totals exact`)
    }
    const [ta, tb] = await Promise.all(
      [a, b].map(async (d) => (await gitA(d.gitdir, ['rev-parse', 'refs/heads/merged^{tree}'])).trim()),
    )
    t.equal(ta, tb, `after ${until} runs per device: the same merged tree on both`)
    for (const [name, gitdir] of [
      ['store a', a.gitdir],
      ['store b', b.gitdir],
      ['remote', bare],
    ] as const) {
      t.same(await fsckProblems(gitdir), [], `after ${until} runs per device: git fsck --strict clean on ${name}`)
    }
    for (const d of [a, b]) {
      const ref = `refs/heads/ledger/${d.id}`
      t.same(
        (await historyProblems(bare, ref)).problems,
        [],
        `after ${until} runs per device: ${d.name}'s branch on the remote is append-only`,
      )
      t.same(
        (await ledgerLines(bare, ref)).problems,
        [],
        `after ${until} runs per device: no copy written twice on ${d.name}'s branch`,
      )
    }
    // A synced ~/.claude: some responses of each machine show up on the other as well.
    if (!final) {
      a.log.importClaude(b.log.recentFinals(3))
      b.log.importClaude(a.log.recentFinals(3))
    }
  }

  const runs = a.runs + b.runs
  t.equal(runs, 2 * RUNS_PER_DEVICE, 'every run was made')
  t.comment(
    `soak: ${runs} record runs (${a.commits + b.commits} commits, ${a.pushes + b.pushes} pushed), ${a.log.lines + b.log.lines} lines appended (${a.log.usageLines + b.log.usageLines} with usage), ${a.fetches + b.fetches} fetches; ${truth.totals().records} records, ${truth.totals().totalTokens} tokens`,
  )
})
