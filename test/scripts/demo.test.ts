/**
 * `npm run demo` exactly as the README tells a newcomer to run it: a loopback git server, three
 * devices, the per-device daily report and a clean verify. Its totals are checked against the
 * fixtures' hand-computed ones plus the three records the demo feeds through --stdin.
 */
import t from 'tap'
import { expected, ROOT } from '../helpers/cli.js'
import { run } from '../helpers/ledger-checks.js'

// The demo's --stdin records (scripts/demo.ts), summed by hand: input excludes cache reads.
const STDIN = { records: 3, input: 18_000 + 9_500 + 1_200, output: 2_400 + 1_100 + 800, cacheWrite: 30_000, cacheRead: 40_000 + 90_000 }

t.test('npm run demo records three devices, prints the report by device and verifies', async (t) => {
  const r = await run('npm', ['run', 'demo', '--silent'], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' } })
  t.equal(r.code, 0, r.stderr)
  const table = r.stdout.split('== laptop: report daily --by device')[1]?.split('\n== ')[0] ?? ''
  for (const name of ['laptop', 'workstation', 'build-box']) t.match(table, new RegExp(`│ \\d{4}-\\d{2}-\\d{2} │ ${name} +│`), `a row of ${name}`)
  const exp = expected()
  const want = (k: 'records' | 'input' | 'output' | 'cacheWrite' | 'cacheRead') => exp['claude-code'].totals[k] + exp.codex.totals[k] + STDIN[k]
  const total = /│ Total +│ +([\d,]+) │ +([\d,]+) │ +([\d,]+) │ +([\d,]+) │ +([\d,]+) │/.exec(table)
  t.ok(total, 'a total row')
  const n = (s: string) => Number(s.replace(/,/g, ''))
  t.same(total!.slice(1, 6).map(n), [want('records'), want('input'), want('output'), want('cacheWrite'), want('cacheRead')], 'totals = both fixtures + the stdin records')
  t.match(r.stdout, /^ok: 3 devices verified/m, 'verify passes')
  t.match(r.stdout, /the remote and the three machines are removed/)
})
