/**
 * What a user installs: `npm pack` of a clean copy of the project (no dist/, so `prepack` has to
 * build it), installed globally into a temporary prefix, and run from there. The copy keeps the
 * build away from this tree's dist/, which the other test files are running at the same time.
 */
import t from 'tap'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import { isBuiltin } from 'node:module'
import path from 'node:path'
import { expected, FIXTURES, ROOT } from './helpers/cli.js'
import { run } from './helpers/spawn.js'
import { refreshDone } from './helpers/statusline.js'

interface PackageJson {
  name: string
  version: string
  dependencies?: Record<string, string>
  optionalDependencies?: Record<string, string>
  peerDependencies?: Record<string, string>
}
interface PackedFile {
  path: string
  mode: number
}
interface PackResult {
  filename: string
  files: PackedFile[]
  bundled: string[]
}
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as PackageJson
const NAME = 'usage-ledger'

/**
 * The caller's environment without what `npm test` sets for its own run (npm_config_local_prefix
 * and friends would point npm back at this tree), but with the cache and registry a CI machine
 * may have configured.
 */
function npmEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const keep = new Set(['npm_config_cache', 'npm_config_registry', 'npm_config_userconfig'])
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && (!k.toLowerCase().startsWith('npm_') || keep.has(k.toLowerCase()))) env[k] = v
  }
  return { ...env, ...extra }
}

/** The project as a fresh checkout has it: everything but dist/, node_modules (linked) and VCS. */
function cleanCopy(dst: string): void {
  const skip = new Set(['.git', '.tap', 'dist', 'node_modules'])
  fs.mkdirSync(dst, { recursive: true })
  for (const entry of fs.readdirSync(ROOT)) {
    if (skip.has(entry) || entry.endsWith('.tgz')) continue
    fs.cpSync(path.join(ROOT, entry), path.join(dst, entry), { recursive: true })
  }
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dst, 'node_modules'), 'dir')
}

/** Bare package names the bundle loads from node_modules at run time (not built into it). */
function runtimeRequires(bundle: string): string[] {
  const names = new Set<string>()
  for (const m of bundle.matchAll(/\brequire\d*\(\s*"([^"]+)"\s*\)|createRequire\)?\([^()]*\)\(\s*"([^"]+)"\s*\)/g)) {
    const spec = (m[1] ?? m[2])!
    if (isBuiltin(spec) || spec.startsWith('.') || spec.startsWith('/')) continue
    names.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!)
  }
  return [...names].sort()
}

const hasFiles = (dir: string): string[] =>
  fs.existsSync(dir)
    ? fs
        .readdirSync(dir, { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile() && !e.name.startsWith('.'))
        .map((e) => path.relative(ROOT, path.join(e.parentPath, e.name)))
    : []

t.test('npm pack ships only what users need; the tarball installs and runs', async (t) => {
  const work = t.testdir()
  const project = path.join(work, 'project')
  const packDir = path.join(work, 'pack')
  const prefix = path.join(work, 'prefix')
  fs.mkdirSync(packDir)
  cleanCopy(project)

  const packed = await run('npm', ['pack', '--json', '--pack-destination', packDir], { cwd: project, env: npmEnv() })
  t.equal(packed.code, 0, 'npm pack succeeds', { stderr: packed.stderr })
  // npm prints the lifecycle banners of `prepack` on stdout ahead of the JSON.
  const [pack] = JSON.parse(packed.stdout.slice(packed.stdout.search(/^\[/m))) as PackResult[]
  if (!pack) throw new Error(`no pack result in ${packed.stdout}`)
  const files = pack.files.map((f) => f.path).sort()

  t.ok(fs.existsSync(path.join(project, 'dist/cli.cjs')), 'prepack built dist/ in a tree that had none')
  for (const must of [
    'bin/usage-ledger.js',
    'bin/package.json',
    'data/prices.json',
    'dist/cli.cjs',
    'dist/statusline.cjs',
    'dist/worker.cjs',
    'package.json',
    'README.md',
  ])
    t.ok(files.includes(must), `packs ${must}`)
  const allowed = (f: string) =>
    /^(bin|hooks)\//.test(f) ||
    /^dist\/[^/]+\.cjs$/.test(f) ||
    f === 'data/prices.json' ||
    /^(README\.md|package\.json|LICEN[CS]E(\.\w+)?)$/i.test(f)
  t.same(
    files.filter((f) => !allowed(f)),
    [],
    'nothing but bin/, the dist/ bundles, the price dataset, hooks/, README, LICENSE and package.json',
  )
  t.same(
    files.filter((f) => /^(test|lib|fixtures|bench|docs|scripts|examples|node_modules|\.tap)\//.test(f)),
    [],
    'no sources, tests, fixtures, benchmarks or docs',
  )
  t.same(
    files.filter((f) => f.endsWith('.map')),
    [],
    'no source map (it embeds the whole of lib/)',
  )
  t.same(pack.bundled, [], 'no bundled node_modules')
  t.equal(pack.files.find((f) => f.path === 'bin/usage-ledger.js')!.mode & 0o111, 0o111, 'the bin is executable')
  // hooks/ may still be empty (npm drops empty directories); whatever it holds ships, runnable.
  for (const hook of hasFiles(path.join(ROOT, 'hooks'))) {
    const entry = pack.files.find((f) => f.path === hook.split(path.sep).join('/'))
    t.ok(entry, `packs ${hook}`)
    if (entry && fs.statSync(path.join(ROOT, hook)).mode & 0o100)
      t.equal(entry.mode & 0o111, 0o111, `${hook} stays executable`)
  }

  // esbuild builds every import into dist/cli.cjs; what it cannot see (a createRequire call
  // kept lazy for start-up) is loaded from node_modules and so must be a dependency, and a
  // dependency nothing loads is a download for nothing.
  // The parse worker (dist/worker.cjs) is a bundle of its own, held to the same rule.
  const needed = [
    ...new Set(
      ['dist/cli.cjs', 'dist/statusline.cjs', 'dist/worker.cjs'].flatMap((f) =>
        runtimeRequires(fs.readFileSync(path.join(project, f), 'utf8')),
      ),
    ),
  ].sort()
  // better-sqlite3 is optional: an install where its addon cannot build still records files.
  const declared = Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies }).sort()
  t.same(
    needed.filter((n) => !declared.includes(n)),
    [],
    `every package the bundle loads at run time is a dependency (${needed.join(', ')})`,
  )
  const peersOfNeeded = needed.flatMap((n) =>
    Object.keys(
      (JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', n, 'package.json'), 'utf8')) as PackageJson)
        .peerDependencies ?? {},
    ),
  )
  t.same(
    declared.filter((d) => !needed.includes(d) && !peersOfNeeded.includes(d)),
    [],
    'every dependency is loaded at run time, or is the peer of one that is',
  )

  // From the registry on a fresh machine, from npm's cache when it has them.
  const installed = await run(
    'npm',
    [
      'install',
      '-g',
      '--prefix',
      prefix,
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      path.join(packDir, pack.filename),
    ],
    { env: npmEnv() },
  )
  t.equal(installed.code, 0, 'npm install -g of the tarball succeeds', { stderr: installed.stderr })
  // npm flattens what the dependencies need beside them: the install holds exactly the
  // dependencies and what they need, nothing of the devDependencies.
  const modules = path.join(prefix, 'lib/node_modules', NAME, 'node_modules')
  const installedModules = fs
    .readdirSync(modules)
    .flatMap((n) => (n.startsWith('@') ? fs.readdirSync(path.join(modules, n)).map((m) => `${n}/${m}`) : [n]))
    .filter((n) => !n.startsWith('.'))
    .sort()
  const reached = new Set<string>()
  const reach = (n: string) => {
    if (reached.has(n) || !installedModules.includes(n)) return
    reached.add(n)
    const manifest = JSON.parse(fs.readFileSync(path.join(modules, n, 'package.json'), 'utf8')) as PackageJson
    for (const d of Object.keys({ ...manifest.dependencies, ...manifest.optionalDependencies })) reach(d)
  }
  for (const d of declared) reach(d)
  for (const d of declared) t.ok(installedModules.includes(d), `the install brings ${d}`)
  t.same(
    installedModules.filter((n) => !reached.has(n)),
    [],
    'the install brings only the dependencies and what they need',
  )

  const bin = path.join(prefix, 'bin', NAME)
  const home = path.join(work, 'home')
  fs.mkdirSync(home)
  const userEnv = (extra: Record<string, string> = {}) => ({
    PATH: process.env.PATH,
    HOME: home,
    TZ: 'UTC',
    LANG: 'C.UTF-8',
    ...extra,
  })
  const installedCli = (args: string[], extra: Record<string, string> = {}) => run(bin, args, { env: userEnv(extra) })

  const version = await installedCli(['--version'])
  t.equal(version.code, 0, '--version exits 0', { stderr: version.stderr })
  t.equal(version.stdout.trim(), pkg.version, "--version is package.json's version")

  const help = await installedCli(['report', '--help'])
  t.equal(help.code, 0, 'report --help exits 0', { stderr: help.stderr })
  t.match(help.stdout, /--since/, 'report --help lists --since')

  const bash = await installedCli(['completion'], { SHELL: '/bin/bash' })
  t.equal(bash.code, 0, 'completion exits 0', { stderr: bash.stderr })
  t.match(
    bash.stdout,
    /complete .*-F _usage-ledger_yargs_completions usage-ledger/,
    'a bash completion script for usage-ledger',
  )
  t.match(bash.stdout, /usage-ledger --get-yargs-completions/, 'which asks the CLI for its completions')
  const zsh = await installedCli(['completion'], { SHELL: '/bin/zsh' })
  t.match(zsh.stdout, /^#compdef usage-ledger$/m, 'a zsh one when $SHELL is zsh')
  const words = await installedCli(['--get-yargs-completions', NAME, 'rep'])
  t.ok(words.stdout.split('\n').includes('report'), 'completing "rep" offers report')
  const flags = await installedCli(['--get-yargs-completions', NAME, 'report', '--'])
  t.ok(flags.stdout.split('\n').includes('--since'), 'completing report options offers --since')

  // A real run of the installed copy: record the fixtures, then a report in a zone other than
  // UTC, which loads date-fns-tz from the install's own node_modules.
  const sourcesEnv = (store: string, extra: Record<string, string> = {}) =>
    userEnv({
      USAGE_LEDGER_HOME: path.join(work, store),
      USAGE_LEDGER_NOW: '2026-11-22T12:00:00.000Z',
      USAGE_LEDGER_DEVICE_ID: 'e5'.repeat(16),
      CLAUDE_CONFIG_DIR: path.join(FIXTURES, 'claude'),
      CODEX_HOME: path.join(FIXTURES, 'codex'),
      ...extra,
    })
  const recorded = await run(bin, ['record'], { env: sourcesEnv('store-pipe') })
  t.equal(recorded.code, 0, 'record exits 0', { stderr: recorded.stderr })
  const report = await run(bin, ['report', 'monthly', '--json', '--tz', 'Asia/Kolkata'], {
    env: sourcesEnv('store-pipe'),
  })
  t.equal(report.code, 0, 'report in Asia/Kolkata exits 0', { stderr: report.stderr })
  const exp = expected()
  const reported = JSON.parse(report.stdout) as {
    totals: { totalTokens: number; costUSD: number }
    warnings: Array<{ code: string }>
  }
  t.equal(
    reported.totals.totalTokens,
    exp['claude-code'].totals.totalTokens + exp.codex.totals.totalTokens,
    'the installed CLI reports the fixtures exactly',
  )
  t.ok(
    reported.totals.costUSD > 0 && !reported.warnings.some((w) => w.code === 'UNKNOWN_MODEL_PRICE'),
    'and prices them from its own data/prices.json',
  )

  // The statusline's own bundle (dist/statusline.cjs) ships and runs from the install.
  const line = await run(bin, ['statusline', '--no-color'], { env: sourcesEnv('store-pipe'), input: '{}' })
  t.equal(line.code, 0, 'statusline exits 0', { stderr: line.stderr })
  t.match(line.stdout, /^usage-ledger: no cache yet\n$/, 'and prints its line from the installed bundle')
  await refreshDone(path.join(work, 'store-pipe'))

  t.test('not a terminal: no colour, no progress', async (t) => {
    t.notMatch(recorded.stderr, /reading sources|\r|\x1b/, 'record shows no progress on a piped stderr')
    t.match(recorded.stderr, /recorded 28 records/, 'but says what it did')
    const table = await run(bin, ['report', '--tz', 'UTC'], { env: sourcesEnv('store-pipe') })
    t.equal(table.code, 0, 'report exits 0', { stderr: table.stderr })
    t.match(table.stdout, /│ Total +│ +28 │/, 'the table itself is there')
    t.notMatch(table.stdout + table.stderr, /\x1b/, 'no escape codes in a piped table')
  })

  // util-linux `script` gives the child a pseudo-terminal; the BSD one takes other arguments.
  const script = spawnSync('script', ['--version'], { encoding: 'utf8' })
  const noPseudoTerminal = script.status !== 0 || !/util-linux/.test(script.stdout + script.stderr)
  t.test(
    'a terminal: colour and progress, unless NO_COLOR',
    { skip: noPseudoTerminal && 'needs util-linux script(1) for a pseudo-terminal' },
    async (t) => {
      // cli-table3's colours also want a TERM, as any terminal sets.
      const onTerminal = (args: string[], env: NodeJS.ProcessEnv) =>
        run(
          'script',
          ['--quiet', '--return', '--command', [bin, ...args].map((a) => `'${a}'`).join(' '), '/dev/null'],
          { env: { TERM: 'xterm-256color', ...env } },
        )

      const colourRecord = await onTerminal(['record', '--no-push'], sourcesEnv('store-tty'))
      t.equal(colourRecord.code, 0, 'record on a terminal exits 0', { output: colourRecord.stdout })
      t.match(colourRecord.stdout, /reading sources \[/, 'a terminal shows progress (the control)')
      const colourTable = await onTerminal(['report', '--tz', 'UTC'], sourcesEnv('store-tty'))
      t.match(colourTable.stdout, /\x1b\[\d+m/, 'and colour (the control)')

      const plainRecord = await onTerminal(['record', '--no-push'], sourcesEnv('store-no-color', { NO_COLOR: '1' }))
      t.equal(plainRecord.code, 0, 'record with NO_COLOR exits 0', { output: plainRecord.stdout })
      t.match(plainRecord.stdout, /recorded 28 records/, 'record says what it did')
      t.notMatch(plainRecord.stdout, /reading sources|\x1b/, 'NO_COLOR: no progress bar, no escape codes')
      const plainTable = await onTerminal(['report', '--tz', 'UTC'], sourcesEnv('store-no-color', { NO_COLOR: '1' }))
      t.match(plainTable.stdout, /│ Total +│ +28 │/, 'the table is there')
      t.notMatch(plainTable.stdout, /\x1b/, 'NO_COLOR: a plain table on a terminal')
    },
  )
})
