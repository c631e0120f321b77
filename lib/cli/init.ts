/** `init`: create the local store (repository, state, config) for this device. */
import { Store } from '../store/store.js'
import { out, say, type CommandContext } from './context.js'

export interface InitOptions {
  name?: string
  deviceId?: string
}

export async function init(ctx: CommandContext, opts: InitOptions): Promise<number> {
  const store = Store.open(ctx.env, { home: ctx.global.home, git: ctx.global.git, deviceId: opts.deviceId, name: opts.name })
  try {
    const existed = store.initialized
    await store.ensureInit()
    store.remember(opts)
    const git = await store.git()
    if (ctx.global.json) {
      out(ctx, JSON.stringify({ schema: 'usage-ledger/init@1', home: store.paths.home, created: !existed, device: { id: store.device.id, name: store.device.name }, git: git.name }))
    } else {
      say(ctx, `${existed ? 'store already initialised' : 'initialised store'} at ${store.paths.home}`)
      say(ctx, `device ${store.device.id} (${store.device.name}), git backend: ${git.name}`)
    }
    return 0
  } finally {
    await store.close()
  }
}
