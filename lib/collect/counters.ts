/**
 * Cumulative counters (DESIGN §5): sources that keep a running total per session (and model)
 * instead of one record per response. Two cases, both exact however often a file is read:
 * - The totals are events in an append-only file (Copilot's `session.shutdown`): each event
 *   becomes a record of what it added since the previous total in the same file, keyed by the
 *   event. `Counters` is the file's cursor ctx; a file read again from its start rebuilds it
 *   identically, so the same events give the same records.
 * - Only the latest total exists (a document rewritten in place, Droid's settings): one record
 *   per counter, with an id and `ts` that never change, carrying the whole total. When the total
 *   grows the writer appends the larger copy and readers keep the largest copy of an id
 *   (DESIGN §4), so the ledger sums to the latest total and no baseline is needed.
 */

/** Token buckets in a fixed order: input, output, cacheWrite, cacheRead, reasoning. */
export type Totals = [number, number, number, number, number]

export type CountersCtx = Record<string, Totals>

export class Counters {
  readonly reached: CountersCtx

  constructor(ctx: unknown) {
    this.reached = ctx && typeof ctx === 'object' && !Array.isArray(ctx) ? { ...(ctx as CountersCtx) } : {}
  }

  /**
   * What `totals` of counter `key` add to the last totals recorded: null when nothing grew.
   * A counter that went down (the agent reset it, a file replaced by an older copy) starts
   * over from zero: what it shows now is new.
   */
  advance(key: string, totals: Totals): Totals | null {
    const prev = this.reached[key]
    const reset = prev !== undefined && totals.some((n, i) => n < prev[i]!)
    const base = prev && !reset ? prev : ([0, 0, 0, 0, 0] as Totals)
    const delta = totals.map((n, i) => n - base[i]!) as Totals
    if (delta.every((n) => n === 0)) return null
    this.reached[key] = totals
    return delta
  }
}
