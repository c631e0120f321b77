/**
 * Limit readings in device directories (DESIGN §2, §4a). Each `limits/` part is a snapshot: the
 * device's newest reading of every account and window it knows (of the last
 * READING_LOOKBACK_DAYS), so the newest part alone says what the device knows. A writer and a
 * reader read that one part (three trees and a blob), never the device's history of readings.
 */
import type { GitBackend, TreeEntry } from '../git/backend.js'
import { readTreeAt } from '../git/tree.js'
import { addDays, utcDay } from '../ledger/time.js'
import { LIMITS_DIR, deviceDir, limitsDayDir, partName } from '../ledger/paths.js'
import {
  byKey,
  newerReading,
  newestByKey,
  readingKey,
  readingLine,
  parseReadingLine,
  READING_LOOKBACK_DAYS,
  type LimitReading,
  type ShownReading,
} from '../ledger/limits.js'

const PART_RE = /^\d{6}\.ndjson$/

/** The newest entry of a tree whose names sort in time order (months, days, parts), or null. */
async function newest(git: GitBackend, tree: string | null, path: string, keep: (e: TreeEntry) => boolean) {
  const entries = ((await readTreeAt(git, tree, path)) ?? []).filter(keep)
  return entries.reduce<TreeEntry | null>((best, e) => (!best || e.name > best.name ? e : best), null)
}

/** The device's newest limits part at `tree`: its path and oid, or null when it has none. */
async function newestPart(git: GitBackend, tree: string | null, deviceId: string) {
  const root = `${deviceDir(deviceId)}/${LIMITS_DIR}`
  const month = await newest(git, tree, root, (e) => e.type === 'tree' && /^\d{4}-\d{2}$/.test(e.name))
  if (!month) return null
  const day = await newest(
    git,
    tree,
    `${root}/${month.name}`,
    (e) => e.type === 'tree' && e.name.startsWith(month.name),
  )
  if (!day) return null
  const part = await newest(
    git,
    tree,
    `${root}/${month.name}/${day.name}`,
    (e) => e.type === 'blob' && PART_RE.test(e.name),
  )
  return part ? { oid: part.oid } : null
}

/** A device's newest reading per key (the lookback's: older ones have reset since). */
export async function deviceReadings(
  git: GitBackend,
  tree: string | null,
  deviceId: string,
  now: Date,
): Promise<Map<string, LimitReading>> {
  const part = await newestPart(git, tree, deviceId)
  if (!part) return new Map()
  const from = addDays(utcDay(now.toISOString()), -READING_LOOKBACK_DAYS)
  const readings: LimitReading[] = []
  for (const line of (await git.readBlob(part.oid)).toString('utf8').split('\n')) {
    if (!line) continue
    const p = parseReadingLine(line)
    if (p.kind === 'reading' && utcDay(p.reading.ts) >= from) readings.push(p.reading)
  }
  return newestByKey(readings)
}

/**
 * Per account and window the newest reading any good head holds, with the device that saw it;
 * `names` gives devices their display names. Sorted by source, account, bucket, then window length.
 */
export async function latestReadings(
  git: GitBackend,
  heads: Map<string, string>,
  names: Map<string, string>,
  now: Date,
): Promise<ShownReading[]> {
  const all: ShownReading[] = []
  for (const [id, head] of heads) {
    const tree = (await git.readCommit(head)).tree
    for (const r of (await deviceReadings(git, tree, id, now)).values())
      all.push({ ...r, device: id, deviceName: names.get(id) ?? id.slice(0, 8) })
  }
  return [...newestByKey(all).values()].sort(byKey)
}

/**
 * The run's limits part, when it has a reading newer than the device's newest of its key: the
 * device's newest readings with the run's newer ones, one line per key sorted by key, dated (its
 * UTC day directory) by its newest reading. Readings older than the lookback are left out (they
 * have reset since, and a reader would not look for them). Re-reading a source, or a spool a
 * killed run left, so adds nothing. `count`: the run's readings it holds.
 */
export async function readingPart(
  git: GitBackend,
  tree: string | null,
  deviceId: string,
  readings: Iterable<LimitReading>,
  now: Date,
): Promise<{ path: string; lines: string[]; count: number; day: string } | null> {
  const from = addDays(utcDay(now.toISOString()), -READING_LOOKBACK_DAYS)
  const fresh = [...newestByKey([...readings].filter((r) => utcDay(r.ts) >= from)).values()]
  if (!fresh.length) return null
  const committed = await deviceReadings(git, tree, deviceId, now)
  const newer = fresh.filter((r) => {
    const cur = committed.get(readingKey(r))
    return !cur || newerReading(r, cur)
  })
  if (!newer.length) return null
  const snapshot = [...newestByKey([...committed.values(), ...newer]).values()].sort(byKey)
  const day = utcDay(snapshot.reduce((ts, r) => (r.ts > ts ? r.ts : ts), ''))
  const dir = `${deviceDir(deviceId)}/${limitsDayDir(day)}`
  const n = ((await readTreeAt(git, tree, dir)) ?? []).filter((e) => e.type === 'blob' && PART_RE.test(e.name)).length
  return { path: `${dir}/${partName(n + 1)}`, lines: snapshot.map(readingLine), count: newer.length, day }
}
