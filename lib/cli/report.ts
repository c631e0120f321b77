/** `report daily|monthly|…`: totals over every device's ledger in the store, rendered. */
import path from 'node:path'
import { buildReport, type ReportQuery } from '../app/query/report.js'
import { Store } from '../store/store.js'
import { renderCsv, renderJson, renderMarkdown, renderTable, type ReportResult } from '../report/render.js'
import { renderHtml } from '../report/html.js'
import { writeFileAtomic } from '../store/fsutil.js'
import { quarantineLine } from '../store/quarantine.js'
import { usageError } from '../errors.js'
import {
  out,
  say,
  type Args,
  type CommandContext,
  type GlobalOptions,
  type Outcome,
  type CommandSpec,
  list,
  optional,
} from './context.js'

export interface ReportOptions extends Omit<ReportQuery, 'clone'> {
  format: 'table' | 'json' | 'csv' | 'markdown' | 'html'
  /** Write the report to this file (atomically) instead of stdout. */
  output?: string
  compact: boolean
  chart: boolean
  /** `blocks --live`: the live view of `status --watch` instead (cli/watch.ts). */
  live?: boolean
}

export async function report(ctx: CommandContext, opts: ReportOptions): Promise<Outcome> {
  if (opts.live) return (await import('./watch.js')).watch(ctx, { interval: 2, asked: 'report blocks --live' })
  const store = Store.open(ctx.env, { home: ctx.global.home, git: ctx.global.git, repo: ctx.global.repo })
  try {
    const { result, quarantined, aggregateBy } = await buildReport(store, { ...opts, clone: Boolean(ctx.global.repo) })
    for (const q of quarantined) ctx.env.stderr.write(`warning: ${quarantineLine(q.id, q)}\n`)
    const render = {
      json: renderJson,
      csv: renderCsv,
      markdown: renderMarkdown,
      table: (x: ReportResult) =>
        renderTable(x, {
          color: ctx.global.color && !opts.output,
          width: opts.output ? undefined : (ctx.env.stdout as { columns?: number }).columns,
          compact: opts.compact,
          chart: opts.chart,
        }),
      html: (x: ReportResult) =>
        renderHtml({
          report: x,
          dailyByDevice: aggregateBy('daily', ['device']).rows,
          byModel: aggregateBy('monthly', ['model']).rows,
          blocks: aggregateBy('blocks', []).rows,
          generatedAt: ctx.env.now().toISOString(),
        }),
    }[opts.format]
    if (opts.output) {
      const file = path.resolve(ctx.env.cwd, opts.output)
      writeFileAtomic(file, render(result))
      say(ctx, `report written to ${file}`)
    } else out(ctx, render(result))
    return 'ok'
  } finally {
    await store.close()
  }
}

export const command: CommandSpec<ReportOptions> = {
  positionals: {
    period: {
      choices: ['daily', 'weekly', 'monthly', 'session', 'blocks'],
      default: 'daily',
      describe: 'days, ISO weeks and months in --tz; sessions; 5-hour blocks',
    },
  },
  options: {
    tz: { type: 'string', describe: 'IANA time zone for days (default: config, then the system zone)' },
    since: { type: 'string', describe: 'first day, YYYY-MM-DD in --tz' },
    until: { type: 'string', describe: 'last day, YYYY-MM-DD in --tz' },
    by: { type: 'string', array: true, default: [], describe: 'group by device,source,model,project' },
    device: {
      type: 'string',
      array: true,
      default: [],
      describe: 'only these devices (id, unique id prefix or name)',
    },
    source: { type: 'string', array: true, default: [], describe: 'only these sources (claude-code, codex, …)' },
    model: {
      type: 'string',
      array: true,
      default: [],
      describe: 'only these models (full id or a prefix such as claude-sonnet-4-5)',
    },
    cost: {
      choices: ['auto', 'calculate', 'display'],
      default: 'auto',
      describe: "auto: the source's cost when it gave one, else the price table",
    },
    format: {
      choices: ['table', 'json', 'csv', 'markdown', 'html'],
      default: 'table',
      describe: 'html: one self-contained page with charts',
    },
    output: { alias: 'o', type: 'string', describe: 'write the report to this file instead of stdout' },
    compact: {
      type: 'boolean',
      default: false,
      describe: 'fewer columns (automatic when the table is wider than the terminal)',
    },
    chart: { type: 'boolean', default: false, describe: "a bar of each row's cost" },
    live: {
      type: 'boolean',
      describe: 'blocks: the live view of status --watch (every device; the filters do not apply)',
    },
    'include-failed': {
      type: 'boolean',
      default: false,
      describe: "count the tokens of failed calls (a proxy's failed upstream calls; always at cost 0)",
    },
  },
  parse: (a, global) => {
    if (a.live && a.period !== 'blocks')
      throw usageError(
        'LIVE_NEEDS_BLOCKS',
        `--live applies to report blocks, not ${String(a.period)}: run usage-ledger report blocks --live`,
      )
    if (a.live && global.json)
      throw usageError('WATCH_WITH_JSON', '--live draws a terminal view and --json prints one object: drop one of them')
    return parseReport(a, global)
  },
  run: report,
}

function parseReport(a: Args, global: GlobalOptions): ReportOptions {
  return {
    live: Boolean(a.live),
    period: a.period as ReportOptions['period'],
    tz: optional(a.tz),
    since: optional(a.since),
    until: optional(a.until),
    by: list(a.by),
    device: list(a.device),
    source: list(a.source),
    model: list(a.model),
    cost: a.cost as ReportOptions['cost'],
    includeFailed: Boolean(a['include-failed']),
    format: global.json ? 'json' : (a.format as ReportOptions['format']),
    compact: Boolean(a.compact),
    chart: Boolean(a.chart),
    output: optional(a.output),
  }
}
