/**
 * The statusline's one line (pure: facts in, text out). A format holds placeholders (`{today}`)
 * in segments separated by `│` or `|`; a segment whose placeholders all came out empty is left
 * out with its separator, so a line without a block or without limit readings stays tidy.
 */
import { displayWidth, truncate } from '../text.js'

/** A limit reading as shown: this call's (`fresh`), or one seen `at` (by `deviceName` when another device). */
export interface ShownLimit {
  usedPercent: number
  resetsAt?: string
  fresh: boolean
  at?: string
  deviceName?: string
}

export interface StatuslineFacts {
  /** The clock (ms). */
  now: number
  /** Today's cost over every device (0 when the cache is of an earlier day: `todayStale`). */
  todayCost?: number
  todayStale?: boolean
  weekCost?: number
  /** Devices with usage today. */
  devicesToday?: number
  /** The 5-hour block that contains now, over every device. */
  block?: {
    costUSD: number
    totalTokens: number
    end: string
    costPerHour: number | null
    projectedCost: number | null
    /** This device's part of the block's tokens (0–1). */
    share: number | null
    devices: number
  }
  limits: { '5h'?: ShownLimit; '7d'?: ShownLimit }
  model?: string
  sessionCost?: number
  device?: string
  cacheAt?: string
  /** Why there is little to show: no store, no cache yet, a damaged file. */
  note?: string
}

export const DEFAULT_STATUSLINE_FORMAT = '{today} today │ block {block} │ {limits}'

/** Every placeholder and what it shows (README, `statusline --help`). */
export const STATUSLINE_PLACEHOLDERS: Record<string, string> = {
  today: "today's cost over every device ($0.00 once the cache is of an earlier day)",
  week: "this week's cost over every device",
  block: 'the current 5-hour block: cost, burn rate, this device\'s share when others used it too; "none"',
  block_cost: "the current block's cost",
  block_tokens: "the current block's tokens (1.2M)",
  burn: 'the burn rate ($/h)',
  projection: "the block's cost at its end if the burn rate holds",
  share: "this device's share of the block's tokens",
  block_left: 'time left in the block (2h13m)',
  limits: "Claude's own 5h and 7d percentages with their reset times, and where they came from when not from this call",
  '5h': 'the 5-hour limit: percent used and reset time',
  '7d': 'the weekly limit: percent used and reset day',
  model: "Claude Code's model (display name)",
  session_cost: "this session's cost as Claude Code counts it",
  device: "this device's name",
  devices: 'how many devices have usage today',
}

const ESC = '\x1b['
const paint = (on: boolean, code: string, s: string) => (on && s ? `${ESC}${code}m${s}${ESC}0m` : s)

/** `$3.00`, `$123` (no cents from $100 on: the line has 80 columns). */
const money = (n: number) => (n >= 100 ? `$${Math.round(n).toLocaleString('en-US')}` : `$${n.toFixed(2)}`)
const rate = (n: number) => (n >= 10 ? `$${Math.round(n)}/h` : `$${n.toFixed(2)}/h`)

export function compactTokens(n: number): string {
  if (n < 1000) return String(n)
  for (const [size, unit] of [
    [1e9, 'B'],
    [1e6, 'M'],
    [1e3, 'k'],
  ] as const)
    if (n >= size) {
      const v = n / size
      return `${v >= 100 ? Math.round(v) : v.toFixed(1).replace(/\.0$/, '')}${unit}`
    }
  return String(n)
}

/** `2h13m`, `45m`. */
function span(ms: number): string {
  const m = Math.max(0, Math.round(ms / 60_000))
  return m >= 60 ? `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m` : `${m}m`
}

/** `12m`, `3h`, `2d` (how long ago), `now` within the minute. */
function age(ms: number): string {
  const m = Math.max(0, Math.floor(ms / 60_000))
  return m < 1 ? 'now' : m < 60 ? `${m}m` : m < 48 * 60 ? `${Math.floor(m / 60)}h` : `${Math.floor(m / 1440)}d`
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat']
const hhmm = (d: Date) => `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`

/** A reset time in the local zone: `14:05` within a day, else the day (`Mon`). */
function resetTime(at: string | undefined, now: number): string {
  if (!at) return ''
  const d = new Date(at)
  if (Number.isNaN(d.getTime())) return ''
  return d.getTime() - now < 86_400_000 ? hhmm(d) : DAYS[d.getDay()]!
}

function percentColour(p: number): string {
  return p >= 80 ? '31' : p >= 50 ? '33' : '32'
}

function limit(win: '5h' | '7d', l: ShownLimit | undefined, now: number, color: boolean, withSource: boolean): string {
  if (!l) return ''
  const reset = resetTime(l.resetsAt, now)
  const text = `${win} ${paint(color, percentColour(l.usedPercent), `${Math.round(l.usedPercent)}%`)}${reset ? ` ${paint(color, '2', `↻${reset}`)}` : ''}`
  return withSource ? `${text}${source(l, now, color)}` : text
}

/** Where a reading not from this call came from: ` @laptop 12m` (another device), ` (12m ago)` (this one's). */
function source(l: ShownLimit, now: number, color: boolean): string {
  if (l.fresh) return ''
  const when = l.at ? age(now - Date.parse(l.at)) : ''
  if (l.deviceName) return ` ${paint(color, '2', `@${truncate(l.deviceName, 8)}${when ? ` ${when}` : ''}`)}`
  return when ? ` ${paint(color, '2', when === 'now' ? '(just now)' : `(${when} ago)`)}` : ''
}

function limitsText(f: StatuslineFacts, color: boolean): string {
  const [a, b] = [f.limits['5h'], f.limits['7d']]
  if (!a && !b) return ''
  // One source note when both came from the same place at about the same time.
  const same =
    a &&
    b &&
    a.fresh === b.fresh &&
    a.deviceName === b.deviceName &&
    Math.abs(Date.parse(a.at ?? '0') - Date.parse(b.at ?? '0')) < 60_000
  if (same)
    return `${limit('5h', a, f.now, color, false)} ${limit('7d', b, f.now, color, false)}${source(a, f.now, color)}`
  return [limit('5h', a, f.now, color, true), limit('7d', b, f.now, color, true)].filter(Boolean).join(' ')
}

function values(f: StatuslineFacts, color: boolean): Record<string, () => string> {
  const b = f.block
  const cost = (n: number | undefined) => (n === undefined ? '' : paint(color, '33', money(n)))
  const share = () => (b?.share === null || b?.share === undefined ? '' : `${Math.round(b.share * 100)}% here`)
  return {
    today: () => (f.todayCost === undefined ? '' : f.todayStale ? paint(color, '2', money(0)) : cost(f.todayCost)),
    week: () => cost(f.weekCost),
    block: () => {
      if (f.todayCost === undefined) return ''
      if (!b) return paint(color, '2', 'none')
      // This device's share only when another one used the block too.
      return [cost(b.costUSD), b.costPerHour !== null ? rate(b.costPerHour) : '', b.devices > 1 ? share() : '']
        .filter(Boolean)
        .join(' ')
    },
    block_cost: () => (b ? cost(b.costUSD) : ''),
    block_tokens: () => (b ? compactTokens(b.totalTokens) : ''),
    burn: () => (b?.costPerHour !== null && b?.costPerHour !== undefined ? rate(b.costPerHour) : ''),
    projection: () => (b?.projectedCost !== null && b?.projectedCost !== undefined ? money(b.projectedCost) : ''),
    share,
    block_left: () => (b ? span(Date.parse(b.end) - f.now) : ''),
    limits: () => limitsText(f, color),
    '5h': () => limit('5h', f.limits['5h'], f.now, color, true),
    '7d': () => limit('7d', f.limits['7d'], f.now, color, true),
    model: () => (f.model ? paint(color, '36', f.model) : ''),
    session_cost: () => (f.sessionCost === undefined ? '' : money(f.sessionCost)),
    device: () => f.device ?? '',
    devices: () => (f.devicesToday === undefined ? '' : String(f.devicesToday)),
  }
}

/** The line for `format` (placeholders unknown are kept as written); the note when nothing else shows. */
export function renderStatusline(f: StatuslineFacts, format: string, color: boolean): string {
  const vals = values(f, color)
  const pieces = format.split(/(\s*[│|]\s*)/)
  const kept: string[] = []
  for (let i = 0; i < pieces.length; i += 2) {
    let any = false
    let filled = false
    const text = pieces[i]!.replace(/\{([a-z0-9_]+)\}/g, (whole, key: string) => {
      const v = vals[key]
      if (!v) return whole
      any = true
      const s = v()
      if (s) filled = true
      return s
    })
    if (any && !filled) continue
    if (!text.trim()) continue
    if (kept.length) kept.push(color ? paint(true, '2', pieces[i - 1]!) : pieces[i - 1]!)
    kept.push(text)
  }
  let line = kept.join('')
  if (f.note) {
    const note = paint(color, '2', `usage-ledger: ${f.note}`)
    line = line ? `${line} ${note}` : note
  }
  return line
}

/** The width the line takes in a terminal (colour codes take none). */
export const statuslineWidth = (line: string) => displayWidth(line)
