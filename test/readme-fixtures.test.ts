/**
 * The README's "Try it on the bundled fixtures" lines, run as written from the repository root:
 * every source's fixtures recorded into a fresh store, the report by source equal to
 * fixtures/expected.json, and the fixtures left as they were.
 */
import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { createHash } from 'node:crypto'
import { FIXTURES, ROOT } from './helpers/cli.js'
import { run } from './helpers/spawn.js'
import { FILE_SOURCES } from '../lib/collect/index.js'

function fixtureLines(): string {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8')
  const after = readme.split(/^Try it on the bundled fixtures.*$/m)[1] ?? ''
  return /```sh\n([\s\S]*?)```/.exec(after)?.[1] ?? ''
}

/** Every fixture file's path, mode and bytes, hashed. */
function fixturesDigest(): string {
  const h = createHash('sha256')
  for (const f of fs.readdirSync(FIXTURES, { recursive: true, encoding: 'utf8' }).sort()) {
    const p = path.join(FIXTURES, f)
    const st = fs.statSync(p)
    h.update(`${f}\0${st.mode}\0`)
    if (st.isFile()) h.update(fs.readFileSync(p))
  }
  return h.digest('hex')
}

t.test("the README's fixture lines record every source", async (t) => {
  const before = fixturesDigest()
  const lines = fixtureLines()
  t.match(lines, /node bin\/usage-ledger\.js record/, 'the block is found')
  const home = t.testdir({ home: {} })
  const expected = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'expected.json'), 'utf8'))
  const script = `${lines}\nnode bin/usage-ledger.js report --by source --tz UTC --json`
  const env = {
    PATH: process.env.PATH,
    HOME: path.join(home, 'home'),
    TMPDIR: home,
    USAGE_LEDGER_DEVICE_ID: 'a'.repeat(32),
  }
  const r = await run('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', script], {
    cwd: ROOT,
    env,
    stdin: 'ignore',
  })
  t.equal(r.code, 0, r.stderr)
  // The text report first, then the JSON one: the last line that opens an object starts it.
  const json = JSON.parse(r.stdout.slice(r.stdout.lastIndexOf('\n{') + 1))
  const bySource: Record<string, number> = {}
  for (const x of json.rows as Array<{ source: string; totalTokens: number }>)
    bySource[x.source] = (bySource[x.source] ?? 0) + x.totalTokens
  // cliproxy's fixture is payloads for a queue, which the README's lines do not start.
  const sources = Object.keys(expected).filter((k) => !k.startsWith('$') && k !== 'cliproxy')
  t.equal(sources.length, FILE_SOURCES.length, 'every file source has expected totals')
  // openclaw-db's records are OpenClaw's (source openclaw): that row holds both of its stores.
  const days = (d: Record<string, { totalTokens: number }>) => Object.values(d).reduce((n, x) => n + x.totalTokens, 0)
  const want = (s: string) =>
    s === 'openclaw' ? days(expected['openclaw-db'].extras.withOpenclaw.days) : expected[s].totals.totalTokens
  for (const s of sources.filter((x) => x !== 'openclaw-db'))
    t.equal(bySource[s], want(s), `${s}: total tokens as expected.json`)
  t.notOk('openclaw-db' in bySource, 'no records of a source named openclaw-db')
  t.equal(fixturesDigest(), before, 'the fixtures are left as they were')
})
