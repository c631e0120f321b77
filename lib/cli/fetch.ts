/** `fetch`: bring in every device's branch, verify it, advance `merged` (DESIGN §7, §8). */
import { usageError } from '../errors.js'
import { redactUrl } from '../git/backend.js'
import { Store } from '../store/store.js'
import { loadTrustState, quarantineLine, saveTrustState } from '../store/quarantine.js'
import { hasErrors } from '../verify/findings.js'
import { fetchDevices, type FetchResult } from '../sync/fetch.js'
import { resolveRemote } from '../sync/remote.js'
import { updateIndex } from '../index/index.js'
import { storePrices } from './index.js'
import { out, say, type CommandContext, type Outcome } from './context.js'
import { resolveDevices } from './device-ref.js'
import { listDevices } from './devices.js'
import { deviceHeads } from '../index/heads.js'
import { plural } from '../text.js'

export interface FetchOptions {
  acceptRewrite: string[]
}

/** Fetch, check and integrate under the store lock; shared by `fetch` and `init --remote`. */
export async function fetchInto(
  store: Store,
  acceptRewrite: string[],
  clone = false,
  adopt = false,
): Promise<FetchResult> {
  const git = await store.git()
  const remote = await resolveRemote(store.config.remote!, store.env)
  const lock = await store.lock()
  try {
    // A store now writing as another id (USAGE_LEDGER_DEVICE_ID) first moves its old branch's records.
    if (store.previousId) await store.remember({})
    const r = await fetchDevices(git, remote, {
      me: store.device.id,
      state: loadTrustState(store.paths),
      acceptRewrite,
      now: store.env.now(),
      clone,
      install: store.device.installId,
      adopt,
      idFromEnv: store.deviceSource === 'env',
    })
    saveTrustState(store.paths, r.state)
    // What the fetch brought in is indexed now, so the next report starts warm.
    await updateIndex(git, store.paths.index, storePrices(store), { heads: r.heads })
    return r
  } finally {
    lock.release()
  }
}

/** The URL of a native clone's `origin`, from its config. */
async function originOf(store: Store): Promise<string | undefined> {
  return (await (await store.git()).remoteUrl('origin')) ?? undefined
}

export async function fetch(ctx: CommandContext, opts: FetchOptions): Promise<Outcome> {
  const store = Store.open(ctx.env, { home: ctx.global.home, git: ctx.global.git, repo: ctx.global.repo })
  try {
    if (ctx.global.repo) {
      const origin = await originOf(store)
      if (!origin) throw usageError('NO_REMOTE', `--repo ${ctx.global.repo} has no remote "origin" to fetch from`)
      store.config.remote = origin
    }
    if (!store.config.remote)
      throw usageError('NO_REMOTE', `no remote is set for ${store.paths.home}; run usage-ledger init --remote URL`)
    // --accept-rewrite names a device as --device does, among the branches this store knows
    // (its own and the remote's it fetched); nothing is fetched for a name that is none of them.
    const acceptRewrite = opts.acceptRewrite.length
      ? resolveDevices(
          '--accept-rewrite',
          opts.acceptRewrite,
          store.initialized
            ? await listDevices(await store.git(), store.device.id, await deviceHeads(await store.git(), true))
            : [],
          store.device.id,
        )
      : []
    if (!store.initialized) await store.ensureInit()
    const r = await fetchInto(store, acceptRewrite, Boolean(ctx.global.repo))
    if (ctx.global.json) {
      out(
        ctx,
        JSON.stringify({
          schema: 'usage-ledger/fetch@1',
          remote: redactUrl(store.config.remote),
          devices: r.devices,
          merged: r.merged,
          findings: r.findings,
          hooks: r.hooks,
          accepted: r.accepted,
          quarantined: r.quarantined,
        }),
      )
    } else {
      const changed = r.devices.filter((d) => d.status === 'new' || d.status === 'updated' || d.status === 'accepted')
      say(
        ctx,
        `fetched ${plural(r.devices.length, 'device')} from ${redactUrl(store.config.remote)}; ${changed.length} changed; merged tree ${r.merged?.tree ?? '(none)'}`,
      )
      for (const a of r.accepted) {
        ctx.env.stderr.write(
          `accepted ${a.id}: old head ${a.before ?? '(none)'}, new head ${a.head}${a.findings.length ? `, with ${plural(a.findings.length, 'finding')}:` : ', with no findings'}\n`,
        )
        for (const f of a.findings) ctx.env.stderr.write(`  ${f.code}: ${f.detail}\n`)
      }
      for (const f of r.findings)
        if (f.code !== 'REWRITE_ACCEPTED' && !r.accepted.some((a) => a.findings.includes(f)))
          ctx.env.stderr.write(`${f.severity}: ${f.code} ${f.device}: ${f.detail}\n`)
      for (const q of r.quarantined) ctx.env.stderr.write(`error: QUARANTINED ${quarantineLine(q.id, q)}\n`)
    }
    return hasErrors(r.findings) || r.quarantined.length ? 'integrity' : 'ok'
  } finally {
    await store.close()
  }
}
