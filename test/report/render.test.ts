/**
 * `report --compact` fits 80 terminal columns, on a realistic ledger with large numbers
 * (10-digit token totals), long and wide (CJK) project names, several models and devices'
 * worth of group columns. Widths are measured with the real string-width package, not the
 * CLI's own measure.
 */
import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { createRequire } from 'node:module'
import { cli, FIXTURES, isolatedEnv } from '../helpers/cli.js'

const stringWidth = createRequire(import.meta.url)('string-width') as (s: string) => number

const PROJECTS = [
  '/home/ana/src/a-really-quite-long-project-directory-name-for-testing',
  '/home/ana/src/app',
  '/home/ana/src/顧客管理システム',
]
const MODELS = ['claude-sonnet-4-5-20250929', 'claude-opus-4-1-20250805', 'claude-haiku-4-5-20251001']

/** 21 days × 3 projects × 2 sessions of Claude Code responses, each with hundreds of millions of tokens. */
function bigLogs(dir: string): void {
  let k = 0
  for (const [p, cwd] of PROJECTS.entries()) {
    for (let s = 0; s < 2; s++) {
      const session = `${p}${s}aaaaaaa-0000-4000-8000-00000000000${p}`
      const lines: string[] = []
      for (let day = 1; day <= 21; day++) {
        for (let i = 0; i < 3; i++, k++) {
          const ts = `2026-11-${String(day).padStart(2, '0')}T${String(8 + s * 6 + i).padStart(2, '0')}:1${i}:00.000Z`
          lines.push(
            JSON.stringify({
              type: 'assistant',
              timestamp: ts,
              sessionId: session,
              cwd,
              requestId: `req_${k}`,
              message: {
                id: `msg_${k}`,
                model: MODELS[(k + s) % 3],
                content: [],
                usage: {
                  input_tokens: 1_234_567,
                  output_tokens: 987_654,
                  cache_creation_input_tokens: 12_345_678,
                  cache_read_input_tokens: 198_765_432,
                },
              },
            }),
          )
        }
      }
      const file = path.join(dir, 'claude', 'projects', cwd.replace(/\//g, '-'), `${session}.jsonl`)
      fs.mkdirSync(path.dirname(file), { recursive: true })
      fs.writeFileSync(file, `${lines.join('\n')}\n`)
    }
  }
}

t.test('report --compact: every line fits 80 columns, and no number is cut', async (t) => {
  const dir = t.testdir()
  fs.mkdirSync(path.join(dir, 'home'))
  fs.cpSync(path.join(FIXTURES, 'codex'), path.join(dir, 'codex'), { recursive: true })
  bigLogs(dir)
  const env = isolatedEnv(dir, { USAGE_LEDGER_DEVICE_ID: 'e'.repeat(32) })
  const rec = await cli(['record', '--name', 'a-workstation-with-a-long-host-name'], { env })
  t.equal(rec.code, 0, rec.stderr)
  const stdin = `${[
    {
      ts: '2026-11-21T10:00:00Z',
      model: 'my-local-model-with-a-very-long-name-v2-instruct-q4_K_M',
      input_tokens: 5,
      output_tokens: 5,
    },
  ]
    .map((x) => JSON.stringify(x))
    .join('\n')}\n`
  t.equal((await cli(['record', '--stdin', '--source', 'my-tool'], { env, input: stdin })).code, 0)
  const totals = JSON.parse((await cli(['report', '--json', '--tz', 'UTC'], { env })).stdout).totals as {
    totalTokens: number
  }
  t.ok(totals.totalTokens >= 1e10, 'an 11-digit total', { totals })
  const total = totals.totalTokens.toLocaleString('en-US')

  for (const args of [
    [],
    ['weekly'],
    ['monthly'],
    ['blocks'],
    ['session'],
    ['session', '--by', 'model'],
    ['--by', 'model'],
    ['--by', 'project'],
    ['--by', 'device,model'],
    ['--by', 'source,model,project'],
    ['--by', 'device,source,model,project'],
    ['monthly', '--by', 'model', '--chart'],
    ['--chart'],
  ]) {
    const r = await cli(['report', ...args, '--compact', '--tz', 'UTC'], { env })
    t.equal(r.code, 0, r.stderr)
    const lines = r.stdout.trimEnd().split('\n')
    const widest = Math.max(...lines.map(stringWidth))
    t.ok(widest <= 80, `report ${args.join(' ')} --compact: the widest line has ${widest} columns`, {
      widest: lines.find((l) => stringWidth(l) === widest),
    })
    t.match(r.stdout, new RegExp(`│ +${total} │`), `report ${args.join(' ')} --compact: the total is whole`)
  }
  // A terminal narrower than the full table gets the compact one, as narrow as it allows.
  const wide = await cli(['report', 'session', '--tz', 'UTC'], { env })
  t.ok(
    Math.max(...wide.stdout.split('\n').map(stringWidth)) > 80,
    'without --compact (piped, no terminal width) the full session table is wider',
  )
})
