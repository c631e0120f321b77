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
export function blockStarts(tsList: string[]): Map<string, number> {
  const sorted = [...new Set(tsList)].sort()
  const starts = new Map<string, number>()
  let start = -Infinity
  for (const ts of sorted) {
    const ms = Date.parse(ts)
    if (ms >= start + BLOCK_MS) start = Math.floor(ms / 3_600_000) * 3_600_000
    starts.set(ts, start)
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
  /** Local `YYYY-MM-DDTHH:MM` of a UTC timestamp in the report's zone. */
  localTime: (ts: string) => string
  since?: string
  until?: string
  groupBy: GroupKey[]
  cost: CostMode
  prices: PriceTable
  deviceNames: Map<string, string>
}

export const zeroTotals = (): Totals => ({ records: 0, input: 0, output: 0, cacheWrite: 0, cacheRead: 0, totalTokens: 0, costUSD: 0 })

function add(t: Totals, r: LedgerRecord, cost: number): void {
  t.records++
  t.input += r.input
  t.output += r.output
  t.cacheWrite += r.cacheWrite
  t.cacheRead += r.cacheRead
  t.totalTokens += r.input + r.output + r.cacheWrite + r.cacheRead
  t.costUSD += cost
}

export interface Aggregate {
  rows: Row[]
  totals: Totals
  unknownModels: string[]
}

export function aggregate(winners: Iterable<{ record: LedgerRecord; device: string }>, o: AggregateOptions): Aggregate {
  const rows = new Map<string, Row>()
  const totals = zeroTotals()
  const unknown = new Set<string>()
  const list = Array.isArray(winners) ? winners : [...winners]
  const blocks = o.period === 'blocks' ? blockStarts(list.map((w) => w.record.ts)) : null
  for (const { record: r, device } of list) {
    const local = o.localTime(r.ts)
    const day = local.slice(0, 10)
    if ((o.since && day < o.since) || (o.until && day > o.until)) continue
    const period = o.period === 'daily' ? day
      : o.period === 'monthly' ? day.slice(0, 7)
        : o.period === 'weekly' ? isoWeek(day)
          : o.period === 'session' ? r.session ?? '(none)'
            : o.localTime(new Date(blocks!.get(r.ts)!).toISOString())
    const groups: Partial<Row> = {}
    for (const g of o.groupBy) {
      if (g === 'device') { groups.device = device; groups.deviceName = o.deviceNames.get(device) ?? device.slice(0, 8) }
      else if (g === 'source') groups.source = r.source
      else if (g === 'model') groups.model = r.model
      else groups.project = r.project ?? ''
    }
    const key = [period, ...o.groupBy.map((g) => groups[g])].join('\0')
    let row = rows.get(key)
    if (!row) rows.set(key, (row = { period, ...groups, ...zeroTotals() }))
    let cost = o.prices.cost(r, o.cost)
    if (cost === null) { unknown.add(r.model); cost = 0 }
    add(row, r, cost)
    add(totals, r, cost)
  }
  const sortKey = (row: Row) => [row.period, ...o.groupBy.map((g) => String(row[g] ?? ''))]
  const sorted = [...rows.values()].sort((a, b) => {
    const ka = sortKey(a), kb = sortKey(b)
    for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i]! < kb[i]! ? -1 : 1
    return 0
  })
  return { rows: sorted, totals, unknownModels: [...unknown].sort() }
}
