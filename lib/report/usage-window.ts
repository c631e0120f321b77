/** The windows a person's limits are counted in: the current 5-hour block and ISO week. */
import { addCounts, BLOCK_MS, blockStarts, isoWeek, zeroTotals, type Rows, type Totals } from './aggregate.js'

export interface WindowTotals extends Totals {
  start: string | null
  end: string | null
}


/**
 * The block containing `now` (null start when the last block has ended) and the ISO week of
 * `now` in the report's zone, summed over every device.
 */
export function currentWindows(rows: Rows, now: Date, localTime: (ts: string | number) => string) {
  const instants: number[] = []
  rows.each((ms) => { instants.push(ms) })
  const starts = blockStarts(instants)
  let last = -Infinity
  for (const s of starts.values()) if (s > last) last = s
  const active = now.getTime() < last + BLOCK_MS ? last : null
  const week = isoWeek(localTime(now.getTime()).slice(0, 10))
  const block: WindowTotals = { ...zeroTotals(), start: active === null ? null : new Date(active).toISOString(), end: active === null ? null : new Date(active + BLOCK_MS).toISOString() }
  const weekTotals: Totals & { week: string } = { ...zeroTotals(), week }
  rows.each((ms, _dim, ...counts) => {
    if (active !== null && starts.get(ms) === active) addCounts(block, ...counts)
    if (isoWeek(localTime(ms).slice(0, 10)) === week) addCounts(weekTotals, ...counts)
  })
  return { block, week: weekTotals }
}

/** Percent of each configured limit used, rounded to one decimal. */
export function percentOf(t: Totals, limit: { tokens?: number; costUSD?: number } | undefined) {
  const pct = (used: number, max?: number) => (max && max > 0 ? Math.round((used / max) * 1000) / 10 : null)
  return { tokens: pct(t.totalTokens, limit?.tokens), costUSD: pct(t.costUSD, limit?.costUSD) }
}
