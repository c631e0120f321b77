/** Renderers for report results: the JSON contract (DESIGN §7) and a terminal table. */
import Table from 'cli-table3'
import type { Row, Totals, GroupKey } from './aggregate.js'
import { projectLabels, type NamedRow } from './sessions.js'
import { displayWidth, plural, truncate, wrap } from '../text.js'

export interface ReportResult {
  schema: 'usage-ledger/report@1'
  period: string
  timezone: string
  since: string | null
  until: string | null
  groupBy: GroupKey[]
  /**
   * Whether the token counts include failed calls (DESIGN §4; `report --include-failed`). Either way a row or the
   * totals with failed calls state how many in `failed`, and they cost nothing.
   */
  includeFailed: boolean
  rows: Row[]
  totals: Totals
  devices: Array<{ id: string; name: string; head: string; lastRecordAt: string | null }>
  pricing: { asOf: string; sha256: string; mode: string; overrides: string[] }
  /** `devices`: per device, the responses held that other devices recorded too, and how many count for it. */
  dedupe: {
    duplicateLines: number
    crossDevice: number
    devices?: Array<{ id: string; name: string; records: number; counted: number }>
  }
  warnings: Array<{ code: string; [k: string]: unknown }>
}

const roundCost = (n: number) => Math.round(n * 1e6) / 1e6

export function renderJson(r: ReportResult): string {
  const fix = <T extends Totals>(t: T): T => ({ ...t, costUSD: roundCost(t.costUSD) })
  return `${JSON.stringify({ ...r, rows: r.rows.map(fix), totals: fix(r.totals) }, null, 2)}\n`
}

const n = (x: number) => x.toLocaleString('en-US')
const usd = (x: number) => `$${x.toFixed(2)}`

const GROUP_TITLES: Record<GroupKey, string> = {
  device: 'Device',
  source: 'Source',
  model: 'Model',
  project: 'Project',
}

const PERIOD_TITLES: Record<string, string> = {
  daily: 'Day',
  weekly: 'Week',
  monthly: 'Month',
  session: 'Session',
  blocks: 'Block',
}

/** A block's cell: `2026-11-21T09:00–14:00`, `*` marking the active block (explained under the table). */
const periodCell = (row: Row) =>
  row.active === undefined || row.end === undefined
    ? row.period
    : `${row.period}–${row.end.slice(11, 16)}${row.active ? '*' : ''}`

/** Under a blocks table: the active block's burn rate and projection (ccusage's definitions). */
function activeBlockLines(r: ReportResult): string[] {
  const out: string[] = []
  for (const row of r.rows) {
    if (!row.active) continue
    const who = r.groupBy
      .map((g) => (g === 'device' ? (row.deviceName ?? '') : String(row[g] ?? '')))
      .filter(Boolean)
      .join(', ')
    const rate = row.burnRate
      ? `burn rate ${n(Math.round(row.burnRate.tokensPerMinute))} tokens/min, ${usd(row.burnRate.costPerHour)}/h; projected at ${row.end!.slice(11, 16)} (in ${row.projection!.remainingMinutes} min): ${n(row.projection!.totalTokens)} tokens, ${usd(row.projection!.costUSD)}`
      : 'no burn rate yet (one instant of activity)'
    out.push(`* active block ${periodCell(row).replace(/\*$/, '')}${who ? ` (${who})` : ''}: ${rate}`)
  }
  return out
}

const TOTAL_KEYS = ['records', 'input', 'output', 'cacheWrite', 'cacheRead', 'totalTokens', 'costUSD'] as const

/**
 * Under a table: how many failed calls the report holds and whether their tokens count (nothing when it holds none).
 */
function failedLine(r: ReportResult): string | null {
  const failed = r.totals.failed ?? 0
  if (!failed) return null
  return r.includeFailed
    ? `${plural(failed, 'failed call', undefined, n)} counted in the tokens above (at cost 0)`
    : `${plural(failed, 'failed call', undefined, n)} not counted in the tokens above (--include-failed counts them, at cost 0)`
}

/**
 * The columns of a row, in the order of the JSON contract; device adds its name, project its
 * directory name (empty where this machine does not know it), a session its project, id,
 * start, end and models.
 */
function columns(r: ReportResult): string[] {
  const session =
    r.period === 'session'
      ? [...(r.groupBy.includes('project') ? [] : ['project', 'projectName']), 'sessionId', 'start', 'end', 'models']
      : []
  return [
    'period',
    ...session,
    ...r.groupBy.flatMap((g) =>
      g === 'device' ? ['device', 'deviceName'] : g === 'project' ? ['project', 'projectName'] : [g],
    ),
    ...TOTAL_KEYS,
    // A report holding failed calls says how many, per row (DESIGN §4).
    ...(r.totals.failed ? ['failed'] : []),
  ]
}

const cell = (row: Row | (Totals & { period: string }), key: string) => {
  const v = (row as unknown as Record<string, unknown>)[key]
  return key === 'costUSD'
    ? String(roundCost(v as number))
    : key === 'failed'
      ? String(v ?? 0)
      : v === undefined
        ? ''
        : Array.isArray(v)
          ? v.join(' ')
          : String(v)
}

/** A time of a session row, `YYYY-MM-DDTHH:MM` shown as `YYYY-MM-DD HH:MM` (compact: `MM-DD HH:MM`). */
const when = (t: string | undefined, compact: boolean) => (t ? (compact ? t.slice(5) : t).replace('T', ' ') : '')

/**
 * The text columns of a table (period, a session's project and times, the groups), with the
 * cell each shows for a row: names where this machine knows them, else hashes.
 */
export function labelColumns(
  r: ReportResult,
  compact: boolean,
): Array<{ head: string; cell: (row: NamedRow) => string; min?: number }> {
  const projects = projectLabels(r.rows as NamedRow[])
  const project = (row: NamedRow) => (row.project ? (projects.get(row.project) ?? row.project) : '')
  // A compact table cuts hashes and names before dates and times (min: the narrowest a column gets).
  const cols: Array<{ head: string; cell: (row: NamedRow) => string; min?: number }> = [
    {
      head: PERIOD_TITLES[r.period] ?? 'Period',
      cell: (row) => (r.period === 'blocks' ? periodCell(row) : row.period),
      min: r.period === 'session' ? 8 : Infinity,
    },
  ]
  if (r.period === 'session') {
    if (!r.groupBy.includes('project')) cols.push({ head: 'Project', cell: project })
    cols.push({ head: 'Start', cell: (row) => when(row.start, compact), min: Infinity })
    if (!compact)
      cols.push(
        { head: 'End', cell: (row) => when(row.end, false) },
        { head: 'Models', cell: (row) => (row.models ?? []).join(', ') },
      )
  }
  // Compact: a model without its date suffix (claude-sonnet-4-5-20250929 → claude-sonnet-4-5).
  const model = (row: NamedRow) =>
    compact ? String(row.model ?? '').replace(/-20\d{6}$/, '') : String(row.model ?? '')
  for (const g of r.groupBy)
    cols.push({
      head: GROUP_TITLES[g],
      cell:
        g === 'device'
          ? (row) => row.deviceName ?? ''
          : g === 'project'
            ? project
            : g === 'model'
              ? model
              : (row) => String(row[g] ?? ''),
    })
  return cols
}

/** CSV (RFC 4180) with a header row and a final `total` row. */
export function renderCsv(r: ReportResult): string {
  const cols = columns(r)
  const quote = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v)
  const lines = [cols.join(',')]
  for (const row of r.rows) lines.push(cols.map((c) => quote(cell(row, c))).join(','))
  lines.push(cols.map((c) => quote(c === 'period' ? 'total' : cell({ ...r.totals, period: 'total' }, c))).join(','))
  return `${lines.join('\r\n')}\r\n`
}

/** A GitHub-flavoured Markdown table with a bold totals row. */
export function renderMarkdown(r: ReportResult): string {
  const labels = labelColumns(r, false)
  const head = [
    ...labels.map((c) => c.head),
    'Records',
    'Input',
    'Output',
    'Cache write',
    'Cache read',
    'Total tokens',
    'Cost (USD)',
  ]
  const esc = (v: string) => v.replace(/\|/g, '\\|')
  const cells = (t: Totals) => [
    n(t.records),
    n(t.input),
    n(t.output),
    n(t.cacheWrite),
    n(t.cacheRead),
    n(t.totalTokens),
    usd(t.costUSD),
  ]
  const out = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i < labels.length ? ' --- ' : ' ---: ')).join('|')}|`]
  for (const row of r.rows) out.push(`| ${[...labels.map((c) => c.cell(row)), ...cells(row)].map(esc).join(' | ')} |`)
  out.push(
    `| ${['**Total**', ...labels.slice(1).map(() => ''), ...cells(r.totals).map((c) => `**${c}**`)].join(' | ')} |`,
  )
  const failed = failedLine(r)
  if (failed) out.push('', failed)
  return `${out.join('\n')}\n`
}

export interface TableOptions {
  color: boolean
  /** Terminal width; a wider table falls back to the compact columns. */
  width?: number
  compact?: boolean
  /** A bar column for the cost of each row. */
  chart?: boolean
}

/** A compact table never gets wider than this (nor than the terminal). */
export const COMPACT_WIDTH = 80

export function renderTable(r: ReportResult, opts: TableOptions): string {
  const full = table(r, opts, false)
  const fits = !opts.width || displayWidth(full.split('\n')[0] ?? '') <= opts.width
  const compact = opts.compact || !fits
  let s = `${compact ? table(r, opts, true) : full}\n`
  const limit = compact ? Math.min(opts.width || COMPACT_WIDTH, COMPACT_WIDTH) : Infinity
  const line = (text: string) => {
    s += `${compact ? wrap(text, limit) : text}\n`
  }
  for (const l of activeBlockLines(r)) line(l)
  const failed = failedLine(r)
  if (failed) line(failed)
  if (r.dedupe.duplicateLines)
    line(`${plural(r.dedupe.duplicateLines, 'duplicate line', undefined, n)} of already counted responses dropped`)
  for (const w of r.warnings)
    line(
      w.code === 'DUPLICATE_ACROSS_DEVICES'
        ? `warning: ${w.detail}`
        : `warning: ${w.code}${w.models ? ` ${(w.models as string[]).join(', ')}` : ''}`,
    )
  return s
}

const BAR = 20
/** The narrowest a text column of a compact table gets: a hash keeps five characters and `…`. */
const MIN_TEXT = 6

type LabelColumn = ReturnType<typeof labelColumns>[number]

/** A table's count columns: their heads, each row's text (with its cost, for the bar) and the totals. */
interface TableBody {
  heads: string[]
  rows: Array<{ text: string[]; counts: string[]; cost: number }>
  totals: string[]
}

function table(r: ReportResult, opts: TableOptions, compact: boolean): string {
  const labels = labelColumns(r, compact)
  const body = tableBody(r, labels, compact)
  const bar = compact ? fitCompact(labels, body, opts) : BAR
  return drawTable(r, labels, body, opts, bar)
}

function tableBody(r: ReportResult, labels: LabelColumn[], compact: boolean): TableBody {
  const cells = (x: Totals) =>
    compact
      ? [n(x.records), n(x.totalTokens), usd(x.costUSD)]
      : [n(x.records), n(x.input), n(x.output), n(x.cacheWrite), n(x.cacheRead), n(x.totalTokens), usd(x.costUSD)]
  return {
    heads: compact
      ? ['Records', 'Tokens', 'Cost']
      : ['Records', 'Input', 'Output', 'Cache write', 'Cache read', 'Total tokens', 'Cost (USD)'],
    rows: (r.rows as NamedRow[]).map((row) => ({
      text: labels.map((c) => c.cell(row)),
      counts: cells(row),
      cost: row.costUSD,
    })),
    totals: cells(r.totals),
  }
}

/**
 * A compact table fits COMPACT_WIDTH (or a narrower terminal): the counts keep their width;
 * the widest text column gives up a character at a time (hashes and names down to MIN_TEXT,
 * dates and times never); with many groups the Records column goes first. Cuts `labels` and
 * `body` in place and returns the bar's width.
 */
function fitCompact(labels: LabelColumn[], body: TableBody, opts: TableOptions): number {
  const limit = Math.min(opts.width || COMPACT_WIDTH, COMPACT_WIDTH)
  const natural = labels.map((c, i) =>
    Math.max(
      displayWidth(c.head),
      ...body.rows.map((row) => displayWidth(row.text[i]!)),
      i === 0 ? displayWidth('Total') : 0,
    ),
  )
  let fit = fitWidths(labels, natural, body, opts, limit, 3)
  if (!fit.fits) {
    // Records goes before the names are cut any further.
    fit = fitWidths(labels, natural, body, opts, limit, 2)
    body.heads = body.heads.slice(1)
    for (const row of body.rows) row.counts = row.counts.slice(1)
    body.totals = body.totals.slice(1)
  }
  const { widths } = fit
  for (const row of body.rows) row.text = row.text.map((c, i) => truncate(c, widths[i]!))
  labels.forEach((c, i) => {
    c.head = truncate(c.head, widths[i]!)
  })
  return fit.bar
}

/** The text columns' widths and the bar's with the last `counts` count columns, and whether they fit `limit`. */
function fitWidths(
  labels: LabelColumn[],
  natural: number[],
  body: TableBody,
  opts: TableOptions,
  limit: number,
  counts: number,
): { widths: number[]; bar: number; fits: boolean } {
  const { heads, totals, rows } = body
  const widths = [...natural]
  const countWidths = heads.slice(-counts).map((h, j) => {
    const i = heads.length - counts + j
    return Math.max(h.length, displayWidth(totals[i]!), ...rows.map((row) => displayWidth(row.counts[i]!)))
  })
  const columns = labels.length + counts + (opts.chart ? 1 : 0)
  let bar = BAR
  const used = () =>
    widths.reduce((a, b) => a + b, 0) +
    countWidths.reduce((a, b) => a + b, 0) +
    (opts.chart ? bar : 0) +
    3 * columns +
    1
  if (opts.chart) bar = Math.max(4, Math.min(BAR, limit - (used() - bar)))
  const min = (i: number) => Math.min(natural[i]!, labels[i]!.min ?? MIN_TEXT)
  while (used() > limit) {
    let widest = -1
    for (let i = 0; i < widths.length; i++)
      if (widths[i]! > min(i) && (widest < 0 || widths[i]! > widths[widest]!)) widest = i
    if (widest < 0) break
    widths[widest]!--
  }
  return { widths, bar, fits: used() <= limit }
}

function drawTable(r: ReportResult, labels: LabelColumn[], body: TableBody, opts: TableOptions, bar: number): string {
  const head = [...labels.map((c) => c.head), ...body.heads, ...(opts.chart ? [''] : [])]
  const t = new Table({
    head,
    style: { head: opts.color ? ['cyan'] : [], border: opts.color ? ['grey'] : [], compact: true },
    colAligns: head.map((_, i) => (i < labels.length || (i === head.length - 1 && opts.chart) ? 'left' : 'right')),
  })
  const maxCost = Math.max(0, ...r.rows.map((row) => row.costUSD))
  const bars = (cost: number) => (maxCost > 0 ? '█'.repeat(Math.round((cost / maxCost) * bar)) : '')
  for (const row of body.rows) t.push([...row.text, ...row.counts, ...(opts.chart ? [bars(row.cost)] : [])])
  t.push([{ content: 'Total', colSpan: labels.length }, ...body.totals, ...(opts.chart ? [''] : [])] as never)
  return t.toString()
}
