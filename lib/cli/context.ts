/** What every command receives: the environment and the global options (DESIGN §7). */
import type { Env } from '../env.js'
import type { BackendChoice } from '../git/index.js'

export interface GlobalOptions {
  home?: string
  repo?: string
  git: BackendChoice
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
