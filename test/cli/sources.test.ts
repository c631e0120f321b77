import t from 'tap'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { BIN, cli, copyFixtures, DEFAULT_PLACES, isolatedEnv } from '../helpers/cli.js'

const TITLES: Record<string, string> = {
  gemini: 'Gemini CLI',
  qwen: 'Qwen Code',
  copilot: 'GitHub Copilot CLI',
  amp: 'Amp',
  droid: 'Factory Droid',
  pi: 'pi-agent',
  kimi: 'Kimi CLI / Kimi Code',
  codebuff: 'Codebuff',
  openclaw: 'OpenClaw',
  grok: 'Grok Build CLI',
  antigravity: 'Google Antigravity',
  zcode: 'ZCode',
  'openclaw-db': 'OpenClaw (agent database)',
  goose: 'Goose',
  hermes: 'Hermes Agent',
  opencode: 'OpenCode',
  kilo: 'Kilo CLI',
}

t.test('sources with no store yet: what is found, nothing recorded, no store made', async (t) => {
  const dir = t.testdir()
  copyFixtures(dir)
  fs.rmSync(path.join(dir, 'codex'), { recursive: true })
  const env = isolatedEnv(dir)
  const r = await cli(['sources'], { env })
  t.equal(r.code, 0, r.stderr)
  t.equal(r.stderr, '')
  t.equal(
    r.stdout,
    [
      `claude-code (Claude Code): 7 files in ${dir}/claude/projects`,
      '  ledger: nothing recorded yet (usage-ledger record starts it)',
      `codex (Codex CLI): not found; looked in ${dir}/codex/sessions, ${dir}/codex/archived_sessions (set CODEX_HOME to look elsewhere)`,
      '  ledger: nothing recorded yet (usage-ledger record starts it)',
      // The others, not pointed anywhere, look under HOME.
      ...DEFAULT_PLACES.slice(2).flatMap(([name, places, envVar]) => [
        `${name} (${TITLES[name]}): not found; looked in ${places.map((p) => `${dir}/home/${p}`).join(', ')} (set ${envVar} to look elsewhere)`,
        '  ledger: nothing recorded yet (usage-ledger record starts it)',
      ]),
      'cliproxy (CLIProxyAPI usage queue): not configured (set USAGE_LEDGER_CLIPROXY_URL or config sources.cliproxy.url)',
      '  ledger: nothing recorded yet (usage-ledger record starts it)',
      'stdin (any tool, through record --stdin --source NAME): none yet',
      '  ledger: nothing recorded yet (usage-ledger record starts it)',
      '',
    ].join('\n'),
  )
  t.notOk(fs.existsSync(path.join(dir, 'store')), 'no store made')
  t.equal((await cli(['sources', '--repo', dir], { env })).code, 2, '--repo is refused: sources are this machine')
})

t.test('sources after record: records per source, --json, and into a pipe that closes', async (t) => {
  const dir = t.testdir()
  copyFixtures(dir)
  const env = isolatedEnv(dir, { USAGE_LEDGER_DEVICE_ID: 'c'.repeat(32) })
  t.equal((await cli(['record', '--no-push'], { env })).code, 0)
  const text = await cli(['sources'], { env })
  t.equal(text.code, 0, text.stderr)
  t.match(
    text.stdout,
    'claude-code (Claude Code): 7 files in',
    'every source is listed even when found, with its files',
  )
  t.match(text.stdout, '  ledger: 17 records from every device, 17 from this one; newest 2026-11-21T16:40:05.522Z\n')
  t.match(
    text.stdout,
    `codex (Codex CLI): 4 files in ${dir}/codex/sessions, ${dir}/codex/archived_sessions\n  ledger: 11 records from every device, 11 from this one; newest 2026-11-21T09:33:20.987Z\n`,
  )
  t.match(text.stdout, 'stdin (any tool, through record --stdin --source NAME): none yet\n  ledger: nothing recorded\n')

  const json = await cli(['sources', '--json'], { env })
  t.equal(json.code, 0, json.stderr)
  const j = JSON.parse(json.stdout)
  t.equal(j.schema, 'usage-ledger/sources@1')
  t.equal(j.store, true)
  t.same(
    j.sources.map((s: { name: string; files: number; records: number }) => [s.name, s.files, s.records]),
    [
      ['claude-code', 7, 17],
      ['codex', 4, 11],
      ...DEFAULT_PLACES.slice(2).map(([name]) => [name, 0, 0]),
      ['cliproxy', 0, 0],
      ['stdin', 0, 0],
    ],
  )

  // `sources | head -1`: head gets the first line, the CLI exits 0 with nothing on stderr.
  const piped = await new Promise<{ out: string; err: string; code: string }>((resolve, reject) => {
    const child = spawn('sh', ['-c', '{ "$NODE" "$BIN" sources 2>"$D/err"; echo $? >"$D/code"; } | head -1'], {
      env: { ...env, NODE: process.execPath, BIN, D: dir } as NodeJS.ProcessEnv,
    })
    let out = ''
    child.stdout.on('data', (b) => (out += b))
    child.on('error', reject)
    child.on('close', () =>
      resolve({
        out,
        err: fs.readFileSync(path.join(dir, 'err'), 'utf8'),
        code: fs.readFileSync(path.join(dir, 'code'), 'utf8').trim(),
      }),
    )
  })
  t.same(piped, { out: `${text.stdout.split('\n')[0]}\n`, err: '', code: '0' })
})
