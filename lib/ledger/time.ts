/** UTC day arithmetic on RFC 3339 strings: cheap string work, no Date parsing on hot paths. */

export const DAY_MS = 86_400_000

/** `2026-11-21T10:15:03.123Z` → `2026-11-21`. */
export const utcDay = (ts: string) => ts.slice(0, 10)

export const utcMonth = (day: string) => day.slice(0, 7)

const neighbours = new Map<string, [string, string]>()

export function addDays(day: string, n: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + n * DAY_MS).toISOString().slice(0, 10)
}

/** [day before, day after], memoised: writers ask this for every record. */
export function neighbourDays(day: string): [string, string] {
  let n = neighbours.get(day)
  if (!n) neighbours.set(day, (n = [addDays(day, -1), addDays(day, 1)]))
  return n
}

export const DAY_RE = /^\d{4}-\d{2}-\d{2}$/

export function isValidDay(day: string): boolean {
  if (!DAY_RE.test(day)) return false
  const t = Date.parse(`${day}T00:00:00Z`)
  return Number.isFinite(t) && new Date(t).toISOString().slice(0, 10) === day
}
