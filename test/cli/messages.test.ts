/** What a person reads: `record` that finds nothing says where it looked; counts of one are singular. */
import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { cli, DEFAULT_PLACES, isolatedEnv } from '../helpers/cli.js'

t.test('record that finds no log names each source, where it looked and the variable that moves it', async (t) => {
  const dir = t.testdir()
  fs.mkdirSync(path.join(dir, 'home'))
  // The defaults, under HOME: no CLAUDE_CONFIG_DIR, no CODEX_HOME.
  const env = isolatedEnv(dir, { CLAUDE_CONFIG_DIR: undefined, CODEX_HOME: undefined })
  const home = path.join(dir, 'home')
  const r = await cli(['record'], { env })
  t.equal(r.code, 0, 'finding nothing is no failure (hooks run record everywhere)')
  t.equal(r.stdout, '')
  t.equal(
    r.stderr,
    [
      'no usage logs found; looked for',
      ...DEFAULT_PLACES.map(
        ([source, places, envVar]) =>
          `  ${source}: ${places.map((p) => `${home}/${p}`).join(', ')} (set ${envVar} to look elsewhere)`,
      ),
      'other tools can feed records: usage-ledger record --stdin --source NAME',
      '',
    ].join('\n'),
  )

  // The variables move the places, and --json carries the same.
  const moved = isolatedEnv(dir)
  const j = await cli(['record', '--json'], { env: moved })
  t.equal(j.code, 0, j.stderr)
  t.same(JSON.parse(j.stdout).searched, [
    { source: 'claude-code', paths: [path.join(dir, 'claude', 'projects')], envVar: 'CLAUDE_CONFIG_DIR' },
    {
      source: 'codex',
      paths: [path.join(dir, 'codex', 'sessions'), path.join(dir, 'codex', 'archived_sessions')],
      envVar: 'CODEX_HOME',
    },
    ...DEFAULT_PLACES.slice(2).map(([source, places, envVar]) => ({
      source,
      paths: places.map((p) => path.join(home, p)),
      envVar,
    })),
  ])
  const one = await cli(['record', '--source', 'codex'], { env: moved })
  t.match(
    one.stderr,
    /^no usage logs found; looked for\n {2}codex: .*\n[^ ]/,
    'an explicit --source names only that source',
  )

  // Logs found but nothing new: the usual short line, no list.
  fs.mkdirSync(path.join(dir, 'codex', 'sessions'), { recursive: true })
  fs.writeFileSync(path.join(dir, 'codex', 'sessions', 'empty.jsonl'), '')
  const some = await cli(['record'], { env: moved })
  t.equal(some.stderr, 'nothing new\n')
  t.notOk(
    'searched' in JSON.parse((await cli(['record', '--json'], { env: moved })).stdout),
    'no searched list once a log exists',
  )
})

t.test('a count of one is singular in record, devices, status and verify', async (t) => {
  const dir = t.testdir()
  fs.mkdirSync(path.join(dir, 'home'))
  const env = isolatedEnv(dir, { USAGE_LEDGER_DEVICE_ID: 'd'.repeat(32) })
  const file = path.join(dir, 'claude', 'projects', '-home-ana-app', 's.jsonl')
  fs.mkdirSync(path.dirname(file), { recursive: true })
  fs.writeFileSync(
    file,
    'not json at all\n' +
      JSON.stringify({
        type: 'assistant',
        timestamp: '2026-11-22T10:00:00.000Z',
        sessionId: 's1',
        cwd: '/home/ana/app',
        requestId: 'req_1',
        message: {
          id: 'msg_1',
          model: 'claude-sonnet-4-5-20250929',
          content: [],
          usage: { input_tokens: 1, output_tokens: 0 },
        },
      }) +
      '\n',
  )
  const rec = await cli(['record'], { env })
  t.equal(rec.code, 0, rec.stderr)
  t.match(rec.stderr, /^recorded 1 record in 1 part \(2026-11-22\), commit [0-9a-f]{12}; 1 malformed line skipped$/m)
  const outputs: Record<string, string> = { record: rec.stderr }
  for (const args of [['devices'], ['status'], ['verify']]) {
    const r = await cli(args, { env })
    t.equal(r.code, 0, r.stderr)
    outputs[args[0]!] = r.stdout + r.stderr
  }
  t.match(outputs.devices, / 1 record {2}last /, 'devices: 1 record')
  t.match(outputs.status, / 1 record {2}last /, 'status: 1 record')
  t.match(outputs.status, /5h block .*: 1 token, /, 'status: 1 token in the block')
  t.match(outputs.verify, / {2}1 record; /, 'verify: 1 record')
  for (const [cmd, text] of Object.entries(outputs)) {
    t.notMatch(
      text,
      /(?<![\d,.])1 (records|lines|files|parts|days|tokens|findings|commits|devices)\b/,
      `${cmd}: no "1 …s"`,
    )
  }
})
