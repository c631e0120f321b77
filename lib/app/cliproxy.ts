/**
 * CLIProxyAPI's usage queue (DESIGN §5 "cliproxy"): `record` drains it (`readCliproxy`, the part
 * of a record run that pops the queue into the spool and reads the spool into the run's batch),
 * and `collect cliproxy` follows it (`collectCliproxy`: subscribe, drain the backlog, spool what
 * is pushed, commit the spool through `record` at most once per interval).
 *
 * The order that makes a kill harmless: a payload is spooled (appended, fsynced) as soon as it is
 * taken; the spool is read into a batch under the store lock; the spool segments are deleted only
 * after the batch's commit. Loaded only when a queue is configured or asked for.
 */
import { usageError } from '../errors.js'
import type { Env } from '../env.js'
import type { Batch } from '../collect/index.js'
import {
  addEntry,
  cliproxyUrl,
  isControlPayload,
  KEY_VAR,
  SOURCE,
  spoolEntry,
  URL_VAR,
  type QueueAddress,
  type SpoolEntry,
} from '../collect/cliproxy/index.js'
import { Spool } from '../collect/cliproxy/spool.js'
import type { Store } from '../store/store.js'
import { recordUsage, type RecordSummary } from './record.js'

export { SOURCE as CLIPROXY }

/** The queue's address, or a usage error naming where to set it. */
export function requireAddress(store: Store): QueueAddress {
  const addr = cliproxyUrl(store.env, store.config)
  if (!addr)
    throw usageError(
      'CLIPROXY_NO_URL',
      `no CLIProxyAPI queue configured: set ${URL_VAR}=redis://HOST:PORT (its port, default 8317) or config sources.cliproxy.url`,
    )
  return addr
}

/** The management key: USAGE_LEDGER_CLIPROXY_KEY, else git's credential helper (protocol=redis). */
export async function managementKey(env: Env, addr: QueueAddress): Promise<string> {
  const k = env.vars[KEY_VAR]
  if (k) return k
  const { credentialFill } = await import('../git/system.js')
  const filled = await credentialFill({ protocol: 'redis', host: addr.hostPort }, env.vars)
  if (filled) return filled
  throw usageError(
    'CLIPROXY_NO_KEY',
    `no management key for CLIProxyAPI at ${addr.url}: set ${KEY_VAR}, or store it with git's credential helper (protocol=redis, host=${addr.hostPort})`,
  )
}

/** Queue payloads as spool entries (control payloads dropped, non-JSON counted). */
function entriesOf(payloads: string[], salt: string): { entries: SpoolEntry[]; malformed: number } {
  const entries: SpoolEntry[] = []
  let malformed = 0
  for (const raw of payloads) {
    if (isControlPayload(raw)) continue
    const e = spoolEntry(raw, salt)
    if (e === 'malformed') malformed++
    else entries.push(e)
  }
  return { entries, malformed }
}

export interface CliproxyRead {
  /** Spool segments to delete once the batch is committed. */
  files: string[]
  spool: Spool
  stats: { popped: number; spooled: number; malformed: number; torn: number; unreadable?: string }
  /** Why the queue could not be drained when it was asked for by name: thrown after the commit. */
  error?: unknown
}

/**
 * The queue's part of a `record` run, under the store lock: pop everything queued into the spool
 * (unless `drain` is false, or a dry run, which never pops), then read the whole spool into the
 * batch. `required` (an explicit --source cliproxy) makes a missing address or an unreachable
 * queue an error; a run over every source only notes it (the spool is committed all the same).
 */
export async function readCliproxy(
  store: Store,
  batch: Batch,
  o: { required: boolean; drain: boolean; dryRun: boolean },
): Promise<CliproxyRead> {
  const salt = store.config.privacy?.salt ?? ''
  const spool = new Spool(store.paths.state)
  const stats: CliproxyRead['stats'] = { popped: 0, spooled: 0, malformed: 0, torn: 0 }
  let error: unknown
  const addr = o.required ? requireAddress(store) : cliproxyUrl(store.env, store.config)
  if (addr && o.drain && !o.dryRun) {
    try {
      const key = await managementKey(store.env, addr)
      const { drainQueue } = await import('../collect/cliproxy/queue.js')
      stats.popped = await drainQueue(addr, key, async (payloads) => {
        const { entries, malformed } = entriesOf(payloads, salt)
        stats.malformed += malformed
        await spool.append(entries)
      })
    } catch (e) {
      // What was spooled (now or by an earlier run) is committed all the same; an explicit
      // --source cliproxy fails after that commit.
      if (o.required) error = e
      else stats.unreadable = (e as Error).message
    }
  }
  const read = o.dryRun ? spool.read() : await spool.take()
  const before = batch.malformed
  for (const e of read.entries) addEntry(batch, e, salt)
  batch.malformed += stats.malformed
  stats.malformed = batch.malformed - before
  stats.spooled = read.entries.length
  stats.torn = read.torn
  return { files: o.dryRun ? [] : read.files, spool, stats, ...(error ? { error } : {}) }
}

export interface CollectOptions {
  /** Seconds between commits (at most one commit per interval). */
  interval: number
  push: boolean
  deviceId?: string
  name?: string
}

export interface CollectEvents {
  /** A line for people (stderr). */
  say(line: string): void
  /** A commit (or a commit attempt that found nothing new). */
  committed?(summary: RecordSummary): void
}

export interface CollectSummary {
  url: string
  commits: number
  appended: number
  received: number
}

const DEFAULT_INTERVAL = 60

/** The collector's interval: the option, else config sources.cliproxy.interval, else 60 s. */
export function collectInterval(store: Store, flag?: number): number {
  const v = flag ?? Number(store.config.sources?.cliproxy?.interval ?? DEFAULT_INTERVAL)
  if (!Number.isFinite(v) || v <= 0)
    throw usageError('BAD_INTERVAL', `the collect interval must be a positive number of seconds, not ${String(v)}`)
  return v
}

/**
 * `collect cliproxy`: follow the queue until `signal` aborts, then commit what is spooled and
 * return. The store lock is held only while a commit runs, never while waiting.
 */
export async function collectCliproxy(
  store: Store,
  opts: CollectOptions,
  signal: AbortSignal,
  ev: CollectEvents,
): Promise<CollectSummary> {
  const addr = requireAddress(store)
  const key = await managementKey(store.env, addr)
  const { drainQueue, followQueue } = await import('../collect/cliproxy/queue.js')
  const salt = store.config.privacy?.salt ?? ''
  const spool = new Spool(store.paths.state)
  const summary: CollectSummary = { url: addr.url, commits: 0, appended: 0, received: 0 }

  const commit = async () => {
    const run = await recordUsage(
      store,
      {
        sources: [SOURCE],
        stdin: false,
        push: opts.push,
        dryRun: false,
        deviceId: opts.deviceId,
        name: opts.name,
        cliproxyDrain: false,
      },
      undefined,
    )
    if (run.skipped) return
    const s = run.summary
    if (s.commit) summary.commits++
    summary.appended += s.appended
    ev.committed?.(s)
  }
  // What a previous collector or record spooled and did not commit: first.
  if (spool.pending()) await commit()

  // Payloads pushed in one tick are appended (and fsynced) together, in order.
  let pending: string[] = []
  let chain: Promise<void> = Promise.resolve()
  let appendError: Error | null = null
  const flush = () => {
    const payloads = pending
    pending = []
    const { entries } = entriesOf(payloads, salt)
    summary.received += entries.length
    chain = chain
      .then(() => spool.append(entries))
      .catch((e) => {
        appendError = e as Error
      })
  }
  const spoolPayloads = (payloads: string[]): Promise<void> => {
    if (!pending.length) setImmediate(flush)
    pending.push(...payloads)
    return new Promise((resolve) => setImmediate(() => chain.then(resolve)))
  }

  const stop: { fatal: Error | null } = { fatal: null }
  let wake: () => void = () => {}
  const follower = followQueue(addr, key, {
    message: (raw) => void spoolPayloads([raw]),
    subscribed: async () => {
      const n = await drainQueue(addr, key, (payloads) => spoolPayloads(payloads))
      ev.say(
        `subscribed to ${addr.url} (usage); ${n} queued record${n === 1 ? '' : 's'} taken; a commit at most every ${opts.interval} s (stop with Ctrl-C or SIGTERM)`,
      )
    },
    down: (e, ms) => ev.say(`${e.message}; retrying in ${(ms / 1000).toFixed(1)} s`),
    fatal: (e) => {
      stop.fatal = e
      wake()
    },
  })
  const onAbort = () => wake()
  signal.addEventListener('abort', onAbort)
  try {
    while (!signal.aborted && !stop.fatal) {
      await new Promise<void>((resolve) => {
        // setTimeout takes at most 2^31 - 1 ms (24.8 days); more fires at once.
        const t = setTimeout(resolve, Math.min(opts.interval * 1000, 2 ** 31 - 1))
        wake = () => {
          clearTimeout(t)
          resolve()
        }
      })
      await chain
      if (appendError) throw appendError
      if (spool.pending()) {
        try {
          await commit()
        } catch (e) {
          // The spool keeps everything; the next interval tries again.
          ev.say(`commit failed: ${(e as Error).message}; the records stay spooled`)
        }
      }
    }
  } finally {
    signal.removeEventListener('abort', onAbort)
    follower.stop()
  }
  // Stopping: what is spooled goes into one last commit.
  if (pending.length) flush()
  await chain
  if (appendError) throw appendError
  if (spool.pending()) await commit()
  if (stop.fatal) throw stop.fatal
  return summary
}
