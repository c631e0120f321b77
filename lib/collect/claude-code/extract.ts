/**
 * Reading a usage line without parsing all of it. An assistant line is mostly
 * `message.content` (text, tool calls), and JSON.parse of every line cost more than the rest
 * of a backfill. The layout is
 *   {top-level fields,"message":{"model","id",…,"content":[…],…,"usage":{…},…},top-level fields}
 * so we cut the content out and parse three small pieces: the line with its message replaced
 * by 0, the message's fields before its content, and the usage object. Inside JSON strings
 * every quote is escaped, so a pattern like `"usage":{` can only match a real key. Anything
 * unexpected (a key twice, another layout, a piece that does not parse) returns null, and the
 * caller parses the whole line.
 */
import type { ClaudeLine } from './index.js'

const USAGE = Buffer.from('"usage"')
const MESSAGE = Buffer.from('"message":{')
const CONTENT = Buffer.from('"content":')
const TYPE_USER = Buffer.from('"type":"user"')

/** Index just past the `}` that closes an object whose body starts at `from` at `depth`, or -1. */
function closeOf(b: Buffer, from: number, depth: number): number {
  for (let i = from; i < b.length; i++) {
    const c = b[i]
    if (c === 34) {
      for (i++; i < b.length && b[i] !== 34; i++) if (b[i] === 92) i++
    } else if (c === 123) depth++
    else if (c === 125 && --depth === 0) return i + 1
  }
  return -1
}

/**
 * The usage-bearing fields of a Claude Code line; `'none'` when the line has no usage object;
 * null when only a full parse can tell.
 */
export function extractClaudeLine(b: Buffer): ClaudeLine | 'none' | null {
  const m = b.indexOf(MESSAGE)
  // User lines (prompts, tool results: half the bytes) never carry usage; their type comes
  // before their message, so they are dismissed without scanning the content.
  const prefix = m > 0 ? b.subarray(0, m) : null
  if (prefix && prefix.indexOf(TYPE_USER) >= 0) return 'none'
  if (prefix && prefix.indexOf(USAGE) >= 0) return null
  const u = b.indexOf(USAGE, Math.max(m, 0))
  if (u < 0) return 'none'
  // Claude Code writes compact JSON; anything else (`"usage": {`) takes the full parse.
  if (b[u + USAGE.length] !== 58 || b[u + USAGE.length + 1] !== 123) return null
  if (b.indexOf(USAGE, u + USAGE.length) >= 0) return null
  if (m < 0) return null
  const c = b.indexOf(CONTENT, m)
  if (c < 0 || c > u) return null
  const usageStart = u + USAGE.length + 1
  const usageEnd = closeOf(b, usageStart, 0)
  if (usageEnd < 0) return null
  const messageEnd = closeOf(b, usageEnd, 1)
  if (messageEnd < 0) return null
  try {
    const top = JSON.parse(`${b.toString('utf8', 0, m)}"message":0${b.toString('utf8', messageEnd)}`) as ClaudeLine
    const head = JSON.parse(`{${b.toString('utf8', m + MESSAGE.length, c)}"content":0}`) as {
      model?: unknown
      id?: unknown
    }
    const usage = JSON.parse(b.toString('utf8', usageStart, usageEnd)) as NonNullable<ClaudeLine['message']>['usage']
    if (typeof top !== 'object' || top === null || Array.isArray(top)) return null
    // model and id after the content: another layout, so parse it all.
    if (head.model === undefined || head.id === undefined) return null
    top.message = { model: head.model, id: head.id, usage }
    return top
  } catch {
    return null
  }
}
