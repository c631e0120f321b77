/**
 * Local calendar days in any IANA zone. Offsets change only on quarter-hour boundaries, so
 * one offset lookup per UTC quarter hour answers every record in it exactly (half- and
 * quarter-hour zones, DST days of 23 and 25 hours).
 */
import fs from 'node:fs'
import { createRequire } from 'node:module'

// date-fns-tz (with the ICU zone data it loads) is needed only for zones other than UTC.
let tzlib: typeof import('date-fns-tz') | undefined
const dateFnsTz = () => (tzlib ??= createRequire(import.meta.url)('date-fns-tz') as typeof import('date-fns-tz'))

const isUtc = (tz: string) => tz === 'UTC' || tz === 'Etc/UTC' || tz === 'Etc/GMT' || tz === 'GMT'
import { usageError } from '../errors.js'

const QUARTER = 900_000

const ZONE_NAME = /^[A-Za-z_]+(\/[A-Za-z0-9_+-]+)*$/

/**
 * The system zone: TZ when it names one, else the zone /etc/localtime links to, else Intl's
 * (asking Intl first loads its zone data: a tenth of a warm report).
 */
export function systemZone(): string {
  const tz = process.env.TZ
  if (tz && ZONE_NAME.test(tz)) return tz
  if (!tz) {
    try {
      const linked = /zoneinfo\/(.+)$/.exec(fs.readlinkSync('/etc/localtime'))?.[1]
      if (linked && ZONE_NAME.test(linked)) return linked
    } catch {
      /* not a link, or not this kind of system */
    }
  }
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'
}

export function checkZone(tz: string): string {
  if (isUtc(tz)) return tz
  let ok = false
  try {
    ok =
      Number.isFinite(dateFnsTz().getTimezoneOffset(tz, new Date(0))) &&
      Boolean(new Intl.DateTimeFormat('en', { timeZone: tz }))
  } catch {
    ok = false
  }
  if (!ok) throw usageError('BAD_TIMEZONE', `unknown time zone "${tz}"; use an IANA name such as Europe/Berlin or UTC`)
  return tz
}

/** The zone's offset from UTC at the instant `ms`, read from the local wall clock there. */
function offsetAt(tz: string, ms: number): number {
  const wall = dateFnsTz().formatInTimeZone(new Date(ms), tz, "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'")
  return Date.parse(wall) - ms
}

const DAY = 86_400_000

/**
 * Returns a function mapping a UTC instant (RFC 3339 or epoch ms) to its local
 * `YYYY-MM-DDTHH:MM` in `tz`. The zone is asked once per UTC day; only a day whose offset at
 * its start and at the next day's start differ (a DST switch) is asked per quarter hour.
 */
export function localTimeIn(tz: string): (ts: string | number) => string {
  if (isUtc(tz)) {
    const text = new Map<number, string>()
    return (ts) => {
      if (typeof ts === 'string') return ts.slice(0, 16)
      let t = text.get(ts)
      if (t === undefined) text.set(ts, (t = new Date(ts).toISOString().slice(0, 16)))
      return t
    }
  }
  const dayOffsets = new Map<number, number | null>()
  const quarterOffsets = new Map<number, number>()
  const quarterText = new Map<number, string>()
  const offsetOf = (ms: number) => {
    const day = Math.floor(ms / DAY)
    let off = dayOffsets.get(day)
    if (off === undefined) {
      const start = offsetAt(tz, day * DAY)
      off = start === offsetAt(tz, (day + 1) * DAY) ? start : null
      dayOffsets.set(day, off)
    }
    if (off !== null) return off
    const q = Math.floor(ms / QUARTER)
    let qo = quarterOffsets.get(q)
    if (qo === undefined) quarterOffsets.set(q, (qo = offsetAt(tz, q * QUARTER)))
    return qo
  }
  return (ts: string | number) => {
    const ms = typeof ts === 'number' ? ts : Date.parse(ts)
    // Index rows sit on quarter starts: their text repeats, so it is kept.
    const aligned = ms % QUARTER === 0
    if (aligned) {
      const t = quarterText.get(ms)
      if (t) return t
    }
    const text = new Date(ms + offsetOf(ms)).toISOString().slice(0, 16)
    if (aligned) quarterText.set(ms, text)
    return text
  }
}
