/**
 * The CLI: yargs wiring and the one place that maps errors to exit codes (DESIGN §7).
 * Command implementations are imported when their command runs, so `record` from a shell
 * hook does not pay for the report renderer or isomorphic-git.
 */
import yargs, { type Argv, type Options, type PositionalOptions } from 'yargs'
import { LedgerError, usageError } from '../errors.js'
import { collectSooner, processEnv, type Env } from '../env.js'
import type { Args, CommandSpec, GlobalOptions, Outcome } from './context.js'

export const EXIT = { ok: 0, operational: 1, usage: 2, input: 2, integrity: 3 } as const
/** A command's outcome as an exit code: `failed` is operational. */
const OUTCOME_EXIT: Record<Outcome, number> = { ok: EXIT.ok, failed: EXIT.operational, integrity: EXIT.integrity }

// scripts/build.mjs replaces USAGE_LEDGER_VERSION with package.json's version, so the bundle
// never reads package.json at start-up; the TypeScript sources (in-process tests) say "dev".
declare const USAGE_LEDGER_VERSION: string | undefined
const VERSION = typeof USAGE_LEDGER_VERSION === 'string' ? USAGE_LEDGER_VERSION : '0.0.0-dev'

/** The commands that read a native clone with --repo (the rest refuse it). */
const REPO_COMMANDS = 'report, verify, status, devices list, index, fetch and hooks install'

type Load = () => Promise<{ command: CommandSpec<unknown> }>

/**
 * Each command: its words, its line in `--help`, and its module, which owns its options. A module
 * is loaded only when its command runs (or its help is asked for), so `record` from a shell hook
 * does not pay for the report renderer or isomorphic-git.
 */
const COMMANDS: Array<[string, string, Load]> = [
  ['init', 'create the local store for this device', () => import('./init.js')],
  ['push', "push this device's pending commits", () => import('./push.js')],
  ['fetch', 'fetch every device, check their history, advance the merged view', () => import('./fetch.js')],
  ['index', 'refresh the query index (what the post-merge hook runs)', () => import('./index.js')],
  [
    'verify',
    "prove every device's ledger with git's hashes: objects, history, records, manifests",
    () => import('./verify.js'),
  ],
  ['status', 'this device, remote, pending commits, devices, merged tree', () => import('./status.js')],
  [
    'devices [action] [arg]',
    'list the devices; rename this one; forget a retired one on the remote',
    () => import('./devices.js'),
  ],
  ['record', "read new usage from the sources and commit it to this device's ledger", () => import('./record.js')],
  [
    'sources',
    'every source read: found here or where it looked, files, what the ledger holds from it',
    () => import('./sources.js'),
  ],
  [
    'hooks <action> [target]',
    'install the shipped git post-merge hook; print automation snippets',
    () => import('./hooks.js'),
  ],
  ['report [period]', 'usage totals over every device in the store', () => import('./report.js')],
  [
    'statusline',
    "one line for Claude Code's statusline: today, the 5-hour block and the limits over every device",
    () => import('./statusline.js'),
  ],
  [
    'collect <source>',
    "follow a usage queue (cliproxy: CLIProxyAPI) and commit what it publishes to this device's ledger",
    () => import('./collect.js'),
  ],
]

function globals(a: Record<string, unknown>, env: Env): GlobalOptions {
  return {
    home: a.home as string | undefined,
    repo: a.repo as string | undefined,
    // yargs checked the value against the choices.
    git: (a.git as GlobalOptions['git'] | undefined) ?? 'auto',
    json: Boolean(a.json) || a.format === 'json',
    quiet: Boolean(a.quiet),
    debug: Boolean(a.debug),
    color: a.color !== false && env.stdoutIsTTY,
  }
}

function build(env: Env, wantsHelp: boolean, run: (load: Load, a: Args) => void): Argv {
  const parser = yargs()
    .scriptName('usage-ledger')
    .usage(
      '$0 <command> [options]\n\nRecords AI coding tool usage per machine into an append-only git ledger and sums it across machines.',
    )
    .option('home', {
      type: 'string',
      describe:
        'store directory (default $USAGE_LEDGER_HOME, $XDG_DATA_HOME/usage-ledger, ~/.local/share/usage-ledger)',
    })
    .option('repo', {
      type: 'string',
      describe: `work on a native clone of the ledger remote instead of the store (${REPO_COMMANDS})`,
    })
    .option('git', { choices: ['auto', 'system', 'iso'], describe: 'git backend (auto = system git when installed)' })
    .option('json', { type: 'boolean', describe: 'machine-readable output (= --format json)' })
    .option('quiet', { alias: 'q', type: 'boolean', describe: 'no messages on stderr' })
    .option('debug', { type: 'boolean', describe: 'show stack traces on errors' })
    .option('color', {
      type: 'boolean',
      default: !env.vars.NO_COLOR,
      describe: 'colour on a terminal (--no-color or NO_COLOR to disable)',
    })
  for (const [words, describe, load] of COMMANDS) {
    parser.command(
      words,
      describe,
      async (y) => {
        const spec = (await load()).command
        for (const [key, o] of Object.entries(spec.positionals ?? {})) y.positional(key, o as PositionalOptions)
        for (const [key, o] of Object.entries(spec.options ?? {})) y.option(key, o as Options)
        return y
      },
      (a) => run(load, a),
    )
  }
  return (
    parser
      .demandCommand(
        1,
        'name a command: init, record, push, fetch, report, verify, status, statusline, devices, sources, index or hooks',
      )
      .completion('completion', 'print a shell completion script (bash, or zsh when $SHELL is zsh)')
      .recommendCommands()
      .strict()
      .version(VERSION)
      .help()
      .alias('h', 'help')
      // yargs renders the help text on every command run; wrapping it costs a tenth of a
      // `record` run, so only wrap when help is what was asked for.
      .wrap(wantsHelp ? Math.min(100, (env.stdout as { columns?: number }).columns ?? 100) : null)
      .exitProcess(false)
  )
}

/** Runs the CLI with `argv`; returns the exit code. Tests call this with a fixed `env`. */
export async function main(argv: string[], env: Env = processEnv()): Promise<number> {
  // yargs may call a handler and report a validation failure in the same parse, so the
  // command only starts once parsing finished cleanly.
  let pending: (() => Promise<Outcome>) | null = null
  let debug = argv.includes('--debug')
  // A command that works on the store only names itself (`storeOnly`): --repo there is bad
  // usage, not something to ignore (it would act on the store while the user meant the clone).
  const run = (load: Load, a: Args) => {
    pending = async () => {
      const global = globals(a, env)
      debug = global.debug
      const spec = (await load()).command
      const storeOnly = spec.storeOnly?.(a)
      if (storeOnly && global.repo !== undefined) {
        throw usageError(
          'REPO_UNSUPPORTED',
          `--repo does not apply to ${storeOnly}: it works on the store (--home); --repo is for ${REPO_COMMANDS}`,
        )
      }
      const opts = spec.parse(a, global)
      if (spec.readsEverything?.(opts)) collectSooner()
      return spec.run({ env, global }, opts)
    }
  }
  try {
    let usage: { message: string } | null = null
    let printed = ''
    const wantsHelp = argv.some((a) => a === '--help' || a === '-h' || a === 'help')
    const parser = build(env, wantsHelp, run)
    // yargs renders the whole help text after every command in case a later failure wants
    // it; we never print help on failure, and the rendering is a tenth of a no-op `record`.
    if (!wantsHelp) {
      const usageInstance = (
        parser as unknown as {
          getInternalMethods?: () => { getUsageInstance?: () => { cacheHelpMessage?: () => void } }
        }
      )
        .getInternalMethods?.()
        .getUsageInstance?.()
      if (usageInstance?.cacheHelpMessage) usageInstance.cacheHelpMessage = () => {}
    }
    await parser
      .fail((msg, err) => {
        usage = { message: msg ?? err?.message ?? 'bad usage' }
        if (err instanceof LedgerError) throw err
      })
      .parseAsync(argv, {}, (_err, _a, output) => {
        printed = output
      })
    if (usage) {
      // One line (DESIGN §7): yargs spreads some messages ("Invalid values:") over several.
      const message = `${(usage as { message: string }).message.trim().replace(/\s*\n\s*/g, ' ')} (see usage-ledger --help)`
      env.stderr.write(`usage-ledger: ${message}\n`)
      if (wantsJson(argv)) jsonError(env, 'BAD_USAGE', message, EXIT.usage, [])
      return EXIT.usage
    }
    if (printed) env.stdout.write(`${printed}\n`)
    return pending ? OUTCOME_EXIT[await (pending as () => Promise<Outcome>)()] : EXIT.ok
  } catch (e) {
    return reportError(env, e, debug, wantsJson(argv))
  }
}

/** --json (or --format json) anywhere on the command line, parsed or not. */
function wantsJson(argv: string[]): boolean {
  return argv.some(
    (a, i) =>
      a === '--json' || a === '--json=true' || a === '--format=json' || (a === '--format' && argv[i + 1] === 'json'),
  )
}

/**
 * With --json a failure is JSON too: one object on stdout (the data channel, where the command's
 * own object would have been), `{"schema":"usage-ledger/error@1","code","message","exitCode",
 * "details"}`; the human line still goes to stderr.
 */
function jsonError(env: Env, code: string, message: string, exitCode: number, details: string[]): void {
  env.stdout.write(`${JSON.stringify({ schema: 'usage-ledger/error@1', code, message, exitCode, details })}\n`)
}

/** What to do about a file system that refused: by errno code, or by the text git and Node print. */
const FS_ADVICE: Array<[RegExp, string]> = [
  [/\bENOSPC\b|No space left on device/i, 'the disk is full: free some space and run it again'],
  [/\bEDQUOT\b|Disk quota exceeded/i, 'the disk quota is used up: free some space and run it again'],
  [/\bEROFS\b|Read-only file system/i, 'the file system is read-only: make it writable or pass another --home'],
  [/\bEACCES\b|\bEPERM\b|Permission denied|Operation not permitted/i, 'fix the permissions or pass another --home'],
]
const fsAdvice = (text: string) => FS_ADVICE.find(([re]) => re.test(text))?.[1]

function reportError(env: Env, e: unknown, debug: boolean, json = false): number {
  if (e instanceof LedgerError) {
    const advice =
      e.kind === 'operational' && !/--home|free some space/.test(e.message) ? fsAdvice(e.message) : undefined
    const message = `${e.message}${advice ? `; ${advice}` : ''}`
    env.stderr.write(`usage-ledger: ${message}\n`)
    for (const d of e.details) env.stderr.write(`${d}\n`)
    if (debug) env.stderr.write(`${e.stack ?? ''}\n`)
    if (json) jsonError(env, e.code, message, EXIT[e.kind], e.details)
    return EXIT[e.kind]
  }
  const err = e as NodeJS.ErrnoException
  const where = err?.path ? ` (${err.path})` : ''
  // A full, read-only or forbidden file system is no bug of ours: say so, and what to do.
  const advice = typeof err?.code === 'string' ? fsAdvice(err.code) : undefined
  if (advice) {
    const message = `cannot ${err.syscall ?? 'write'}${err.path ? ` ${err.path}` : ''} (${err.code}): ${advice}`
    env.stderr.write(`usage-ledger: ${message}\n`)
    if (debug) env.stderr.write(`${err?.stack ?? ''}\n`)
    if (json) jsonError(env, String(err.code), message, EXIT.operational, [])
    return EXIT.operational
  }
  const message = `unexpected error: ${err?.message ?? String(e)}${where}; rerun with --debug and report it`
  env.stderr.write(`usage-ledger: ${message}\n`)
  if (debug) env.stderr.write(`${err?.stack ?? ''}\n`)
  if (json) jsonError(env, 'UNEXPECTED', message, EXIT.operational, [])
  return EXIT.operational
}
