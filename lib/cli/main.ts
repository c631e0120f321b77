/**
 * The CLI: yargs wiring and the one place that maps errors to exit codes (DESIGN §7).
 * Command implementations are imported when their command runs, so `record` from a shell
 * hook does not pay for the report renderer or isomorphic-git.
 */
import yargs, { type Argv } from 'yargs'
import { LedgerError, usageError } from '../errors.js'
import { processEnv, type Env } from '../env.js'
import { parseBackendChoice } from '../git/choice.js'
import type { CommandContext, GlobalOptions, Outcome } from './context.js'

export const EXIT = { ok: 0, operational: 1, usage: 2, input: 2, integrity: 3 } as const
/** A command's outcome as an exit code: `failed` is operational. */
const OUTCOME_EXIT: Record<Outcome, number> = { ok: EXIT.ok, failed: EXIT.operational, integrity: EXIT.integrity }

// scripts/build.mjs replaces USAGE_LEDGER_VERSION with package.json's version, so the bundle
// never reads package.json at start-up; the TypeScript sources (in-process tests) say "dev".
declare const USAGE_LEDGER_VERSION: string | undefined
const VERSION = typeof USAGE_LEDGER_VERSION === 'string' ? USAGE_LEDGER_VERSION : '0.0.0-dev'

/** The commands that read a native clone with --repo (the rest refuse it). */
const REPO_COMMANDS = 'report, verify, status, devices list, index, fetch and hooks install'

type Handler = (ctx: CommandContext, a: Record<string, unknown>) => Promise<Outcome>

function globals(a: Record<string, unknown>, env: Env): GlobalOptions {
  return {
    home: a.home as string | undefined,
    repo: a.repo as string | undefined,
    git: parseBackendChoice(a.git),
    json: Boolean(a.json) || a.format === 'json',
    quiet: Boolean(a.quiet),
    debug: Boolean(a.debug),
    color: a.color !== false && env.stdoutIsTTY,
  }
}

function build(
  env: Env,
  wantsHelp: boolean,
  run: (h: Handler, a: Record<string, unknown>, noRepo?: string) => void,
): Argv {
  const list = (v: unknown) => (Array.isArray(v) ? v.map(String) : v === undefined ? [] : [String(v)])
  return (
    yargs()
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
      .command(
        'init',
        'create the local store for this device',
        (y) =>
          y
            .option('remote', {
              type: 'string',
              describe:
                "a private git remote (https://, ssh://, user@host:path or a path); the token comes from USAGE_LEDGER_TOKEN or git's credential helper",
            })
            .option('name', { type: 'string', describe: 'display name of this device (default: hostname)' })
            .option('device-id', {
              type: 'string',
              describe: 'write as this device id (32 hex); records of the id it replaces move to it',
            })
            .option('continue-device', {
              type: 'boolean',
              default: false,
              describe:
                "continue this device's branch on the remote although another store wrote it (this machine reinstalled)",
            })
            .option('new-device', {
              type: 'boolean',
              default: false,
              describe:
                "become a new device: a fresh random id kept in config; this store's records the remote lacks move to it",
            })
            .option('switch-remote', {
              type: 'boolean',
              default: false,
              describe:
                "move a store that syncs with another remote to --remote (the old remote's devices leave this store)",
            })
            .option('force', {
              type: 'boolean',
              default: false,
              describe: 'use a non-empty repository that is not a usage ledger as the remote',
            }),
        (a) =>
          run(
            async (ctx) =>
              (await import('./init.js')).init(ctx, {
                name: a.name,
                deviceId: a.deviceId,
                remote: a.remote,
                continueDevice: a.continueDevice,
                newDevice: a.newDevice,
                switchRemote: a.switchRemote,
                force: a.force,
              }),
            a,
            'init',
          ),
      )
      .command(
        'push',
        "push this device's pending commits",
        (y) => y,
        (a) => run(async (ctx) => (await import('./push.js')).push(ctx), a, 'push'),
      )
      .command(
        'fetch',
        'fetch every device, check their history, advance the merged view',
        (y) =>
          y.option('accept-rewrite', {
            type: 'string',
            array: true,
            default: [] as string[],
            describe: 'accept a rewritten branch of this device (id, unique id prefix or name)',
          }),
        (a) => run(async (ctx) => (await import('./fetch.js')).fetch(ctx, { acceptRewrite: list(a.acceptRewrite) }), a),
      )
      .command(
        'index',
        'refresh the query index (what the post-merge hook runs)',
        (y) => y.option('rebuild', { type: 'boolean', default: false, describe: 'build it again from nothing' }),
        (a) => run(async (ctx) => (await import('./index.js')).index(ctx, { rebuild: a.rebuild }), a),
      )
      .command(
        'verify',
        "prove every device's ledger with git's hashes: objects, history, records, manifests",
        (y) =>
          y
            .option('device', {
              type: 'string',
              array: true,
              default: [] as string[],
              describe: 'only these devices (id, unique id prefix, name, or "this")',
            })
            .option('full', {
              type: 'boolean',
              default: false,
              describe: 're-read everything, not only what changed since the last proof',
            })
            .option('transcript', {
              type: 'string',
              describe: 'write a per-record fingerprint file per device into this directory (diff two machines)',
            }),
        (a) =>
          run(
            async (ctx) =>
              (await import('./verify.js')).verify(ctx, {
                device: list(a.device),
                full: a.full,
                transcript: a.transcript,
              }),
            a,
          ),
      )
      .command(
        'status',
        'this device, remote, pending commits, devices, merged tree',
        (y) => y,
        (a) => run(async (ctx) => (await import('./status.js')).status(ctx), a),
      )
      .command(
        'devices [action] [arg]',
        'list the devices; rename this one; forget a retired one on the remote',
        (y) =>
          y
            .positional('action', { choices: ['list', 'rename', 'forget'] as const, default: 'list' as const })
            .positional('arg', { type: 'string', describe: 'rename: the new name; forget: the device id' })
            .option('yes', { type: 'boolean', default: false, describe: 'forget without asking' }),
        (a) =>
          run(
            async (ctx) => (await import('./devices.js')).devices(ctx, { action: a.action, arg: a.arg, yes: a.yes }),
            a,
            a.action === 'list' ? undefined : `devices ${a.action}`,
          ),
      )
      .command(
        'record',
        "read new usage from the sources and commit it to this device's ledger",
        (y) =>
          y
            .option('source', {
              type: 'string',
              array: true,
              describe: 'only these sources (claude-code, codex); with --stdin the source name',
            })
            .option('stdin', {
              type: 'boolean',
              default: false,
              describe: 'read schema-v1 records (NDJSON) from stdin',
            })
            .option('push', {
              type: 'boolean',
              default: true,
              describe: 'push after committing (--no-push: commit locally only)',
            })
            .option('dry-run', {
              type: 'boolean',
              default: false,
              describe: 'print the lines that would be committed; change nothing',
            })
            .option('name', { type: 'string', describe: 'display name of this device' })
            .option('device-id', { type: 'string', describe: 'override the device id' })
            .option('force', {
              type: 'boolean',
              default: false,
              describe: 'run even within config record.minInterval of the last run',
            }),
        (a) =>
          run(
            async (ctx) =>
              (await import('./record.js')).record(ctx, {
                sources: list(a.source),
                stdin: a.stdin,
                push: a.push,
                dryRun: a.dryRun,
                name: a.name,
                deviceId: a.deviceId,
                force: a.force,
              }),
            a,
            'record',
          ),
      )
      .command(
        'hooks <action> [target]',
        'install the shipped git post-merge hook; print automation snippets',
        (y) =>
          y
            .positional('action', {
              choices: ['install', 'uninstall', 'print'] as const,
              describe: 'install (--uninstall) the post-merge hook into the store or --repo; print a snippet',
            })
            .positional('target', {
              choices: ['shell', 'claude-code', 'cron', 'systemd', 'launchd'] as const,
              describe: 'print: what to print a snippet for',
            })
            .option('uninstall', {
              type: 'boolean',
              default: false,
              describe: 'install: remove our hook and restore the one it chained',
            })
            .option('follow', {
              type: 'boolean',
              default: false,
              describe:
                'with --repo: git pull on the checked-out branch merges every device branch (with --uninstall: stops)',
            }),
        (a) =>
          run(
            async (ctx) =>
              (await import('./hooks.js')).hooks(ctx, {
                action: a.uninstall ? 'uninstall' : (a.action ?? 'install'),
                target: a.target,
                follow: a.follow,
              }),
            a,
            a.action === 'print' ? 'hooks print' : undefined,
          ),
      )
      .command(
        'report [period]',
        'usage totals over every device in the store',
        (y) =>
          y
            .positional('period', {
              choices: ['daily', 'weekly', 'monthly', 'session', 'blocks'] as const,
              default: 'daily' as const,
              describe: 'days, ISO weeks and months in --tz; sessions; 5-hour blocks',
            })
            .option('tz', {
              type: 'string',
              describe: 'IANA time zone for days (default: config, then the system zone)',
            })
            .option('since', { type: 'string', describe: 'first day, YYYY-MM-DD in --tz' })
            .option('until', { type: 'string', describe: 'last day, YYYY-MM-DD in --tz' })
            .option('by', {
              type: 'string',
              array: true,
              default: [] as string[],
              describe: 'group by device,source,model,project',
            })
            .option('device', {
              type: 'string',
              array: true,
              default: [] as string[],
              describe: 'only these devices (id, unique id prefix or name)',
            })
            .option('source', {
              type: 'string',
              array: true,
              default: [] as string[],
              describe: 'only these sources (claude-code, codex, …)',
            })
            .option('model', {
              type: 'string',
              array: true,
              default: [] as string[],
              describe: 'only these models (full id or a prefix such as claude-sonnet-4-5)',
            })
            .option('cost', {
              choices: ['auto', 'calculate', 'display'] as const,
              default: 'auto' as const,
              describe: "auto: the source's cost when it gave one, else the price table",
            })
            .option('format', {
              choices: ['table', 'json', 'csv', 'markdown', 'html'] as const,
              default: 'table' as const,
              describe: 'html: one self-contained page with charts',
            })
            .option('output', {
              alias: 'o',
              type: 'string',
              describe: 'write the report to this file instead of stdout',
            })
            .option('compact', {
              type: 'boolean',
              default: false,
              describe: 'fewer columns (automatic when the table is wider than the terminal)',
            })
            .option('chart', { type: 'boolean', default: false, describe: "a bar of each row's cost" }),
        (a) =>
          run(
            async (ctx) =>
              (await import('./report.js')).report(ctx, {
                period: a.period,
                tz: a.tz,
                since: a.since,
                until: a.until,
                by: a.by,
                device: list(a.device),
                source: list(a.source),
                model: list(a.model),
                cost: a.cost,
                format: ctx.global.json ? 'json' : a.format,
                compact: a.compact,
                chart: a.chart,
                output: a.output,
              }),
            a,
          ),
      )
      .demandCommand(1, 'name a command: init, record, push, fetch, report, verify, status, devices, index or hooks')
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
  // `noRepo` names a command that works on the store only: --repo there is bad usage, not
  // something to ignore (it would act on the store while the user meant the clone).
  const run = (h: Handler, a: Record<string, unknown>, noRepo?: string) => {
    pending = () => {
      const global = globals(a, env)
      debug = global.debug
      if (noRepo && global.repo !== undefined) {
        throw usageError(
          'REPO_UNSUPPORTED',
          `--repo does not apply to ${noRepo}: it works on the store (--home); --repo is for ${REPO_COMMANDS}`,
        )
      }
      return h({ env, global }, a)
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
