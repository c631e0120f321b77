/**
 * The live view of `status --watch` (DESIGN §7): a status@1 object drawn as the lines of one
 * full screen. Pure: the status, the terminal's size, the clock and whether to colour in, lines
 * out, none wider than the terminal and no more of them than it has rows. The terminal itself
 * (alternate screen, keys, timers, resizes, the background fetch) is `cli/watch.ts`'s.
 */
import type { BurnRate, Projection, Totals } from './aggregate.js'
import type { ShownReading } from '../ledger/limits.js'
import { localTimeIn } from '../ledger/zone.js'
import { ago, displayWidth, duration, truncate, wrap } from '../text.js'

interface Percent {
  tokens: number | null
  costUSD: number | null
}

/** What the view reads of a status@1 object (`app/query/status.ts`). */
export interface LiveStatus {
  device: { id: string; name: string }
  remote: string | null
  pending: number
  lastPushFailure: { at: string; code: string; message: string } | null
  timezone: string
  block: Totals & {
    start: string | null
    end: string | null
    burnRate?: BurnRate | null
    projection?: Projection | null
    percent: Percent
  }
  week: Totals & { week: string; percent: Percent }
  today: Totals & { day: string }
  devices: Array<{
    id: string
    name: string
    thisDevice: boolean
    lastRecordAt: string | null
    today: Totals
    block: Totals
  }>
  readings: Array<
    Pick<ShownReading, 'source' | 'account' | 'window' | 'minutes' | 'usedPercent' | 'ts' | 'deviceName'> & {
      resetsAt?: string
    }
  >
  warnings: Array<{ code: string; detail: string }>
}

export interface LiveOptions {
  width: number
  height: number
  now: Date
  color: boolean
  /** Seconds between redraws (the header says it). */
  interval?: number
  /** Lines of the terminal side, shown with the warnings (a background fetch that failed). */
  notes?: string[]
  /** When the last background fetch ended well (ISO), if one did. */
  fetchedAt?: string | null
}

const n = (x: number) => Math.round(x).toLocaleString('en-US')
const usd = (x: number) => `$${x.toFixed(2)}`

type Style = 'bold' | 'dim' | 'green' | 'yellow' | 'red' | 'cyan'
const SGR: Record<Style, string> = { bold: '1', dim: '2', green: '32', yellow: '33', red: '31', cyan: '36' }

/**
 * `line` cut to `width` columns, colour codes kept whole (and reset when the cut falls inside
 * coloured text): what makes the promise that no line is wider than the terminal.
 */
export function fitLine(line: string, width: number): string {
  if (displayWidth(line) <= width) return line
  const plainEnd = /\x1b\[[0-9;]*m/g
  let out = ''
  let cols = 0
  let i = 0
  let coloured = false
  while (i < line.length) {
    plainEnd.lastIndex = i
    const m = plainEnd.exec(line)
    if (m && m.index === i) {
      out += m[0]
      coloured = m[0] !== '\x1b[0m'
      i += m[0].length
      continue
    }
    const ch = String.fromCodePoint(line.codePointAt(i)!)
    const w = displayWidth(ch)
    if (cols + w > width - 1) break
    out += ch
    cols += w
    i += ch.length
  }
  return `${out}…${coloured ? '\x1b[0m' : ''}`
}

/** A column of a table: its head, its cells, how it aligns; `flex` gives way first (cut), `drop` columns go next. */
interface Column {
  head: string
  cells: string[]
  right?: boolean
  flex?: boolean
  /** Dropped, lowest first, when the table does not fit. */
  drop?: number
  style?: (i: number) => Style | undefined
}

const GAP = 2

/**
 * A table fitted to `width`: the widest flexible column gives up a column at a time down to `min`,
 * then the lowest `drop` column goes (and the flexible ones get their width back), and so on.
 */
function table(cols: Column[], width: number, paint: (s: string, st?: Style) => string, min = 8): string[] {
  const natural = (c: Column) => Math.max(displayWidth(c.head), ...c.cells.map(displayWidth))
  let shown = cols
  let widths = shown.map(natural)
  const total = () => widths.reduce((a, w) => a + w, 0) + GAP * (widths.length - 1)
  while (total() > width) {
    let widest = -1
    shown.forEach((c, j) => {
      if (c.flex && widths[j]! > Math.min(min, natural(c)) && (widest < 0 || widths[j]! > widths[widest]!)) widest = j
    })
    if (widest >= 0) {
      widths[widest]!--
      continue
    }
    const droppable = shown.filter((c) => c.drop !== undefined)
    if (!droppable.length) break
    const lowest = droppable.reduce((a, c) => (c.drop! < a.drop! ? c : a))
    shown = shown.filter((c) => c !== lowest)
    widths = shown.map(natural)
  }
  const cell = (c: Column, w: number, s: string) => {
    const t = truncate(s, w)
    const pad = ' '.repeat(Math.max(0, w - displayWidth(t)))
    return c.right ? pad + t : t + pad
  }
  const row = (text: (c: Column) => string, style: (c: Column) => Style | undefined) =>
    shown
      .map((c, j) => {
        const t = cell(c, widths[j]!, text(c))
        // Only the text is painted: the padding after it stays plain, and a row's end can be trimmed.
        const body = c.right ? t.trimStart() : t.trimEnd()
        const pad = ' '.repeat(t.length - body.length)
        return c.right ? pad + paint(body, style(c)) : paint(body, style(c)) + pad
      })
      .join(' '.repeat(GAP))
      .trimEnd()
  const rows = [
    row(
      (c) => c.head,
      () => 'dim',
    ),
  ]
  const count = Math.max(0, ...shown.map((c) => c.cells.length))
  for (let i = 0; i < count; i++)
    rows.push(
      row(
        (c) => c.cells[i] ?? '',
        (c) => c.style?.(i),
      ),
    )
  return rows
}

/** What the bar measures: the official 5h reading, else the configured limit, else the block's time. */
function barBasis(s: LiveStatus, now: number): { fraction: number; caption: string } | null {
  const live = s.readings.filter((r) => r.minutes === 300 && !(r.resetsAt && Date.parse(r.resetsAt) <= now))
  if (live.length) {
    const top = live.reduce((a, r) => (r.usedPercent > a.usedPercent ? r : a))
    return {
      fraction: top.usedPercent / 100,
      caption: `of the 5h limit (${top.source}, read ${ago(top.ts, new Date(now))})`,
    }
  }
  const p = s.block.percent
  if (p.tokens !== null || p.costUSD !== null) {
    const tokens = p.tokens ?? -1
    const cost = p.costUSD ?? -1
    return tokens >= cost
      ? { fraction: tokens / 100, caption: 'of the configured token limit' }
      : { fraction: cost / 100, caption: 'of the configured cost limit' }
  }
  if (s.block.start && s.block.end) {
    const start = Date.parse(s.block.start)
    return { fraction: (now - start) / (Date.parse(s.block.end) - start), caption: 'of the block elapsed' }
  }
  return null
}

const fill = (fraction: number): Style => (fraction >= 0.9 ? 'red' : fraction >= 0.7 ? 'yellow' : 'green')

/** The screen's lines for `s`: at most `o.height` of them, none wider than `o.width`. */
export function renderLive(s: LiveStatus, o: LiveOptions): string[] {
  const width = Math.max(1, Math.floor(o.width))
  const height = Math.max(1, Math.floor(o.height))
  const now = o.now.getTime()
  const paint = (t: string, st?: Style) => (o.color && st && t ? `\x1b[${SGR[st]}m${t}\x1b[0m` : t)
  const local = localTimeIn(s.timezone)
  const hhmm = (iso: string) => local(iso).slice(11, 16)

  // The header: what this is, left; the clock and the keys, right (the right part goes first when narrow).
  // Seconds too, so a redraw shows (every zone is offset by whole minutes).
  const seconds = String(o.now.getUTCSeconds()).padStart(2, '0')
  const clock = `${local(now).slice(0, 10)} ${local(now).slice(11, 16)}:${seconds} ${s.timezone}`
  const left = `usage-ledger live · ${s.device.name}`
  // The widest right part that fits: the clock, the interval and the key; then less.
  const rights = [
    `${clock}${o.interval ? ` · every ${o.interval} s` : ''} · q quits`,
    `${clock} · q quits`,
    `${local(now).slice(11, 16)}:${seconds} · q quits`,
    'q quits',
  ]
  const right = rights.find((r) => displayWidth(left) + 2 + displayWidth(r) <= width)
  const header = right
    ? paint(left, 'bold') + ' '.repeat(width - displayWidth(left) - displayWidth(right)) + paint(right, 'dim')
    : paint(truncate(left, width), 'bold')

  // Under it, the remote's state: commits waiting to be pushed, when the others' were last fetched.
  const remote = s.remote
    ? [
        s.pending ? `remote: ${s.pending} ${s.pending === 1 ? 'commit' : 'commits'} pending` : 'remote: all pushed',
        o.fetchedAt ? `fetched ${ago(o.fetchedAt, o.now)}` : '',
        s.remote,
      ]
        .filter(Boolean)
        .join(' · ')
    : 'no remote: this machine only (usage-ledger init --remote URL)'
  const head: string[] = [header, paint(truncate(remote, width), 'dim'), '']
  // A sentence that does not fit goes on over the next lines (the bar and the tables are cut instead).
  const say = (text: string, pad = '') =>
    head.push(
      ...wrap(text, Math.max(1, width - pad.length), '  ')
        .split('\n')
        .map((l) => pad + l),
    )
  const b = s.block
  if (b.start && b.end) {
    say(`${paint('5h block', 'bold')}  ${hhmm(b.start)}–${hhmm(b.end)} (${duration(Date.parse(b.end) - now)} left)`)
  } else say(`${paint('5h block', 'bold')}  no active block`)
  const basis = barBasis(s, now)
  if (basis) {
    const pct = `${Math.round(basis.fraction * 100)}%`.padStart(4)
    // The caption beside the bar when the bar keeps 20 columns or more, else on the next line.
    const beside = width - pct.length - 2 - displayWidth(basis.caption)
    const barWidth = beside >= 20 ? Math.min(50, beside) : Math.max(5, Math.min(50, width - pct.length - 1))
    const filled = Math.max(0, Math.min(barWidth, Math.round(basis.fraction * barWidth)))
    const bar = paint('█'.repeat(filled), fill(basis.fraction)) + paint('░'.repeat(barWidth - filled), 'dim')
    const line = `${bar} ${paint(pct, fill(basis.fraction))}`
    if (barWidth + pct.length + 2 + displayWidth(basis.caption) <= width) head.push(`${line} ${basis.caption}`)
    else head.push(line, `  ${basis.caption}`)
  }
  if (b.start) {
    const rate = b.burnRate
      ? `burn ${n(b.burnRate.tokensPerMinute)} tokens/min, ${usd(b.burnRate.costPerHour)}/h`
      : 'no burn rate yet'
    say(`${n(b.totalTokens)} tokens, ${usd(b.costUSD)} · ${rate}`, '  ')
    if (b.projection && b.end)
      say(`projected at ${hhmm(b.end)}: ${n(b.projection.totalTokens)} tokens, ${usd(b.projection.costUSD)}`, '  ')
  }
  const pctOf = (p: Percent) =>
    [
      p.tokens !== null ? `${p.tokens}% of the token limit` : '',
      p.costUSD !== null ? `${p.costUSD}% of the cost limit` : '',
    ]
      .filter(Boolean)
      .join(', ')
  say(`${paint('today', 'bold')}     ${n(s.today.totalTokens)} tokens, ${usd(s.today.costUSD)}`)
  const weekPct = pctOf(s.week.percent)
  say(
    `${paint('week', 'bold')}      ${s.week.week}: ${n(s.week.totalTokens)} tokens, ${usd(s.week.costUSD)}${weekPct ? ` (${weekPct})` : ''}`,
  )

  // One row per device (this device marked), the limit readings, the warnings.
  const devs = s.devices
  const share = (d: LiveStatus['devices'][number]) =>
    b.start && b.totalTokens > 0 ? `${Math.round((d.block.totalTokens / b.totalTokens) * 100)}%` : '-'
  const deviceCols = (rows: LiveStatus['devices']): Column[] => [
    { head: 'device', cells: rows.map((d) => `${d.thisDevice ? '*' : ' '} ${d.name}`), flex: true },
    {
      head: 'last record',
      cells: rows.map((d) => (d.lastRecordAt ? ago(d.lastRecordAt, o.now) : '-')),
      drop: 1,
    },
    { head: 'today', cells: rows.map((d) => n(d.today.totalTokens)), right: true },
    { head: 'cost', cells: rows.map((d) => usd(d.today.costUSD)), right: true, drop: 0 },
    { head: 'block', cells: rows.map(share), right: true, drop: 2 },
  ]
  const multiAccount =
    new Set(s.readings.map((r) => `${r.source}\n${r.account}`)).size > new Set(s.readings.map((r) => r.source)).size
  const readingRows = s.readings.map((r) => {
    const reset = r.resetsAt ? Date.parse(r.resetsAt) : NaN
    return {
      label: `${r.source} ${r.window}${multiAccount ? ` ${r.account.slice(0, 4)}` : ''}`,
      used: `${Math.round(r.usedPercent)}%`,
      resets: Number.isNaN(reset) ? '-' : reset <= now ? 'reset' : `in ${duration(reset - now)}`,
      age: ago(r.ts, o.now),
      seen: r.deviceName,
      style: reset <= now ? ('dim' as const) : fill(r.usedPercent / 100),
    }
  })
  const readingCols: Column[] = [
    { head: 'limit', cells: readingRows.map((r) => r.label) },
    { head: 'used', cells: readingRows.map((r) => r.used), right: true, style: (i) => readingRows[i]!.style },
    { head: 'resets', cells: readingRows.map((r) => r.resets) },
    { head: 'read', cells: readingRows.map((r) => r.age), drop: 0 },
    { head: 'seen on', cells: readingRows.map((r) => r.seen), flex: true, drop: 1 },
  ]
  // Warnings go on over the next lines, each line coloured on its own (the screen is drawn row by row).
  const alerts: string[] = []
  const alert = (text: string, st: Style) => {
    for (const l of wrap(`! ${text}`, width).split('\n')) alerts.push(paint(l, st))
  }
  for (const w of s.warnings) alert(w.detail, w.code === 'DEVICE_QUARANTINED' ? 'red' : 'yellow')
  if (s.lastPushFailure)
    alert(`pushes failing: the last failed ${ago(s.lastPushFailure.at, o.now)}: ${s.lastPushFailure.message}`, 'red')
  for (const note of o.notes ?? []) alert(note, 'yellow')

  // Fit the height: the device rows give way first (this device stays), then the readings, then the rest is cut.
  const readingsBlock = readingRows.length ? ['', ...table(readingCols, width, paint, 10)] : []
  const alertBlock = alerts.length ? ['', ...alerts] : []
  const fixed = head.length + 2 + readingsBlock.length + alertBlock.length // + blank and the devices' head
  let rows = devs
  let more = 0
  const room = height - fixed
  if (devs.length > Math.max(1, room)) {
    const keep = Math.max(1, room - 1)
    const mine = devs.filter((d) => d.thisDevice)
    const others = devs.filter((d) => !d.thisDevice)
    rows = [...mine, ...others].slice(0, keep)
    more = devs.length - rows.length
  }
  const deviceBlock = devs.length
    ? ['', ...table(deviceCols(rows), width, paint), ...(more ? [paint(`  … and ${more} more`, 'dim')] : [])]
    : ['', paint('no devices yet: usage-ledger record writes the first records', 'dim')]
  const lines = [...head, ...deviceBlock, ...readingsBlock, ...alertBlock]
  const cut = lines.length > height
  const shown = cut ? [...lines.slice(0, height - 1), paint('… (a taller terminal shows more)', 'dim')] : lines
  return shown.map((l) => fitLine(l, width))
}
