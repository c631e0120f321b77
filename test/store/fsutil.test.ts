import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { readJsonIfExists, writeFileAtomic } from '../../lib/store/fsutil.js'

t.test('writeFileAtomic', async (t) => {
  const dir = t.testdir({})
  const file = path.join(dir, 'a', 'b', 'state.json')
  writeFileAtomic(file, '{"x":1}')
  t.equal(fs.readFileSync(file, 'utf8'), '{"x":1}', 'written, parent dirs created')
  t.equal(fs.statSync(file).mode & 0o777, 0o600, 'mode 0600')
  t.same(fs.readdirSync(path.dirname(file)), ['state.json'], 'no temp file left')

  const ino = fs.statSync(file).ino
  writeFileAtomic(file, new Uint8Array([0x68, 0x69]))
  t.equal(fs.readFileSync(file, 'utf8'), 'hi', 'bytes, replacing the old content')
  t.not(fs.statSync(file).ino, ino, 'replaced by rename (new inode), never rewritten in place')
  t.same(fs.readdirSync(path.dirname(file)), ['state.json'])

  // Many writes: still exactly one file, holding the last content.
  for (let i = 0; i < 50; i++) writeFileAtomic(file, String(i).repeat(1000))
  t.equal(fs.readFileSync(file, 'utf8'), '49'.repeat(1000))
  t.same(fs.readdirSync(path.dirname(file)), ['state.json'])

  writeFileAtomic(file, '')
  t.equal(fs.readFileSync(file, 'utf8'), '', 'empty content')

  // Pieces (a header and a view of numbers, as the index writes them): the file is their concatenation.
  const numbers = new Float64Array([1.5, -2, 3e300])
  writeFileAtomic(file, [Buffer.from('head'), new Uint8Array(numbers.buffer, 8, 16), new Uint8Array(0)])
  const back = fs.readFileSync(file)
  t.equal(back.subarray(0, 4).toString(), 'head')
  t.same(
    [...new Float64Array(back.buffer.slice(back.byteOffset + 4, back.byteOffset + 20))],
    [-2, 3e300],
    'the view, not its whole buffer',
  )
})

t.test('writeFileAtomic unlessSame: the same content leaves the file alone; other content replaces it', async (t) => {
  const dir = t.testdir({})
  const file = path.join(dir, 'verified.json')
  writeFileAtomic(file, '{"v":1}\n', { unlessSame: true })
  t.equal(fs.readFileSync(file, 'utf8'), '{"v":1}\n', 'absent: written')
  const ino = fs.statSync(file).ino
  writeFileAtomic(file, Buffer.from('{"v":1}\n'), { unlessSame: true })
  t.equal(fs.statSync(file).ino, ino, 'the same bytes: not replaced')
  writeFileAtomic(file, '{"v":2}\n', { unlessSame: true })
  t.equal(fs.readFileSync(file, 'utf8'), '{"v":2}\n', 'other bytes: written')
  t.not(fs.statSync(file).ino, ino, 'by rename, as always')
})

t.test('a failed write leaves the old file and no temp file', async (t) => {
  const dir = t.testdir({ 'f.json': 'old' })
  const file = path.join(dir, 'f.json')
  const orig = fs.renameSync
  fs.renameSync = () => {
    throw Object.assign(new Error('boom'), { code: 'EIO' })
  }
  try {
    t.throws(() => writeFileAtomic(file, 'new'), /boom/)
  } finally {
    fs.renameSync = orig
  }
  t.equal(fs.readFileSync(file, 'utf8'), 'old', 'old content intact')
  t.same(fs.readdirSync(dir), ['f.json'], 'temp file cleaned up')
})

t.test('readJsonIfExists', async (t) => {
  const dir = t.testdir({ 'ok.json': '{"a":[1,2]}', 'bad.json': '{"a":', sub: {} })
  t.same(readJsonIfExists(path.join(dir, 'ok.json')), { a: [1, 2] })
  t.equal(readJsonIfExists(path.join(dir, 'missing.json')), undefined, 'missing → undefined')
  t.throws(() => readJsonIfExists(path.join(dir, 'bad.json')), SyntaxError, 'bad JSON throws')
  t.throws(() => readJsonIfExists(path.join(dir, 'sub')), { code: 'EISDIR' }, 'other errors throw')
})
