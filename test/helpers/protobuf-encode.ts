/**
 * A protobuf wire-format encoder for tests and fixtures only (lib/ never encodes): the bytes
 * Antigravity's own serialiser writes for the same fields, in the order given. Canonical
 * encodings only (shortest varints), as protobuf writes them.
 */

/** A base-128 varint: 7 bits per byte, low group first, high bit set while more follow. */
export function varint(n: number | bigint): Buffer {
  let v = BigInt(n)
  if (v < 0n) v &= (1n << 64n) - 1n // two's complement, as int64 is written
  const out: number[] = []
  do {
    const b = Number(v & 0x7fn)
    v >>= 7n
    out.push(v ? b | 0x80 : b)
  } while (v)
  return Buffer.from(out)
}

const tag = (no: number, wire: number) => varint(no * 8 + wire)

/** A varint field (int32/int64/uint64/enum/bool). */
export const fVarint = (no: number, n: number | bigint) => Buffer.concat([tag(no, 0), varint(n)])
/** A length-delimited field: a string, bytes or an embedded message (given as its parts). */
export const fBytes = (no: number, ...parts: Array<Buffer | string>) => {
  const body = Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p)))
  return Buffer.concat([tag(no, 2), varint(body.length), body])
}
/** A fixed64 field (8 bytes little-endian). */
export const fFixed64 = (no: number, n: bigint) => {
  const b = Buffer.alloc(8)
  b.writeBigUInt64LE(n)
  return Buffer.concat([tag(no, 1), b])
}
/** A fixed32 field (4 bytes little-endian). */
export const fFixed32 = (no: number, n: number) => {
  const b = Buffer.alloc(4)
  b.writeUInt32LE(n)
  return Buffer.concat([tag(no, 5), b])
}
/** A (deprecated) group: start tag, fields, end tag. */
export const fGroup = (no: number, ...fields: Buffer[]) => Buffer.concat([tag(no, 3), ...fields, tag(no, 4)])

/** A message: its fields, concatenated. */
export const msg = (...fields: Array<Buffer | null | undefined | false>) =>
  Buffer.concat(fields.filter((f): f is Buffer => Buffer.isBuffer(f)))

/** A google.protobuf.Timestamp (1 seconds, 2 nanos) of an RFC 3339 time. */
export function timestamp(iso: string): Buffer {
  const ms = Date.parse(iso)
  if (!Number.isFinite(ms)) throw new Error(`bad time ${iso}`)
  const seconds = Math.floor(ms / 1000)
  const nanos = (ms - seconds * 1000) * 1_000_000
  return msg(fVarint(1, seconds), nanos ? fVarint(2, nanos) : null)
}

/** An SQL blob literal of some bytes. */
export const sqlBlob = (b: Buffer) => `X'${b.toString('hex')}'`
