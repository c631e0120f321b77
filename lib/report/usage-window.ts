/** The windows a person's limits are counted in: the current 5-hour block and ISO week. */
import {
  addCounts,
  BLOCK_MS,
  blockStarts,
  burnRate,
  DIM,
  isoWeek,
  projection,
  zeroTotals,
  type BurnRate,
  type Projection,
  type Rows,
  type Totals,
} from './aggregate.js'

export interface WindowTotals extends Totals {
  start: string | null
  end: string | null
  /** The active block's (ccusage's definitions, as `report blocks`): null with no block or one instant. */
  burnRate?: BurnRate | null
  projection?: Projection | null
}

/** One device's part of the windows. */
export interface DeviceWindows {
  today: Totals
  block: Totals
  week: Totals
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
  const today = localTime(t).slice(0, 10)
  const week = isoWeek(today)
  const block: WindowTotals = {
    ...zeroTotals(),
    start: active === null ? null : new Date(active).toISOString(),
    end: active === null ? null : new Date(active + BLOCK_MS).toISOString(),
  }
  const weekTotals: Totals & { week: string } = { ...zeroTotals(), week }
  const todayTotals: Totals & { day: string } = { ...zeroTotals(), day: today }
  const devices = new Map<string, DeviceWindows>()
  const of = (dim: number) => {
    const id = rows.dims[dim]![DIM.device]!
    let d = devices.get(id)
    if (!d) devices.set(id, (d = { today: zeroTotals(), block: zeroTotals(), week: zeroTotals() }))
    return d
  }
  let first = Infinity
  let last = -Infinity
  // A day's local date and ISO week, once per hour of rows (zones move by whole quarter hours at least).
  let memoHour = NaN
  let memoDay = ''
  let memoWeek = ''
  rows.each((row) => {
    const hour = Math.floor(row.ms / 900_000)
    if (hour !== memoHour) {
      memoHour = hour
      memoDay = localTime(row.ms).slice(0, 10)
      memoWeek = memoDay === today ? week : isoWeek(memoDay)
    }
    // Blocks never overlap: every instant in [active, active + 5 h) is the active block's.
    if (active !== null && active <= row.ms && row.ms < active + BLOCK_MS) {
      addCounts(block, row)
      addCounts(of(row.dim).block, row)
      if (!row.failed) {
        if (row.first < first) first = row.first
        if (row.last > last) last = row.last
      }
    }
    if (memoWeek === week) {
      addCounts(weekTotals, row)
      addCounts(of(row.dim).week, row)
      if (memoDay === today) {
        addCounts(todayTotals, row)
        addCounts(of(row.dim).today, row)
      }
    }
  })
  if (active !== null) {
    block.burnRate = burnRate(block, first, last)
    block.projection = projection(block, block.burnRate, active + BLOCK_MS, t)
  }
  return { block, week: weekTotals, today: todayTotals, devices }
}

/** Percent of each configured limit used, rounded to one decimal. */
export function percentOf(t: Totals, limit: { tokens?: number; costUSD?: number } | undefined) {
  const pct = (used: number, max?: number) => (max && max > 0 ? Math.round((used / max) * 1000) / 10 : null)
  return { tokens: pct(t.totalTokens, limit?.tokens), costUSD: pct(t.costUSD, limit?.costUSD) }
}
