// The protobuf wire reader of lib/collect/antigravity/protobuf.ts against bytes written by the
// encoder in test/helpers/protobuf-encode.ts and by hand (the examples of protobuf's encoding guide).
import t from 'tap'
import { decode, Message, ProtobufError, readVarint } from '../../lib/collect/antigravity/protobuf.js'
import { readStepMetadata, readTimestamp, readUsage } from '../../lib/collect/antigravity/index.js'
import { fBytes, fFixed32, fFixed64, fGroup, fVarint, msg, timestamp, varint } from '../helpers/protobuf-encode.js'
import { stepBlob, usageBlob } from '../helpers/antigravity-fixture.js'

t.test('varints', async (t) => {
  t.same(readVarint(Buffer.from([0x01]), 0), [1, 1])
  t.same(readVarint(Buffer.from([0x96, 0x01]), 0), [150, 2], "the guide's 150")
  t.same(readVarint(Buffer.from([0xac, 0x02]), 0), [300, 2])
  for (const n of [0, 127, 128, 16383, 16384, 2 ** 31, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER])
    t.same(readVarint(varint(n), 0), [n, varint(n).length], `${n} round-trips`)
  t.equal(readVarint(varint(-1), 0)[1], 10, 'a negative int64 takes 10 bytes and is read')
  t.throws(() => readVarint(Buffer.from([0x80, 0x80]), 0), ProtobufError, 'unterminated')
  t.throws(() => readVarint(Buffer.alloc(11, 0xff), 0), ProtobufError, 'longer than 10 bytes')
  t.throws(() => readVarint(Buffer.alloc(0), 0), ProtobufError, 'nothing')
})

t.test('fields of every wire type, in order, repeated ones each time', async (t) => {
  const blob = msg(
    fVarint(1, 150),
    fFixed64(2, 0x1122334455667788n),
    fBytes(3, 'testing'),
    fFixed32(4, 0xdeadbeef),
    fGroup(5, fVarint(1, 7), fBytes(2, 'in a group')),
    fBytes(3, 'again'),
  )
  const f = decode(blob)
  t.same(
    f.map((x) => [x.no, x.wire]),
    [
      [1, 0],
      [2, 1],
      [3, 2],
      [4, 5],
      [5, 3],
      [3, 2],
    ],
  )
  t.equal(f[0]!.value, 150)
  t.equal((f[1]!.value as Buffer).readBigUInt64LE(), 0x1122334455667788n)
  t.equal(String(f[2]!.value), 'testing')
  t.equal((f[3]!.value as Buffer).readUInt32LE(), 0xdeadbeef)
  t.same(decode(Buffer.from('089601', 'hex')), [{ no: 1, wire: 0, value: 150 }], "the guide's first example")
  const m = new Message(blob)
  t.equal(m.text(3), 'again', 'a scalar: the last value wins')
  t.equal(String(m.bytes(3)), 'testing', 'an embedded message: its first occurrence')
  t.same(m.bytesAll(3).map(String), ['testing', 'again'])
  t.equal(m.varint(9), undefined)
  t.same(decode(Buffer.alloc(0)), [], 'an empty message')
  t.equal(new Message(fBytes(1, Buffer.from([0xff, 0xfe]))).text(1), undefined, 'not UTF-8: no text')
  t.equal(new Message(fBytes(1, '  ')).text(1), undefined, 'blank: no text')
})

t.test('truncated and garbage blobs throw; they never loop or read past the end', async (t) => {
  const good = stepBlob({
    ts: '2026-11-16T09:14:07.402Z',
    usage: { input: 4050, output: 375, response: 'r' },
    modelName: 'x',
  })
  t.ok(readStepMetadata(good).usages.length === 1)
  // Every proper prefix either throws or decodes to fewer fields: never a wrong value.
  let threw = 0
  for (let n = 1; n < good.length; n++) {
    try {
      const fields = decode(good.subarray(0, n))
      t.ok(fields.length < decode(good).length, `prefix ${n} ends on a field boundary`)
    } catch (e) {
      t.type(e, ProtobufError)
      threw++
    }
  }
  t.ok(threw > good.length / 2, `most prefixes are truncations (${threw})`)
  t.throws(() => decode(Buffer.from([0x0a, 0x7f])), /truncated length-delimited/, 'a length past the end')
  t.throws(() => decode(Buffer.from([0x09, 1, 2, 3])), /truncated fixed64/)
  t.throws(() => decode(Buffer.from([0x0d, 1, 2])), /truncated fixed32/)
  t.throws(() => decode(Buffer.from([0x08])), /truncated varint/, 'a tag without its value')
  t.throws(() => decode(Buffer.from([0x00, 0x01])), /field number 0/)
  t.throws(() => decode(Buffer.from([0x0e, 0x01])), /wire type 6/, 'wire type 6 cannot be skipped')
  t.throws(() => decode(Buffer.from([0x0f, 0x01])), /wire type 7/)
  t.throws(() => decode(Buffer.from([0x0c])), /end group/, 'an end group without its start')
  t.throws(() => decode(Buffer.from([0x0b, 0x08, 0x01])), /truncated group/, 'a group without its end')
  t.throws(
    () => decode(msg(fGroup(1, fVarint(1, 1)).subarray(0, 3), Buffer.from([0x14]))),
    /end group 2 inside group 1/,
  )
  t.throws(() => decode(Buffer.alloc(200, 0x0b)), /nested deeper/, 'start groups all the way down')
  t.throws(() => decode(Buffer.from('not protobuf at all')), ProtobufError)
  t.throws(() => decode(Buffer.concat([Buffer.from([0x0a]), varint(2 ** 40)])), /truncated/, 'a huge length')
})

t.test('unknown fields are skipped, whatever their wire type', async (t) => {
  const usage = usageBlob({
    input: 4050,
    output: 375,
    cacheRead: 16275,
    thinking: 351,
    visible: 24,
    response: 'resp-a1',
  })
  const withUnknown = msg(
    fFixed64(15, 9n),
    usage,
    fGroup(40, fVarint(1, 1)),
    fFixed32(41, 3),
    fBytes(42, fBytes(2, 'nested unknown')),
    fVarint(536870911, 1),
  )
  t.same(readUsage(withUnknown), readUsage(usage))
  t.same(readUsage(usage), {
    input: 4050,
    output: 375,
    cacheWrite: 0,
    cacheRead: 16275,
    thinking: 351,
    visible: 24,
    responseId: 'resp-a1',
  })
  t.same(readUsage(msg(fBytes(2, 'x'))).input, 0, 'a count of the wrong wire type is not read as one')
})

t.test('timestamps', async (t) => {
  t.equal(readTimestamp(timestamp('2026-11-16T09:14:07.402Z')), Date.parse('2026-11-16T09:14:07.402Z'))
  t.equal(readTimestamp(msg(fVarint(1, 1794820447), fVarint(2, 999_999_999))), 1794820447999, 'nanos truncated to ms')
  t.equal(readTimestamp(msg(fVarint(2, 5))), undefined, 'no seconds: unset')
  t.equal(readTimestamp(msg(fVarint(1, 0))), undefined, '1970 is not a time Antigravity writes')
  t.equal(readTimestamp(undefined), undefined)
  const step = readStepMetadata(
    msg(fBytes(1, timestamp('2026-11-16T00:00:01Z')), fBytes(8, timestamp('2026-11-16T00:00:02Z'))),
  )
  t.equal(step.ts, Date.parse('2026-11-16T00:00:02Z'), 'field 8 before field 1')
})
