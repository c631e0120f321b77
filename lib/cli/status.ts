/** `status`: this device, its remote and pending commits, every device, the merged tree. */
import { storeStatus } from '../app/query/status.js'
import { Store } from '../store/store.js'
import { ago, duration } from '../text.js'
import type { ShownReading } from '../ledger/limits.js'
import { localTimeIn } from '../ledger/zone.js'
import { out, type CommandContext, type Outcome, type CommandSpec, optional } from './context.js'
import { plural } from '../text.js'
import { usageError } from '../errors.js'

export interface StatusOptions {
  /** `--watch`: the live view, redrawn every `interval` seconds (cli/watch.ts). */
  watch?: { interval: number }
}

export async function status(ctx: CommandContext, opts: StatusOptions = {}): Promise<Outcome> {
  // Loaded only for --watch: a plain `status` pays for no terminal handling nor child_process.
  if (opts.watch) return (await import('./watch.js')).watch(ctx, opts.watch)
  const store = Store.open(ctx.env, { home: ctx.global.home, git: ctx.global.git, repo: ctx.global.repo })
  try {
    const s = await storeStatus(store, Boolean(ctx.global.repo))
    if (ctx.global.json) {
      out(ctx, JSON.stringify(s))
      for (const w of s.warnings) if (w.code === 'DEVICE_QUARANTINED') ctx.env.stderr.write(`warning: ${w.detail}\n`)
      return 'ok'
    }
    out(ctx, `device   ${s.device.id} (${s.device.name})`)
    out(ctx, `store    ${s.home}`)
    const failed = s.lastPushFailure
    out(
      ctx,
      `remote   ${s.remote ?? '(none: run usage-ledger init --remote URL)'}${s.remote ? `, ${plural(s.pending, 'commit')} pending` : ''}${failed ? `; last push failed ${ago(failed.at, ctx.env.now())}: ${failed.message}` : ''}`,
    )
    if (failed) for (const l of failed.details) out(ctx, `         ${l.trim()}`)
    out(ctx, `merged   ${s.merged ? `tree ${s.merged.tree}` : '(not fetched yet)'}`)
    const pct = (p: { tokens: number | null; costUSD: number | null }) =>
      [
        p.tokens !== null ? `${p.tokens}% of the token limit` : '',
        p.costUSD !== null ? `${p.costUSD}% of the cost limit` : '',
      ]
        .filter(Boolean)
        .join(', ')
    // Failed calls (DESIGN §4) are out of the tokens, as in a report: say how many.
    const failedCalls = (t: { failed?: number }) =>
      t.failed ? `; ${plural(t.failed, 'failed call', undefined, (x) => x.toLocaleString('en-US'))} not counted` : ''
    const b = s.block
    out(
      ctx,
      `5h block ${b.start ? `${blockSpan(b.start, b.end!, s.timezone)}: ${plural(b.totalTokens, 'token', 'tokens', (x) => x.toLocaleString('en-US'))}, $${b.costUSD.toFixed(2)}${pct(b.percent) ? ` (${pct(b.percent)})` : ''}${failedCalls(b)}` : 'no active block'}`,
    )
    out(
      ctx,
      `week     ${s.week.week}: ${plural(s.week.totalTokens, 'token', 'tokens', (x) => x.toLocaleString('en-US'))}, $${s.week.costUSD.toFixed(2)}${pct(s.week.percent) ? ` (${pct(s.week.percent)})` : ''}${failedCalls(s.week)}`,
    )
    out(
      ctx,
      `today    ${s.today.day}: ${plural(s.today.totalTokens, 'token', 'tokens', (x) => x.toLocaleString('en-US'))}, $${s.today.costUSD.toFixed(2)}${failedCalls(s.today)}`,
    )
    for (const r of s.readings) out(ctx, `limits   ${readingText(r, ctx.env.now())}`)
    for (const d of s.devices)
      out(
        ctx,
        `${d.thisDevice ? '*' : ' '} ${d.id}  ${d.name.padEnd(20)} ${plural(d.records, 'record ', 'records').padStart(18)} last ${d.lastRecordAt ?? '-'}`,
      )
    for (const w of s.warnings) ctx.env.stderr.write(`warning: ${w.detail}\n`)
    return 'ok'
  } finally {
    await store.close()
  }
}

/** `codex 5h 52% (resets in 2 h), seen 5 min ago on laptop`: an official reading, never a sum (DESIGN §4a). */
export function readingText(r: ShownReading, now: Date): string {
  const bucket = r.limit ? ` ${r.limit}` : ''
  const resets = r.resetsAt
    ? Date.parse(r.resetsAt) > now.getTime()
      ? ` (resets in ${duration(Date.parse(r.resetsAt) - now.getTime())})`
      : ' (reset since)'
    : ''
  return `${r.source}${bucket} ${r.window} ${r.usedPercent}%${resets}, seen ${ago(r.ts, now)} on ${r.deviceName}`
}

/** `2026-11-22 09:00–14:00 Europe/Berlin` (both dates when the block crosses midnight there). */
export function blockSpan(start: string, end: string, tz: string): string {
  const local = localTimeIn(tz)
  const [s, e] = [local(start), local(end)]
  return s.slice(0, 10) === e.slice(0, 10)
    ? `${s.slice(0, 10)} ${s.slice(11, 16)}–${e.slice(11, 16)} ${tz}`
    : `${s.replace('T', ' ')} – ${e.replace('T', ' ')} ${tz}`
}

/** Seconds between the live view's redraws unless --interval says. */
const WATCH_INTERVAL = 2

export const command: CommandSpec<StatusOptions> = {
  options: {
    watch: {
      type: 'boolean',
      describe:
        'a live full-screen view, redrawn every few seconds (q or Ctrl-C quits); fetches every minute with a remote',
    },
    interval: { type: 'string', describe: `seconds between the live view's redraws (default ${WATCH_INTERVAL})` },
  },
  parse: (a, global) => {
    const raw = optional(a.interval)
    if (!a.watch) {
      if (raw !== undefined) throw usageError('BAD_INTERVAL', '--interval applies to status --watch: add --watch')
      return {}
    }
    if (global.json)
      throw usageError(
        'WATCH_WITH_JSON',
        '--watch draws a terminal view and --json prints one object: drop one of them (status --json once, in a loop)',
      )
    const interval = raw === undefined ? WATCH_INTERVAL : Number(raw)
    if (!(Number.isFinite(interval) && interval >= 0.1 && interval <= 3600))
      throw usageError('BAD_INTERVAL', `--interval must be a number of seconds from 0.1 to 3600, not "${raw}"`)
    return { watch: { interval } }
  },
  run: (ctx, opts) => status(ctx, opts),
}
