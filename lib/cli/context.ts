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
