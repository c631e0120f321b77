/** `record`: read new usage from the sources and commit one part per touched UTC day, then push. */
import { rememberDevice } from './device-id.js'
import path from 'node:path'
import { Batch, collect, fileSources } from '../collect/index.js'
import { collectStdinText, readAll } from '../collect/stdin/index.js'
import type { Store } from '../store/store.js'
import { loadCursors, saveCursors } from '../collect/cursors.js'
import { appendRecords } from '../branch/writer.js'
import { readJsonIfExists, writeFileAtomic } from '../store/fsutil.js'
import { loadVerified } from '../store/verified.js'
import { addNames, loadNames } from '../store/names.js'
import { lastPushFailure, pushOrKeep, type PushSummary } from './sync/push.js'
import type { PushFailure } from './sync/push.js'

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
  envVar: string | null
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
  const env = store.env
  const startedAt = env.now()
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
  if (opts.stdin) collectStdinText(await readAll(env.stdin), opts.sources[0]!, batch)
  const lock = opts.dryRun ? null : await store.lock()
  try {
    if (!opts.dryRun) {
      await store.ensureInit()
      await rememberDevice(store, opts)
    }
    const salt = store.config.privacy?.salt ?? ''
    const cursors = loadCursors(store.paths.cursors)
    let nextCursors = cursors
    let cursorsChanged = false
    let stats = {}
    let searched: Searched[] | undefined
    if (!opts.stdin) {
      const sources = fileSources(opts.sources)
      const r = collect(env, sources, cursors, batch, salt, progress?.update)
      progress?.done()
      nextCursors = r.cursors
      cursorsChanged = r.changed
      stats = r.stats
      // Not a single log file anywhere: say where we looked, and what moves each place.
      if (Object.values(r.stats).every((s) => s.files === 0))
        searched = sources.map((s) => ({ source: s.name, paths: [], envVar: null, ...s.looksIn?.(env) }))
      // The names behind the hashes stay on this machine (state/names.json); saved before the
      // cursors, so a crash between them loses no name.
      if (!opts.dryRun) addNames(store.paths.names, batch.projectNames, batch.sessionIds)
    }
    const records = batch.records()
    const base = {
      device: store.device.id,
      duplicates: batch.duplicates,
      malformed: batch.malformed,
      future: batch.future,
      latestFuture: batch.latestFuture,
      sources: stats,
      dryRun: opts.dryRun,
      ...(searched ? { searched } : {}),
    }
    let summary: RecordSummary
    const dryRunLines: string[] = []
    if (records.length === 0) {
      if (cursorsChanged && !opts.dryRun) saveCursors(store.paths.cursors, nextCursors)
      summary = { ...base, commit: null, appended: 0, alreadyRecorded: 0, days: [] }
    } else {
      const git = await store.git()
      const seen = loadVerified(store.paths.verified)
      // config privacy.shareNames: this machine's project names go into the commit (never session ids or paths).
      const sharedNames = store.config.privacy?.shareNames === true ? loadNames(store.paths.names).projects : undefined
      const res = await appendRecords(git, store.device, store.paths.known, records, env.now(), {
        dryRun: opts.dryRun,
        seen,
        sharedNames,
      })
      if (opts.dryRun) {
        for (const lines of res.parts.values()) dryRunLines.push(...lines)
      } else if (cursorsChanged) {
        saveCursors(store.paths.cursors, nextCursors)
      }
      const days = [...res.parts].map(([day, lines]) => ({
        day,
        records: lines.length,
        part: res.manifest.days[day]!.parts,
      }))
      summary = { ...base, commit: res.commit, appended: res.appended, alreadyRecorded: res.alreadyRecorded, days }
    }
    // Commits left by an earlier offline run go out with this one, new records or not.
    if (!opts.dryRun && opts.push && store.config.remote && (summary.commit || store.hasPending())) {
      summary.push = await pushOrKeep(store)
    }
    // The sources were read and what was new is committed: the interval starts now, whatever
    // the push did (a pending commit goes out with the next run).
    if (fullRun)
      writeFileAtomic(lastRunFile(store), `${JSON.stringify({ v: LAST_RUN_VERSION, at: startedAt.toISOString() })}\n`)
    if (!summary.push && store.config.remote) summary.lastPushFailure = lastPushFailure(store)
    return { summary, dryRunLines }
  } finally {
    lock?.release()
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
