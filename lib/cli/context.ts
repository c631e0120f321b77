/** What every command receives: the environment and the global options (DESIGN §7). */
import type { Env } from '../env.js'
import type { StoreOptions } from '../store/store.js'

export interface GlobalOptions {
  home?: string
  repo?: string
  /** `--git`: the backend the store opens (`auto` when not given). */
  git: NonNullable<StoreOptions['git']>
  json: boolean
  quiet: boolean
  debug: boolean
  color: boolean
}

export interface CommandContext {
  env: Env
  global: GlobalOptions
}

/** Writes a line to stdout (the data channel). */
export const out = (ctx: CommandContext, s: string) => ctx.env.stdout.write(s.endsWith('\n') ? s : `${s}\n`)
/** Writes a line to stderr (the human channel), unless --quiet. */
export const say = (ctx: CommandContext, s: string) => {
  if (!ctx.global.quiet) ctx.env.stderr.write(s.endsWith('\n') ? s : `${s}\n`)
}

/**
 * How a command ended, which only `cli/main.ts` turns into an exit code (DESIGN §7): `failed` is
 * an operational failure told without throwing (e.g. commits left pending), `integrity` a check
 * that found tampering or a rejected push of this device's branch.
 */
export type Outcome = 'ok' | 'failed' | 'integrity'

/** A yargs option or positional as plain data: each command owns its own, and only `main.ts` imports yargs. */
export interface OptionSpec {
  type?: 'string' | 'boolean'
  array?: boolean
  choices?: readonly string[]
  default?: unknown
  alias?: string
  describe?: string
  /** Left out of --help (an option for the tool's own use). */
  hidden?: boolean
}

/** The parsed command line as yargs gives it (kebab-case options also camel-cased). */
export type Args = Record<string, unknown>

/**
 * What a command module exports besides its function: its options, how the parsed line becomes the
 * command's options type, and (for commands that work on the store only) the words `--repo` is
 * refused with. `cli/main.ts` loads the module, and so these, only when its command runs.
 */
export interface CommandSpec<O> {
  positionals?: Record<string, OptionSpec>
  options?: Record<string, OptionSpec>
  storeOnly?(a: Args): string | undefined
  /** Whether the run reads every record (`collectSooner`): asked before it starts. */
  readsEverything?(o: O): boolean
  // Methods (not function properties), so a CommandSpec<RecordOptions> is a CommandSpec<unknown>.
  parse(a: Args, global: GlobalOptions): O
  run(ctx: CommandContext, opts: O): Promise<Outcome>
}

/** A repeatable option's values (`--device a --device b`, or one value, or none). */
export const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : v === undefined ? [] : [String(v)])
/** An optional string option. */
export const optional = (v: unknown): string | undefined => (v === undefined ? undefined : String(v))
