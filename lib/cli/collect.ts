/**
 * `collect cliproxy`: a long-running collector of CLIProxyAPI's usage queue (DESIGN §5
 * "cliproxy"). It subscribes, drains the backlog, spools every record as it arrives and commits
 * the spool at most once per `--interval` seconds; SIGINT or SIGTERM commit what is spooled and
 * end it with exit 0.
 */
import { collectCliproxy, collectInterval } from '../app/cliproxy.js'
import { usageError } from '../errors.js'
import { Store } from '../store/store.js'
import { plural } from '../text.js'
import { out, say, type CommandContext, type CommandSpec, type Outcome, optional } from './context.js'
import { KEY_OPTION, refuseKeyArg } from './messages.js'

export interface CollectOptions {
  source: 'cliproxy'
  interval?: number
  push: boolean
  name?: string
  deviceId?: string
}

export async function collect(ctx: CommandContext, opts: CollectOptions): Promise<Outcome> {
  const { env, global } = ctx
  const store = Store.open(env, { home: global.home, git: global.git, deviceId: opts.deviceId, name: opts.name })
  const stop = new AbortController()
  const onSignal = () => stop.abort()
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  try {
    const interval = collectInterval(store, opts.interval)
    const summary = await collectCliproxy(
      store,
      { interval, push: opts.push, name: opts.name, deviceId: opts.deviceId },
      stop.signal,
      {
        say: (line) => say(ctx, line),
        committed: (s) => {
          if (s.appended)
            say(
              ctx,
              `recorded ${plural(s.appended, 'record')}, commit ${s.commit?.slice(0, 12)}${s.push?.pushed ? ', pushed' : ''}`,
            )
        },
      },
    )
    if (global.json) out(ctx, JSON.stringify({ schema: 'usage-ledger/collect@1', source: opts.source, ...summary }))
    else
      say(
        ctx,
        `stopped: ${plural(summary.appended, 'record')} recorded in ${plural(summary.commits, 'commit')} (${summary.received} received)`,
      )
    return 'ok'
  } finally {
    process.removeListener('SIGINT', onSignal)
    process.removeListener('SIGTERM', onSignal)
    await store.close()
  }
}

export const command: CommandSpec<CollectOptions> = {
  positionals: {
    source: { choices: ['cliproxy'], describe: 'the queue to follow: cliproxy (CLIProxyAPI)' },
  },
  options: {
    interval: {
      type: 'string',
      describe: 'seconds between ledger commits (default: config sources.cliproxy.interval, else 60)',
    },
    push: { type: 'boolean', default: true, describe: 'push after each commit (--no-push: commit locally only)' },
    name: { type: 'string', describe: 'display name of this device' },
    'device-id': { type: 'string', describe: 'override the device id' },
    key: KEY_OPTION,
  },
  storeOnly: () => 'collect',
  parse: (a) => {
    refuseKeyArg(a)
    const raw = optional(a.interval)
    const interval = raw === undefined ? undefined : Number(raw)
    if (interval !== undefined && !(Number.isFinite(interval) && interval > 0))
      throw usageError('BAD_INTERVAL', `--interval must be a positive number of seconds, not "${raw}"`)
    return {
      source: 'cliproxy',
      interval,
      push: Boolean(a.push),
      name: optional(a.name),
      deviceId: optional(a.deviceId),
    }
  },
  run: collect,
}
