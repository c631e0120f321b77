/**
 * Network faults through the real HTTP test remote (test/helpers/git-server.ts), for both git
 * backends: a refused connection, HTTP 500 in the middle of a push (before and after the server
 * took the pack), a connection cut mid-answer, a silent and a stalled server (the
 * USAGE_LEDGER_NET_TIMEOUT watchdog), a wrong token. After each fault and after the clean run
 * that follows: nothing recorded is lost or doubled (independent expected totals, locally and
 * as a fresh machine sees the remote), the remote passes `git fsck --strict`, every failure is
 * one line with its exit code. Git is only ever spawned asynchronously here: this process
 * serves the remote.
 */
import t, { type Test } from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { expected } from '../helpers/cli.js'
import {
  startGitServer,
  type GitServer,
  type GitServerFaultRule,
  type GitServerRequest,
} from '../helpers/git-server.js'
import {
  TOKEN,
  addTotals,
  deviceTotals,
  failsWithOneLine,
  leaksInFiles,
  leaksInText,
  refOf,
  stdinRecord,
  storeTotals,
  succeeded,
  transcript,
  ul,
} from './harness.js'
import { fsckProblems, tempDir } from '../helpers/ledger-checks.js'
import { type Machine, machine } from '../helpers/machine.js'
import { gitAsync } from '../helpers/spawn.js'
import type { Totals } from '../helpers/cli.js'
import { GENESIS_OID } from '../../lib/git/genesis.js'

/** USAGE_LEDGER_NET_TIMEOUT (seconds without a byte) for the runs under a fault; clean runs keep the default (30). */
const NET_TIMEOUT = '5'
const SHORT_TIMEOUT = '1' // for the silent and the stalled server
const ID = { system: 'a1'.repeat(16), iso: 'b2'.repeat(16), observer: 'c3'.repeat(16), auth: 'd4'.repeat(16) }

const root = tempDir(t, 'network')
let server: GitServer
t.before(async () => {
  server = await startGitServer({ root: path.join(root, 'srv'), token: TOKEN })
})
t.teardown(() => server?.close())

const receivePack = (r: GitServerRequest) => r.method === 'POST' && r.path.endsWith('/git-receive-pack')
const infoRefs = (r: GitServerRequest) => r.path.includes('/info/refs')

interface Fault {
  name: string
  /** Injects the fault; returns how to remove it. */
  set(): Promise<() => Promise<void>>
  /** What the one line of a failed push says. */
  says: RegExp
  /** The server takes the pack but the client hears a failure: the remote may be ahead of what the client knows. */
  landsAnyway?: boolean
  /** Also breaks fetch (the fault hits every request, not just the push's). */
  breaksFetch?: boolean
  /** Environment for the faulty runs (a wrong token). */
  env?: Record<string, string>
}

const rule = (f: GitServerFaultRule) => async () => {
  server.setFault(f)
  return async () => server.setFault(null)
}

const FAULTS: Fault[] = [
  {
    name: 'connection refused (server down)',
    set: async () => {
      await server.setDown(true)
      return () => server.setDown(false)
    },
    says: /unreachable.*(refused|connect|ECONNREFUSED).*pushed next time/i,
    breaksFetch: true,
  },
  {
    name: 'HTTP 500 on the pack upload (mid-push)',
    set: rule((r) => (receivePack(r) ? { status: 500 } : undefined)),
    says: /HTTP 500.*pushed next time/,
  },
  {
    name: 'HTTP 500 after the server took the pack',
    set: rule((r) => (receivePack(r) ? { statusAfterBackend: 500 } : undefined)),
    says: /HTTP 500.*pushed next time/,
    landsAnyway: true,
  },
  {
    name: 'HTTP 500 on every request',
    set: rule(() => ({ status: 500 })),
    says: /HTTP 500/,
    breaksFetch: true,
  },
  {
    name: 'connection cut in the middle of the ref advertisement',
    set: rule((r) => (infoRefs(r) ? { closeAfterBytes: 40 } : undefined)),
    says: /unreachable.*pushed next time/,
    breaksFetch: true,
  },
  {
    name: 'connection cut in the middle of the push report',
    set: rule((r) => (receivePack(r) ? { closeAfterBytes: 6 } : undefined)),
    says: /unreachable.*pushed next time/,
    landsAnyway: true,
  },
  {
    name: 'a server that answers nothing',
    set: rule(() => ({ delayMs: 120_000 })),
    says: /timed out.*USAGE_LEDGER_NET_TIMEOUT/,
    breaksFetch: true,
    env: { USAGE_LEDGER_NET_TIMEOUT: SHORT_TIMEOUT },
  },
  {
    name: 'a wrong token',
    set: async () => async () => {},
    says: /refused the credentials.*USAGE_LEDGER_TOKEN/,
    breaksFetch: true,
    env: { USAGE_LEDGER_TOKEN: `not-the-token-${TOKEN.slice(-6)}` },
  },
]

/** The checks after every step: the device's own totals, and fsck of the remote. */
async function invariants(t: Test, dev: Machine, bare: string, want: Totals, label: string) {
  t.same(await storeTotals(dev.env), want, `${label}: the device's own totals are exact (nothing lost or doubled)`)
  t.same(await fsckProblems(bare), [], `${label}: the remote passes git fsck --strict`)
}

for (const backend of ['system', 'iso'] as const) {
  t.test(`${backend} backend: every network fault keeps the records and delivers them once`, async (t) => {
    const bare = server.createBare(`ledger-${backend}`)
    const url = server.repoUrl(`ledger-${backend}`)
    const g = ['--git', backend]
    const dev = machine(root, backend, { id: ID[backend], sources: ['claude'], env: { USAGE_LEDGER_TOKEN: TOKEN } })
    const observer = machine(root, `observer-${backend}`, { id: ID.observer, env: { USAGE_LEDGER_TOKEN: TOKEN } })
    const ref = `refs/heads/ledger/${ID[backend]}`

    succeeded(t, await ul([...g, 'init', '--remote', url], dev.env))
    t.match(JSON.parse(succeeded(t, await ul([...g, 'record', '--json'], dev.env)).stdout), {
      pushed: true,
      pending: 0,
    })
    let want: Totals = { ...expected()['claude-code'].totals }
    await invariants(t, dev, bare, want, 'clean start')
    succeeded(t, await ul(['init', '--remote', url], observer.env))

    let n = 0
    for (const fault of FAULTS) {
      n++
      const label = fault.name
      const rec = stdinRecord(`2026-11-21T1${n % 10}:${String(n).padStart(2, '0')}:00Z`, 1000 + n, 10 + n, 5 * n)
      const remoteBefore = await refOf(bare, ref)
      const env = { ...dev.env, USAGE_LEDGER_NET_TIMEOUT: NET_TIMEOUT, ...fault.env }
      const clear = await fault.set()
      let cleared = false
      try {
        // record: the commit is made and kept; the push fails softly (exit 0, pending).
        const r = await ul([...g, 'record', '--stdin', '--source', 'net-test', '--json'], env, { input: rec.line })
        succeeded(t, r, `${label}: record`)
        const j = r.code === 0 ? JSON.parse(r.stdout) : {}
        t.match(j, { appended: 1, pushed: false }, `${label}: record committed the new record and did not push it`)
        t.ok(j.pending >= 1, `${label}: the commit is pending`)
        want = addTotals(want, rec.totals)
        const localHead = await refOf(dev.gitdir, ref)
        const landed = async () => fault.landsAnyway === true && (await refOf(bare, ref)) === localHead

        // Again, in text: the same line adds nothing; one line says the commit is pending and why.
        const again = succeeded(
          t,
          await ul([...g, 'record', '--stdin', '--source', 'net-test'], env, { input: rec.line }),
          `${label}: record again`,
        )
        t.match(again.stderr, /nothing new/, `${label}: re-recording the same line adds nothing`)
        const pendingLines = again.stderr.split('\n').filter((l) => /pending/.test(l))
        if ((await landed()) && /pushed to/.test(again.stderr)) {
          t.equal(pendingLines.length, 0, `${label}: the server had taken the pack; the next record found it there`)
        } else {
          t.equal(
            pendingLines.length,
            1,
            `${label}: one line says the commit is pending${pendingLines.length === 1 ? '' : `\n${again.stderr}`}`,
          )
          t.match(pendingLines[0] ?? '', fault.says, `${label}: and why`)
        }

        // push: exit 1 with one line naming the remote, unless the remote already holds the commit.
        const p = await ul([...g, 'push', ...(n % 2 ? ['--quiet'] : [])], env)
        if (await landed()) {
          t.ok(
            p.code === 0 || p.code === 1,
            `${label}: the server holds the commit; push finds it there or reports the fault`,
          )
          if (p.code === 1) failsWithOneLine(t, p, 1, fault.says, `${label}: push`)
        } else {
          failsWithOneLine(t, p, 1, fault.says, `${label}: push`)
          t.match(p.stderr, url, `${label}: the line names the remote`)
          t.equal(await refOf(bare, ref), remoteBefore, `${label}: the remote branch did not move`)
        }

        if (fault.breaksFetch) failsWithOneLine(t, await ul([...g, 'fetch'], env), 1, fault.says, `${label}: fetch`)
        await invariants(t, dev, bare, want, `${label}, during the fault`)
        await clear()
        cleared = true

        // The clean follow-up delivers exactly what was pending, once.
        const ok = JSON.parse(
          succeeded(t, await ul([...g, 'push', '--json'], dev.env), `${label}: push after the fault`).stdout || '{}',
        )
        t.equal(ok.pending, 0, `${label}: nothing pending any more`)
        t.equal(
          await refOf(bare, ref),
          localHead,
          `${label}: the remote holds the local head (whose totals were just checked)`,
        )
        t.same(await fsckProblems(bare), [], `${label}, after the clean run: the remote passes git fsck --strict`)
      } finally {
        if (!cleared) await clear()
      }
    }
    t.same(await storeTotals(dev.env), want, "the device's own totals at the end")
    succeeded(t, await ul(['fetch'], observer.env), 'another machine fetches')
    t.same((await deviceTotals(observer.env))[ID[backend]], want, 'it sees every record exactly once')
    const commits = await gitAsync(bare, ['rev-list', '--count', ref, `^${GENESIS_OID}`])
    t.equal(
      commits.stdout.trim(),
      String(1 + FAULTS.length),
      'one commit per record run that found something new, none doubled',
    )
    t.comment(`${backend}: ${FAULTS.length} faults injected, ${want.records} records delivered exactly once`)
  })
}

t.test('a server that stalls mid-answer: push gives up with one line, the next push delivers', async (t) => {
  const bare = server.createBare('ledger-stall')
  const url = server.repoUrl('ledger-stall')
  const dev = machine(root, 'stall', { id: ID.auth, env: { USAGE_LEDGER_TOKEN: TOKEN } })
  const ref = `refs/heads/ledger/${ID.auth}`
  succeeded(t, await ul(['init', '--remote', url], dev.env))
  let want: Totals = { records: 0, input: 0, output: 0, cacheWrite: 0, cacheRead: 0, totalTokens: 0 }
  for (const backend of ['system', 'iso']) {
    const rec = stdinRecord(backend === 'iso' ? '2026-11-20T06:00:00Z' : '2026-11-20T07:00:00Z', 70, 30)
    succeeded(
      t,
      await ul(['--git', backend, 'record', '--stdin', '--source', 'stall', '--no-push'], dev.env, { input: rec.line }),
    )
    want = addTotals(want, rec.totals)
    server.setFault((r) => (infoRefs(r) ? { stallAfterBytes: 40 } : undefined))
    try {
      const p = await ul(['--git', backend, 'push'], { ...dev.env, USAGE_LEDGER_NET_TIMEOUT: SHORT_TIMEOUT })
      failsWithOneLine(t, p, 1, /timed out.*USAGE_LEDGER_NET_TIMEOUT/, `${backend}: push to a stalled server`)
      t.notOk(p.killed, `${backend}: it gave up by itself`)
    } finally {
      server.setFault(null)
    }
    t.same(await storeTotals(dev.env), want, `${backend}: nothing lost`)
    t.match(JSON.parse(succeeded(t, await ul(['--git', backend, 'push', '--json'], dev.env)).stdout), {
      pushed: true,
      pending: 0,
    })
    t.equal(await refOf(bare, ref), await refOf(dev.gitdir, ref), `${backend}: delivered`)
  }
  t.same(await fsckProblems(bare), [])
})

t.test('a slow server within the timeout is waited for', async (t) => {
  const bare = server.createBare('ledger-slow')
  const url = server.repoUrl('ledger-slow')
  // USAGE_LEDGER_NET_TIMEOUT well above the delay.
  const dev = machine(root, 'slow', { id: ID.auth, env: { USAGE_LEDGER_TOKEN: TOKEN, USAGE_LEDGER_NET_TIMEOUT: '10' } })
  succeeded(t, await ul(['init', '--remote', url], dev.env))
  server.setFault(() => ({ delayMs: 700 }))
  try {
    for (const backend of ['system', 'iso']) {
      const rec = stdinRecord(backend === 'iso' ? '2026-11-20T08:00:00Z' : '2026-11-20T09:00:00Z', 7, 3)
      const r = JSON.parse(
        succeeded(
          t,
          await ul(['--git', backend, 'record', '--stdin', '--source', 'slow', '--json'], dev.env, { input: rec.line }),
        ).stdout,
      )
      t.match(r, { appended: 1, pushed: true, pending: 0 }, `${backend}: pushed through a slow server`)
    }
  } finally {
    server.setFault(null)
  }
  t.same(await fsckProblems(bare), [])
})

t.test('a remote URL with credentials hand-written into config.json is refused, not printed', async (t) => {
  const dev = machine(root, 'creds', { id: ID.auth, env: { USAGE_LEDGER_TOKEN: TOKEN } })
  succeeded(
    t,
    await ul(['record', '--stdin', '--source', 'x', '--no-push'], dev.env, {
      input: stdinRecord('2026-11-20T10:00:00Z', 1, 1).line,
    }),
  )
  const cfg = path.join(dev.dir, 'store', 'config.json')
  const secretUrl = server.repoUrl('ledger-creds').replace('http://', `http://user:${TOKEN}@`)
  fs.writeFileSync(cfg, JSON.stringify({ ...JSON.parse(fs.readFileSync(cfg, 'utf8')), remote: secretUrl }))
  for (const cmd of [['push'], ['fetch'], ['status']]) {
    const r = await ul(cmd, dev.env)
    if (cmd[0] === 'status') {
      t.notMatch(r.stdout + r.stderr, TOKEN, 'status does not print it')
      continue
    }
    failsWithOneLine(t, r, 2, /carries credentials.*USAGE_LEDGER_TOKEN/, cmd.join(' '))
  }
  fs.rmSync(cfg) // it holds the token on purpose; the leak check below must not count it
})

t.test('no output of this file and no file of its machines holds the token', async (t) => {
  t.same(leaksInText(transcript), [], `the token is in none of ${transcript.length} outputs`)
  const { files, hits } = leaksInFiles(root, [path.join(root, 'srv')])
  t.same(hits, [], `the token is in none of ${files} files under the machines' homes and stores`)
  t.comment(`${transcript.length} CLI runs, ${files} files searched for the token`)
  if (process.env.FAULT_TIMINGS)
    for (const r of [...transcript].sort((a, b) => b.ms - a.ms).slice(0, 40))
      t.comment(`${r.ms} ms: ${r.args.join(' ')}`)
})
