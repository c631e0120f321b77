/**
 * The README's install lines, run as written: from a checkout (`npm link`) and as the packed
 * tarball, each into its own temporary npm prefix, then the installed command itself. npm's
 * cache is this machine's, so the registry is asked only for what the cache lacks.
 */
import t from 'tap'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { expected, FIXTURES, ROOT } from './helpers/cli.js'
import { run } from './helpers/spawn.js'

const sh = (script: string, opts: { cwd: string; env: NodeJS.ProcessEnv }) =>
  run('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', script], { ...opts, stdin: 'ignore' })

/** The commands of the `n`th sh block under "## Real use", comments dropped (the first: installing). */
function installLines(n = 0): string[] {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8')
  const section = readme.split(/^## Real use$/m)[1]?.split(/^## /m)[0] ?? ''
  const block = [...section.matchAll(/```sh\n([\s\S]*?)```/g)][n]?.[1] ?? ''
  return block
    .split('\n')
    .map((l) =>
      l
        .replace(/\s+#.*$/, '')
        .replace(/^#.*$/, '')
        .trim(),
    )
    .filter(Boolean)
}

t.test("the README's install section works as written", async (t) => {
  const lines = installLines()
  t.ok(lines.length >= 2 && /^cd \S+$/.test(lines[0]!), 'it starts in the checkout', { lines })
  const [cd, ...alternatives] = lines
  const checkoutName = cd!.slice(3)
  t.ok(alternatives.length >= 2, 'a checkout install and a tarball install', { alternatives })

  const work = t.testdir()
  // The checkout: this tree as a fresh clone has it (no dist/, no node_modules).
  const checkout = path.join(work, checkoutName)
  fs.mkdirSync(checkout)
  for (const entry of fs.readdirSync(ROOT)) {
    if (['.git', '.tap', 'dist', 'node_modules', 'test-artifacts'].includes(entry) || entry.endsWith('.tgz')) continue
    fs.cpSync(path.join(ROOT, entry), path.join(checkout, entry), { recursive: true })
  }
  const version = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version
  const home = path.join(work, 'home')
  fs.mkdirSync(home)

  for (const [i, line] of alternatives.entries()) {
    const prefix = path.join(work, `prefix-${i}`)
    const env: NodeJS.ProcessEnv = {
      PATH: `${path.join(prefix, 'bin')}${path.delimiter}${process.env.PATH}`,
      HOME: home,
      TZ: 'UTC',
      npm_config_prefix: prefix,
      npm_config_cache: process.env.npm_config_cache ?? path.join(os.homedir(), '.npm'),
      npm_config_prefer_offline: 'true',
      npm_config_update_notifier: 'false',
      npm_config_audit: 'false',
      npm_config_fund: 'false',
    }
    const r = await sh(`${cd} && ${line}`, { cwd: work, env })
    t.equal(r.code, 0, `"${line}" succeeds`, { stderr: r.stderr })
    t.ok(
      fs.existsSync(path.join(prefix, 'bin', 'usage-ledger')),
      `"${line}" puts usage-ledger into the npm prefix's bin`,
    )
    const v = await sh('usage-ledger --version', { cwd: work, env })
    t.equal(v.stdout.trim(), version, `after "${line}", usage-ledger --version is ${version}`, { stderr: v.stderr })
    const store = path.join(work, `store-${i}`)
    const userEnv = {
      ...env,
      USAGE_LEDGER_HOME: store,
      USAGE_LEDGER_NOW: '2026-11-22T12:00:00.000Z',
      CLAUDE_CONFIG_DIR: path.join(FIXTURES, 'claude'),
      CODEX_HOME: path.join(FIXTURES, 'codex'),
    }
    const rec = await sh('usage-ledger record && usage-ledger report --json --tz UTC', { cwd: work, env: userEnv })
    t.equal(rec.code, 0, `the installed usage-ledger records and reports`, { stderr: rec.stderr })
    const exp = expected()
    t.equal(
      (JSON.parse(rec.stdout) as { totals: { totalTokens: number } }).totals.totalTokens,
      exp['claude-code'].totals.totalTokens + exp.codex.totals.totalTokens,
      'the fixtures, exactly',
    )
    // The README's first use of it, line by line as written (a fresh store).
    const use = installLines(1)
    t.match(use, ['usage-ledger record', 'usage-ledger sources'], 'the block that follows the install')
    const first = await sh(use.join('\n'), { cwd: work, env: { ...userEnv, USAGE_LEDGER_HOME: `${store}-use` } })
    t.equal(first.code, 0, 'record, sources and the reports run as the README shows them', { stderr: first.stderr })
    t.match(first.stdout, 'claude-code (Claude Code): 7 files in', 'sources lists what record found')
  }
})
