/** What more than one command says, in the same words (commands never import each other). */
import type { PushSummary } from '../app/sync/push.js'
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
