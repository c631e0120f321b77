/** The windows a person's limits are counted in: the current 5-hour block and ISO week. */
import type { LedgerRecord } from '../ledger/record.js'
import { BLOCK_MS, blockStarts, isoWeek, zeroTotals, type Totals } from './aggregate.js'
import type { CostMode, PriceTable } from './prices.js'

export interface WindowTotals extends Totals {
  start: string | null
  end: string | null
}

export interface Limits {
  block?: { tokens?: number; costUSD?: number }
  week?: { tokens?: number; costUSD?: number }
}

function add(t: Totals, r: LedgerRecord, cost: number) {
  t.records++
  t.input += r.input
  t.output += r.output
  t.cacheWrite += r.cacheWrite
  t.cacheRead += r.cacheRead
  t.totalTokens += r.input + r.output + r.cacheWrite + r.cacheRead
  t.costUSD += cost
}

/**
 * The block containing `now` (null start when the last block has ended) and the ISO week of
 * `now` in the report's zone, summed over every device's winners.
 */
export function currentWindows(records: LedgerRecord[], now: Date, localTime: (ts: string) => string, prices: PriceTable, mode: CostMode) {
  const starts = blockStarts(records.map((r) => r.ts))
  let last = -Infinity
  for (const s of starts.values()) if (s > last) last = s
  const active = now.getTime() < last + BLOCK_MS ? last : null
  const week = isoWeek(localTime(now.toISOString()).slice(0, 10))
  const block: WindowTotals = { ...zeroTotals(), start: active === null ? null : new Date(active).toISOString(), end: active === null ? null : new Date(active + BLOCK_MS).toISOString() }
  const weekTotals: Totals & { week: string } = { ...zeroTotals(), week }
  for (const r of records) {
    const cost = prices.cost(r, mode) ?? 0
    if (active !== null && starts.get(r.ts) === active) add(block, r, cost)
    if (isoWeek(localTime(r.ts).slice(0, 10)) === week) add(weekTotals, r, cost)
  }
  return { block, week: weekTotals }
}

/** Percent of each configured limit used, rounded to one decimal. */
export function percentOf(t: Totals, limit: { tokens?: number; costUSD?: number } | undefined) {
  const pct = (used: number, max?: number) => (max && max > 0 ? Math.round((used / max) * 1000) / 10 : null)
  return { tokens: pct(t.totalTokens, limit?.tokens), costUSD: pct(t.costUSD, limit?.costUSD) }
}
