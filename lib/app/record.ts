/** `record`: read new usage from the sources and commit one part per touched UTC day, then push. */
import { rememberDevice } from './device-id.js'
import fs from 'node:fs'
import path from 'node:path'
import { Batch, collectInParallel, fileSources, type SourceCursors } from '../collect/index.js'
import { readAll, stdin } from '../collect/stdin/index.js'
import type { Store } from '../store/store.js'
import { loadCursors, saveCursors } from '../collect/cursors.js'
import { appendRecords } from '../branch/writer.js'
import { readJsonIfExists, writeFileAtomic } from '../store/fsutil.js'
import { loadVerified } from '../store/verified.js'
import { addNames, loadNames } from '../store/names.js'
import { lastPushFailure, pushOrKeep, type PushSummary } from './sync/push.js'
import type { PushFailure } from './sync/push.js'
import { takeSpooledReadings } from '../store/limits-spool.js'
import type { LimitReading } from '../ledger/limits.js'
import { liveCacheInUse } from '../store/live.js'

export interface RecordUsageOptions {
  sources: string[]
  stdin: boolean
  push: boolean
  dryRun: boolean
  /** What the store was opened with, kept for later runs (rememberDevice). */
  deviceId?: string
  name?: string
  /** Run even within config `record.minInterval` of the last full run. */
  force?: boolean
  /**
   * With the cliproxy source: pop CLIProxyAPI's queue into the spool first (default); false
   * commits the spool only (the collector, which is subscribed, spools what it receives itself).
   */
  cliproxyDrain?: boolean
}

/** Reading the sources, drawn by the caller (a progress bar on a terminal). */
export interface Progress {
  update(done: number, total: number, files: number): void
  done(): void
}

/** A source that found no log file: where it looked and the environment variable that moves it. */
export interface Searched {
  source: string
  paths: string[]
  envVar: string
}

export interface RecordSummary {
  searched?: Searched[]
  push?: PushSummary
  /** The kept push failure when this run did not push (see push.ts). */
  lastPushFailure?: PushFailure | null
  device: string
  commit: string | null
  appended: number
  alreadyRecorded: number
  duplicates: number
  malformed: number
  /** Records dated more than 24 hours after now, skipped (Batch.futureProblem). */
  future: number
  latestFuture: string | null
  days: Array<{ day: string; records: number; part: number }>
  /** Limit readings committed (DESIGN §4a). */
  readings: number
  sources: Record<string, unknown>
  dryRun: boolean
}

export interface MinIntervalSkip {
  lastRunAt: string
  nextRunAt: string
  minInterval: number
}

export type RecordRun =
  | { skipped: MinIntervalSkip; device: string; lastPushFailure: PushFailure | null }
  | {
      skipped?: undefined
      summary: RecordSummary
      /** A dry run's would-be part lines, in order. */
      dryRunLines: string[]
    }

/**
 * One `record` run over the store (opened with the run's device id and name): the stdin text
 * or the file sources are collected, what is new is committed, and the commits go out when
 * the store has a remote and `push` is set.
 */
export async function recordUsage(store: Store, opts: RecordUsageOptions, progress?: Progress): Promise<RecordRun> {
  const startedAt = store.env.now()
  // Only a run over every source counts for (and is held back by) record.minInterval: an
  // explicit --source or --stdin is a deliberate act, and a dry run changes nothing.
  const fullRun = !opts.stdin && opts.sources.length === 0 && !opts.dryRun
  if (fullRun && !opts.force) {
    const skip = minIntervalSkip(store, startedAt)
    if (skip)
      return {
        skipped: skip,
        device: store.device.id,
        lastPushFailure: store.config.remote ? lastPushFailure(store) : null,
      }
  }
  const batch = new Batch(startedAt)
  // stdin is read (and rejected if bad) before the store is locked: a slow pipe holds no lock.
  if (opts.stdin) stdin.read(await readAll(store.env.stdin), opts.sources[0]!, batch)
  const lock = opts.dryRun ? null : await store.lock()
  try {
    if (!opts.dryRun) {
      await store.ensureInit()
      await rememberDevice(store, opts)
    }
    // The queue first: its records are in the batch before the names and the commit.
    const proxy = wantsCliproxy(store, opts)
      ? await (await import('./cliproxy.js')).readCliproxy(store, batch, {
          required: opts.sources.includes(CLIPROXY),
          drain: opts.cliproxyDrain !== false,
          dryRun: opts.dryRun,
        })
      : null
    const read = await readSources(store, opts, batch, progress)
    if (proxy) {
      read.stats[CLIPROXY] = proxy.stats
      if (proxy.stats.spooled || proxy.stats.popped) read.searched = undefined
    }
    // Readings the statusline spooled join the run's own (a dry run leaves them spooled).
    const spooled = opts.dryRun || opts.stdin ? null : takeSpooledReadings(store.paths.state)
    for (const r of spooled?.readings ?? []) batch.addReading(r)
    const run = await commitBatch(store, batch, read, opts.dryRun)
    // Only now, with its records committed, does the spool let them go.
    if (proxy) proxy.spool.done(proxy.files)
    spooled?.done()
    const { summary } = run
    // Commits left by an earlier offline run go out with this one, new records or not.
    if (!opts.dryRun && opts.push && store.config.remote && (summary.commit || store.hasPending())) {
      summary.push = await pushOrKeep(store)
    }
    // Every commit leaves loose objects: past git's own limits they are packed, in the
    // background, once the push is out (DESIGN §6).
    if (summary.commit) await (await store.git()).maintain()
    // The sources were read and what was new is committed: the interval starts now, whatever
    // the push did (a pending commit goes out with the next run).
    if (fullRun)
      // A hint for record.minInterval: lost in a crash, the next run simply runs (no fsync, ~2 ms).
      writeFileAtomic(lastRunFile(store), `${JSON.stringify({ v: LAST_RUN_VERSION, at: startedAt.toISOString() })}\n`, {
        durable: false,
      })
    if (!summary.push && store.config.remote) summary.lastPushFailure = lastPushFailure(store)
    // `--source cliproxy` with the queue out of reach: what was spooled is committed, then it fails.
    if (proxy?.error) throw proxy.error
    // The statusline's cache (state/live.json), only while a statusline uses it: plain `record` pays nothing.
    if (summary.commit && liveCacheInUse(store.paths.state))
      await (await import('./query/live.js')).refreshLiveCacheIfUsed(store)
    return run
  } finally {
    lock?.release()
  }
}

interface SourcesRead {
  /** The cursors to save once the batch is committed, and whether they differ from the saved ones. */
  cursors: Record<string, SourceCursors>
  cursorsChanged: boolean
  stats: Record<string, unknown>
  searched?: Searched[]
}

/** The source that is a queue, not files (lib/collect/cliproxy/). */
const CLIPROXY = 'cliproxy'

/**
 * Whether this run reads CLIProxyAPI's queue: asked for by name, or a run over every source with
 * a queue configured or a spool left to commit (a cheap look: the queue's code loads only then).
 */
function wantsCliproxy(store: Store, opts: RecordUsageOptions): boolean {
  if (opts.stdin) return false
  if (opts.sources.includes(CLIPROXY)) return true
  if (opts.sources.length) return false
  return Boolean(
    store.env.vars.USAGE_LEDGER_CLIPROXY_URL ||
      store.config.sources?.cliproxy ||
      fs.existsSync(path.join(store.paths.state, CLIPROXY)),
  )
}

/** Reads the file sources into the batch (none with --stdin, whose text is in it already). */
async function readSources(
  store: Store,
  opts: RecordUsageOptions,
  batch: Batch,
  progress?: Progress,
): Promise<SourcesRead> {
  const cursors = loadCursors(store.paths.cursors)
  if (opts.stdin) return { cursors, cursorsChanged: false, stats: {} }
  const env = store.env
  // `--source cliproxy` alone reads no file source.
  const named = opts.sources.filter((n) => n !== CLIPROXY)
  const sources = opts.sources.length && !named.length ? [] : fileSources(named)
  const r = await collectInParallel(env, sources, cursors, batch, store.config.privacy?.salt ?? '', progress?.update)
  progress?.done()
  // Not a single log file anywhere: say where we looked, and what moves each place.
  const searched =
    sources.length && Object.values(r.stats).every((s) => s.files === 0)
      ? sources.map((s) => ({ source: s.name, paths: s.looksIn(env), envVar: s.envVar }))
      : undefined
  // The names behind the hashes stay on this machine (state/names.json); saved before the
  // cursors, so a crash between them loses no name.
  if (!opts.dryRun) addNames(store.paths.names, batch.projectNames, batch.sessionIds)
  return { cursors: r.cursors, cursorsChanged: r.changed, stats: r.stats, searched }
}

/** Commits the batch's new records (a dry run only shows their lines), then saves the cursors. */
async function commitBatch(
  store: Store,
  batch: Batch,
  read: SourcesRead,
  dryRun: boolean,
): Promise<{ summary: RecordSummary; dryRunLines: string[] }> {
  const records = batch.records()
  const readings = [...batch.readings.values()]
  const base = {
    device: store.device.id,
    duplicates: batch.duplicates,
    malformed: batch.malformed,
    future: batch.future,
    latestFuture: batch.latestFuture,
    sources: read.stats,
    dryRun,
    ...(read.searched ? { searched: read.searched } : {}),
  }
  const { dryRunLines, ...committed } =
    records.length || readings.length
      ? await appendBatch(store, records, readings, dryRun)
      : { commit: null, appended: 0, alreadyRecorded: 0, days: [], readings: 0, dryRunLines: [] }
  if (read.cursorsChanged && !dryRun) saveCursors(store.paths.cursors, read.cursors)
  return { summary: { ...base, ...committed }, dryRunLines }
}

/** Appends the records to the device branch, one part per touched UTC day. */
async function appendBatch(
  store: Store,
  records: ReturnType<Batch['records']>,
  readings: LimitReading[],
  dryRun: boolean,
) {
  const git = await store.git()
  const seen = loadVerified(store.paths.verified)
  // config privacy.shareNames: this machine's project names go into the commit (never session ids or paths).
  const sharedNames = store.config.privacy?.shareNames === true ? loadNames(store.paths.names).projects : undefined
  const res = await appendRecords(git, store.device, store.paths.known, records, store.env.now(), {
    dryRun,
    seen,
    sharedNames,
    readings,
  })
  return {
    commit: res.commit,
    appended: res.appended,
    alreadyRecorded: res.alreadyRecorded,
    days: [...res.parts].map(([day, records]) => ({ day, records, part: res.manifest.days[day]!.parts })),
    readings: res.readings,
    dryRunLines: res.dryRunLines,
  }
}

const LAST_RUN_VERSION = 1
/** When the last full `record` run started; read before anything else, so it is its own small file. */
const lastRunFile = (store: Store) => path.join(store.paths.state, 'last-record.json')

/**
 * A shell hook calls `record` after every prompt (DESIGN §2): within config
 * `record.minInterval` seconds of the last full run, the run stops before the lock and the
 * sources, which keep what was not read yet. A clock that went back does not hold runs back.
 */
function minIntervalSkip(store: Store, now: Date): MinIntervalSkip | null {
  const minInterval = Number(store.config.record?.minInterval)
  if (!Number.isFinite(minInterval) || minInterval <= 0) return null
  let last: { v?: number; at?: unknown } | undefined
  try {
    last = readJsonIfExists(lastRunFile(store))
  } catch {
    return null
  } // unreadable: just run
  if (!last || typeof last.at !== 'string' || (last.v ?? 1) > LAST_RUN_VERSION) return null
  const lastMs = Date.parse(last.at)
  const elapsed = now.getTime() - lastMs
  if (!Number.isFinite(elapsed) || elapsed < 0 || elapsed >= minInterval * 1000) return null
  return { lastRunAt: last.at, nextRunAt: new Date(lastMs + minInterval * 1000).toISOString(), minInterval }
}
