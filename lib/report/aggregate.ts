/** Pure aggregation of the dedupe winners into report rows (DESIGN §7). */
import type { LedgerRecord } from '../ledger/record.js'
import type { CostMode, PriceTable } from './prices.js'

export type Period = 'daily' | 'weekly' | 'monthly' | 'session' | 'blocks'

/** ISO 8601 week of a calendar day: `2026-W47` (weeks start on Monday; week 1 holds a Thursday). */
export function isoWeek(day: string): string {
  const d = new Date(`${day}T00:00:00Z`)
  d.setUTCDate(d.getUTCDate() + 4 - (d.getUTCDay() || 7)) // the Thursday of this week decides the year
  const yearStart = Date.UTC(d.getUTCFullYear(), 0, 1)
  const week = Math.ceil(((d.getTime() - yearStart) / 86_400_000 + 1) / 7)
  return `${d.getUTCFullYear()}-W${String(week).padStart(2, '0')}`
}

export const BLOCK_MS = 5 * 3_600_000

/**
 * 5-hour usage windows as the providers count them: a block starts at the first activity
 * after the previous block ended, floored to the hour, and lasts five hours.
 */
export function blockStarts(instants: number[]): Map<number, number> {
  const sorted = [...new Set(instants)].sort((a, b) => a - b)
  const starts = new Map<number, number>()
  let start = -Infinity
  for (const ms of sorted) {
    if (ms >= start + BLOCK_MS) start = Math.floor(ms / 3_600_000) * 3_600_000
    starts.set(ms, start)
  }
  return starts
}
export type GroupKey = 'device' | 'source' | 'model' | 'project'
export const GROUP_KEYS: readonly GroupKey[] = ['device', 'source', 'model', 'project']

export interface Totals {
  records: number
  input: number
  output: number
  cacheWrite: number
  cacheRead: number
  totalTokens: number
  costUSD: number
}

export interface Row extends Totals {
  period: string
  device?: string
  deviceName?: string
  source?: string
  model?: string
  project?: string
  /** blocks: the block's end (start + 5 h), in the period's format. */
  end?: string
  /** blocks: the block contains now. */
  active?: boolean
  /**
   * blocks, the active one only (ccusage's definitions): tokens and cost over the span from the first to the last
   * record.
   */
  burnRate?: BurnRate | null
  /** blocks, the active one only: the totals at the block's end if the burn rate holds. */
  projection?: Projection | null
}

export interface BurnRate {
  tokensPerMinute: number
  costPerHour: number
}
export interface Projection {
  totalTokens: number
  costUSD: number
  remainingMinutes: number
}

/**
 * ccusage's burn rate of a block: its tokens and cost over the minutes from its first to its
 * last record; null when they are one instant.
 */
export function burnRate(t: Totals, firstMs: number, lastMs: number): BurnRate | null {
  const minutes = (lastMs - firstMs) / 60_000
  if (!(minutes > 0)) return null
  return { tokensPerMinute: t.totalTokens / minutes, costPerHour: (t.costUSD / minutes) * 60 }
}

/** ccusage's projection: the totals so far plus the burn rate over the whole minutes left until the block ends. */
export function projection(t: Totals, rate: BurnRate | null, endMs: number, nowMs: number): Projection | null {
  if (!rate) return null
  const remainingMinutes = Math.round(Math.max(0, endMs - nowMs) / 60_000)
  return {
    totalTokens: Math.round(t.totalTokens + rate.tokensPerMinute * remainingMinutes),
    costUSD: Math.round((t.costUSD + (rate.costPerHour / 60) * remainingMinutes) * 100) / 100,
    remainingMinutes,
  }
}

export interface AggregateOptions {
  period: Period
  /** Local `YYYY-MM-DDTHH:MM` of a UTC instant (RFC 3339 string or epoch ms) in the report's zone. */
  localTime: (ts: string | number) => string
  since?: string
  until?: string
  groupBy: GroupKey[]
  cost: CostMode
  prices: PriceTable
  deviceNames: Map<string, string>
  /** The clock (ms): blocks containing it are `active` and get a burn rate and projection. */
  now?: number
}

export const zeroTotals = (): Totals => ({
  records: 0,
  input: 0,
  output: 0,
  cacheWrite: 0,
  cacheRead: 0,
  totalTokens: 0,
  costUSD: 0,
})

/** Adds one row's counts to `t`. */
export function addCounts(t: Totals, r: Readonly<RowCounts>): void {
  t.records += r.records
  t.input += r.input
  t.output += r.output
  t.cacheWrite += r.cacheWrite
  t.cacheRead += r.cacheRead
  t.totalTokens += r.input + r.output + r.cacheWrite + r.cacheRead
  t.costUSD += r.costUSD
}

/** A dimension's fields, by position in `Rows.dims` (and in the index's dimension keys). */
export const DIM = { device: 0, source: 1, model: 2, project: 3, session: 4 } as const

/** A dimension as one string, "device\tsource\tmodel\tproject\tsession" (split on tab gives `DIM` order). */
export const dimKey = (device: string, r: LedgerRecord): string =>
  `${device}\t${r.source}\t${r.model}\t${r.project ?? ''}\t${r.session ?? ''}`

export type RowCounts = Omit<Totals, 'totalTokens'>

/** One row as `Rows.each` shows it. */
export interface RowView extends RowCounts {
  /** An instant inside the row's quarter hour (ms). */
  ms: number
  /** Index into `Rows.dims`. */
  dim: number
  /** The exact instants of the row's first and last record (ms). */
  first: number
  last: number
}

/**
 * What aggregation works on: rows of (instant, dimension, counts, cost), where a dimension is
 * [device, source, model, project, session] (`DIM`). The query index is such rows already (one
 * per quarter hour and dimension); records become one row each. No object per row is made:
 * `each` shows every row in one reused view, valid only during the visit.
 */
export interface Rows {
  dims: string[][]
  each(visit: (row: Readonly<RowView>) => void): void
  /** Models without a price among the rows. */
  unknownModels: string[]
}

export interface Aggregate {
  rows: Row[]
  totals: Totals
  unknownModels: string[]
}

/** The view `Rows.each` fills for every row (one shape for every producer, so the visitors stay monomorphic). */
export const emptyRowView = (): RowView => ({
  ms: 0,
  dim: 0,
  records: 0,
  input: 0,
  output: 0,
  cacheWrite: 0,
  cacheRead: 0,
  costUSD: 0,
  first: 0,
  last: 0,
})

/** Records as rows (the in-memory path and tests; reports read the index). */
export function recordRows(
  winners: Iterable<{ record: LedgerRecord; device: string }>,
  prices: PriceTable,
  mode: CostMode,
): Rows {
  const dims: string[][] = []
  const dimIndex = new Map<string, number>()
  const list: Array<[number, number, LedgerRecord, number]> = []
  const unknown = new Set<string>()
  for (const { record: r, device } of winners) {
    const key = dimKey(device, r)
    let d = dimIndex.get(key)
    if (d === undefined) {
      d = dims.length
      dims.push(key.split('\t'))
      dimIndex.set(key, d)
    }
    const cost = prices.cost(r, mode)
    if (cost === null) unknown.add(r.model)
    list.push([Date.parse(r.ts), d, r, cost ?? 0])
  }
  return {
    dims,
    unknownModels: [...unknown].sort(),
    each(visit) {
      const row = emptyRowView()
      for (const [ms, d, r, cost] of list) {
        row.ms = row.first = row.last = ms
        row.dim = d
        row.records = 1
        row.input = r.input
        row.output = r.output
        row.cacheWrite = r.cacheWrite
        row.cacheRead = r.cacheRead
        row.costUSD = cost
        visit(row)
      }
    },
  }
}

/** Aggregates dedupe winners (the in-memory path; reports read the index). */
export function aggregate(winners: Iterable<{ record: LedgerRecord; device: string }>, o: AggregateOptions): Aggregate {
  return aggregateRows(recordRows(winners, o.prices, o.cost), o)
}

export function aggregateRows(source: Rows, o: Omit<AggregateOptions, 'prices'>): Aggregate {
  const totals = zeroTotals()
  let blocks: Map<number, number> | null = null
  if (o.period === 'blocks') {
    const instants: number[] = []
    source.each((row) => {
      instants.push(row.ms)
    })
    blocks = blockStarts(instants)
  }
  // Rows repeat instants and dimensions: each instant becomes a period, each dimension a
  // group, once; a row of the result is found by two small numbers, not a built string.
  const periods: string[] = []
  /** blocks: each period's block start (ms). */
  const periodStart: number[] = []
  const periodIndex = new Map<string, number>()
  const periodOfMs = new Map<number, number>()
  const periodId = (p: string) => {
    let i = periodIndex.get(p)
    if (i === undefined) {
      i = periods.length
      periods.push(p)
      periodIndex.set(p, i)
    }
    return i
  }
  const periodOf = (ms: number, session: string): number => {
    if (o.period === 'session') {
      const day = o.localTime(ms).slice(0, 10)
      return (o.since && day < o.since) || (o.until && day > o.until) ? -1 : periodId(session || '(none)')
    }
    let p = periodOfMs.get(ms)
    if (p === undefined) {
      const day = o.localTime(ms).slice(0, 10)
      p =
        (o.since && day < o.since) || (o.until && day > o.until)
          ? -1
          : periodId(
              o.period === 'daily'
                ? day
                : o.period === 'monthly'
                  ? day.slice(0, 7)
                  : o.period === 'weekly'
                    ? isoWeek(day)
                    : o.localTime(blocks!.get(ms)!),
            )
      if (blocks && p >= 0) periodStart[p] = blocks.get(ms)!
      periodOfMs.set(ms, p)
    }
    return p
  }
  const groupIndex = new Map<string, number>()
  const groupOfDim = source.dims.map((d) => {
    const key = o.groupBy.map((g) => d[DIM[g]]).join('\0')
    let i = groupIndex.get(key)
    if (i === undefined) {
      i = groupIndex.size
      groupIndex.set(key, i)
    }
    return i
  })
  const groups = groupIndex.size
  const groupsOf = (d: string[]): Partial<Row> => {
    const out: Partial<Row> = {}
    for (const g of o.groupBy) {
      if (g === 'device') {
        const device = d[DIM.device]!
        out.device = device
        out.deviceName = o.deviceNames.get(device) ?? device.slice(0, 8)
      } else out[g] = d[DIM[g]]
    }
    return out
  }
  // Hot loop (a row per quarter hour and dimension): rows come in runs of one instant, so its
  // period is looked up once per run; result rows sit in an array indexed by period and group.
  const cells: Array<Row | undefined> = []
  const unpriced = new Set(source.unknownModels)
  const unknown = new Set<string>()
  const bySession = o.period === 'session'
  let lastMs = NaN,
    lastP = -1
  // blocks: the first and last record instant of each cell, for the burn rate.
  const firsts: number[] = [],
    lasts: number[] = []
  source.each((r) => {
    const d = source.dims[r.dim]!
    const p = bySession ? periodOf(r.ms, d[DIM.session]!) : r.ms === lastMs ? lastP : (lastP = periodOf(r.ms, ''))
    lastMs = r.ms
    if (p < 0) return
    const model = d[DIM.model]!
    if (unpriced.size && unpriced.has(model)) unknown.add(model)
    const key = p * groups + groupOfDim[r.dim]!
    let row = cells[key]
    if (!row) cells[key] = row = { period: periods[p]!, ...groupsOf(d), ...zeroTotals() }
    if (blocks) {
      if (!(r.first >= firsts[key]!)) firsts[key] = r.first
      if (!(r.last <= lasts[key]!)) lasts[key] = r.last
    }
    addCounts(row, r)
    addCounts(totals, r)
  })
  if (blocks) {
    cells.forEach((row, key) => {
      if (!row) return
      const start = periodStart[Math.floor(key / groups)]!
      const end = start + BLOCK_MS
      row.end = o.localTime(end)
      row.active = o.now !== undefined && start <= o.now && o.now < end
      row.burnRate = row.active ? burnRate(row, firsts[key]!, lasts[key]!) : null
      row.projection = row.active ? projection(row, row.burnRate, end, o.now!) : null
    })
  }
  const sortKey = (row: Row) => [row.period, ...o.groupBy.map((g) => String(row[g] ?? ''))]
  const sorted = cells
    .filter((r): r is Row => r !== undefined)
    .sort((a, b) => {
      const ka = sortKey(a),
        kb = sortKey(b)
      for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i]! < kb[i]! ? -1 : 1
      return 0
    })
  return { rows: sorted, totals, unknownModels: [...unknown].sort() }
}
