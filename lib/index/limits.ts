/**
 * The newest limit reading per account and window over the good heads (DESIGN §4a): read from
 * each device's `limits/` days of the last READING_LOOKBACK_DAYS, never the whole history.
 */
import type { GitBackend, TreeEntry } from '../git/backend.js'
import { readTreeAt } from '../git/tree.js'
import { addDays, utcDay } from '../ledger/time.js'
import { LIMITS_DIR, deviceDir } from '../ledger/paths.js'
import {
  newestByKey,
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
