/** `init`: create the local store (repository, state, config) for this device. */
import { initStore, type InitOptions } from '../app/sync/init.js'
import { out, say, type CommandContext, type Outcome } from './context.js'
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
