/** Renderers for report results: the JSON contract (DESIGN §7) and a terminal table. */
import Table from 'cli-table3'
import type { Row, Totals, GroupKey } from './aggregate.js'

export interface ReportResult {
  schema: 'usage-ledger/report@1'
  period: string
  timezone: string
  since: string | null
  until: string | null
  groupBy: GroupKey[]
  rows: Row[]
  totals: Totals
  devices: Array<{ id: string; name: string; head: string; lastRecordAt: string | null }>
  pricing: { asOf: string; sha256: string; mode: string }
  dedupe: { duplicateLines: number; crossDevice: number }
  warnings: Array<{ code: string; [k: string]: unknown }>
}

const roundCost = (n: number) => Math.round(n * 1e6) / 1e6

export function renderJson(r: ReportResult): string {
  const fix = <T extends Totals>(t: T): T => ({ ...t, costUSD: roundCost(t.costUSD) })
  return JSON.stringify({ ...r, rows: r.rows.map(fix), totals: fix(r.totals) }, null, 2) + '\n'
}

const n = (x: number) => x.toLocaleString('en-US')
const usd = (x: number) => '$' + x.toFixed(2)

const GROUP_TITLES: Record<GroupKey, string> = { device: 'Device', source: 'Source', model: 'Model', project: 'Project' }

export function renderTable(r: ReportResult, opts: { color: boolean }): string {
  const head = [r.period === 'daily' ? 'Day' : 'Month', ...r.groupBy.map((g) => GROUP_TITLES[g]), 'Records', 'Input', 'Output', 'Cache write', 'Cache read', 'Total tokens', 'Cost (USD)']
  const table = new Table({
    head,
    style: { head: opts.color ? ['cyan'] : [], border: opts.color ? ['grey'] : [], compact: true },
    colAligns: head.map((_, i) => (i <= r.groupBy.length ? 'left' : 'right')),
  })
  const cells = (t: Totals) => [n(t.records), n(t.input), n(t.output), n(t.cacheWrite), n(t.cacheRead), n(t.totalTokens), usd(t.costUSD)]
  for (const row of r.rows) {
    table.push([row.period, ...r.groupBy.map((g) => (g === 'device' ? row.deviceName ?? '' : String(row[g] ?? ''))), ...cells(row)])
  }
  table.push([{ content: 'Total', colSpan: 1 + r.groupBy.length }, ...cells(r.totals)] as never)
  let s = table.toString() + '\n'
  if (r.dedupe.duplicateLines) s += `${n(r.dedupe.duplicateLines)} duplicate line${r.dedupe.duplicateLines === 1 ? '' : 's'} of already counted responses dropped\n`
  for (const w of r.warnings) s += `warning: ${w.code}${w.models ? ' ' + (w.models as string[]).join(', ') : ''}\n`
  return s
}
