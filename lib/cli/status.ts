/** `status`: this device, its remote and pending commits, every device, the merged tree. */
import { redactUrl, trackingRef } from '../git/backend.js'
import { ledgerRef, MERGED_REF } from '../ledger/paths.js'
import { Store } from '../store/store.js'
import { loadVerified } from '../store/verified.js'
import { commitsAhead } from '../sync/push.js'
import { listDevices } from './devices.js'
import { out, type CommandContext } from './context.js'

export async function status(ctx: CommandContext): Promise<number> {
  const store = Store.open(ctx.env, { home: ctx.global.home, git: ctx.global.git, repo: ctx.global.repo })
  try {
    const git = store.initialized ? await store.git() : null
    const head = git ? await git.readRef(ledgerRef(store.device.id)) : null
    const pending = git && store.config.remote && !ctx.global.repo ? await commitsAhead(git, head, await git.readRef(trackingRef(ledgerRef(store.device.id)))) : 0
    const merged = git ? await git.readRef(MERGED_REF) : null
    const s = {
      schema: 'usage-ledger/status@1',
      home: store.paths.home,
      device: { id: store.device.id, name: store.device.name, head },
      remote: store.config.remote ? redactUrl(store.config.remote) : null,
      pending,
      devices: git ? await listDevices(git, store.device.id, Boolean(ctx.global.repo)) : [],
      verified: loadVerified(store.paths.verified),
      merged: merged && git ? { commit: merged, tree: (await git.readCommit(merged)).tree } : null,
    }
    if (ctx.global.json) { out(ctx, JSON.stringify(s)); return 0 }
    out(ctx, `device   ${s.device.id} (${s.device.name})`)
    out(ctx, `store    ${s.home}`)
    out(ctx, `remote   ${s.remote ?? '(none: run usage-ledger init --remote URL)'}${s.remote ? `, ${pending} commit${pending === 1 ? '' : 's'} pending` : ''}`)
    out(ctx, `merged   ${s.merged ? `tree ${s.merged.tree}` : '(not fetched yet)'}`)
    for (const d of s.devices) out(ctx, `${d.thisDevice ? '*' : ' '} ${d.id}  ${d.name.padEnd(20)} ${String(d.records).padStart(9)} records  last ${d.lastRecordAt ?? '-'}`)
    return 0
  } finally {
    await store.close()
  }
}
