/**
 * Issue 7: runs killed with SIGKILL at random moments lose nothing and double nothing.
 *
 * Device A records from growing sources into a store with an HTTP remote (the real smart-HTTP
 * server of test/helpers/git-server.ts); device B pushes its own usage so that A's fetches have
 * work. 50 runs of A are killed — the whole process group, git children included — during
 * `record --no-push`, during the push of `record` (after the server saw the push start) and
 * during `fetch` (after the server saw the fetch start), each after a random delay within
 * that phase's measured duration. After every kill a clean run (`record` or `fetch`, with
 * USAGE_LEDGER_LOCK_TIMEOUT=5, so a stale lock that blocked would fail it) must succeed, and
 * the totals, the append-only history and `git fsck --strict` of store and remote are checked.
 *
 * The seed is printed; FAULT_SEED=<seed> replays the same appends, delays and backends.
 */
import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { cli, expected, isolatedEnv, startCli, sumDays } from '../helpers/cli.js'
import { machine } from '../helpers/machine.js'
import { startGitServer, type GitServer } from '../helpers/git-server.js'
import { rng } from '../helpers/random.js'
import { SourceLog, Truth } from '../helpers/sources.js'
import {
  fsckProblems,
  historyProblems,
  ledgerLines,
  partsAt,
  partsChanged,
  reportDays,
  tempDir,
} from '../helpers/ledger-checks.js'
import { gitA, killGroup, type Proc } from '../helpers/spawn.js'

const TOKEN = 'kill-test-token-5f1e'
const A = 'a1'.repeat(16),
  B = 'b2'.repeat(16)
const KILLS = { record: 17, push: 17, fetch: 16 }
type Phase = keyof typeof KILLS

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

t.test('50 runs killed with SIGKILL at random moments: nothing lost, nothing doubled, no stale lock', async (t) => {
  const rnd = rng()
  t.comment(`seed ${rnd.seed} (FAULT_SEED=${rnd.seed} replays it)`)
  const root = tempDir(t, 'kill')
  const server: GitServer = await startGitServer({ root: path.join(root, 'srv'), token: TOKEN })
  t.teardown(() => server.close())
  const bare = server.createBare('ledger')
  const url = server.repoUrl('ledger')

  const env = { USAGE_LEDGER_TOKEN: TOKEN, USAGE_LEDGER_LOCK_TIMEOUT: '5' }
  const a = machine(root, 'a', { id: A, sources: ['claude', 'codex'], env })
  const b = machine(root, 'b', { id: B, env })
  const exp = expected()
  const truthA = new Truth(sumDays(exp['claude-code'].days, exp.codex.days))
  const truthB = new Truth()
  const logA = new SourceLog(a.dir, rnd, truthA, { start: '2026-11-21T22:00:00.000Z', fixtureFiles: true })
  const logB = new SourceLog(b.dir, rnd, truthB, { start: '2026-11-21T21:00:00.000Z' })

  // Runs see the generated logs' clock (they span days, the more so the more runs finish before
  // their kill): a record dated more than 24 hours after now is refused, as on the real machine.
  const envOf = (m: typeof a) => ({ ...m.env, USAGE_LEDGER_NOW: (m === b ? logB : logA).now })
  const ok = async (m: typeof a, args: string[], what: string) => {
    const r = await cli(args, { env: envOf(m) })
    if (r.code !== 0) throw new Error(`${what}: ${args.join(' ')} exited ${r.code}: ${r.stderr}`)
    return r
  }
  await ok(a, ['init', '--remote', url], 'init a')
  await ok(b, ['init', '--remote', url], 'init b')

  /** The index of the first server request at or after `from` that `match`es, once it arrives. */
  const requestSeen = (from: number, match: RegExp) => () => server.requests.slice(from).some((r) => match.test(r.path))

  /**
   * Starts A's CLI and kills its process group `delay` ms after `trigger` first holds (polled
   * every millisecond). Returns the run's result; `signal` is SIGKILL when the kill hit it.
   */
  const runAndKill = async (
    args: string[],
    trigger: () => boolean,
    delay: number,
  ): Promise<{ res: Proc; startedAt: number; triggeredAt: number | null }> => {
    const startedAt = Date.now()
    const s = startCli(args, { env: envOf(a), stdin: 'ignore', detached: true })
    let triggeredAt: number | null = null
    let timer: NodeJS.Timeout | undefined
    const poll = setInterval(() => {
      if (triggeredAt !== null || !trigger()) return
      triggeredAt = Date.now()
      timer = setTimeout(() => killGroup(s.child), delay)
    }, 1)
    const res = await s.done
    clearInterval(poll)
    clearTimeout(timer) // never signal a process group id that may be reused
    return { res, startedAt, triggeredAt }
  }

  const always = () => true
  const PUSH = /git-receive-pack/
  const FETCH = /git-upload-pack/

  // Calibration: how long each phase takes here, from clean runs (which are part of the workload).
  const durations: Record<Phase, number[]> = { record: [], push: [], fetch: [] }
  for (let i = 0; i < 3; i++) {
    logA.step(rnd.int(2, 8))
    let r = await runAndKill(['record', '--no-push', '--json'], always, 1e9)
    t.equal(r.res.code, 0, r.res.stderr)
    durations.record.push(Date.now() - r.startedAt)
    logA.step(rnd.int(2, 8))
    let n = server.requests.length
    r = await runAndKill(['record', '--json'], requestSeen(n, PUSH), 1e9)
    t.equal(r.res.code, 0, r.res.stderr)
    if (r.triggeredAt) durations.push.push(Date.now() - r.triggeredAt)
    logB.step(rnd.int(2, 8))
    await ok(b, ['record'], 'b record')
    n = server.requests.length
    r = await runAndKill(['fetch', '--json'], requestSeen(n, FETCH), 1e9)
    t.equal(r.res.code, 0, r.res.stderr)
    if (r.triggeredAt) durations.fetch.push(Date.now() - r.triggeredAt)
  }
  const window = { record: median(durations.record), push: median(durations.push), fetch: median(durations.fetch) }
  t.comment(
    `phase windows (ms, median of 3 clean runs): record ${window.record}, push ${window.push}, fetch ${window.fetch}`,
  )

  const plan = rnd.shuffle(Object.entries(KILLS).flatMap(([phase, n]) => Array<Phase>(n).fill(phase as Phase)))
  const killed: Record<Phase, number> = { record: 0, push: 0, fetch: 0 }
  let missed = 0
  const backends = { system: 0, iso: 0 }
  let prevParts = new Map<string, string>()
  const refA = `refs/heads/ledger/${A}`
  let failures = 0
  const effects = { staleLock: 0, committed: 0, pushed: 0, fetched: 0 }

  for (const [i, phase] of plan.entries()) {
    const backend = rnd.chance(0.3) ? 'iso' : 'system'
    const git = ['--git', backend]
    const head = async (gitdir: string, ref: string) =>
      (await gitA(gitdir, ['for-each-ref', '--format=%(objectname)', ref])).trim()
    const refB = `refs/heads/ledger/${B}`
    let before = { local: '', remote: '', b: '' }
    // Until the kill lands inside the run: a run that finishes first counts as missed and is run
    // again with half the delay, so a kill lands within a few attempts (at 0 ms, the moment the
    // phase starts); only a run with nothing to push or fetch needs more.
    const windowMs = phase === 'fetch' ? window.fetch : Math.floor(window[phase] * 0.8)
    let delay = rnd.int(0, windowMs)
    for (let attempt = 0; ; attempt++, delay = Math.floor(delay / 2)) {
      before = { local: await head(a.gitdir, refA), remote: await head(bare, refA), b: await head(a.gitdir, refB) }
      if (attempt === 20) throw new Error(`${phase}: 20 runs in a row finished before their kill`)
      let r: Awaited<ReturnType<typeof runAndKill>>
      if (phase === 'record') {
        logA.step(rnd.int(1, 10))
        r = await runAndKill([...git, 'record', '--no-push', '--json'], always, delay)
      } else if (phase === 'push') {
        logA.step(rnd.int(1, 10))
        const n = server.requests.length
        r = await runAndKill([...git, 'record', '--json'], requestSeen(n, PUSH), delay)
      } else {
        logB.step(rnd.int(1, 10))
        await ok(b, ['record'], 'b record')
        const n = server.requests.length
        r = await runAndKill([...git, 'fetch', '--json'], requestSeen(n, FETCH), delay)
      }
      if (r.res.signal === 'SIGKILL') break
      if (r.res.code !== 0) throw new Error(`${phase} run exited ${r.res.code} without being killed: ${r.res.stderr}`)
      missed++
    }
    killed[phase]++
    backends[backend]++
    // What the killed run got done before it died.
    if (fs.existsSync(path.join(a.dir, 'store/state/lock'))) effects.staleLock++
    if ((await head(a.gitdir, refA)) !== before.local) effects.committed++
    if ((await head(bare, refA)) !== before.remote) effects.pushed++
    if ((await head(a.gitdir, refB)) !== before.b) effects.fetched++

    // The clean follow-up: must not be blocked by what the killed run left behind.
    const follow = phase === 'fetch' ? [...git, 'fetch', '--json'] : [...git, 'record', '--json']
    const f = await cli(follow, { env: envOf(a) })
    const label = `kill ${i + 1} (${phase}, ${backend})`
    if (!t.equal(f.code, 0, `${label}: the follow-up ${follow.slice(2).join(' ')} succeeds\n${f.stderr}`)) failures++
    if (f.code === 0 && phase !== 'fetch') {
      const o = JSON.parse(f.stdout) as { pending: number }
      t.equal(o.pending, 0, `${label}: the follow-up delivered every pending commit`)
    }
    if (f.code === 0 && phase === 'fetch') {
      const o = JSON.parse(f.stdout) as { findings: Array<{ severity: string; code: string }> }
      t.same(
        o.findings.filter((x) => x.severity === 'error'),
        [],
        `${label}: the follow-up fetch has no error findings`,
      )
    }
    t.notOk(fs.existsSync(path.join(a.dir, 'store/state/lock')), `${label}: no lock left after the follow-up`)

    // A's own records exact (reports read the index, which a killed fetch may have left half-updated).
    const mine = await reportDays(a.env, ['--device', A])
    if (!t.same(mine.days, truthA.days(), `${label}: A's own totals exact`)) failures++
    if (phase === 'fetch')
      t.same(
        (await reportDays(a.env)).days,
        sumDays(truthA.days(), truthB.days()),
        `${label}: after the fetch, every device exact`,
      )
    t.same(await fsckProblems(a.gitdir), [], `${label}: git fsck --strict clean on the store`)
    t.same(await fsckProblems(bare), [], `${label}: git fsck --strict clean on the remote`)
    const hist = await historyProblems(a.gitdir, refA)
    t.same(hist.problems, [], `${label}: A's history append-only`)
    const parts = await partsAt(a.gitdir, refA)
    t.same(partsChanged(prevParts, parts), [], `${label}: no earlier part changed`)
    prevParts = parts
    if (failures > 3) break // enough to diagnose; the rest would repeat it
  }

  // Both devices finish: every line complete, recorded, pushed and fetched.
  logA.settle()
  logB.settle()
  await ok(b, ['record'], 'final b record')
  const last = JSON.parse((await ok(a, ['record', '--json'], 'final a record')).stdout) as { pending: number }
  t.equal(last.pending, 0, 'A has nothing pending')
  await ok(a, ['fetch'], 'final a fetch')
  const want = sumDays(truthA.days(), truthB.days())
  const rep = await reportDays(a.env)
  t.same(rep.days, want, 'A: every device exact per UTC day')
  t.same(rep.totals, sumDays({ all: truthA.totals() }, { all: truthB.totals() }).all, 'A: report --json totals exact')
  const fresh = machine(root, 'c', { id: 'c3'.repeat(16), env })
  await ok(fresh, ['init', '--remote', url], 'init of a fresh machine')
  t.same(
    (await reportDays(fresh.env)).days,
    want,
    'a fresh machine sees every device exact: nothing was lost on the remote',
  )
  for (const [name, gitdir] of [
    ['store A', a.gitdir],
    ['store B', b.gitdir],
    ['fresh store', fresh.gitdir],
    ['remote', bare],
  ] as const) {
    t.same(await fsckProblems(gitdir), [], `git fsck --strict clean: ${name}`)
  }
  for (const [id, gitdir] of [
    [A, bare],
    [B, bare],
    [A, a.gitdir],
  ] as const) {
    const ref = `refs/heads/ledger/${id}`
    t.same(
      (await historyProblems(gitdir, ref)).problems,
      [],
      `append-only history of ${id.slice(0, 4)}… in ${gitdir === bare ? 'the remote' : 'store A'}`,
    )
    t.same(
      (await ledgerLines(gitdir, ref)).problems,
      [],
      `no copy written twice on ${id.slice(0, 4)}…'s branch in ${gitdir === bare ? 'the remote' : 'store A'}`,
    )
  }
  t.equal(
    (await gitA(bare, ['rev-parse', refA])).trim(),
    (await gitA(a.gitdir, ['rev-parse', refA])).trim(),
    "the remote has A's head",
  )

  const total = killed.record + killed.push + killed.fetch
  t.equal(total, 50, '50 runs killed')
  t.comment(
    `faults: ${total} runs killed (${killed.record} during record, ${killed.push} during push, ${killed.fetch} during fetch); ${missed} runs finished before their kill; backends: ${backends.system} system, ${backends.iso} iso; killed runs left ${effects.staleLock} stale locks, ${effects.committed} commits, ${effects.pushed} remote updates, ${effects.fetched} fetched heads; ${logA.lines + logB.lines} lines appended; ${truthA.totals().records + truthB.totals().records} records`,
  )
})

/** A Claude Code assistant line in the real envelope (fixtures/FORMATS.md §1). */
function claudeLine(o: {
  id: string
  req: string
  ts: string
  output: number
  sidechain?: boolean
  session: string
  agent?: string
}): string {
  return `${JSON.stringify({
    parentUuid: null,
    isSidechain: o.sidechain ?? false,
    userType: 'external',
    cwd: '/home/ana/src/app',
    sessionId: o.session,
    version: '2.0.37',
    gitBranch: 'main',
    ...(o.sidechain ? { agentId: o.agent, slug: 'quiet-sorting-heron' } : {}),
    message: {
      model: 'claude-sonnet-4-5-20250929',
      id: o.id,
      type: 'message',
      role: 'assistant',
      content: [{ type: 'text', text: 'done' }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: {
        input_tokens: 3,
        cache_creation_input_tokens: 200,
        cache_read_input_tokens: 5000,
        cache_creation: { ephemeral_5m_input_tokens: 200, ephemeral_1h_input_tokens: 0 },
        output_tokens: o.output,
        service_tier: 'standard',
      },
    },
    requestId: o.req,
    type: 'assistant',
    uuid: `${o.id}-${o.req}`,
    timestamp: o.ts,
  })}\n`
}

t.test(
  'runs killed just after their commit, then sidechain replays and a rename: every response counts once',
  async (t) => {
    const dir = tempDir(t, 'kill-window')
    fs.mkdirSync(path.join(dir, 'home'), { recursive: true })
    const id = 'd4'.repeat(16)
    const env = isolatedEnv(dir, { USAGE_LEDGER_DEVICE_ID: id, USAGE_LEDGER_LOCK_TIMEOUT: '5' })
    const session = 'c27e9a10-5b42-4f8d-a1e3-3f9b2c7d5e02'
    const project = path.join(dir, 'claude/projects/-home-ana-src-app')
    const main = path.join(project, `${session}.jsonl`)
    const agents = path.join(project, session, 'subagents')
    fs.mkdirSync(agents, { recursive: true })
    const ref = path.join(dir, `store/repo.git/refs/heads/ledger/${id}`)
    const knownHead = path.join(dir, 'store/state/known/HEAD')
    const msgs: Array<{ id: string; req: string; ts: string; output: number }> = []
    const add = (i: number) => {
      const m = {
        id: `msg_01Kill${String(i).padStart(4, '0')}`,
        req: `req_011CKill${i}`,
        ts: `2026-11-21T10:${String(i).padStart(2, '0')}:00.000Z`,
        output: 100 + i,
      }
      msgs.push(m)
      fs.appendFileSync(main, claudeLine({ ...m, session }))
    }
    for (let i = 0; i < 3; i++) add(i)
    t.equal((await cli(['--git', 'system', 'record', '--no-push'], { env })).code, 0)

    // Each run is killed the moment its commit lands on the branch, before its caches are written.
    let inWindow = 0
    for (let i = 3; i < 8; i++) {
      add(i)
      const before = fs.readFileSync(ref, 'utf8')
      const s = startCli(['--git', 'system', 'record', '--no-push'], { env, stdin: 'ignore', detached: true })
      const poll = setInterval(() => {
        let now = ''
        try {
          now = fs.readFileSync(ref, 'utf8')
        } catch {
          /* being replaced */
        }
        if (now && now !== before) {
          clearInterval(poll)
          killGroup(s.child)
        }
      }, 0)
      const res = await s.done
      clearInterval(poll)
      const stamp = fs.existsSync(knownHead) ? fs.readFileSync(knownHead, 'utf8').trim() : ''
      if (res.signal === 'SIGKILL' && stamp.split(' ')[0] !== fs.readFileSync(ref, 'utf8').trim()) inWindow++
      const f = await cli(['--git', 'system', 'record', '--no-push'], { env })
      t.equal(f.code, 0, f.stderr)
    }
    t.comment(`${inWindow} of 5 kills landed between the branch update and the known-ids cache`)

    // Subagent transcripts replay earlier main messages, with the same and with another requestId.
    const replay = (file: string, from: number, to: number) => {
      for (let i = from; i < to; i++) {
        const m = msgs[i]!
        fs.appendFileSync(
          path.join(agents, file),
          claudeLine({
            ...m,
            session,
            sidechain: true,
            agent: 'a3f9c1e',
            req: i % 2 ? m.req : `req_011C${file.slice(6, 13)}${i}`,
          }),
        )
      }
    }
    replay('agent-a3f9c1e.jsonl', 0, 8)
    t.equal((await cli(['--git', 'system', 'record', '--no-push'], { env })).code, 0)
    t.equal((await cli(['devices', 'rename', 'renamed-laptop'], { env })).code, 0)
    replay('agent-b71e0d4.jsonl', 0, 8)
    t.equal((await cli(['--git', 'system', 'record', '--no-push'], { env })).code, 0)

    const rep = await reportDays(env)
    const n = msgs.length,
      output = msgs.reduce((s, m) => s + m.output, 0)
    t.same(
      rep.totals,
      { records: n, input: 3 * n, output, cacheWrite: 200 * n, cacheRead: 5000 * n, totalTokens: 5203 * n + output },
      'each response once: the replays added nothing',
    )
    t.same(await fsckProblems(path.join(dir, 'store/repo.git')), [], 'git fsck --strict clean')
  },
)
