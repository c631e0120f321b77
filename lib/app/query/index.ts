/** The query index of a store: brought up to the trusted device heads before every read. */
import { updateIndex, type IndexData, type UpdateResult } from '../../index/index.js'
import { listQuarantined, type QuarantinedHead } from '../../store/quarantine.js'
import { trustedHeads } from '../sync/trust.js'
import { EMBEDDED_PRICES, type PriceTable } from '../../report/prices.js'
import type { Store } from '../../store/store.js'

/** The embedded price table with the store's config overrides. */
export const storePrices = (store: Store): PriceTable =>
  EMBEDDED_PRICES.withOverrides(store.config.prices, store.paths.config)

export interface ReadView {
  index: IndexData
  /** The trusted head of every device: what the index holds. */
  heads: Map<string, string>
  quarantined: Array<QuarantinedHead & { id: string }>
}

export type IndexRefresh = ReadView & { update: Omit<UpdateResult, 'index'> }

/** Brings the store's (or the --repo clone's) index up to its trusted device heads and returns it. */
export async function refreshIndex(
  store: Store,
  prices: PriceTable,
  clone: boolean,
  rebuild = false,
): Promise<IndexRefresh> {
  const git = await store.git()
  const trusted = trustedHeads(git, store.paths, clone, store.env.now())
  // The index is read while git lists the branches (a spawn); updateIndex waits for the heads after.
  const heads = trusted.then((t) => t.heads)
  heads.catch(() => {}) // a failure reaches the caller through `trusted`
  const [t, { index, ...update }] = await Promise.all([
    trusted,
    updateIndex(git, store.paths.index, prices, { heads, rebuild }),
  ])
  return { index, heads: t.heads, quarantined: listQuarantined(t.state.quarantine), update }
}

/** `index [--rebuild]` (what the post-merge hook runs): null while the store has no ledger. */
export async function indexStore(
  store: Store,
  opts: { clone: boolean; rebuild: boolean },
): Promise<IndexRefresh | null> {
  if (!store.initialized) return null
  return refreshIndex(store, storePrices(store), opts.clone, opts.rebuild)
}
