/** `report daily|monthly|…`: totals over every device's ledger in the store, rendered. */
import path from 'node:path'
import { buildReport, type ReportQuery } from '../app/query/report.js'
import { Store } from '../store/store.js'
import { renderCsv, renderJson, renderMarkdown, renderTable, type ReportResult } from '../report/render.js'
import { renderHtml } from '../report/html.js'
import { writeFileAtomic } from '../store/fsutil.js'
import { quarantineLine } from '../store/quarantine.js'
import { out, say, type CommandContext, type Outcome } from './context.js'

export interface ReportOptions extends Omit<ReportQuery, 'clone'> {
  format: 'table' | 'json' | 'csv' | 'markdown' | 'html'
  /** Write the report to this file (atomically) instead of stdout. */
  output?: string
  compact: boolean
  chart: boolean
}

export async function report(ctx: CommandContext, opts: ReportOptions): Promise<Outcome> {
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
