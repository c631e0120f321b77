/** Running the built CLI as a subprocess, as users and hooks do, with a fixed environment. */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { type RunOptions, type Started, start } from './spawn.js'

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
export const BIN = path.join(ROOT, 'bin/usage-ledger.js')
export const FIXTURES = path.join(ROOT, 'fixtures')

export interface CliResult {
  code: number
  stdout: string
  stderr: string
}

export interface CliOptions {
  env?: Record<string, string | undefined>
  input?: string
  cwd?: string
}

/** Environment with nothing of the real user's: HOME, sources and store all under `dir`. */
export function isolatedEnv(
  dir: string,
  extra: Record<string, string | undefined> = {},
): Record<string, string | undefined> {
  return {
    PATH: process.env.PATH,
    HOME: path.join(dir, 'home'),
    TZ: 'UTC',
    USAGE_LEDGER_HOME: path.join(dir, 'store'),
    USAGE_LEDGER_NOW: '2026-11-22T12:00:00.000Z',
    CLAUDE_CONFIG_DIR: path.join(dir, 'claude'),
    CODEX_HOME: path.join(dir, 'codex'),
    GIT_CONFIG_NOSYSTEM: '1',
    ...extra,
  }
}

/**
 * The built CLI as users run it, without tap's instrumentation: under tap every node child gets
 * NODE_OPTIONS=--import=@tapjs/processinfo, which costs more than a whole `record` run;
 * `env -u NODE_OPTIONS` execs node without it (same pid).
 */
const NODE_BIN = ['-u', 'NODE_OPTIONS', process.execPath, BIN]

export async function cli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  const r = await startCli(args, opts).done
  return { code: r.code ?? -1, stdout: r.stdout, stderr: r.stderr }
}

export function startCli(args: string[], opts: RunOptions = {}): Started {
  return start('env', [...NODE_BIN, ...args], { ...opts, cwd: opts.cwd ?? ROOT })
}

/** Copies fixtures/claude and fixtures/codex into `dir` (the layout isolatedEnv expects). */
export function copyFixtures(dir: string): void {
  fs.cpSync(path.join(FIXTURES, 'claude'), path.join(dir, 'claude'), { recursive: true })
  fs.cpSync(path.join(FIXTURES, 'codex'), path.join(dir, 'codex'), { recursive: true })
  fs.mkdirSync(path.join(dir, 'home'), { recursive: true })
}

export function git(gitdir: string, args: string[]): string {
  const r = spawnSync('git', args, {
    env: { PATH: process.env.PATH, GIT_DIR: gitdir, GIT_CONFIG_NOSYSTEM: '1', HOME: gitdir },
    encoding: 'utf8',
  })
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`)
  return r.stdout
}

export interface Expected {
  'claude-code': {
    days: Record<string, Totals>
    totals: Totals
    afterCompletingUnfinished: { file: string; newRecord: Totals & { ts: string } }
  }
  codex: { days: Record<string, Totals>; totals: Totals }
}
export interface Totals {
  records: number
  input: number
  output: number
  cacheWrite: number
  cacheRead: number
  totalTokens: number
}

export const expected = (): Expected =>
  JSON.parse(fs.readFileSync(path.join(FIXTURES, 'expected.json'), 'utf8')) as Expected

export const TOKEN_FIELDS = ['records', 'input', 'output', 'cacheWrite', 'cacheRead', 'totalTokens'] as const

export function pick(o: Record<string, unknown>): Totals {
  return Object.fromEntries(TOKEN_FIELDS.map((k) => [k, o[k]])) as unknown as Totals
}

/** Report rows (`--by device`) summed per device. */
export function sumByDevice(rows: Array<Record<string, unknown>>): Record<string, Totals> {
  const out: Record<string, Totals> = {}
  for (const row of rows) {
    const cur = (out[row.device as string] ??= {
      records: 0,
      input: 0,
      output: 0,
      cacheWrite: 0,
      cacheRead: 0,
      totalTokens: 0,
    })
    for (const k of TOKEN_FIELDS) cur[k] += row[k] as number
  }
  return out
}

/** Sums expected per-day totals of several sources into one map. */
export function sumDays(...sources: Array<Record<string, Totals>>): Record<string, Totals> {
  const out: Record<string, Totals> = {}
  for (const days of sources) {
    for (const [day, t] of Object.entries(days)) {
      const cur = (out[day] ??= { records: 0, input: 0, output: 0, cacheWrite: 0, cacheRead: 0, totalTokens: 0 })
      for (const k of TOKEN_FIELDS) cur[k] += t[k]
    }
  }
  return out
}

/** Where each file source looks by default, under HOME, and the variable that moves it. */
export const DEFAULT_PLACES: Array<[string, string[], string]> = [
  ['claude-code', ['.config/claude/projects', '.claude/projects'], 'CLAUDE_CONFIG_DIR'],
  ['codex', ['.codex/sessions', '.codex/archived_sessions'], 'CODEX_HOME'],
  ['gemini', ['.gemini/tmp'], 'GEMINI_DATA_DIR'],
  ['qwen', ['.qwen/projects'], 'QWEN_DATA_DIR'],
  ['copilot', ['.copilot/session-state', '.copilot/otel'], 'COPILOT_HOME'],
  ['amp', ['.local/share/amp/threads'], 'AMP_DATA_DIR'],
  ['droid', ['.factory/sessions'], 'DROID_SESSIONS_DIR'],
  ['pi', ['.pi/agent/sessions'], 'PI_AGENT_DIR'],
  ['kimi', ['.kimi/sessions', '.kimi-code/sessions'], 'KIMI_DATA_DIR'],
  [
    'codebuff',
    ['.config/manicode/projects', '.config/manicode-dev/projects', '.config/manicode-staging/projects'],
    'CODEBUFF_DATA_DIR',
  ],
  ['openclaw', ['.openclaw', '.clawdbot', '.moltbot', '.moldbot'], 'OPENCLAW_DIR'],
  ['grok', ['.grok/sessions'], 'GROK_HOME'],
  [
    'antigravity',
    [
      ...['antigravity', 'antigravity-cli', 'antigravity-ide', 'Antigravity', 'antigravity-backup'].map(
        (d) => `.gemini/${d}/conversations`,
      ),
      ...['antigravity', 'Antigravity', 'Antigravity IDE'].map((d) => `.config/${d}/conversations`),
    ],
    'ANTIGRAVITY_DATA_DIR',
  ],
  ['zcode', ['.zcode'], 'ZCODE_HOME'],
  ['openclaw-db', ['.openclaw', '.clawdbot', '.moltbot', '.moldbot'], 'OPENCLAW_DIR'],
  [
    'goose',
    [
      '.local/share/goose/sessions/sessions.db',
      'Library/Application Support/goose/sessions/sessions.db',
      '.local/share/Block/goose/sessions/sessions.db',
    ],
    'GOOSE_PATH_ROOT',
  ],
  ['hermes', ['.hermes/state.db'], 'HERMES_HOME'],
  ['opencode', ['.local/share/opencode'], 'OPENCODE_DATA_DIR'],
  ['kilo', ['.local/share/kilo'], 'KILO_DATA_DIR'],
]
