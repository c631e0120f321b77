/** Pure aggregation of the dedupe winners into report rows (DESIGN §7). */
import type { LedgerRecord } from '../ledger/record.js'
import type { CostMode, PriceTable } from './prices.js'

export type Period = 'daily' | 'weekly' | 'monthly' | 'session' | 'blocks'
export const PERIODS: readonly Period[] = ['daily', 'weekly', 'monthly', 'session', 'blocks']

/** ISO 8601 week of a calendar day: `2026-W47` (weeks start on Monday; week 1 holds a Thursday). */
export function isoWeek(day: string): string {
  const d = new Date(day + 'T00:00:00Z')
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
}

export const zeroTotals = (): Totals => ({ records: 0, input: 0, output: 0, cacheWrite: 0, cacheRead: 0, totalTokens: 0, costUSD: 0 })

/**
 * What aggregation works on: one record, or one row of the query index (the records of one
 * quarter hour and dimension). `ms` is an instant inside the quarter.
 */
export interface Contribution {
  ms: number
  device: string
  source: string
  model: string
  project: string
  session: string
  records: number
  input: number
  output: number
  cacheWrite: number
  cacheRead: number
  /** null: the model has no price */
  costUSD: number | null
}

function add(t: Totals, c: Contribution): void {
  t.records += c.records
  t.input += c.input
  t.output += c.output
  t.cacheWrite += c.cacheWrite
  t.cacheRead += c.cacheRead
  t.totalTokens += c.input + c.output + c.cacheWrite + c.cacheRead
  t.costUSD += c.costUSD ?? 0
}

export interface Aggregate {
  rows: Row[]
  totals: Totals
  unknownModels: string[]
}

export function recordContribution(r: LedgerRecord, device: string, prices: PriceTable, mode: CostMode): Contribution {
  return {
    ms: Date.parse(r.ts), device, source: r.source, model: r.model, project: r.project ?? '', session: r.session ?? '',
    records: 1, input: r.input, output: r.output, cacheWrite: r.cacheWrite, cacheRead: r.cacheRead, costUSD: prices.cost(r, mode),
  }
}

/** Aggregates dedupe winners (the in-memory path; reports read the index). */
export function aggregate(winners: Iterable<{ record: LedgerRecord; device: string }>, o: AggregateOptions): Aggregate {
  return aggregateContributions([...winners].map((w) => recordContribution(w.record, w.device, o.prices, o.cost)), o)
}

export function aggregateContributions(list: Contribution[], o: Omit<AggregateOptions, 'prices'>): Aggregate {
  const rows = new Map<string, Row>()
  const totals = zeroTotals()
  const unknown = new Set<string>()
  const blocks = o.period === 'blocks' ? blockStarts(list.map((c) => c.ms)) : null
  for (const c of list) {
    const local = o.localTime(c.ms)
    const day = local.slice(0, 10)
    if ((o.since && day < o.since) || (o.until && day > o.until)) continue
    const period = o.period === 'daily' ? day
      : o.period === 'monthly' ? day.slice(0, 7)
        : o.period === 'weekly' ? isoWeek(day)
          : o.period === 'session' ? c.session || '(none)'
            : o.localTime(blocks!.get(c.ms)!)
    const groups: Partial<Row> = {}
    for (const g of o.groupBy) {
      if (g === 'device') { groups.device = c.device; groups.deviceName = o.deviceNames.get(c.device) ?? c.device.slice(0, 8) }
      else if (g === 'source') groups.source = c.source
      else if (g === 'model') groups.model = c.model
      else groups.project = c.project
    }
    const key = o.groupBy.length ? [period, ...o.groupBy.map((g) => groups[g])].join('\0') : period
    let row = rows.get(key)
    if (!row) rows.set(key, (row = { period, ...groups, ...zeroTotals() }))
    if (c.costUSD === null) unknown.add(c.model)
    add(row, c)
    add(totals, c)
  }
  const sortKey = (row: Row) => [row.period, ...o.groupBy.map((g) => String(row[g] ?? ''))]
  const sorted = [...rows.values()].sort((a, b) => {
    const ka = sortKey(a), kb = sortKey(b)
    for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i]! < kb[i]! ? -1 : 1
    return 0
  })
  return { rows: sorted, totals, unknownModels: [...unknown].sort() }
}
