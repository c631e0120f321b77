/**
 * A small protobuf wire-format reader for the blobs Antigravity keeps in its conversation
 * databases (docs/sources.md "antigravity"). Antigravity ships no `.proto`; the messages are read
 * by field number, and only the fields usage-ledger needs are looked at.
 *
 * The wire format (https://protobuf.dev/programming-guides/encoding/): a message is a sequence of
 * fields, each a varint tag `(field number << 3) | wire type` followed by its value:
 * - wire type 0 (VARINT): a base-128 varint, 7 bits per byte, least significant group first, the
 *   high bit of a byte set while more bytes follow; at most 10 bytes (64 bits);
 * - 1 (I64): 8 bytes, little-endian (fixed64, sfixed64, double);
 * - 2 (LEN): a varint length, then that many bytes (strings, bytes, embedded messages, packed);
 * - 5 (I32): 4 bytes, little-endian (fixed32, sfixed32, float);
 * - 3 / 4 (SGROUP / EGROUP): a deprecated group, fields up to the matching end tag.
 * Wire types 6 and 7 do not exist: a value of unknown length cannot be skipped, so they throw.
 *
 * Every read is bounds-checked: a blob cut short (a length or fixed value past the end, a varint
 * whose last byte still says "more"), a varint longer than 10 bytes, a field number 0 or an
 * unmatched end group throws a ProtobufError; the caller counts that blob as malformed. Fields
 * this reader does not know are skipped, whatever their wire type, so a new Antigravity version
 * adding fields changes nothing.
 *
 * Varints are returned as JavaScript numbers: token counts, timestamps and model ids are far
 * below 2^53. A varint above 2^53 (never a count) loses its low bits; it is not an error.
 */

export class ProtobufError extends Error {
  override readonly name = 'ProtobufError'
}

/** One decoded field: a varint's value, or the bytes of a LEN, I64 or I32 field (a view, not a copy). */
export type Field =
  | { no: number; wire: 0; value: number }
  | { no: number; wire: 1 | 2 | 5; value: Buffer }
  | { no: number; wire: 3; value: null }

const MAX_VARINT_BYTES = 10
/** Groups nest; a blob of nothing but start-group tags must not exhaust the stack. */
const MAX_GROUP_DEPTH = 64

/** A varint at `pos`: its value and the position after it. */
export function readVarint(buf: Uint8Array, pos: number): [value: number, next: number] {
  let value = 0
  let scale = 1
  for (let i = 0; i < MAX_VARINT_BYTES; i++) {
    if (pos >= buf.length) throw new ProtobufError(`truncated varint at byte ${pos}`)
    const b = buf[pos++]!
    value += (b & 0x7f) * scale
    if ((b & 0x80) === 0) return [value, pos]
    scale *= 128
  }
  throw new ProtobufError(`varint longer than ${MAX_VARINT_BYTES} bytes at byte ${pos - MAX_VARINT_BYTES}`)
}

/** `n` bytes at `pos`, or a ProtobufError when the blob ends first. */
function take(buf: Uint8Array, pos: number, n: number, what: string): number {
  if (n > buf.length - pos)
    throw new ProtobufError(`truncated ${what} at byte ${pos}: ${n} bytes wanted, ${buf.length - pos} left`)
  return pos + n
}

/**
 * Every field of a message, in order (repeated fields appear once per occurrence). A group is
 * returned as one field without a value: its contents are skipped.
 */
export function decode(input: Uint8Array): Field[] {
  const buf = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength)
  const out: Field[] = []
  let pos = 0
  while (pos < buf.length) {
    const [no, wire, next] = readTag(buf, pos)
    pos = next
    if (wire === 4) throw new ProtobufError(`end group (field ${no}) without its start at byte ${pos}`)
    const [field, after] = readValue(buf, pos, no, wire, 0)
    out.push(field)
    pos = after
  }
  return out
}

function readTag(buf: Buffer, pos: number): [no: number, wire: number, next: number] {
  const [tag, next] = readVarint(buf, pos)
  const no = Math.floor(tag / 8)
  if (no === 0) throw new ProtobufError(`field number 0 at byte ${pos}`)
  if (no > 0x1fffffff) throw new ProtobufError(`field number ${no} out of range at byte ${pos}`)
  return [no, tag % 8, next]
}

function readValue(buf: Buffer, pos: number, no: number, wire: number, depth: number): [Field, number] {
  switch (wire) {
    case 0: {
      const [value, next] = readVarint(buf, pos)
      return [{ no, wire, value }, next]
    }
    case 1: {
      const next = take(buf, pos, 8, 'fixed64')
      return [{ no, wire, value: buf.subarray(pos, next) }, next]
    }
    case 2: {
      const [len, start] = readVarint(buf, pos)
      const next = take(buf, start, len, `length-delimited field ${no}`)
      return [{ no, wire, value: buf.subarray(start, next) }, next]
    }
    case 5: {
      const next = take(buf, pos, 4, 'fixed32')
      return [{ no, wire, value: buf.subarray(pos, next) }, next]
    }
    case 3: {
      if (depth >= MAX_GROUP_DEPTH) throw new ProtobufError(`groups nested deeper than ${MAX_GROUP_DEPTH}`)
      // Skip the group's fields up to the end-group tag of the same number.
      let p = pos
      for (;;) {
        if (p >= buf.length) throw new ProtobufError(`truncated group (field ${no}): no end tag`)
        const [inner, innerWire, next] = readTag(buf, p)
        if (innerWire === 4) {
          if (inner !== no) throw new ProtobufError(`end group ${inner} inside group ${no} at byte ${p}`)
          return [{ no, wire: 3, value: null }, next]
        }
        p = readValue(buf, next, inner, innerWire, depth + 1)[1]
      }
    }
    default:
      throw new ProtobufError(`wire type ${wire} (field ${no}) at byte ${pos} is not a protobuf wire type`)
  }
}

/**
 * A decoded message with the lookups protobuf's merge rules give: the last value of a scalar
 * field wins; an embedded message is read from its first occurrence (Antigravity writes each once).
 */
export class Message {
  readonly fields: Field[]
  constructor(blob: Uint8Array) {
    this.fields = decode(blob)
  }

  /** The last varint of field `no`, or undefined. */
  varint(no: number): number | undefined {
    for (let i = this.fields.length - 1; i >= 0; i--) {
      const f = this.fields[i]!
      if (f.no === no && f.wire === 0) return f.value
    }
    return undefined
  }

  /** The bytes of the first length-delimited field `no`, or undefined. */
  bytes(no: number): Buffer | undefined {
    for (const f of this.fields) if (f.no === no && f.wire === 2) return f.value
    return undefined
  }

  /** The bytes of every length-delimited field `no` (a repeated message), in order. */
  bytesAll(no: number): Buffer[] {
    const out: Buffer[] = []
    for (const f of this.fields) if (f.no === no && f.wire === 2) out.push(f.value)
    return out
  }

  /** The last length-delimited field `no` as text: undefined when absent, blank or not UTF-8. */
  text(no: number): string | undefined {
    for (let i = this.fields.length - 1; i >= 0; i--) {
      const f = this.fields[i]!
      if (f.no !== no || f.wire !== 2) continue
      const s = utf8(f.value)
      return s?.trim() ? s : undefined
    }
    return undefined
  }

  /** The embedded message in field `no` (first occurrence), or undefined. */
  message(no: number): Message | undefined {
    const b = this.bytes(no)
    return b ? new Message(b) : undefined
  }
}

const decoder = new TextDecoder('utf-8', { fatal: true })
function utf8(b: Buffer): string | undefined {
  try {
    return decoder.decode(b)
  } catch {
    return undefined
  }
}
