/** `statusline`: one line for Claude Code's statusline (lib/cli/statusline-run.ts); `--refresh`: its background refresh. */
import { refreshLive } from '../app/statusline-refresh.js'
import { Store } from '../store/store.js'
import { STATUSLINE_PLACEHOLDERS } from '../report/statusline.js'
import { out, type CommandSpec, optional } from './context.js'
import { runStatusline, statuslineColor } from './statusline-run.js'

export interface StatuslineOptions {
  format?: string
  refresh: boolean
  /** --color as parsed (the global `color` also asks for a terminal, which a statusline never is). */
  color: boolean
}

export const command: CommandSpec<StatuslineOptions> = {
  options: {
    format: {
      type: 'string',
      describe: `the line, with placeholders: ${Object.keys(STATUSLINE_PLACEHOLDERS)
        .map((k) => `{${k}}`)
        .join(' ')} (default config statusline.format)`,
    },
    refresh: {
      type: 'boolean',
      default: false,
      hidden: true,
      describe: 'record, fetch and write the cache (what the statusline starts in the background)',
    },
  },
  storeOnly: () => 'statusline',
  parse: (a) => ({ format: optional(a.format), refresh: Boolean(a.refresh), color: a.color !== false }),
  run: async (ctx, opts) => {
    if (!opts.refresh) {
      await runStatusline(ctx.env, {
        home: ctx.global.home,
        format: opts.format,
        color: statuslineColor(ctx.env, opts.color),
        debug: ctx.global.debug,
      })
      return 'ok'
    }
    const store = Store.open(ctx.env, { home: ctx.global.home, git: ctx.global.git })
    try {
      const r = await refreshLive(store)
      if (ctx.global.json) out(ctx, JSON.stringify({ schema: 'usage-ledger/statusline-refresh@1', ...r }))
      return 'ok'
    } finally {
      await store.close()
    }
  },
}
