/**
 * `npm run demo` exactly as the README tells a newcomer to run it: a loopback git server, three
 * devices, the per-device daily report and a clean verify. Its totals are checked against the
 * fixtures' hand-computed ones plus the three records the demo feeds through --stdin.
 */
import t from 'tap'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { expected, ROOT } from '../helpers/cli.js'
import { run } from '../helpers/spawn.js'

// The demo's --stdin records (scripts/demo.ts), summed by hand: input excludes cache reads.
const STDIN = {
  records: 3,
  input: 18_000 + 9_500 + 1_200,
  output: 2_400 + 1_100 + 800,
  cacheWrite: 30_000,
  cacheRead: 40_000 + 90_000,
}

t.test('npm run demo records three devices, prints the report by device and verifies', async (t) => {
  const r = await run('npm', ['run', 'demo', '--silent'], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' } })
  t.equal(r.code, 0, r.stderr)
  const table = r.stdout.split('== laptop: report daily --by device')[1]?.split('\n== ')[0] ?? ''
  for (const name of ['laptop', 'workstation', 'build-box'])
    t.match(table, new RegExp(`│ \\d{4}-\\d{2}-\\d{2} │ ${name} +│`), `a row of ${name}`)
  const exp = expected()
  const want = (k: 'records' | 'input' | 'output' | 'cacheWrite' | 'cacheRead') =>
    exp['claude-code'].totals[k] + exp.codex.totals[k] + STDIN[k]
  const total = /│ Total +│ +([\d,]+) │ +([\d,]+) │ +([\d,]+) │ +([\d,]+) │ +([\d,]+) │/.exec(table)
  t.ok(total, 'a total row')
  const n = (s: string) => Number(s.replace(/,/g, ''))
  t.same(
    total!.slice(1, 6).map(n),
    [want('records'), want('input'), want('output'), want('cacheWrite'), want('cacheRead')],
    'totals = both fixtures + the stdin records',
  )
  t.match(r.stdout, /^ok: 3 devices verified/m, 'verify passes')
  t.match(r.stdout, /the remote and the three machines are removed/)
  // esbuild names each bundled module in a comment: no test helper is in the demo.
  t.notMatch(
    fs.readFileSync(path.join(ROOT, 'dist/demo.cjs'), 'utf8'),
    /^\/\/ test\//m,
    'dist/demo.cjs bundles no test code',
  )
})

t.test('npm run demo -- --keep prints commands that work on what it kept', async (t) => {
  const r = await run('npm', ['run', 'demo', '--silent', '--', '--keep'], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: '1' },
  })
  t.equal(r.code, 0, r.stderr)
  const kept = /^== kept: (\S+)$/m.exec(r.stdout)?.[1]
  t.ok(kept && fs.existsSync(kept), 'it names the directory it kept')
  if (!kept) return
  t.teardown(() => fs.rmSync(kept, { recursive: true, force: true }))
  const after = r.stdout.split(`== kept: ${kept}\n`)[1] ?? ''
  const commands = after
    .split('\n')
    .filter((l) => l.startsWith('    '))
    .map((l) => l.trim())
  const stores = ['laptop', 'workstation', 'build-box'].map((name) => path.join(kept, name, 'store'))
  for (const store of stores)
    t.ok(
      commands.some((c) => c.includes(`--home ${store} report`)),
      `a report command with --home for ${path.basename(path.dirname(store))}`,
    )
  t.match(after, new RegExp(`^Remove it all with: rm -rf ${kept}$`, 'm'), 'and how to remove it')
  // Each printed command, run as a person would run it: from another directory, in a shell that
  // has none of the demo's variables (no USAGE_LEDGER_HOME, no device id, no token).
  const shellEnv = { PATH: process.env.PATH, HOME: t.testdir(), NO_COLOR: '1', TZ: 'UTC' }
  const outputs = new Map<string, string>()
  for (const c of commands) {
    const res = await run('sh', ['-c', c], { env: shellEnv, cwd: os.tmpdir() })
    t.equal(res.code, 0, `exit 0: ${c}`, { stderr: res.stderr })
    outputs.set(c, res.stdout)
  }
  const laptopReport = outputs.get(commands.find((c) => c.includes(`--home ${stores[0]} report`))!)!
  for (const name of ['laptop', 'workstation', 'build-box'])
    t.match(laptopReport, new RegExp(`│ \\d{4}-\\d{2}-\\d{2} │ ${name} +│`), `the laptop's report has ${name}`)
  t.match(
    outputs.get(commands.find((c) => c.includes(`--home ${stores[0]} status`))!)!,
    /^device +1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a \(laptop\)$/m,
    'the kept store still knows it is the laptop',
  )
  t.match(
    outputs.get(commands.find((c) => c.includes(`--home ${stores[0]} verify`))!)!,
    /^ok: 3 devices verified \(full check\)/m,
    'verify --full passes',
  )
  t.match(
    outputs.get(commands.find((c) => c.startsWith('git '))!)!,
    /record/,
    "the bare remote's log lists the device commits",
  )
})
