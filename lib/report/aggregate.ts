/** Pure aggregation of the dedupe winners into report rows (DESIGN §7). */
import type { LedgerRecord } from '../ledger/record.js'
import { recordCost, type CostMode } from './prices.js'

export type Period = 'daily' | 'monthly'
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
  for (const { record: r, device } of winners) {
    const day = o.localTime(r.ts).slice(0, 10)
    if ((o.since && day < o.since) || (o.until && day > o.until)) continue
    const period = o.period === 'daily' ? day : day.slice(0, 7)
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
    let cost = recordCost(r, o.cost)
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
