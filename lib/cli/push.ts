/** `push`: deliver this device's pending commits; also what `record` calls after committing. */
import { usageError } from '../errors.js'
import { redactUrl } from '../git/backend.js'
import { Store } from '../store/store.js'
import { pushDevice } from '../sync/push.js'
import { resolveRemote } from '../sync/remote.js'
import { explainRejectedPush } from '../sync/identity.js'
import type { LedgerError } from '../errors.js'
import { out, say, type CommandContext } from './context.js'

export interface PushSummary {
  remote: string
  pushed: boolean
  pending: number
  rejected: boolean
  error?: string
  /** The rejection is an integrity failure (this device's branch was rewritten on the remote): exit 3. */
  integrity?: boolean
}

/**
 * Pushes (the caller holds the store lock); an unreachable or refusing remote leaves the
 * commits pending, a rejection is reported as such.
 */
export async function pushOrKeep(store: Store): Promise<PushSummary> {
  const url = store.config.remote!
  const git = await store.git()
  const remote = await resolveRemote(url, store.env)
  try {
    const r = await pushDevice(git, remote, store.device.id)
    return { remote: redactUrl(url), pushed: r.pushed, pending: r.pending, rejected: false, error: r.error?.message }
  } catch (e) {
    if ((e as { code?: string }).code === 'PUSH_REJECTED') {
      // Another store writing as this device, or this device's branch rewritten: say which.
      const why = await explainRejectedPush(git, remote, store.device.id, store.device.installId, e as LedgerError, store.deviceSource === 'env')
      return { remote: redactUrl(url), pushed: false, pending: -1, rejected: true, error: why.message, ...(why.kind === 'integrity' ? { integrity: true } : {}) }
    }
    throw e
  }
}

const pendingText = (p: PushSummary) =>
  `${p.pending} commit${p.pending === 1 ? '' : 's'} pending: ${p.error ?? 'not pushed'}; the next push or record delivers ${p.pending === 1 ? 'it' : 'them'}`

export function sayPush(ctx: CommandContext, p: PushSummary): void {
  if (p.rejected) ctx.env.stderr.write(`usage-ledger: ${p.error}\n`)
  else if (p.pushed) say(ctx, `pushed to ${p.remote}`)
  else if (p.pending > 0) say(ctx, pendingText(p))
}

export async function push(ctx: CommandContext): Promise<number> {
  const store = Store.open(ctx.env, { home: ctx.global.home, git: ctx.global.git })
  try {
    if (!store.config.remote) throw usageError('NO_REMOTE', `no remote is set for ${store.paths.home}; run usage-ledger init --remote URL`)
    const lock = await store.lock()
    let p: PushSummary
    try { p = await pushOrKeep(store) } finally { lock.release() }
    if (ctx.global.json) out(ctx, JSON.stringify({ schema: 'usage-ledger/push@1', ...p }))
    // A push that failed is an error (exit 1): its one line is printed whatever --quiet or --json say.
    if (p.rejected) ctx.env.stderr.write(`usage-ledger: ${p.error}\n`)
    else if (p.pending > 0) ctx.env.stderr.write(`usage-ledger: ${pendingText(p)}\n`)
    else if (!ctx.global.json) say(ctx, p.pushed ? `pushed to ${p.remote}` : 'nothing to push')
    return p.rejected ? (p.integrity ? 3 : 1) : p.pending > 0 ? 1 : 0
  } finally {
    await store.close()
  }
}
