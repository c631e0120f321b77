/**
 * Limit readings in device directories (DESIGN §2, §4a): the newest per account and window of a
 * device or of every good head, read from the `limits/` days of the last READING_LOOKBACK_DAYS,
 * never the whole history; and which of a run's readings this device has not committed yet.
 */
import type { GitBackend, TreeEntry } from '../git/backend.js'
import { readTreeAt } from '../git/tree.js'
import { addDays, utcDay } from '../ledger/time.js'
import { LIMITS_DIR, deviceDir, limitsDayDir, partName } from '../ledger/paths.js'
import {
  newerReading,
  newestByKey,
  readingKey,
  readingLine,
  parseReadingLine,
  READING_LOOKBACK_DAYS,
  type LimitReading,
  type ShownReading,
} from '../ledger/limits.js'

/** A device's readings of its last days, newest per key. */
export async function deviceReadings(
  git: GitBackend,
  tree: string | null,
  deviceId: string,
  now: Date,
): Promise<Map<string, LimitReading>> {
  const from = addDays(utcDay(now.toISOString()), -READING_LOOKBACK_DAYS)
  const root = `${deviceDir(deviceId)}/${LIMITS_DIR}`
  const months = (await readTreeAt(git, tree, root)) ?? []
  const readings: LimitReading[] = []
  for (const month of months) {
    if (month.type !== 'tree' || month.name < from.slice(0, 7)) continue
    for (const day of (await readTreeAt(git, tree, `${root}/${month.name}`)) ?? []) {
      if (day.type !== 'tree' || day.name < from) continue
      for (const part of await dayEntries(git, tree, `${root}/${month.name}/${day.name}`))
        for (const line of (await git.readBlob(part.oid)).toString('utf8').split('\n')) {
          if (!line) continue
          const p = parseReadingLine(line)
          if (p.kind === 'reading') readings.push(p.reading)
        }
    }
  }
  return newestByKey(readings)
}

async function dayEntries(git: GitBackend, tree: string | null, path: string): Promise<TreeEntry[]> {
  return ((await readTreeAt(git, tree, path)) ?? []).filter((e) => e.type === 'blob' && /^\d{6}\.ndjson$/.test(e.name))
}

/**
 * Per account and window the newest reading any good head holds, with the device that saw it;
 * `names` gives devices their display names. Sorted by source, account, then window length.
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
  return [...newestByKey(all).values()].sort((a, b) =>
    a.source !== b.source
      ? a.source < b.source
        ? -1
        : 1
      : a.account !== b.account
        ? a.account < b.account
          ? -1
          : 1
        : a.minutes - b.minutes,
  )
}

/**
 * The run's readings to commit, as `limits/` parts by UTC day (path → lines): those newer than
 * the device's newest committed reading of their key and inside the lookback (an older one has
 * reset since, and a reader would not look for it). Re-reading a source, or a spool a killed run
 * left, so adds nothing.
 */
export async function readingParts(
  git: GitBackend,
  tree: string | null,
  deviceId: string,
  readings: Iterable<LimitReading>,
  now: Date,
): Promise<{ parts: Map<string, string[]>; count: number; days: string[] }> {
  const from = addDays(utcDay(now.toISOString()), -READING_LOOKBACK_DAYS)
  const fresh = [...newestByKey([...readings].filter((r) => utcDay(r.ts) >= from)).values()]
  const parts = new Map<string, string[]>()
  if (!fresh.length) return { parts, count: 0, days: [] }
  const committed = await deviceReadings(git, tree, deviceId, now)
  const byDay = new Map<string, LimitReading[]>()
  for (const r of fresh) {
    const cur = committed.get(readingKey(r))
    if (cur && !newerReading(r, cur)) continue
    const day = utcDay(r.ts)
    let list = byDay.get(day)
    if (!list) byDay.set(day, (list = []))
    list.push(r)
  }
  let count = 0
  const days = [...byDay.keys()].sort()
  for (const day of days) {
    const list = byDay.get(day)!.sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : a.id < b.id ? -1 : 1))
    const dir = `${deviceDir(deviceId)}/${limitsDayDir(day)}`
    const n = (await dayEntries(git, tree, dir)).length + 1
    parts.set(`${dir}/${partName(n)}`, list.map(readingLine))
    count += list.length
  }
  return { parts, count, days }
}
