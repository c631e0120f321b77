/** `push`: deliver this device's pending commits; also what `record` calls after committing. */
import { isLedgerError, type LedgerError, usageError } from '../errors.js'
import { redactUrl } from '../git/backend.js'
import { Store } from '../store/store.js'
import path from 'node:path'
import { isKeptFailure, loadPushFailure, pushDevice, savePushFailure, type PushFailure } from '../app/sync/push.js'
import { resolveRemote } from '../app/sync/remote.js'
import { explainRejectedPush } from '../app/sync/identity.js'
import { out, say, type CommandContext, type Outcome } from './context.js'
import { plural } from '../text.js'

export interface PushSummary {
  remote: string
  pushed: boolean
  pending: number
  rejected: boolean
  error?: string
  /** The rejection is an integrity failure (this device's branch was rewritten on the remote): exit 3. */
  integrity?: boolean
  /** git's own words about this push's failure, when it said more than `error`. */
  details?: string[]
  /** The last push that failed other than offline, until one succeeds (state/push.json). */
  lastPushFailure: PushFailure | null
}

/** Where the last failed push is kept (DESIGN: persisted state carries "v"). */
export const pushStateFile = (store: Store) => path.join(store.paths.state, 'push.json')

/** The last failed push of a store, or null (also in --repo mode, which never pushes). */
export const lastPushFailure = (store: Store, repoMode = false): PushFailure | null =>
  repoMode ? null : loadPushFailure(pushStateFile(store))

/** "2 h ago", "5 min ago", "3 d ago": how long before `now` an ISO time was. */
export function ago(at: string, now: Date): string {
  const s = Math.max(0, Math.round((now.getTime() - Date.parse(at)) / 1000))
  if (!Number.isFinite(s)) return 'at an unknown time'
  if (s < 90) return `${s} s ago`
  if (s < 90 * 60) return `${Math.round(s / 60)} min ago`
  if (s < 36 * 3600) return `${Math.round(s / 3600)} h ago`
  return `${Math.round(s / 86400)} d ago`
}

/**
 * Pushes (the caller holds the store lock); an unreachable or refusing remote leaves the
 * commits pending, a rejection is reported as such.
 */
export async function pushOrKeep(store: Store): Promise<PushSummary> {
  const url = store.config.remote!
  const git = await store.git()
  const remote = await resolveRemote(url, store.env)
  const file = pushStateFile(store)
  // A failure other than being offline is kept until a push succeeds (or finds nothing to do).
  const keep = (e: LedgerError | undefined): PushFailure | null => {
    if (!e) {
      savePushFailure(file, null)
      return null
    }
    if (!isKeptFailure(e)) return loadPushFailure(file)
    const failure = { at: store.env.now().toISOString(), code: e.code, message: e.message, details: e.details }
    savePushFailure(file, failure)
    return failure
  }
  try {
    const r = await pushDevice(git, remote, store.device.id)
    return {
      remote: redactUrl(url),
      pushed: r.pushed,
      pending: r.pending,
      rejected: false,
      error: r.error?.message,
      details: r.error?.details.length ? r.error.details : undefined,
      lastPushFailure: keep(r.error),
    }
  } catch (e) {
    if (isLedgerError(e, 'PUSH_REJECTED')) {
      // Another store writing as this device, or this device's branch rewritten: say which.
      const why = await explainRejectedPush(
        git,
        remote,
        store.device.id,
        store.device.installId,
        e,
        store.deviceSource === 'env',
      )
      return {
        remote: redactUrl(url),
        pushed: false,
        pending: -1,
        rejected: true,
        error: why.message,
        lastPushFailure: keep(why),
        ...(why.kind === 'integrity' ? { integrity: true } : {}),
      }
    }
    throw e
  }
}

const pendingText = (p: PushSummary) =>
  `${plural(p.pending, 'commit')} pending: ${p.error ?? 'not pushed'}; the next push or record delivers ${p.pending === 1 ? 'it' : 'them'}`

const detailText = (p: PushSummary) => (p.details?.length ? p.details.map((l) => `${l}\n`).join('') : '')

/** What `record` and `devices rename` say about their push; nothing at all with --quiet (hooks). */
export function sayPush(ctx: CommandContext, p: PushSummary): void {
  if (p.rejected) say(ctx, `usage-ledger: ${p.error}`)
  else if (p.pushed) say(ctx, `pushed to ${p.remote}`)
  else if (p.pending > 0) say(ctx, pendingText(p) + (detailText(p) ? `\n${detailText(p)}` : ''))
}

export async function push(ctx: CommandContext): Promise<Outcome> {
  const store = Store.open(ctx.env, { home: ctx.global.home, git: ctx.global.git })
  try {
    if (!store.config.remote)
      throw usageError('NO_REMOTE', `no remote is set for ${store.paths.home}; run usage-ledger init --remote URL`)
    const lock = await store.lock()
    let p: PushSummary
    try {
      p = await pushOrKeep(store)
    } finally {
      lock.release()
    }
    if (ctx.global.json) out(ctx, JSON.stringify({ schema: 'usage-ledger/push@1', ...p }))
    // A push that failed is an error (exit 1): its one line is printed whatever --quiet or --json say.
    if (p.rejected) ctx.env.stderr.write(`usage-ledger: ${p.error}\n`)
    else if (p.pending > 0) ctx.env.stderr.write(`usage-ledger: ${pendingText(p)}\n${detailText(p)}`)
    else if (!ctx.global.json) say(ctx, p.pushed ? `pushed to ${p.remote}` : 'nothing to push')
    return p.rejected ? (p.integrity ? 'integrity' : 'failed') : p.pending > 0 ? 'failed' : 'ok'
  } finally {
    await store.close()
  }
}
