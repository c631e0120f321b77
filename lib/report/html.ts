/**
 * `report --format html`: one self-contained page (inline CSS and SVG, no script, no URL) with
 * a totals summary, charts of the daily cost by device, the tokens by model and the 5-hour
 * blocks, and the report's rows as a table. Pure: the charts are drawn here, so the same data
 * gives the same bytes, and the page works offline and in mail attachments.
 */
import type { Row, Totals } from './aggregate.js'
import { labelColumns, type ReportResult } from './render.js'
import { plural } from '../text.js'
import type { NamedRow } from './sessions.js'

export interface HtmlReport {
  /** The report as asked for (period, --by, filters): the summary and the table. */
  report: ReportResult
  /** Daily rows grouped by device, over the same range and filters. */
  dailyByDevice: Row[]
  /** Rows grouped by model (any period); each model's rows are summed. */
  byModel: Row[]
  /** 5-hour block rows, ungrouped. */
  blocks: Row[]
  /** When the page was made (RFC 3339). */
  generatedAt: string
}

/** Distinct palettes per chart, so a screenshot shows which chart drew (and people can tell them apart). */
export const DEVICE_COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#17becf']
export const MODEL_COLORS = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7']
export const BLOCK_COLOR = '#5b4a9e'

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }
/** Escapes text for element content and quoted attribute values alike. */
export const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ESCAPES[c]!)

const n = (x: number) => x.toLocaleString('en-US')
const usd = (x: number) => `$${x.toFixed(2)}`
const num = (x: number) => String(Math.round(x * 100) / 100)
/** 1234567 → 1.2M: axis and bar labels must stay short on a phone. */
function short(x: number): string {
  for (const [div, unit] of [
    [1e9, 'G'],
    [1e6, 'M'],
    [1e3, 'k'],
  ] as const)
    if (x >= div) return `${+(x / div).toFixed(x >= 10 * div ? 0 : 1)}${unit}`
  return String(Math.round(x))
}
const shortUsd = (x: number) => (x >= 100 ? `$${short(x)}` : usd(x))

/** The smallest 1, 2 or 5 × 10^k at or above `x`: a round top for an axis. */
function niceTop(x: number): number {
  if (x <= 0) return 1
  const p = 10 ** Math.floor(Math.log10(x))
  return [1, 2, 5, 10].map((m) => m * p).find((v) => v >= x * (1 - 1e-9))!
}

interface Segment {
  series: string
  value: number
  color: string
}
interface Column {
  key: string
  label: string
  segments: Segment[]
}

const W = 400,
  H = 210,
  LEFT = 46,
  RIGHT = 6,
  TOP = 10,
  BOTTOM = 30

/** Vertical bars, stacked by segment; one `rect.bar` per segment with its value in data-value. */
function columnChart(id: string, title: string, columns: Column[], fmt: (v: number) => string): string {
  const top = niceTop(Math.max(0, ...columns.map((c) => c.segments.reduce((a, s) => a + s.value, 0))))
  const plotW = W - LEFT - RIGHT,
    plotH = H - TOP - BOTTOM
  const slot = plotW / Math.max(1, columns.length)
  const scale = plotH / top
  const parts: string[] = []
  for (const frac of [0, 0.5, 1]) {
    const y = num(TOP + plotH - frac * plotH)
    parts.push(
      `<line x1="${LEFT}" x2="${W - RIGHT}" y1="${y}" y2="${y}" stroke="#ddd"/><text x="${LEFT - 4}" y="${y}" dy="3" text-anchor="end">${esc(fmt(top * frac))}</text>`,
    )
  }
  // Labels at most every ~60 units, so they never overlap on any screen.
  const every = Math.ceil(columns.length / Math.floor(plotW / 60))
  columns.forEach((c, i) => {
    let y = TOP + plotH
    const x = LEFT + i * slot + slot * 0.1
    for (const s of c.segments) {
      const h = s.value * scale
      y -= h
      parts.push(
        `<rect class="bar" x="${num(x)}" y="${num(y)}" width="${num(slot * 0.8)}" height="${num(h)}" fill="${s.color}" data-x="${esc(c.key)}" data-series="${esc(s.series)}" data-value="${s.value}"><title>${esc(`${c.key} ${s.series}: ${fmt(s.value)}`)}</title></rect>`,
      )
    }
    if (i % every === 0)
      parts.push(
        `<text x="${num(LEFT + (i + 0.5) * slot)}" y="${H - BOTTOM + 14}" text-anchor="middle">${esc(c.label)}</text>`,
      )
  })
  return svg(id, title, H, parts)
}

/** Horizontal bars, one per item, its name above it and its value after it. */
function barList(
  id: string,
  title: string,
  items: Array<{ name: string; value: number; color: string }>,
  fmt: (v: number) => string,
): string {
  const top = Math.max(0, ...items.map((i) => i.value)) || 1
  const rowH = 30,
    maxW = W - 60
  const parts = items.map((it, i) => {
    const y = i * rowH
    const w = (it.value / top) * maxW
    return (
      `<text x="0" y="${y + 11}">${esc(it.name)}</text>` +
      `<rect class="bar" x="0" y="${y + 15}" width="${num(w)}" height="12" fill="${it.color}" data-series="${esc(it.name)}" data-value="${it.value}"><title>${esc(`${it.name}: ${plural(it.value, 'token', 'tokens', n)}`)}</title></rect>` +
      `<text x="${num(w + 4)}" y="${y + 25}">${esc(fmt(it.value))}</text>`
    )
  })
  return svg(id, title, Math.max(rowH, items.length * rowH), parts)
}

const svg = (id: string, title: string, height: number, parts: string[]) =>
  `<svg id="${id}" class="chart" viewBox="0 0 ${W} ${height}" role="img" aria-label="${esc(title)}" shape-rendering="crispEdges">${parts.join('')}</svg>`

const legend = (entries: Array<[string, string]>) =>
  `<ul class="legend">${entries.map(([name, color]) => `<li><i style="background:${color}"></i>${esc(name)}</li>`).join('')}</ul>`

const section = (title: string, body: string, rows: number) =>
  `<section><h2>${esc(title)}</h2>${rows ? body : '<p class="empty">No usage in this range.</p>'}</section>`

function table(r: ReportResult): string {
  // The terminal table's text columns: names where this machine knows them, a session's project, start, end and models.
  const labels = labelColumns(r, false)
  const counts = (t: Totals) =>
    [n(t.records), n(t.input), n(t.output), n(t.cacheWrite), n(t.cacheRead), n(t.totalTokens), usd(t.costUSD)]
      .map((c) => `<td>${c}</td>`)
      .join('')
  const body = (r.rows as NamedRow[]).map(
    (row) => `<tr>${labels.map((c) => `<td class="l">${esc(c.cell(row))}</td>`).join('')}${counts(row)}</tr>`,
  )
  return (
    `<div class="scroll"><table><thead><tr>${labels.map((c) => `<th class="l">${esc(c.head)}</th>`).join('')}` +
    `${['Records', 'Input', 'Output', 'Cache write', 'Cache read', 'Total tokens', 'Cost (USD)'].map((h) => `<th>${h}</th>`).join('')}</tr></thead>` +
    `<tbody>${body.join('')}</tbody><tfoot><tr><th class="l" colspan="${labels.length}">Total</th>${counts(r.totals)}</tr></tfoot></table></div>`
  )
}

/**
 * Summary cards are at least 10em wide: room for an 11-digit count ("99,999,999,999") in the bold
 * value font, two cards a row on a 360 px phone, one below that; a longer value wraps, never overflows.
 */
const CSS = `:root{color-scheme:light;font:15px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;background:#fff}
body{margin:0 auto;padding:12px;max-width:900px}h1{font-size:1.35em;margin:.2em 0}h2{font-size:1.05em;margin:1.4em 0 .3em}
.meta{color:#666;font-size:.85em;margin:.2em 0 .8em}.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,10em),1fr));gap:8px;margin:0}
.cards div{border:1px solid #e3e3e3;border-radius:6px;padding:6px 8px;min-width:0}dt{font-size:.78em;color:#666}dd{margin:0;font-weight:600;font-variant-numeric:tabular-nums;overflow-wrap:anywhere}
svg.chart{display:block;width:100%;max-width:720px;height:auto;overflow:visible}svg text{font-size:10px;fill:#555}
.legend{list-style:none;padding:0;margin:.3em 0;display:flex;flex-wrap:wrap;gap:4px 14px;font-size:.85em;word-break:break-all}
.legend i{display:inline-block;width:10px;height:10px;margin-right:5px;vertical-align:-1px}.empty,.warn{color:#666}
.scroll{overflow-x:auto}table{border-collapse:collapse;font-size:.85em;white-space:nowrap;font-variant-numeric:tabular-nums}
th,td{padding:3px 7px;border-bottom:1px solid #eee;text-align:right}.l{text-align:left}tfoot th,tfoot td{font-weight:600;border-top:1px solid #ccc}`

export function renderHtml(d: HtmlReport): string {
  const r = d.report
  // Colours follow the device list (sorted by id), so a device keeps its colour between reports.
  const deviceColor = new Map(r.devices.map((dev, i) => [dev.id, DEVICE_COLORS[i % DEVICE_COLORS.length]!]))
  const days = dailyColumns(d.dailyByDevice, deviceColor)
  const shownDevices = r.devices.filter((dev) => d.dailyByDevice.some((row) => row.device === dev.id))
  const models = modelTokens(d.byModel)
  const blocks = d.blocks.map((row) => ({
    key: row.period,
    label: row.period.slice(5).replace('T', ' '),
    segments: [{ series: 'all devices', value: Math.round(row.costUSD * 1e6) / 1e6, color: BLOCK_COLOR }],
  }))
  const range = pageRange(d)
  const cards = totalCards(r.totals, shownDevices.length, r.includeFailed)
  const warnings = r.warnings.map(
    (w) =>
      `<li>${esc(`${w.code}${w.models ? `: ${(w.models as string[]).join(', ')}` : ''}${w.detail ? ` — ${String(w.detail)}` : ''}`)}</li>`,
  )
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>AI usage ${esc(range)}</title><style>${CSS}</style></head><body>
<h1>AI usage, ${esc(range)}</h1>
<p class="meta">${esc(`${r.timezone} · prices as of ${r.pricing.asOf} (cost ${r.pricing.mode}) · made ${d.generatedAt}`)}</p>
<dl class="cards">${cards.map(([k, v]) => `<div><dt>${k}</dt><dd>${esc(v)}</dd></div>`).join('')}</dl>
${warnings.length ? `<ul class="warn">${warnings.join('')}</ul>` : ''}
${section('Daily cost by device', legend(shownDevices.map((dev) => [dev.name, deviceColor.get(dev.id)!])) + columnChart('daily-cost', 'Daily cost by device', days, shortUsd), days.length)}
${section('Tokens by model', barList('model-tokens', 'Tokens by model', models, short), models.length)}
${section('Cost per 5-hour block', columnChart('block-cost', 'Cost per 5-hour block', blocks, shortUsd), blocks.length)}
${section(`Report (${r.period}${r.groupBy.length ? ` by ${r.groupBy.join(', ')}` : ''})`, table(r), 1)}
</body></html>
`
}

/** A column per day from the first to the last, with a segment per device. */
function dailyColumns(dailyByDevice: Row[], deviceColor: Map<string, string>): Column[] {
  const days = new Map<string, Column>()
  for (const row of dailyByDevice) {
    const series = row.deviceName ?? row.device ?? ''
    const color = deviceColor.get(row.device ?? '') ?? DEVICE_COLORS[0]!
    let c = days.get(row.period)
    if (!c) days.set(row.period, (c = { key: row.period, label: row.period.slice(5), segments: [] }))
    c.segments.push({ series, value: Math.round(row.costUSD * 1e6) / 1e6, color })
  }
  // Days without usage still take their place on the time axis.
  const dayKeys = [...days.keys()]
  for (
    let day = dayKeys[0];
    day && day < dayKeys[dayKeys.length - 1]!;
    day = new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10)
  ) {
    if (!days.has(day)) days.set(day, { key: day, label: day.slice(5), segments: [] })
  }
  return [...days.values()].sort((a, b) => (a.key < b.key ? -1 : 1))
}

/** Tokens per model, most first, each with its colour. */
function modelTokens(byModel: Row[]): Array<{ name: string; value: number; color: string }> {
  const tokens = new Map<string, number>()
  for (const row of byModel) tokens.set(row.model ?? '', (tokens.get(row.model ?? '') ?? 0) + row.totalTokens)
  return [...tokens]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .map(([name, value], i) => ({ name, value, color: MODEL_COLORS[i % MODEL_COLORS.length]! }))
}

/** The days the page covers: the asked range, else the first and last day with usage. */
function pageRange(d: HtmlReport): string {
  const r = d.report
  if (r.since || r.until) return `${r.since ?? '…'} to ${r.until ?? '…'}`
  const daily = d.dailyByDevice
  return daily.length ? `${daily[0]!.period} to ${daily[daily.length - 1]!.period}` : 'no usage'
}

function totalCards(t: Totals, devices: number, includeFailed: boolean): Array<[string, string]> {
  // Failed calls (DESIGN §4), when there are some: how many, and whether the tokens above hold them.
  const failed: Array<[string, string]> = t.failed
    ? [[includeFailed ? 'Failed calls (counted)' : 'Failed calls (not counted)', n(t.failed)]]
    : []
  return [
    ['Cost', usd(t.costUSD)],
    ['Total tokens', n(t.totalTokens)],
    ['Records', n(t.records)],
    ['Input', n(t.input)],
    ['Output', n(t.output)],
    ['Cache write', n(t.cacheWrite)],
    ['Cache read', n(t.cacheRead)],
    ['Devices', n(devices)],
    ...failed,
  ]
}
