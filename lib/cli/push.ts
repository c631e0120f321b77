/** `push`: deliver this device's pending commits (`record` and `init` push through the same `pushOrKeep`). */
import { pushPending } from '../app/sync/push.js'
import { Store } from '../store/store.js'
import { out, say, type CommandContext, type Outcome, type CommandSpec } from './context.js'
import { detailText, pendingText } from './messages.js'

export async function push(ctx: CommandContext): Promise<Outcome> {
  const store = Store.open(ctx.env, { home: ctx.global.home, git: ctx.global.git })
  try {
    const p = await pushPending(store)
    if (ctx.global.json) out(ctx, JSON.stringify({ schema: 'usage-ledger/push@1', ...p }))
    // A push that failed is an error (exit 1): its one line is printed whatever --quiet or --json say.
    if (p.rejected) ctx.env.stderr.write(`usage-ledger: ${p.error}\n`)
    else if (p.pending > 0) ctx.env.stderr.write(`usage-ledger: ${pendingText(p)}\n${detailText(p)}`)
    else if (!ctx.global.json) say(ctx, p.pushed ? `pushed to ${p.remote}` : 'nothing to push')
    return p.rejected ? (p.integrity ? 'integrity' : 'failed') : p.pending > 0 ? 'failed' : 'ok'
  } finally {
    await store.close()
  }
}

export const command: CommandSpec<Record<string, never>> = {
  storeOnly: () => 'push',
  parse: () => ({}),
  run: (ctx) => push(ctx),
}
