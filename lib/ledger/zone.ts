/**
 * Local calendar days in any IANA zone. Offsets change only on quarter-hour boundaries, so
 * one offset lookup per UTC quarter hour answers every record in it exactly (half- and
 * quarter-hour zones, DST days of 23 and 25 hours).
 */
import { formatInTimeZone, getTimezoneOffset } from 'date-fns-tz'
import { usageError } from '../errors.js'

const QUARTER = 900_000

export function systemZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'
}

export function checkZone(tz: string): string {
  let ok = false
  try { ok = Number.isFinite(getTimezoneOffset(tz, new Date(0))) && Boolean(new Intl.DateTimeFormat('en', { timeZone: tz })) } catch { ok = false }
  if (!ok) throw usageError('BAD_TIMEZONE', `unknown time zone "${tz}"; use an IANA name such as Europe/Berlin or UTC`)
  return tz
}

/** The zone's offset from UTC at the instant `ms`, read from the local wall clock there. */
function offsetAt(tz: string, ms: number): number {
  const wall = formatInTimeZone(new Date(ms), tz, "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'")
  return Date.parse(wall) - ms
}

/** Returns a function mapping a UTC instant (RFC 3339 or epoch ms) to its local `YYYY-MM-DDTHH:MM` in `tz`. */
export function localTimeIn(tz: string): (ts: string | number) => string {
  const offsets = new Map<number, number>()
  return (ts: string | number) => {
    const ms = typeof ts === 'number' ? ts : Date.parse(ts)
    const q = Math.floor(ms / QUARTER)
    let off = offsets.get(q)
    if (off === undefined) {
      off = offsetAt(tz, q * QUARTER)
      offsets.set(q, off)
    }
    return new Date(ms + off).toISOString().slice(0, 16)
  }
}
