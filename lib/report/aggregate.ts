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
  /**
   * Failed upstream calls (records with `failed: true`, DESIGN §4) in this row or total; present only when there are
   * some. Without `includeFailed` they are not in `records` nor in the token counts; with it they are. Never any cost.
   */
  failed?: number
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
  /**
   * Count the tokens of failed calls (at cost 0). Without it they are only counted in `failed`, and they shape no
   * block.
   */
  includeFailed?: boolean
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

/**
 * Adds one row's counts to `t`: a row of failed calls (DESIGN §4) adds to `t.failed`, and to the counts only when
 * `includeFailed`.
 */
export function addCounts(t: Totals, r: Readonly<RowCounts>, includeFailed = false): void {
  if (r.failed) {
    t.failed = (t.failed ?? 0) + r.failed
    if (!includeFailed) return
  }
  t.records += r.records
  t.input += r.input
  t.output += r.output
  t.cacheWrite += r.cacheWrite
  t.cacheRead += r.cacheRead
  t.totalTokens += r.input + r.output + r.cacheWrite + r.cacheRead
  t.costUSD += r.costUSD
}

/**
 * A dimension's fields, by position in `Rows.dims` (and in the index's dimension keys). `failed` is `FAILED` for the
 * failed calls (DESIGN §4), empty otherwise: they are kept apart from the others.
 */
export const DIM = { device: 0, source: 1, model: 2, project: 3, session: 4, failed: 5 } as const
export const FAILED = 'failed'

/**
 * A dimension as one string, "device\tsource\tmodel\tproject\tsession\tfailed" (split on tab gives `DIM` order).
 */
export const dimKey = (device: string, r: LedgerRecord): string =>
  `${device}\t${r.source}\t${r.model}\t${r.project ?? ''}\t${r.session ?? ''}\t${r.failed ? FAILED : ''}`

/** Whether a dimension (split, `DIM` order) is one of failed calls. */
export const isFailedDim = (dim: readonly string[]): boolean => dim[DIM.failed] === FAILED

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
  /**
   * How many of `records` are failed calls: a row holds only failed calls (`failed === records`, its dimension
   * `isFailedDim`, its cost 0) or none (0).
   */
  failed: number
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
  failed: 0,
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
    const cost = prices.cost(r, mode) // 0 for a failed call
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
        row.failed = r.failed ? 1 : 0
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
  const blocks = o.period === 'blocks' ? rowBlockStarts(source, o.includeFailed ?? false) : null
  const periods = new Periods(o, blocks)
  const groups = groupIds(source.dims, o.groupBy)
  const cells = addUp(source, periods, groups, o)
  if (blocks) finishBlocks(cells, periods.blockStart, groups.count, o)
  return { rows: sortRows(cells.rows, o.groupBy), totals: cells.totals, unknownModels: [...cells.unknown].sort() }
}

/** blocks: the block start of every row's instant (failed calls shape blocks only when counted). */
function rowBlockStarts(source: Rows, includeFailed: boolean): Map<number, number> {
  const instants: number[] = []
  source.each((row) => {
    if (includeFailed || !row.failed) instants.push(row.ms)
  })
  return blockStarts(instants)
}

/** `Periods.of` of an uncounted failed call that lies in no block. */
const NO_BLOCK = -2

/**
 * The report's periods, each a small number in order of appearance. Rows repeat instants, so
 * an instant's period is found once (a session's period is its session, not its instant).
 */
class Periods {
  readonly names: string[] = []
  /** blocks: each period's block start (ms). */
  readonly blockStart: number[] = []
  private readonly index = new Map<string, number>()
  private readonly ofMs = new Map<number, number>()
  /** blocks: every block start, in order (for instants that shaped no block). */
  private starts: number[] | null = null
  constructor(
    private readonly o: Pick<AggregateOptions, 'period' | 'localTime' | 'since' | 'until'>,
    private readonly blocks: Map<number, number> | null,
  ) {}

  /**
   * The period of a row at `ms` (of `session`), or -1 outside since..until; blocks: NO_BLOCK for an uncounted failed
   * call outside every block.
   */
  of(ms: number, session: string): number {
    const o = this.o
    if (o.period === 'session') {
      const day = o.localTime(ms).slice(0, 10)
      return (o.since && day < o.since) || (o.until && day > o.until) ? -1 : this.id(session || '(none)')
    }
    let p = this.ofMs.get(ms)
    if (p === undefined) {
      const day = o.localTime(ms).slice(0, 10)
      const block = this.blocks ? this.blockOf(ms) : 0
      p =
        (o.since && day < o.since) || (o.until && day > o.until)
          ? -1
          : block === undefined
            ? NO_BLOCK
            : this.id(
                o.period === 'daily'
                  ? day
                  : o.period === 'monthly'
                    ? day.slice(0, 7)
                    : o.period === 'weekly'
                      ? isoWeek(day)
                      : o.localTime(block!),
              )
      if (this.blocks && p >= 0) this.blockStart[p] = block!
      this.ofMs.set(ms, p)
    }
    return p
  }

  /** blocks: the start of the block holding `ms` (an instant that shaped none may still lie in one). */
  private blockOf(ms: number): number | undefined {
    const own = this.blocks!.get(ms)
    if (own !== undefined) return own
    const starts = (this.starts ??= [...new Set(this.blocks!.values())].sort((a, b) => a - b))
    let lo = 0,
      hi = starts.length // the first start after ms
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (starts[mid]! <= ms) lo = mid + 1
      else hi = mid
    }
    const start = starts[lo - 1]
    return start !== undefined && ms < start + BLOCK_MS ? start : undefined
  }

  private id(name: string): number {
    let i = this.index.get(name)
    if (i === undefined) {
      i = this.names.length
      this.names.push(name)
      this.index.set(name, i)
    }
    return i
  }
}

/** Each dimension's group (the dimensions with equal `groupBy` fields share one), and how many groups. */
function groupIds(dims: string[][], groupBy: GroupKey[]): { ofDim: number[]; count: number } {
  const index = new Map<string, number>()
  const ofDim = dims.map((d) => {
    const key = groupBy.map((g) => d[DIM[g]]).join('\0')
    let i = index.get(key)
    if (i === undefined) {
      i = index.size
      index.set(key, i)
    }
    return i
  })
  return { ofDim, count: index.size }
}

/** A result row's group fields, from one of its dimensions. */
function groupFields(d: string[], o: Pick<AggregateOptions, 'groupBy' | 'deviceNames'>): Partial<Row> {
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

interface Cells {
  /** The result rows, at `period * groups + group`. */
  rows: Array<Row | undefined>
  totals: Totals
  /** Unpriced models among the counted rows. */
  unknown: Set<string>
  /** blocks: the first and last record instant of each cell, for the burn rate. */
  firsts: number[]
  lasts: number[]
}

/** Adds every row within since..until to its period and group. */
function addUp(
  source: Rows,
  periods: Periods,
  groups: { ofDim: number[]; count: number },
  o: Pick<AggregateOptions, 'period' | 'groupBy' | 'deviceNames' | 'includeFailed'>,
): Cells {
  const { ofDim, count } = groups
  const cells: Cells = { rows: [], totals: zeroTotals(), unknown: new Set(), firsts: [], lasts: [] }
  const { rows, totals, unknown, firsts, lasts } = cells
  const unpriced = new Set(source.unknownModels)
  const bySession = o.period === 'session'
  const spans = o.period === 'blocks'
  const withFailed = o.includeFailed ?? false
  let lastMs = NaN,
    lastP = -1
  // Hot loop (a row per quarter hour and dimension): rows come in runs of one instant, so its
  // period is looked up once per run; result rows sit in an array indexed by period and group.
  source.each((r) => {
    const d = source.dims[r.dim]!
    const p = bySession ? periods.of(r.ms, d[DIM.session]!) : r.ms === lastMs ? lastP : (lastP = periods.of(r.ms, ''))
    lastMs = r.ms
    if (p < 0) {
      if (p === NO_BLOCK) addCounts(totals, r)
      return
    }
    // Failed calls not asked for: only counted as failed (a row with nothing else shows 0 tokens and its count).
    const counted = withFailed || !r.failed
    const model = d[DIM.model]!
    if (counted && unpriced.size && unpriced.has(model)) unknown.add(model)
    const key = p * count + ofDim[r.dim]!
    let row = rows[key]
    if (!row) rows[key] = row = { period: periods.names[p]!, ...groupFields(d, o), ...zeroTotals() }
    if (spans && counted) {
      if (!(r.first >= firsts[key]!)) firsts[key] = r.first
      if (!(r.last <= lasts[key]!)) lasts[key] = r.last
    }
    addCounts(row, r, withFailed)
    addCounts(totals, r, withFailed)
  })
  return cells
}

/** blocks: each block's end and whether it holds now; the active one's burn rate and projection. */
function finishBlocks(
  cells: Cells,
  blockStart: number[],
  groups: number,
  o: Pick<AggregateOptions, 'localTime' | 'now'>,
): void {
  cells.rows.forEach((row, key) => {
    if (!row) return
    const start = blockStart[Math.floor(key / groups)]!
    const end = start + BLOCK_MS
    row.end = o.localTime(end)
    row.active = o.now !== undefined && start <= o.now && o.now < end
    row.burnRate = row.active ? burnRate(row, cells.firsts[key]!, cells.lasts[key]!) : null
    row.projection = row.active ? projection(row, row.burnRate, end, o.now!) : null
  })
}

/** By period, then by the group fields in `groupBy` order. */
function sortRows(cells: Array<Row | undefined>, groupBy: GroupKey[]): Row[] {
  const sortKey = (row: Row) => [row.period, ...groupBy.map((g) => String(row[g] ?? ''))]
  return cells
    .filter((r): r is Row => r !== undefined)
    .sort((a, b) => {
      const ka = sortKey(a),
        kb = sortKey(b)
      for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i]! < kb[i]! ? -1 : 1
      return 0
    })
}
