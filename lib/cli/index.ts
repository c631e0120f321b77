/** `index [--rebuild]`: refresh the query index (what the post-merge hook runs). */
import { indexStore } from '../app/query/index.js'
import { quarantineLine, quarantineWarning } from '../store/quarantine.js'
import { Store } from '../store/store.js'
import { out, say, type CommandContext, type Outcome, type CommandSpec } from './context.js'
import { plural } from '../text.js'

export async function index(ctx: CommandContext, opts: { rebuild: boolean }): Promise<Outcome> {
  const store = Store.open(ctx.env, { home: ctx.global.home, git: ctx.global.git, repo: ctx.global.repo })
  try {
    const view = await indexStore(store, { clone: Boolean(ctx.global.repo), rebuild: opts.rebuild })
    if (!view) {
      say(ctx, 'no ledger yet; run usage-ledger record')
      return 'ok'
    }
    const { update: r, quarantined } = view
    if (ctx.global.json)
      out(
        ctx,
        JSON.stringify({
          schema: 'usage-ledger/index@1',
          dir: store.paths.index,
          ...r,
          warnings: quarantined.map((q) => quarantineWarning(q.id, q)),
        }),
      )
    else {
      say(ctx, `index ${store.paths.index}: ${plural(r.days, 'day')} refreshed from ${plural(r.parts, 'part')}`)
      for (const q of quarantined) ctx.env.stderr.write(`warning: ${quarantineLine(q.id, q)}\n`)
    }
    return 'ok'
  } finally {
    await store.close()
  }
}

export const command: CommandSpec<{ rebuild: boolean }> = {
  options: { rebuild: { type: 'boolean', default: false, describe: 'build it again from nothing' } },
  parse: (a) => ({ rebuild: Boolean(a.rebuild) }),
  readsEverything: (o) => o.rebuild,
  run: index,
}
