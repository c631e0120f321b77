/** `record`: read new usage from the sources and commit one part per touched UTC day. */
import path from 'node:path'
import { Batch, collect, fileSources } from '../collect/index.js'
import { collectStdinText, readAll } from '../collect/stdin/index.js'
import { usageError } from '../errors.js'
import { Store } from '../store/store.js'
import { loadCursors, saveCursors } from '../store/cursors.js'
import { appendRecords } from '../store/writer.js'
import { readJsonIfExists, writeFileAtomic } from '../store/fsutil.js'
import { loadVerified } from '../store/verified.js'
import { addNames, loadNames } from '../store/names.js'
import { lastPushFailure, pushOrKeep, type PushSummary } from '../app/sync/push.js'
import { sayPush } from './messages.js'
import type { PushFailure } from '../app/sync/push.js'
import { out, say, type CommandContext, type Outcome } from './context.js'
import { progressBar } from './progress.js'
import { plural } from '../text.js'

export interface RecordOptions {
  sources: string[]
  stdin: boolean
  push: boolean
  dryRun: boolean
  deviceId?: string
  name?: string
  /** Run even within config `record.minInterval` of the last full run. */
  force?: boolean
}

export async function record(ctx: CommandContext, opts: RecordOptions): Promise<Outcome> {
  const { env, global } = ctx
  if (opts.stdin && opts.sources.length !== 1)
    throw usageError(
      'STDIN_SOURCE',
      'record --stdin needs exactly one --source NAME naming the tool the records come from',
    )
  const store = Store.open(env, { home: global.home, git: global.git, deviceId: opts.deviceId, name: opts.name })
  const startedAt = env.now()
  // Only a run over every source counts for (and is held back by) record.minInterval: an
  // explicit --source or --stdin is a deliberate act, and a dry run changes nothing.
  const fullRun = !opts.stdin && opts.sources.length === 0 && !opts.dryRun
  if (fullRun && !opts.force) {
    const skip = minIntervalSkip(store, startedAt)
    if (skip) {
      reportSkip(ctx, store.device.id, skip, store.config.remote ? lastPushFailure(store) : null)
      return 'ok'
    }
  }
  const batch = new Batch(startedAt)
  // stdin is read (and rejected if bad) before the store is locked: a slow pipe holds no lock.
  if (opts.stdin) collectStdinText(await readAll(env.stdin), opts.sources[0]!, batch)
  const lock = opts.dryRun ? null : await store.lock()
  try {
    if (!opts.dryRun) {
      await store.ensureInit()
      await store.remember(opts)
    }
    const salt = store.config.privacy?.salt ?? ''
    const cursors = loadCursors(store.paths.cursors)
    let nextCursors = cursors
    let cursorsChanged = false
    let stats = {}
    let searched: Searched[] | undefined
    if (!opts.stdin) {
      const bar =
        env.stderrIsTTY && !global.quiet && !global.json ? progressBar(env.stderr, 'reading sources') : undefined
      const sources = fileSources(opts.sources)
      const r = collect(env, sources, cursors, batch, salt, bar?.update)
      bar?.done()
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
        for (const lines of res.parts.values()) for (const l of lines) out(ctx, l)
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
    report(ctx, summary)
    // A rejected push fails an interactive run; with --quiet (what hooks run) record never fails
    // its caller: the failure is kept in state/push.json, and status shows it. This device's
    // branch rewritten on the remote is an integrity failure (3).
    return summary.push?.rejected && !global.quiet ? (summary.push.integrity ? 'integrity' : 'failed') : 'ok'
  } finally {
    lock?.release()
    await store.close()
  }
}

const LAST_RUN_VERSION = 1
/** When the last full `record` run started; read before anything else, so it is its own small file. */
const lastRunFile = (store: Store) => path.join(store.paths.state, 'last-record.json')

interface MinIntervalSkip {
  lastRunAt: string
  nextRunAt: string
  minInterval: number
}

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

function reportSkip(ctx: CommandContext, device: string, s: MinIntervalSkip, failure: PushFailure | null): void {
  if (ctx.global.json) {
    out(
      ctx,
      JSON.stringify({
        schema: 'usage-ledger/record@1',
        device,
        skipped: 'minInterval',
        ...s,
        duplicates: 0,
        malformed: 0,
        future: 0,
        sources: {},
        dryRun: false,
        commit: null,
        appended: 0,
        alreadyRecorded: 0,
        days: [],
        pushed: false,
        pending: 0,
        pushError: null,
        lastPushFailure: failure,
      }),
    )
    return
  }
  say(
    ctx,
    `skipped: the last record run started at ${s.lastRunAt}, within record.minInterval (${s.minInterval} s); next run from ${s.nextRunAt}, or record --force`,
  )
}

/** A source that found no log file: where it looked and the environment variable that moves it. */
interface Searched {
  source: string
  paths: string[]
  envVar: string | null
}

interface RecordSummary {
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

function notFoundText(searched: Searched[]): string {
  const where = searched.map(
    (x) => `  ${x.source}: ${x.paths.join(', ')}${x.envVar ? ` (set ${x.envVar} to look elsewhere)` : ''}`,
  )
  return [
    'no usage logs found; looked for',
    ...where,
    'other tools can feed records: usage-ledger record --stdin --source NAME',
  ].join('\n')
}

function report(ctx: CommandContext, s: RecordSummary): void {
  if (ctx.global.json) {
    const { push, lastPushFailure: kept, latestFuture: _latest, ...rest } = s
    out(
      ctx,
      JSON.stringify({
        schema: 'usage-ledger/record@1',
        ...rest,
        pushed: push?.pushed ?? false,
        pending: push?.pending ?? 0,
        pushError: push?.error ?? null,
        lastPushFailure: push ? push.lastPushFailure : (kept ?? null),
      }),
    )
    return
  }
  if (s.future) {
    say(
      ctx,
      `warning: ${plural(s.future, 'record')} dated more than 24 hours after now (latest ${s.latestFuture}) skipped; check the clock of the machine that wrote ${s.future === 1 ? 'it' : 'them'}`,
    )
  }
  if (s.push) sayPush(ctx, s.push)
  if (s.dryRun) {
    if (s.searched) say(ctx, notFoundText(s.searched))
    say(ctx, `dry run: ${plural(s.appended, 'record')} would be committed`)
    return
  }
  const extra = [
    s.alreadyRecorded ? `${s.alreadyRecorded} already recorded` : '',
    s.malformed ? `${plural(s.malformed, 'malformed line')} skipped` : '',
  ]
    .filter(Boolean)
    .join(', ')
  if (!s.appended) {
    say(ctx, s.searched ? notFoundText(s.searched) : `nothing new${extra ? ` (${extra})` : ''}`)
    return
  }
  const range = s.days.length === 1 ? s.days[0]!.day : `${s.days[0]!.day}..${s.days[s.days.length - 1]!.day}`
  say(
    ctx,
    `recorded ${plural(s.appended, 'record')} in ${plural(s.days.length, 'part')} (${range}), commit ${s.commit!.slice(0, 12)}${extra ? `; ${extra}` : ''}`,
  )
}
