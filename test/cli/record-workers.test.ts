/**
 * `record` with its sources parsed on worker threads (USAGE_LEDGER_WORKERS forces them on a
 * small tree) writes the ledger one thread writes, and a run killed at any moment, workers
 * running or not, loses nothing and doubles nothing.
 */
import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { cli, copyFixtures, git, isolatedEnv, pick, startCli, type Totals } from '../helpers/cli.js'
import { killGroup } from '../helpers/spawn.js'

const DEVICE = 'b'.repeat(32)

/** fixtures/claude and codex, and a second copy of the Claude dir: every response read twice. */
function setup(dir: string, workers: string) {
  copyFixtures(dir)
  fs.cpSync(path.join(dir, 'claude'), path.join(dir, 'claude2'), { recursive: true })
  const env = isolatedEnv(dir, {
    USAGE_LEDGER_DEVICE_ID: DEVICE,
    CLAUDE_CONFIG_DIR: `${path.join(dir, 'claude')},${path.join(dir, 'claude2')}`,
    USAGE_LEDGER_WORKERS: workers,
    USAGE_LEDGER_LOCK_TIMEOUT: '5',
  })
  return { env, gitdir: path.join(dir, 'store', 'repo.git') }
}

/** The branch's files but device.json (which names the store's install), with their blob ids. */
const ledgerFiles = (gitdir: string) =>
  git(gitdir, ['ls-tree', '-r', `refs/heads/ledger/${DEVICE}`])
    .split('\n')
    .filter((l) => l && !l.endsWith('/device.json'))

const record = async (env: Record<string, string | undefined>) => {
  const r = await cli(['--git', 'system', 'record', '--no-push', '--json'], { env })
  if (r.code !== 0) throw new Error(r.stderr)
  const { commit: _commit, ...rest } = JSON.parse(r.stdout) as Record<string, unknown>
  return rest
}

async function dailyTotals(env: Record<string, string | undefined>): Promise<Record<string, Totals>> {
  const r = await cli(['report', 'daily', '--json', '--tz', 'UTC'], { env })
  if (r.code !== 0) throw new Error(r.stderr)
  const rows = (JSON.parse(r.stdout) as { rows: Array<Record<string, unknown>> }).rows
  return Object.fromEntries(rows.map((row) => [row.period as string, pick(row)]))
}

const appendCopy = (dir: string, id: string) => {
  const file = path.join(dir, 'claude/projects/-home-ana-src-app/b1f4c2de-7a31-4e0b-9c55-0d2e8f6a1c01.jsonl')
  const line = fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .find((l) => l.includes('"usage"') && l.includes('"type":"assistant"'))!
  fs.appendFileSync(file, `${line.replace(/"id":"msg_[^"]*"/, `"id":"${id}"`)}\n`)
}

t.test('with workers, record writes the ledger one thread writes, first run and increment', async (t) => {
  const root = t.testdir({})
  const one = setup(path.join(root, 'one'), '0')
  const par = setup(path.join(root, 'par'), '2')
  const [a1, a2] = [await record(one.env), await record(par.env)]
  t.ok((a1.appended as number) > 0 && (a1.duplicates as number) > 0, 'records and copies')
  t.same(a2, a1, 'the same summary (counts, days, parts, sources)')
  t.same(ledgerFiles(par.gitdir), ledgerFiles(one.gitdir), 'the same parts and manifest, blob for blob')

  appendCopy(path.join(root, 'one'), 'msg_workers_later')
  appendCopy(path.join(root, 'par'), 'msg_workers_later')
  const [b1, b2] = [await record(one.env), await record(par.env)]
  t.equal(b1.appended, 1)
  t.same(b2, b1, 'the increment alike')
  t.same(ledgerFiles(par.gitdir), ledgerFiles(one.gitdir))
})

t.test('record with workers killed at any moment: nothing lost, nothing doubled', async (t) => {
  const root = t.testdir({})
  const ref = setup(path.join(root, 'ref'), '0')
  await record(ref.env)
  const want = await dailyTotals(ref.env)

  const par = setup(path.join(root, 'par'), '2')
  const started = Date.now()
  await record(setup(path.join(root, 'timing'), '2').env)
  const duration = Date.now() - started
  let killed = 0
  for (let k = 1; k <= 6; k++) {
    const s = startCli(['--git', 'system', 'record', '--no-push'], { env: par.env, stdin: 'ignore', detached: true })
    const timer = setTimeout(() => killGroup(s.child), Math.round((duration * k) / 7))
    const res = await s.done
    clearTimeout(timer)
    if (res.signal === 'SIGKILL') killed++
  }
  t.comment(`${killed} of 6 runs killed (a clean run takes ${duration} ms)`)
  await record(par.env)
  t.same(await dailyTotals(par.env), want, 'per-day totals as one clean run on one thread')
  const again = await record(par.env)
  t.equal(again.appended, 0, 'nothing left to add')
})
