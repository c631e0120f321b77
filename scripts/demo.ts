/**
 * `npm run demo`: three machines and one private git remote, all on this machine and thrown
 * away afterwards. A loopback HTTP git server (`git http-backend`, token-checked) plays the
 * remote; each device records real-format logs from fixtures/ and pushes; the laptop fetches
 * everyone, prints the daily report by device and verifies the whole ledger.
 *
 *   npm run demo [-- --keep]      (--keep leaves the temporary directory for a look around)
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { startGitServer } from './git-server.js'
import { plural } from '../lib/text.js'

const ROOT = path.resolve(__dirname, '..') // dist/demo.cjs, bundled from scripts/demo.ts
const BIN = path.join(ROOT, 'bin/usage-ledger.js')
const FIXTURES = path.join(ROOT, 'fixtures')
const TOKEN = `demo-token-${Math.random().toString(36).slice(2)}`
const NOW = '2026-11-22T12:00:00.000Z' // the fixtures' days lie just before it
const keep = process.argv.includes('--keep')

interface Machine {
  name: string
  id: string
  env: NodeJS.ProcessEnv
  feed?: string
}

const STDIN_RECORDS = `${[
  {
    ts: '2026-11-19T09:12:00Z',
    model: 'gpt-5',
    input_tokens: 18_000,
    output_tokens: 2_400,
    cache_read_input_tokens: 40_000,
  },
  { ts: '2026-11-20T15:40:00Z', model: 'gpt-5', input_tokens: 9_500, output_tokens: 1_100 },
  {
    ts: '2026-11-21T08:05:00Z',
    model: 'claude-sonnet-4-5-20250929',
    input_tokens: 1_200,
    output_tokens: 800,
    cache_creation_input_tokens: 30_000,
    cache_read_input_tokens: 90_000,
  },
]
  .map((r) => JSON.stringify(r))
  .join('\n')}\n`

function machine(root: string, name: string, id: string, sources: Array<'claude' | 'codex'>, feed?: string): Machine {
  const dir = path.join(root, name)
  fs.mkdirSync(path.join(dir, 'home'), { recursive: true })
  for (const s of sources) fs.cpSync(path.join(FIXTURES, s), path.join(dir, s), { recursive: true })
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: path.join(dir, 'home'),
    TZ: 'UTC',
    NO_COLOR: process.env.NO_COLOR,
    USAGE_LEDGER_HOME: path.join(dir, 'store'),
    USAGE_LEDGER_NOW: NOW,
    USAGE_LEDGER_DEVICE_ID: id,
    USAGE_LEDGER_TOKEN: TOKEN,
    CLAUDE_CONFIG_DIR: path.join(dir, 'claude'),
    CODEX_HOME: path.join(dir, 'codex'),
    XDG_CACHE_HOME: path.join(root, 'cache'),
  }
  return { name, id, env, feed }
}

/** Runs the CLI asynchronously (this process serves the remote); prints what it says when asked. */
function cli(m: Machine, args: string[], o: { show?: boolean; input?: string } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: m.env, stdio: ['pipe', 'pipe', 'pipe'] })
    let out = '',
      err = ''
    child.stdout.on('data', (b) => {
      out += b
      if (o.show) process.stdout.write(b)
    })
    child.stderr.on('data', (b) => {
      err += b
      if (o.show) process.stderr.write(b)
    })
    child.on('error', reject)
    child.on('close', (code) =>
      code === 0
        ? resolve(out)
        : reject(new Error(`${m.name}: usage-ledger ${args.join(' ')} exited ${code}\n${err.trim()}`)),
    )
    child.stdin.end(o.input ?? '')
  })
}

const step = (s: string) => process.stdout.write(`\n== ${s}\n`)

async function main(): Promise<void> {
  if (!fs.existsSync(path.join(ROOT, 'dist/cli.cjs'))) throw new Error('dist/cli.cjs is missing; run npm run build')
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'usage-ledger-demo-'))
  const server = await startGitServer({ root: path.join(root, 'server'), token: TOKEN })
  try {
    const bare = server.createBare('ledger')
    const url = server.repoUrl('ledger')
    step(`a private git remote: ${url} (git http-backend on loopback, token required)`)
    const devices = [
      machine(root, 'laptop', '1a'.repeat(16), ['claude']),
      machine(root, 'workstation', '2b'.repeat(16), ['codex']),
      machine(root, 'build-box', '3c'.repeat(16), [], STDIN_RECORDS),
    ]
    for (const m of devices) {
      step(`${m.name}: init --remote, record${m.feed ? ' --stdin (another tool feeding records)' : ''}`)
      // --device-id keeps the id in the store's config, so the kept stores know themselves later.
      await cli(m, ['init', '--remote', url, '--name', m.name, '--device-id', m.id])
      const recorded = await cli(
        m,
        m.feed ? ['record', '--stdin', '--source', 'my-tool', '--json'] : ['record', '--json'],
        { input: m.feed },
      )
      const r = JSON.parse(recorded) as {
        appended: number
        days: Array<{ day: string }>
        pushed: boolean
        malformed: number
      }
      process.stdout.write(
        `recorded ${plural(r.appended, 'record')} over ${plural(r.days.length, 'day')}${r.malformed ? ` (${plural(r.malformed, 'malformed line')} skipped, as the fixtures intend)` : ''}; pushed: ${r.pushed}\n`,
      )
    }
    const laptop = devices[0]!
    step('laptop: fetch (every device branch, history checked, merged view advanced)')
    await cli(laptop, ['fetch'], { show: true })
    step('laptop: report daily --by device')
    await cli(laptop, ['report', 'daily', '--by', 'device', '--tz', 'UTC'], { show: true })
    step('laptop: report monthly (one line per month, all machines)')
    await cli(laptop, ['report', 'monthly', '--tz', 'UTC'], { show: true })
    step('laptop: verify (git hashes, append-only history, records, manifests, witnesses)')
    await cli(laptop, ['verify'], { show: true })
    if (keep) {
      step(`kept: ${root}`)
      process.stdout.write(keptText(devices, bare))
    } else step('done; the remote and the three machines are removed')
  } finally {
    await server.close()
    if (!keep) fs.rmSync(root, { recursive: true, force: true })
  }
}

/** How to look at what --keep left: the exact commands, each store named with --home. */
function keptText(devices: Machine[], bare: string): string {
  const q = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`)
  const ul = `${q(process.execPath)} ${q(BIN)}`
  const lines = [
    "Each machine kept its store; these commands read it (the demo's server is gone, so fetch and push",
    'have no remote; report, status, devices and verify need none):',
  ]
  for (const m of devices) {
    const home = `--home ${q(m.env.USAGE_LEDGER_HOME!)}`
    lines.push(`  ${m.name}${m === devices[0] ? ' (fetched every device)' : ''}:`)
    lines.push(`    ${ul} ${home} report daily --by device --tz UTC`)
    lines.push(`    ${ul} ${home} status`)
    if (m === devices[0]) lines.push(`    ${ul} ${home} verify --full`)
  }
  lines.push('The remote, a bare git repository with a branch per device:')
  lines.push(`    git --git-dir ${q(bare)} log --oneline --all`)
  lines.push(`Remove it all with: rm -rf ${q(path.dirname(path.dirname(bare)))}`)
  return `${lines.join('\n')}\n`
}

main().catch((e: Error) => {
  process.stderr.write(`demo failed: ${e.message}\n`)
  process.exitCode = 1
})
