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
  pricing: { asOf: string; sha256: string; mode: string; overrides: string[] }
  /** `devices`: per device, the responses held that other devices recorded too, and how many count for it. */
  dedupe: { duplicateLines: number; crossDevice: number; devices?: Array<{ id: string; name: string; records: number; counted: number }> }
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

const PERIOD_TITLES: Record<string, string> = { daily: 'Day', weekly: 'Week', monthly: 'Month', session: 'Session', blocks: 'Block' }

/** A block's cell: `2026-11-21T09:00–14:00`, `*` marking the active block (explained under the table). */
const periodCell = (row: Row) => (row.end === undefined ? row.period : `${row.period}–${row.end.slice(11, 16)}${row.active ? '*' : ''}`)

/** Under a blocks table: the active block's burn rate and projection (ccusage's definitions). */
function activeBlockLines(r: ReportResult): string {
  let s = ''
  for (const row of r.rows) {
    if (!row.active) continue
    const who = r.groupBy.map((g) => (g === 'device' ? row.deviceName ?? '' : String(row[g] ?? ''))).filter(Boolean).join(', ')
    const rate = row.burnRate
      ? `burn rate ${n(Math.round(row.burnRate.tokensPerMinute))} tokens/min, ${usd(row.burnRate.costPerHour)}/h; projected at ${row.end!.slice(11, 16)} (in ${row.projection!.remainingMinutes} min): ${n(row.projection!.totalTokens)} tokens, ${usd(row.projection!.costUSD)}`
      : 'no burn rate yet (one instant of activity)'
    s += `* active block ${periodCell(row).replace(/\*$/, '')}${who ? ` (${who})` : ''}: ${rate}\n`
  }
  return s
}

const TOTAL_KEYS = ['records', 'input', 'output', 'cacheWrite', 'cacheRead', 'totalTokens', 'costUSD'] as const

/** The columns of a row, in the order of the JSON contract; device adds its name. */
function columns(r: ReportResult): string[] {
  return ['period', ...r.groupBy.flatMap((g) => (g === 'device' ? ['device', 'deviceName'] : [g])), ...TOTAL_KEYS]
}

const cell = (row: Row | (Totals & { period: string }), key: string) => {
  const v = (row as unknown as Record<string, unknown>)[key]
  return key === 'costUSD' ? String(roundCost(v as number)) : v === undefined ? '' : String(v)
}

/** CSV (RFC 4180) with a header row and a final `total` row. */
export function renderCsv(r: ReportResult): string {
  const cols = columns(r)
  const quote = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v)
  const lines = [cols.join(',')]
  for (const row of r.rows) lines.push(cols.map((c) => quote(cell(row, c))).join(','))
  lines.push(cols.map((c) => quote(c === 'period' ? 'total' : cell({ ...r.totals, period: 'total' }, c))).join(','))
  return lines.join('\r\n') + '\r\n'
}

/** A GitHub-flavoured Markdown table with a bold totals row. */
export function renderMarkdown(r: ReportResult): string {
  const head = [PERIOD_TITLES[r.period] ?? 'Period', ...r.groupBy.map((g) => GROUP_TITLES[g]), 'Records', 'Input', 'Output', 'Cache write', 'Cache read', 'Total tokens', 'Cost (USD)']
  const esc = (v: string) => v.replace(/\|/g, '\\|')
  const cells = (t: Totals) => [n(t.records), n(t.input), n(t.output), n(t.cacheWrite), n(t.cacheRead), n(t.totalTokens), usd(t.costUSD)]
  const out = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i <= r.groupBy.length ? ' --- ' : ' ---: ')).join('|')}|`]
  for (const row of r.rows) out.push(`| ${[row.period, ...r.groupBy.map((g) => (g === 'device' ? row.deviceName ?? '' : String(row[g] ?? ''))), ...cells(row)].map(esc).join(' | ')} |`)
  out.push(`| ${['**Total**', ...r.groupBy.map(() => ''), ...cells(r.totals).map((c) => `**${c}**`)].join(' | ')} |`)
  return out.join('\n') + '\n'
}

export interface TableOptions {
  color: boolean
  /** Terminal width; a wider table falls back to the compact columns. */
  width?: number
  compact?: boolean
  /** A bar column for the cost of each row. */
  chart?: boolean
}

const visibleWidth = (line: string) => line.replace(/\x1b\[[0-9;]*m/g, '').length

export function renderTable(r: ReportResult, opts: TableOptions): string {
  const full = table(r, opts, false)
  const fits = !opts.width || visibleWidth(full.split('\n')[0] ?? '') <= opts.width
  let s = (opts.compact || !fits ? table(r, opts, true) : full) + '\n'
  s += activeBlockLines(r)
  if (r.dedupe.duplicateLines) s += `${n(r.dedupe.duplicateLines)} duplicate line${r.dedupe.duplicateLines === 1 ? '' : 's'} of already counted responses dropped\n`
  for (const w of r.warnings) s += w.code === 'DUPLICATE_ACROSS_DEVICES' ? `warning: ${w.detail}\n` : `warning: ${w.code}${w.models ? ' ' + (w.models as string[]).join(', ') : ''}\n`
  return s
}

const BAR = 20

function table(r: ReportResult, opts: TableOptions, compact: boolean): string {
  const tokenHeads = compact ? ['Records', 'Tokens', 'Cost'] : ['Records', 'Input', 'Output', 'Cache write', 'Cache read', 'Total tokens', 'Cost (USD)']
  const head = [PERIOD_TITLES[r.period] ?? 'Period', ...r.groupBy.map((g) => GROUP_TITLES[g]), ...tokenHeads, ...(opts.chart ? [''] : [])]
  const t = new Table({
    head,
    style: { head: opts.color ? ['cyan'] : [], border: opts.color ? ['grey'] : [], compact: true },
    colAligns: head.map((_, i) => (i <= r.groupBy.length || i === head.length - 1 && opts.chart ? 'left' : 'right')),
  })
  const maxCost = Math.max(0, ...r.rows.map((row) => row.costUSD))
  const bar = (cost: number) => (maxCost > 0 ? '█'.repeat(Math.round((cost / maxCost) * BAR)) : '')
  const cells = (x: Totals) => (compact
    ? [n(x.records), n(x.totalTokens), usd(x.costUSD)]
    : [n(x.records), n(x.input), n(x.output), n(x.cacheWrite), n(x.cacheRead), n(x.totalTokens), usd(x.costUSD)])
  for (const row of r.rows) {
    t.push([periodCell(row), ...r.groupBy.map((g) => (g === 'device' ? row.deviceName ?? '' : String(row[g] ?? ''))), ...cells(row), ...(opts.chart ? [bar(row.costUSD)] : [])])
  }
  t.push([{ content: 'Total', colSpan: 1 + r.groupBy.length }, ...cells(r.totals), ...(opts.chart ? [''] : [])] as never)
  return t.toString()
}
