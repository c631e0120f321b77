/** `index [--rebuild]`: refresh the query index (what the post-merge hook runs). */
import { updateIndex, type IndexData } from '../index/index.js'
import { EMBEDDED_PRICES, type PriceTable } from '../report/prices.js'
import { Store } from '../store/store.js'
import { out, say, type CommandContext } from './context.js'

/** The embedded price table with the store's config overrides. */
export const storePrices = (store: Store): PriceTable => EMBEDDED_PRICES.withOverrides(store.config.prices, store.paths.config)

/** Brings the store's (or the --repo clone's) index up to its device heads and returns it. */
export async function refreshIndex(store: Store, prices: PriceTable, withTracking: boolean, rebuild = false): Promise<IndexData> {
  return (await updateIndex(await store.git(), store.paths.index, prices, { withTracking, rebuild })).index
}

export async function index(ctx: CommandContext, opts: { rebuild: boolean }): Promise<number> {
  const store = Store.open(ctx.env, { home: ctx.global.home, git: ctx.global.git, repo: ctx.global.repo })
  try {
    if (!store.initialized) { say(ctx, 'no ledger yet; run usage-ledger record'); return 0 }
    const r = await updateIndex(await store.git(), store.paths.index, storePrices(store), { withTracking: Boolean(ctx.global.repo), rebuild: opts.rebuild })
    const { index: _index, ...summary } = r
    if (ctx.global.json) out(ctx, JSON.stringify({ schema: 'usage-ledger/index@1', dir: store.paths.index, ...summary }))
    else say(ctx, `index ${store.paths.index}: ${r.days} day${r.days === 1 ? '' : 's'} refreshed from ${r.parts} part${r.parts === 1 ? '' : 's'}`)
    return 0
  } finally {
    await store.close()
  }
}
