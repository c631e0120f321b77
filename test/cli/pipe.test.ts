/**
 * Output into a pipe whose reader goes away (`usage-ledger status | head -1`): the closed pipe
 * ends the command quietly, exit 0, nothing on stderr (issue 11, item 4).
 *
 * Two ways, both without timings:
 * - the reader is gone before the CLI starts: the test closes its end of the CLI's stdout, and
 *   only then lets `sh` exec the CLI (it waits for a line on stdin), so the first write meets a
 *   closed pipe;
 * - a real `| head -1` behind `sh` with an output far larger than a pipe holds (a large report,
 *   a large dry run), so the CLI is still writing when head exits.
 */
import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { spawn } from 'node:child_process'
import { BIN, cli, copyFixtures, isolatedEnv, type CliResult } from '../helpers/cli.js'

/** Runs the CLI with stdout already closed by its reader; stdin gets `input` after the go line. */
function closedStdout(args: string[], env: Record<string, string | undefined>, input = ''): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', 'read go; exec "$0" "$@"', process.execPath, BIN, ...args], {
      env: env as NodeJS.ProcessEnv,
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (b) => (stderr += b))
    child.on('error', reject)
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? -1 : -1), stdout: '', stderr }))
    // Close the only read end of the CLI's stdout, then let the CLI start.
    child.stdout.destroy()
    child.stdin.on('error', () => {})
    child.stdin.end(`go\n${input}`)
  })
}

/** `CLI args | head -1` in sh: head's first line, the CLI's exit code and stderr. */
function intoHead(
  args: string[],
  env: Record<string, string | undefined>,
  dir: string,
  input = '',
): Promise<CliResult> {
  const code = path.join(dir, `code-${Math.random().toString(36).slice(2)}`)
  const err = `${code}.err`
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', '{ "$NODE" "$BIN" "$@" 2>"$ERR"; echo $? >"$CODE"; } | head -1', 'sh', ...args], {
      env: { ...env, NODE: process.execPath, BIN, ERR: err, CODE: code } as NodeJS.ProcessEnv,
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    child.stdout.on('data', (b) => (stdout += b))
    child.on('error', reject)
    child.on('close', () =>
      resolve({ code: Number(fs.readFileSync(code, 'utf8').trim()), stdout, stderr: fs.readFileSync(err, 'utf8') }),
    )
    child.stdin.on('error', () => {})
    child.stdin.end(input)
  })
}

/** `n` stdin records on one day, each of its own model: a report --by model of n rows. */
const manyRecords = (n: number) =>
  `${Array.from({ length: n }, (_, i) =>
    JSON.stringify({
      ts: '2026-11-21T10:00:00Z',
      model: `pipe-model-${String(i).padStart(5, '0')}`,
      input_tokens: 1000 + i,
      output_tokens: 10,
    }),
  ).join('\n')}\n`

t.test('a reader that closed the pipe before any output: exit 0, quiet, on every command', async (t) => {
  const dir = t.testdir()
  copyFixtures(dir)
  const env = isolatedEnv(dir, { USAGE_LEDGER_DEVICE_ID: 'c'.repeat(32) })
  const rec = await cli(['record'], { env })
  t.equal(rec.code, 0, rec.stderr)
  const cases: Array<[string[], string?]> = [
    [['status']],
    [['status', '--json']],
    [['devices']],
    [['report', '--tz', 'UTC']],
    [['report', 'monthly', '--json']],
    [['verify']],
    [['index', '--quiet']],
    [['hooks', 'print', 'shell']],
    [['--help']],
    [['record', '--dry-run', '--quiet', '--stdin', '--source', 'piped'], manyRecords(3)],
  ]
  for (const [args, input] of cases) {
    const r = await closedStdout(args, env, input)
    t.equal(r.code, 0, `${args.join(' ')}: exit 0`)
    t.equal(r.stderr, '', `${args.join(' ')}: nothing on stderr (no EPIPE stack trace)`)
  }
})

t.test('`| head -1` on a large report and a large dry run: head gets its line, the CLI exits 0 quietly', async (t) => {
  const dir = t.testdir()
  fs.mkdirSync(path.join(dir, 'home'), { recursive: true })
  const env = isolatedEnv(dir, { USAGE_LEDGER_DEVICE_ID: 'd'.repeat(32) })
  const records = manyRecords(4000)
  t.ok(records.length > 4 * 65536, 'the input alone is several pipe buffers')

  const dry = await intoHead(['record', '--dry-run', '--quiet', '--stdin', '--source', 'piped'], env, dir, records)
  t.equal(dry.code, 0, 'record --dry-run | head -1: exit 0')
  t.equal(dry.stderr, '', 'record --dry-run | head -1: nothing on stderr')
  t.match(dry.stdout, /^\{"v":1,"id":"[0-9a-f]{32}".*\}\n$/, 'head got the first line')

  const rec = await cli(['record', '--stdin', '--source', 'piped'], { env, input: records })
  t.equal(rec.code, 0, rec.stderr)
  for (const args of [
    ['report', '--by', 'model', '--tz', 'UTC'],
    ['report', '--by', 'model', '--format', 'csv'],
    ['report', '--by', 'model', '--json'],
    ['status'],
  ]) {
    const whole = await cli(args, { env })
    t.equal(whole.code, 0, whole.stderr)
    if (args[0] === 'report') t.ok(whole.stdout.length > 2 * 65536, `${args.join(' ')} is larger than a pipe holds`)
    const r = await intoHead(args, env, dir)
    t.equal(r.code, 0, `${args.join(' ')} | head -1: exit 0`)
    t.equal(r.stderr, '', `${args.join(' ')} | head -1: nothing on stderr`)
    t.equal(r.stdout, `${whole.stdout.split('\n')[0]}\n`, `${args.join(' ')} | head -1: the first line`)
  }
})
