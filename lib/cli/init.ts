/** `init`: create the local store (repository, state, config) for this device. */
import { initStore, type InitOptions } from '../app/sync/init.js'
import { out, say, type CommandContext, type Outcome, type CommandSpec, optional } from './context.js'
import { sayPush } from './messages.js'
import { plural } from '../text.js'

export type { InitOptions }

export async function init(ctx: CommandContext, opts: InitOptions): Promise<Outcome> {
  const r = await initStore(ctx.env, { home: ctx.global.home, git: ctx.global.git }, opts)
  const { sync, moved, pushed } = r
  if (ctx.global.json) {
    out(
      ctx,
      JSON.stringify({
        schema: 'usage-ledger/init@1',
        home: r.home,
        created: r.created,
        device: r.device,
        git: r.git,
        remote: r.remote,
        devices: sync?.devices ?? [],
        findings: sync?.findings ?? [],
        moved,
        pushed: pushed?.pushed ?? false,
        pending: pushed?.pending ?? 0,
      }),
    )
  } else {
    say(ctx, `${r.created ? 'initialised store' : 'store already initialised'} at ${r.home}`)
    say(ctx, `device ${r.device.id} (${r.device.name}), git backend: ${r.git}`)
    if (moved) say(ctx, `${plural(moved, 'record')} of this store moved to device ${r.device.id}`)
    if (r.remote) say(ctx, `remote ${r.remote}: ${plural(sync?.devices.length ?? 0, 'device')} there`)
    for (const f of sync?.findings ?? []) ctx.env.stderr.write(`${f.severity}: ${f.code} ${f.device}: ${f.detail}\n`)
  }
  if (pushed && !ctx.global.json) sayPush(ctx, pushed)
  else if (pushed?.rejected) ctx.env.stderr.write(`usage-ledger: ${pushed.error}\n`)
  if (sync?.findings.some((f) => f.severity === 'error') || sync?.quarantined.length) return 'integrity'
  return pushed?.rejected ? (pushed.integrity ? 'integrity' : 'failed') : 'ok'
}

export const command: CommandSpec<InitOptions> = {
  options: {
    remote: {
      type: 'string',
      describe:
        "a private git remote (https://, ssh://, user@host:path or a path); the token comes from USAGE_LEDGER_TOKEN or git's credential helper",
    },
    name: { type: 'string', describe: 'display name of this device (default: hostname)' },
    'device-id': {
      type: 'string',
      describe: 'write as this device id (32 hex); records of the id it replaces move to it',
    },
    'continue-device': {
      type: 'boolean',
      default: false,
      describe:
        "continue this device's branch on the remote although another store wrote it (this machine reinstalled)",
    },
    'new-device': {
      type: 'boolean',
      default: false,
      describe:
        "become a new device: a fresh random id kept in config; this store's records the remote lacks move to it",
    },
    'switch-remote': {
      type: 'boolean',
      default: false,
      describe: "move a store that syncs with another remote to --remote (the old remote's devices leave this store)",
    },
    force: {
      type: 'boolean',
      default: false,
      describe: 'use a non-empty repository that is not a usage ledger as the remote',
    },
  },
  storeOnly: () => 'init',
  parse: (a) => ({
    name: optional(a.name),
    deviceId: optional(a.deviceId),
    remote: optional(a.remote),
    continueDevice: Boolean(a.continueDevice),
    newDevice: Boolean(a.newDevice),
    switchRemote: Boolean(a.switchRemote),
    force: Boolean(a.force),
  }),
  readsEverything: (o) => o.remote !== undefined,
  run: init,
}
