/** `index [--rebuild]`: refresh the query index (what the post-merge hook runs). */
import { updateIndex, type IndexData, type UpdateResult } from '../index/index.js'
import { listQuarantined, quarantineLine, quarantineWarning, type QuarantinedHead } from '../store/quarantine.js'
import { trustedHeads } from '../app/sync/trust.js'
import { EMBEDDED_PRICES, type PriceTable } from '../report/prices.js'
import { Store } from '../store/store.js'
import { out, say, type CommandContext, type Outcome } from './context.js'
import { plural } from '../text.js'

/** The embedded price table with the store's config overrides. */
export const storePrices = (store: Store): PriceTable =>
  EMBEDDED_PRICES.withOverrides(store.config.prices, store.paths.config)

export interface ReadView {
  index: IndexData
  /** The trusted head of every device: what the index holds. */
  heads: Map<string, string>
  quarantined: Array<QuarantinedHead & { id: string }>
}

/** Brings the store's (or the --repo clone's) index up to its trusted device heads and returns it. */
export async function refreshIndex(
  store: Store,
  prices: PriceTable,
  clone: boolean,
  rebuild = false,
): Promise<ReadView & { update: Omit<UpdateResult, 'index'> }> {
  const git = await store.git()
  const t = await trustedHeads(git, store.paths, clone, store.env.now())
  const { index, ...update } = await updateIndex(git, store.paths.index, prices, { heads: t.heads, rebuild })
  return { index, heads: t.heads, quarantined: listQuarantined(t.state.quarantine), update }
}

export async function index(ctx: CommandContext, opts: { rebuild: boolean }): Promise<Outcome> {
  const store = Store.open(ctx.env, { home: ctx.global.home, git: ctx.global.git, repo: ctx.global.repo })
  try {
    if (!store.initialized) {
      say(ctx, 'no ledger yet; run usage-ledger record')
      return 'ok'
    }
    const { update: r, quarantined } = await refreshIndex(
      store,
      storePrices(store),
      Boolean(ctx.global.repo),
      opts.rebuild,
    )
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
