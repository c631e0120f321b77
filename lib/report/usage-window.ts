/** The windows a person's limits are counted in: the current 5-hour block and ISO week. */
import { addCounts, BLOCK_MS, blockStarts, isoWeek, zeroTotals, type Rows, type Totals } from './aggregate.js'

export interface WindowTotals extends Totals {
  start: string | null
  end: string | null
}

/**
 * The block containing `now` (null start when no block does: never simply the latest block,
 * which a record dated ahead of now would make "current" for good) and the ISO week of `now`
 * in the report's zone, summed over every device. Failed calls (DESIGN §4) as in a report
 * without --include-failed: counted in `failed` only, shaping no block.
 */
export function currentWindows(rows: Rows, now: Date, localTime: (ts: string | number) => string) {
  const instants: number[] = []
  rows.each((row) => {
    if (!row.failed) instants.push(row.ms)
  })
  const starts = blockStarts(instants)
  const t = now.getTime()
  let active: number | null = null
  for (const s of starts.values())
    if (s <= t && t < s + BLOCK_MS) {
      active = s
      break
    }
  const week = isoWeek(localTime(now.getTime()).slice(0, 10))
  const block: WindowTotals = {
    ...zeroTotals(),
    start: active === null ? null : new Date(active).toISOString(),
    end: active === null ? null : new Date(active + BLOCK_MS).toISOString(),
  }
  const weekTotals: Totals & { week: string } = { ...zeroTotals(), week }
  rows.each((row) => {
    // Blocks never overlap: every instant in [active, active + 5 h) is the active block's.
    if (active !== null && active <= row.ms && row.ms < active + BLOCK_MS) addCounts(block, row)
    if (isoWeek(localTime(row.ms).slice(0, 10)) === week) addCounts(weekTotals, row)
  })
  return { block, week: weekTotals }
}

/** Percent of each configured limit used, rounded to one decimal. */
export function percentOf(t: Totals, limit: { tokens?: number; costUSD?: number } | undefined) {
  const pct = (used: number, max?: number) => (max && max > 0 ? Math.round((used / max) * 1000) / 10 : null)
  return { tokens: pct(t.totalTokens, limit?.tokens), costUSD: pct(t.costUSD, limit?.costUSD) }
}
