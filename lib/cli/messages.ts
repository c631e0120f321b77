/** What more than one command says, in the same words (commands never import each other). */
import type { PushSummary } from '../app/sync/push.js'
import { usageError } from '../errors.js'
import { plural } from '../text.js'
import { say, type CommandContext } from './context.js'

/** A push that left commits pending: how many, why, and that they are not lost. */
export const pendingText = (p: PushSummary) =>
  `${plural(p.pending, 'commit')} pending: ${p.error ?? 'not pushed'}; the next push or record delivers ${p.pending === 1 ? 'it' : 'them'}`

/** git's own words about a failed push, a line each (or nothing). */
export const detailText = (p: PushSummary) => (p.details?.length ? p.details.map((l) => `${l}\n`).join('') : '')

/** What `record`, `init` and `devices rename` say about their push; nothing at all with --quiet (hooks). */
export function sayPush(ctx: CommandContext, p: PushSummary): void {
  if (p.rejected) say(ctx, `usage-ledger: ${p.error}`)
  else if (p.pushed) say(ctx, `pushed to ${p.remote}`)
  else if (p.pending > 0) say(ctx, pendingText(p) + (detailText(p) ? `\n${detailText(p)}` : ''))
}

/**
 * `--key` on `record` and `collect`: declared only to refuse it with the way that works, since a
 * key on the command line is visible to every user of the machine (ps).
 */
export const KEY_OPTION = {
  type: 'string',
  describe: 'refused: the CLIProxyAPI management key comes from USAGE_LEDGER_CLIPROXY_KEY',
} as const

export function refuseKeyArg(a: { key?: unknown }): void {
  if (a.key !== undefined)
    throw usageError(
      'CLIPROXY_KEY_REFUSED',
      "--key is refused: a key on the command line is visible to every user (ps); set USAGE_LEDGER_CLIPROXY_KEY or store it with git's credential helper (protocol=redis, host=HOST:PORT)",
    )
}
