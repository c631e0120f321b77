/**
 * `statusline` (DESIGN §7): what Claude Code's statusline shows after every turn, over every
 * device, from the cache `record` and `fetch` keep (`state/live.json`): no git, no index, no
 * network, and no lock on this path, which never throws. Claude's own limit readings on stdin are
 * spooled for `record` when they changed; when the cache is missing or old, one detached
 * background refresh is started (`statusline --refresh`, lib/app/statusline-refresh.ts), never
 * two at once (`state/refresh.lock`). This module is the statusline bundle's whole use case: it
 * imports nothing that loads git, the index or the report renderer.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { Env } from '../env.js'
import {
  CLAUDE_SOURCE,
  accountOfClaudeConfig,
  claudeConfigFile,
  parseStatuslineInput,
  statuslineReading,
  statuslineWindows,
  type StatuslineInput,
  type StatuslineWindowValues,
} from '../collect/claude-code/statusline.js'
import { newestByKey, readingKey, UNKNOWN_ACCOUNT, type LimitReading, type ShownReading } from '../ledger/limits.js'
import { homePaths, readConfig, resolveHome, type Config } from '../store/home.js'
import { writeFileAtomic } from '../store/fsutil.js'
import { spooledReadings, spoolReadings } from '../store/limits-spool.js'
import { readLiveFile } from '../store/live.js'
import { takeRefreshLock } from '../store/refresh-lock.js'
import type { ShownLimit, StatuslineFacts } from '../report/statusline.js'
import type { LiveCache } from './query/live.js'

export const DEFAULT_REFRESH_MINUTES = 5

export interface StatuslineRun {
  facts: StatuslineFacts
  /** config `statusline.format`, when set. */
  format?: string
  /** What became of the background refresh. */
  refresh: 'started' | 'running' | 'fresh' | 'off' | 'no-store' | 'failed'
  /** The refresh this call started. */
  refreshPid?: number
  /** Readings this call added to the spool. */
  spooled: LimitReading[]
}

export interface StatuslineOptions {
  home?: string
  /** What Claude Code wrote on stdin (null: nothing, or a terminal). */
  stdin: string | null
  /** Starts `statusline --refresh` for `home`, detached; returns its pid (undefined: it did not start). */
  spawnRefresh?: (home: string) => Promise<number | undefined>
}

/** The statusline's facts; never throws (a missing or damaged store gives a short note). */
export async function statusline(env: Env, opts: StatuslineOptions): Promise<StatuslineRun> {
  const now = env.now()
  const input = opts.stdin === null ? null : parseStatuslineInput(opts.stdin)
  const facts: StatuslineFacts = { now: now.getTime(), limits: {}, ...inputFacts(input) }
  let home: string
  try {
    home = resolveHome(env, opts.home)
  } catch {
    return { facts: { ...facts, note: 'no store' }, refresh: 'no-store', spooled: [] }
  }
  const paths = homePaths(home)
  let config: Config = { v: 1 }
  let configOk = true
  try {
    config = readConfig(paths.config)
  } catch {
    facts.note = 'config.json unreadable'
    configOk = false
  }
  const settings = (config as { statusline?: { format?: unknown; refreshMinutes?: unknown } }).statusline ?? {}
  const format = typeof settings.format === 'string' && settings.format ? settings.format : undefined
  const minutes = Number(settings.refreshMinutes ?? DEFAULT_REFRESH_MINUTES)
  const storeThere = fs.existsSync(paths.config) || fs.existsSync(path.join(paths.gitdir, 'HEAD'))
  let live = storeThere ? readLiveFile<LiveCache['status']>(paths.state) : null
  if (live) {
    try {
      Object.assign(facts, liveFacts(live, now))
    } catch {
      // JSON of another shape (a hand edit): no cache, and the refresh writes a good one.
      live = null
      facts.note ??= 'cache unreadable'
    }
  } else if (!facts.note) facts.note = storeThere ? 'no cache yet' : 'no store (run usage-ledger record)'

  // Claude's readings: spooled only when they differ from the newest one known of their key
  // (a reading is hashed only then: node:crypto costs a statusline call a tenth of its time).
  let spooled: LimitReading[] = []
  const windows = statuslineWindows(input)
  const account = () => (accountMemo ??= claudeAccount(env, paths.state, storeThere))
  let accountMemo: string | undefined
  const known = storeThere ? safe(() => spooledReadings(paths.state), []) : []
  if (windows.length && storeThere) {
    const acct = account()
    const newest = newestByKey<LimitReading>([...known, ...cachedReadings(live)])
    spooled = windows
      .filter((w) => {
        const n = newest.get(readingKey({ source: CLAUDE_SOURCE, account: acct, minutes: w.minutes }))
        return !n || n.usedPercent !== w.usedPercent || n.resetsAt !== w.resetsAt
      })
      .flatMap((w) => statuslineReading(w, now.toISOString(), acct) ?? [])
    if (spooled.length) safe(() => spoolReadings(paths.state, spooled), undefined)
  }
  facts.limits = shownLimits(windows, known, live, now, accountMemo, account)

  let refresh: { refresh: StatuslineRun['refresh']; refreshPid?: number } = { refresh: 'fresh' }
  if (!storeThere) refresh = { refresh: 'no-store' }
  // A refresh could not open the store either: none is started (each call would start one that fails).
  else if (!(minutes > 0) || !configOk) refresh = { refresh: 'off' }
  else {
    const stale = (c: { at: string } | null) =>
      !c || now.getTime() - Date.parse(c.at) > minutes * 60_000 || now.getTime() < Date.parse(c.at)
    // Asked again once the lock is ours: a refresh that ended since this call read the cache wrote
    // a new one before it let the lock go.
    if (stale(live))
      refresh = await startRefresh(paths.state, home, opts.spawnRefresh, () => stale(readLiveFile(paths.state)))
  }
  return { facts, format, ...refresh, spooled }
}

function inputFacts(input: StatuslineInput | null): Partial<StatuslineFacts> {
  const f: Partial<StatuslineFacts> = {}
  const name = input?.model?.display_name ?? input?.model?.id
  if (typeof name === 'string' && name) f.model = name
  const cost = input?.cost?.total_cost_usd
  if (typeof cost === 'number' && Number.isFinite(cost)) f.sessionCost = cost
  return f
}

/** What the cache says, as of now: a block that has ended is none; a "today" of an earlier day is 0, stale. */
export function liveFacts(live: LiveCache, now: Date): Partial<StatuslineFacts> {
  const s = live.status
  const t = now.getTime()
  const me = s.devices.find((d) => d.thisDevice)
  const f: Partial<StatuslineFacts> = {
    device: s.device.name,
    cacheAt: live.at,
    todayStale: !(t < Date.parse(live.dayEnd)),
    todayCost: t < Date.parse(live.dayEnd) ? s.today.costUSD : 0,
    weekCost: s.week.costUSD,
    devicesToday: s.devices.filter((d) => d.today.records > 0).length,
  }
  const b = s.block
  if (b.start && b.end && Date.parse(b.start) <= t && t < Date.parse(b.end)) {
    f.block = {
      costUSD: b.costUSD,
      totalTokens: b.totalTokens,
      end: b.end,
      costPerHour: b.burnRate?.costPerHour ?? null,
      projectedCost: b.projection?.costUSD ?? null,
      share: b.totalTokens > 0 && me ? me.block.totalTokens / b.totalTokens : null,
      devices: s.devices.filter((d) => d.block.totalTokens > 0).length,
    }
  }
  return f
}

/**
 * Per window (5h, 7d) the reading to show: this call's when Claude passed one, else the newest of
 * this account (any account when it is unknown) among the spooled and the synced ones; none once
 * its window has reset.
 */
function shownLimits(
  fresh: StatuslineWindowValues[],
  spooled: LimitReading[],
  live: LiveCache | null,
  now: Date,
  knownAccount: string | undefined,
  account: () => string,
): StatuslineFacts['limits'] {
  const out: StatuslineFacts['limits'] = {}
  const me = live?.status.device
  for (const minutes of [300, 10_080]) {
    const win = minutes === 300 ? '5h' : '7d'
    const now1 = fresh.find((r) => r.minutes === minutes)
    if (now1) {
      out[win] = { usedPercent: now1.usedPercent, resetsAt: now1.resetsAt, fresh: true }
      continue
    }
    const candidates: Array<LimitReading & Partial<Pick<ShownReading, 'device' | 'deviceName'>>> = [
      ...spooled.map((r) => ({ ...r, device: me?.id, deviceName: me?.name })),
      ...cachedReadings(live),
    ].filter((r) => r.source === CLAUDE_SOURCE && r.minutes === minutes)
    if (!candidates.length) continue
    const acct = knownAccount ?? account()
    const mine = acct === UNKNOWN_ACCOUNT ? candidates : candidates.filter((r) => r.account === acct)
    const best = mine.reduce<(typeof mine)[number] | undefined>((a, r) => (!a || r.ts > a.ts ? r : a), undefined)
    if (!best || (best.resetsAt && Date.parse(best.resetsAt) <= now.getTime())) continue
    const shown: ShownLimit = { usedPercent: best.usedPercent, resetsAt: best.resetsAt, fresh: false, at: best.ts }
    if (best.device && best.device !== me?.id) shown.deviceName = best.deviceName ?? best.device.slice(0, 8)
    out[win] = shown
  }
  return out
}

const cachedReadings = (live: LiveCache | null): ShownReading[] =>
  Array.isArray(live?.status.readings) ? live.status.readings : []

/**
 * The account Claude Code is logged in with, hashed, from its config file; remembered in
 * `state/claude-account.json` (v1: the file's size and mtime, and the hash: never the raw id) so
 * that a call reads the big file only after Claude Code rewrote it.
 */
function claudeAccount(env: Env, state: string, storeThere: boolean): string {
  const file = claudeConfigFile(env.vars, env.userHome)
  let st: fs.Stats
  try {
    st = fs.statSync(file)
  } catch {
    return UNKNOWN_ACCOUNT
  }
  const memo = path.join(state, 'claude-account.json')
  const key = { file, size: st.size, mtimeMs: st.mtimeMs }
  const cached = safe(
    () =>
      JSON.parse(fs.readFileSync(memo, 'utf8')) as {
        v: number
        file: string
        size: number
        mtimeMs: number
        account: string
      },
    null,
  )
  if (cached?.v === 1 && cached.file === file && cached.size === st.size && cached.mtimeMs === st.mtimeMs)
    return cached.account
  const account = safe(() => accountOfClaudeConfig(fs.readFileSync(file, 'utf8')), null) ?? UNKNOWN_ACCOUNT
  if (storeThere)
    safe(() => writeFileAtomic(memo, `${JSON.stringify({ v: 1, ...key, account })}\n`, { durable: false }), undefined)
  return account
}

/** Takes the refresh lock and starts the refresh; 'running' when another one holds the lock. */
async function startRefresh(
  state: string,
  home: string,
  spawnRefresh: StatuslineOptions['spawnRefresh'],
  stillStale: () => boolean,
): Promise<{ refresh: StatuslineRun['refresh']; refreshPid?: number }> {
  if (!spawnRefresh) return { refresh: 'off' }
  const lock = safe(() => takeRefreshLock(state), null)
  if (!lock) return { refresh: 'running' }
  try {
    if (!stillStale()) {
      lock.drop()
      return { refresh: 'fresh' }
    }
    const pid = await spawnRefresh(home)
    if (pid === undefined) {
      lock.drop()
      return { refresh: 'failed' }
    }
    lock.hold(pid)
    return { refresh: 'started', refreshPid: pid }
  } catch {
    safe(() => lock.drop(), undefined)
    return { refresh: 'failed' }
  }
}

function safe<T>(f: () => T, otherwise: T): T {
  try {
    return f()
  } catch {
    return otherwise
  }
}
