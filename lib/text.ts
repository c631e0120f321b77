/** Words for people: `plural(1, 'record')` is "1 record", `plural(2, 'record')` "2 records". */
export function plural(n: number, one: string, many = `${one}s`, format: (n: number) => string = String): string {
  return `${format(n)} ${n === 1 ? one : many}`
}

// biome-ignore lint/suspicious/noMisleadingCharacterClass: each code point is tested alone, so a lone variation selector counts as zero width
const ZERO_WIDTH = /[\p{Mn}\p{Me}\p{Cf}\u200b\ufe0f]/u
const WIDE =
  /[\p{Extended_Pictographic}\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6\u{20000}-\u{3fffd}]/u

/**
 * Terminal columns of a string (colour codes take none, East Asian wide characters two); as the table module measures.
 */
export function displayWidth(s: string): number {
  // eslint-disable-next-line no-control-regex
  const t = s.replace(/\x1b\[[0-9;]*m/g, '')
  if (/^[\x20-\x7e]*$/.test(t)) return t.length
  let w = 0
  for (const ch of t) {
    const cp = ch.codePointAt(0)!
    if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || ZERO_WIDTH.test(ch)) continue
    w += WIDE.test(ch) ? 2 : 1
  }
  return w
}

/** `s` cut to at most `width` columns, ending in `…` when cut. */
export function truncate(s: string, width: number): string {
  if (displayWidth(s) <= width) return s
  let out = ''
  for (const ch of s) {
    if (displayWidth(out + ch) > width - 1) break
    out += ch
  }
  return `${out}…`
}

/** Words of `s` in lines of at most `width` columns (a longer word stays whole); later lines start with `indent`. */
export function wrap(s: string, width: number, indent = '  '): string {
  const lines: string[] = []
  let line = ''
  for (const word of s.split(' ')) {
    const next = line ? `${line} ${word}` : (lines.length ? indent : '') + word
    if (line && displayWidth(next) > width) {
      lines.push(line)
      line = indent + word
    } else line = next
  }
  if (line) lines.push(line)
  return lines.join('\n')
}

/** "2 h ago", "5 min ago", "3 d ago": how long before `now` an ISO time was. */
export function ago(at: string, now: Date): string {
  const s = Math.max(0, Math.round((now.getTime() - Date.parse(at)) / 1000))
  if (!Number.isFinite(s)) return 'at an unknown time'
  if (s < 90) return `${s} s ago`
  if (s < 90 * 60) return `${Math.round(s / 60)} min ago`
  if (s < 36 * 3600) return `${Math.round(s / 3600)} h ago`
  return `${Math.round(s / 86400)} d ago`
}

/** "2 h 10 min", "4 d 3 h", "12 min", "45 s": a duration in its two largest units. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 60) return `${s} s`
  const m = Math.round(s / 60)
  if (m < 60) return `${m} min`
  const h = Math.floor(m / 60)
  if (h < 24) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`
  const d = Math.floor(h / 24)
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`
}

/** `s` as one word for a POSIX shell: as it is when it is safe, else in single quotes. */
export const shellQuote = (s: string) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`)
