/**
 * `hooks install [--repo GITDIR] [--uninstall]` and `hooks print TARGET` (DESIGN §7): install the
 * shipped post-merge hook, which refreshes the index after every merge, without clobbering a
 * hook that is already there; print ready-to-paste automation snippets that run `record`.
 */
import { installHooks, recordSetup } from '../app/sync/hooks.js'
import { usageError } from '../errors.js'
import { out, say, type CommandContext, type Outcome, type CommandSpec } from './context.js'
import { HOOK_TARGETS, hookSnippet, type HookTarget } from './hook-snippets.js'

export type { HookTarget }

export interface HooksOptions {
  action: 'install' | 'uninstall' | 'print'
  target?: HookTarget
  /** With --repo: make `git pull` on the checked-out branch merge every device branch (uninstall: stop). */
  follow?: boolean
}

export async function hooks(ctx: CommandContext, opts: HooksOptions): Promise<Outcome> {
  if (opts.action === 'print') {
    if (!opts.target)
      throw usageError(
        'HOOKS_TARGET',
        'hooks print needs a target: shell, claude-code, cron, systemd, launchd, systemd-cliproxy or launchd-cliproxy',
      )
    if (opts.follow) throw usageError('HOOKS_FOLLOW', '--follow is for hooks install --repo GITDIR, not hooks print')
    out(ctx, hookSnippet(opts.target, recordSetup(ctx.env, ctx.global.home)))
    // JSON has no comments: where it goes is said on stderr.
    if (opts.target === 'claude-code')
      say(ctx, "merge this into ~/.claude/settings.json (all projects) or a project's .claude/settings.json")
    return 'ok'
  }
  if (opts.target)
    throw usageError('HOOKS_TARGET', `hooks ${opts.action} takes no target (${opts.target} is for hooks print)`)
  if (opts.follow && !ctx.global.repo)
    throw usageError(
      'FOLLOW_NEEDS_REPO',
      '--follow sets up a native clone of the ledger remote: pass --repo GITDIR (the store follows every device by itself)',
    )
  const { hooksDir, hook, followed } = await installHooks(
    ctx.env,
    { home: ctx.global.home, repo: ctx.global.repo },
    opts.action,
    Boolean(opts.follow),
  )
  if (ctx.global.json)
    out(
      ctx,
      JSON.stringify({
        schema: 'usage-ledger/hooks@1',
        action: opts.action,
        hooksDir,
        ...hook,
        ...(followed ? { follow: followed.json } : {}),
      }),
    )
  else {
    say(ctx, hook.message)
    if (followed) say(ctx, followed.message)
  }
  if (followed?.warning) ctx.env.stderr.write(`${followed.warning}\n`)
  return 'ok'
}

export const command: CommandSpec<HooksOptions> = {
  positionals: {
    action: {
      choices: ['install', 'uninstall', 'print'],
      describe: 'install (--uninstall) the post-merge hook into the store or --repo; print a snippet',
    },
    target: {
      choices: HOOK_TARGETS,
      describe: 'print: what to print a snippet for',
    },
  },
  options: {
    uninstall: {
      type: 'boolean',
      default: false,
      describe: 'install: remove our hook and restore the one it chained',
    },
    follow: {
      type: 'boolean',
      default: false,
      describe: 'with --repo: git pull on the checked-out branch merges every device branch (with --uninstall: stops)',
    },
  },
  storeOnly: (a) => (a.action === 'print' ? 'hooks print' : undefined),
  parse: (a) => ({
    action: a.uninstall ? 'uninstall' : ((a.action as HooksOptions['action'] | undefined) ?? 'install'),
    target: a.target as HookTarget | undefined,
    follow: Boolean(a.follow),
  }),
  run: hooks,
}
