/** The windows a person's limits are counted in: the current 5-hour block and ISO week. */
import { BLOCK_MS, blockStarts, isoWeek, zeroTotals, type Contribution, type Totals } from './aggregate.js'

export interface WindowTotals extends Totals {
  start: string | null
  end: string | null
}

function add(t: Totals, c: Contribution) {
  t.records += c.records
  t.input += c.input
  t.output += c.output
  t.cacheWrite += c.cacheWrite
  t.cacheRead += c.cacheRead
  t.totalTokens += c.input + c.output + c.cacheWrite + c.cacheRead
  t.costUSD += c.costUSD ?? 0
}

/**
 * The block containing `now` (null start when the last block has ended) and the ISO week of
 * `now` in the report's zone, summed over every device.
 */
export function currentWindows(list: Contribution[], now: Date, localTime: (ts: string | number) => string) {
  const starts = blockStarts(list.map((c) => c.ms))
  let last = -Infinity
  for (const s of starts.values()) if (s > last) last = s
  const active = now.getTime() < last + BLOCK_MS ? last : null
  const week = isoWeek(localTime(now.getTime()).slice(0, 10))
  const block: WindowTotals = { ...zeroTotals(), start: active === null ? null : new Date(active).toISOString(), end: active === null ? null : new Date(active + BLOCK_MS).toISOString() }
  const weekTotals: Totals & { week: string } = { ...zeroTotals(), week }
  for (const c of list) {
    if (active !== null && starts.get(c.ms) === active) add(block, c)
    if (isoWeek(localTime(c.ms).slice(0, 10)) === week) add(weekTotals, c)
  }
  return { block, week: weekTotals }
}

/** Percent of each configured limit used, rounded to one decimal. */
export function percentOf(t: Totals, limit: { tokens?: number; costUSD?: number } | undefined) {
  const pct = (used: number, max?: number) => (max && max > 0 ? Math.round((used / max) * 1000) / 10 : null)
  return { tokens: pct(t.totalTokens, limit?.tokens), costUSD: pct(t.costUSD, limit?.costUSD) }
}
