import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { fakeEnv } from '../helpers/env.js'
import { collectFiles, findJsonl, looksLikeJsonObject, readLines } from '../../lib/collect/files.js'
import { Batch, type FileSource, type SourceCursors } from '../../lib/collect/types.js'

const CHUNK = 4 << 20

function lines(file: string, from = 0, size = fs.statSync(file).size) {
  const got: Array<[string, number]> = []
  let bytes = 0
  const end = readLines(
    file,
    from,
    size,
    (l, off) => got.push([l.toString('utf8'), off]),
    (n) => {
      bytes += n
    },
  )
  return { got, end, bytes }
}

t.test('readLines', async (t) => {
  const dir = t.testdir({
    crlf: 'a\r\nbb\r\n\r\nc\n',
    empty: '\n\nx\n\n\ny\n',
    tail: 'one\ntwo\nthr',
    nothing: '',
    onlyNl: '\n\n\n',
    cr: 'a\rb\n',
    utf8: 'é€\n😀\n',
  })
  const f = (n: string) => path.join(dir, n)

  t.test('CRLF', async (t) => {
    const r = lines(f('crlf'))
    t.same(
      r.got,
      [
        ['a', 0],
        ['bb', 3],
        ['c', 9],
      ],
      'CR stripped, empty CRLF line skipped, offsets are byte offsets',
    )
    t.equal(r.end, 11)
  })

  t.test('empty lines are skipped but advance the offset', async (t) => {
    const r = lines(f('empty'))
    t.same(r.got, [
      ['x', 2],
      ['y', 6],
    ])
    t.equal(r.end, 8)
    const n = lines(f('onlyNl'))
    t.same(n.got, [])
    t.equal(n.end, 3)
  })

  t.test('no trailing newline: the offset stops before the unfinished line', async (t) => {
    const r = lines(f('tail'))
    t.same(r.got, [
      ['one', 0],
      ['two', 4],
    ])
    t.equal(r.end, 8)
    t.equal(r.bytes, 11, 'all bytes were read, only complete lines consumed')
    // Continuing from the offset once the line completes.
    fs.appendFileSync(f('tail'), 'ee\n')
    const r2 = lines(f('tail'), r.end)
    t.same(r2.got, [['three', 8]])
    t.equal(r2.end, 14)
  })

  t.test('empty file and empty range', async (t) => {
    t.same(lines(f('nothing')).got, [])
    t.equal(lines(f('nothing')).end, 0)
    const r = lines(f('crlf'), 11, 11)
    t.same(r.got, [])
    t.equal(r.end, 11)
  })

  t.test('a lone CR is part of the line; UTF-8 intact', async (t) => {
    t.same(lines(f('cr')).got, [['a\rb', 0]])
    t.same(lines(f('utf8')).got, [
      ['é€', 0],
      ['😀', 6],
    ])
  })

  t.test('from and size bound the read', async (t) => {
    // crlf = "a\r\nbb\r\n\r\nc\n": from 3 up to 7 → only "bb"
    const r = lines(f('crlf'), 3, 7)
    t.same(r.got, [['bb', 3]])
    t.equal(r.end, 7)
    const r2 = lines(f('crlf'), 3, 6)
    t.same(r2.got, [], 'size cuts the line before its newline')
    t.equal(r2.end, 3)
  })
})

t.test('readLines: a line longer than the 4 MiB chunk', async (t) => {
  const dir = t.testdir({})
  const file = path.join(dir, 'big')
  const big = 'x'.repeat(9_000_000)
  fs.writeFileSync(file, `{"a":1}\n${big}\nlast\n`)
  const got: Array<[number, number, string]> = []
  const end = readLines(file, 0, fs.statSync(file).size, (l, off) =>
    got.push([l.length, off, l.subarray(0, 1).toString() + l.subarray(l.length - 1).toString()]),
  )
  t.same(got, [
    [7, 0, '{}'],
    [9_000_000, 8, 'xx'],
    [4, 9_000_009, 'lt'],
  ])
  t.equal(end, 9_000_014)
  t.ok(9_000_000 > 2 * CHUNK, 'the line spans more than two chunks')

  // Unfinished huge line: nothing consumed past the last newline.
  const f2 = path.join(dir, 'big2')
  fs.writeFileSync(f2, `ok\n${big}`)
  const got2: string[] = []
  t.equal(
    readLines(f2, 0, fs.statSync(f2).size, (l) => got2.push(l.toString())),
    3,
  )
  t.same(got2, ['ok'])
})

t.test('readLines: many short lines across chunk boundaries', async (t) => {
  const dir = t.testdir({})
  const file = path.join(dir, 'many')
  const parts: string[] = []
  for (let i = 0, len = 0; len < CHUNK + 100_000; i++) {
    parts.push(`{"i":${i},"pad":"${'p'.repeat(i % 97)}"}\n`)
    len += parts[i]!.length
  }
  const text = parts.join('')
  fs.writeFileSync(file, text)
  let n = 0,
    bad = 0,
    expectOff = 0
  const end = readLines(file, 0, Buffer.byteLength(text), (l, off) => {
    const s = l.toString()
    if (off !== expectOff || `${s}\n` !== parts[n]) bad++
    expectOff += Buffer.byteLength(parts[n]!)
    n++
  })
  t.equal(n, parts.length, 'every line')
  t.equal(bad, 0, 'every line whole, at its own offset')
  t.equal(end, Buffer.byteLength(text))
})

t.test('findJsonl', async (t) => {
  const dir = t.testdir({
    projects: {
      a: { 's1.jsonl': '', s1: { subagents: { 'agent-x.jsonl': '', 'agent-x.meta.json': '{}' } } },
      b: { deep: { deeper: { 'z.jsonl': '' } }, 'y.jsonl.bak': '', 'notes.txt': '' },
      'top.jsonl': '',
      'dir.jsonl': { 'inner.jsonl': '' },
    },
  })
  const root = path.join(dir, 'projects')
  fs.symlinkSync(path.join(root, 'top.jsonl'), path.join(root, 'link.jsonl'))
  const got = findJsonl(root)
    .map((p) => path.relative(root, p))
    .sort()
  t.same(got, [
    'a/s1.jsonl',
    'a/s1/subagents/agent-x.jsonl',
    'b/deep/deeper/z.jsonl',
    'dir.jsonl/inner.jsonl',
    'link.jsonl',
    'top.jsonl',
  ])
  t.same(findJsonl(path.join(dir, 'missing')), [], 'a missing dir yields nothing')
  t.same(findJsonl(path.join(root, 'top.jsonl')), [], 'a file as root yields nothing')
  const out = ['keep']
  t.equal(findJsonl(path.join(root, 'b'), out), out, 'appends to the given array')
  t.same(out.length, 2)
})

t.test('looksLikeJsonObject', async (t) => {
  const y = (s: string) => looksLikeJsonObject(Buffer.from(s))
  t.equal(y('{}'), true)
  t.equal(y('{"a":1}'), true)
  t.equal(y('  \t{"a":1}\t  '), true, 'spaces and tabs around')
  t.equal(y('{"a":'), false, 'truncated')
  t.equal(y('{"type":"user","message":{"content":"cut off mid-str'), false)
  t.equal(y('<<<<<<< HEAD'), false, 'merge-conflict marker')
  t.equal(y('======='), false)
  t.equal(y(''), false, 'empty')
  t.equal(y('   '), false)
  t.equal(y('{'), false, 'a lone brace')
  t.equal(y('}'), false)
  t.equal(y('[1,2]'), false, 'an array')
  t.equal(y('"str"'), false)
  t.equal(y('null'), false)
})

t.test('collectFiles with a minimal source', async (t) => {
  const dir = t.testdir({ logs: { 'a.jsonl': '1\n2\n', 'b.jsonl': '10\n2' } })
  const logs = path.join(dir, 'logs')
  const seen: Array<{ file: string; line: string; offset: number; ctxIn: unknown }> = []
  const source: FileSource = {
    name: 'fake',
    title: 'a fake source',
    kind: 'lines',
    envVar: 'FAKE_DIR',
    looksIn: () => [logs],
    discover: () =>
      findJsonl(logs)
        .sort()
        .map((p) => ({ path: p, root: logs })),
    parser(file, ctx) {
      let sum = typeof ctx === 'number' ? ctx : 0
      return {
        line(l, offset) {
          seen.push({ file: path.basename(file.path), line: l.toString(), offset, ctxIn: ctx })
          sum += Number(l.toString())
        },
        ctx: () => sum,
      }
    },
  }
  const env = fakeEnv({}, { userHome: dir, cwd: dir })
  const a = path.join(logs, 'a.jsonl'),
    b = path.join(logs, 'b.jsonl')
  const progress: Array<[number, number]> = []

  const r1 = collectFiles(env, source, {}, new Batch(), '', (done, total) => progress.push([done, total]))
  t.same(
    seen.map((s) => [s.file, s.line, s.offset]),
    [
      ['a.jsonl', '1', 0],
      ['a.jsonl', '2', 2],
      ['b.jsonl', '10', 0],
    ],
  )
  t.same(r1.stats, { files: 2, unchanged: 0, read: 2, bytes: 4 + 3 })
  t.equal(r1.cursors[a]!.offset, 4)
  t.equal(r1.cursors[b]!.offset, 3, 'stops before the unfinished "2"')
  t.equal(r1.cursors[b]!.size, 4)
  t.equal(r1.cursors[a]!.ctx, 3)
  t.equal(r1.cursors[b]!.ctx, 10)
  t.same(progress.at(-1), [8, 8], 'progress reaches the total bytes')
  t.equal(r1.cursors[a]!.ino, fs.statSync(a).ino)

  seen.length = 0
  const r2 = collectFiles(env, source, r1.cursors, new Batch(), '')
  t.same(seen, [])
  t.same(r2.stats, { files: 2, unchanged: 2, read: 0, bytes: 0 })
  t.equal(r2.cursors[a], r1.cursors[a], 'unchanged cursors carried over as they are')

  // b grows: read from its offset with its ctx.
  fs.appendFileSync(b, '0\n5\n')
  const r3 = collectFiles(env, source, r2.cursors, new Batch(), '')
  t.same(
    seen.map((s) => [s.file, s.line, s.offset, s.ctxIn]),
    [
      ['b.jsonl', '20', 3, 10],
      ['b.jsonl', '5', 6, 10],
    ],
  )
  t.equal(r3.cursors[b]!.ctx, 35)
  t.equal(r3.cursors[b]!.offset, 8)

  // a shrinks: read again from 0 without ctx.
  seen.length = 0
  fs.writeFileSync(a, '7\n')
  const r4 = collectFiles(env, source, r3.cursors, new Batch(), '')
  t.same(
    seen.map((s) => [s.file, s.line, s.offset, s.ctxIn]),
    [['a.jsonl', '7', 0, undefined]],
  )
  t.equal(r4.cursors[a]!.ctx, 7)

  // a vanishes: its cursor is dropped.
  fs.rmSync(a)
  const r5 = collectFiles(env, source, r4.cursors, new Batch(), '')
  t.same(Object.keys(r5.cursors), [b])
  t.equal(r5.stats.files, 1)

  // A cursor for another device/inode restarts from 0.
  seen.length = 0
  const fake: SourceCursors = { [b]: { ...r5.cursors[b]!, ino: r5.cursors[b]!.ino + 1, mtimeMs: 0 } }
  collectFiles(env, source, fake, new Batch(), '')
  t.same(
    seen.map((s) => [s.line, s.offset, s.ctxIn]),
    [
      ['10', 0, undefined],
      ['20', 3, undefined],
      ['5', 6, undefined],
    ],
  )
})

t.test('readLines: a UTF-8 byte-order mark before the first line', async (t) => {
  const BOM = '\uFEFF'
  const dir = t.testdir({
    bom: `${BOM}{"a":1}\r\n{"b":2}\n`,
    onlyBom: `${BOM}\n{"c":3}\n`,
    late: `{"a":1}\n${BOM}{"b":2}\n`,
    partial: `${BOM}{"a"`,
  })
  const f = (n: string) => path.join(dir, n)

  const r = lines(f('bom'))
  t.same(
    r.got,
    [
      ['{"a":1}', 3],
      ['{"b":2}', 12],
    ],
    'the mark is not part of line 1; offsets stay file offsets',
  )
  t.equal(r.end, fs.statSync(f('bom')).size, 'the cursor offset is the file size')
  t.ok(JSON.parse(r.got[0]![0]), 'line 1 parses')
  t.same(lines(f('bom'), 12).got, [['{"b":2}', 12]], 'reading on from a cursor is unchanged')

  t.same(lines(f('onlyBom')).got, [['{"c":3}', 4]], 'a line holding only the mark is empty')
  t.same(
    lines(f('late')).got,
    [
      ['{"a":1}', 0],
      [`${BOM}{"b":2}`, 8],
    ],
    'only the start of the file is a byte-order mark',
  )

  // The first line is unfinished: nothing is consumed, and once it completes the mark is still skipped.
  const p = lines(f('partial'))
  t.same(p.got, [])
  t.equal(p.end, 0)
  fs.appendFileSync(f('partial'), ':1}\n')
  t.same(lines(f('partial'), p.end).got, [['{"a":1}', 3]])
})

t.test('collectFiles with a documents source: a document caught mid-write', async (t) => {
  const dir = t.testdir({ docs: { 'a.json': '{"n":1}', 'b.json': '{"n":2}' } })
  const docs = path.join(dir, 'docs')
  const a = path.join(docs, 'a.json'),
    b = path.join(docs, 'b.json'),
    c = path.join(docs, 'c.json')
  const seen: Array<{ file: string; text: string; ctxIn: unknown }> = []
  const source: FileSource = {
    name: 'fake-docs',
    title: 'a fake documents source',
    kind: 'documents',
    envVar: 'FAKE_DOCS',
    looksIn: () => [docs],
    discover: () =>
      fs
        .readdirSync(docs)
        .sort()
        .map((n) => ({ path: path.join(docs, n), root: docs })),
    document(file, text, ctx) {
      const n = (JSON.parse(text.toString('utf8')) as { n: number }).n // throws on a truncated document
      seen.push({ file: path.basename(file.path), text: text.toString('utf8'), ctxIn: ctx })
      return (typeof ctx === 'number' ? ctx : 0) + n
    },
  }
  const env = fakeEnv({}, { userHome: dir, cwd: dir })
  /** Rewrites a document in place; its mtime moves on even within one millisecond. */
  const rewrite = (f: string, text: string) => {
    const mtime = fs.statSync(f).mtimeMs
    fs.writeFileSync(f, text)
    fs.utimesSync(f, new Date(), new Date(mtime + 1000))
  }

  const batch1 = new Batch()
  const r1 = collectFiles(env, source, {}, batch1, '')
  t.same(
    seen.map((s) => [s.file, s.ctxIn]),
    [
      ['a.json', undefined],
      ['b.json', undefined],
    ],
  )
  t.same([r1.cursors[a]!.offset, r1.cursors[a]!.ctx, r1.cursors[b]!.ctx], [7, 1, 2], 'offset = the whole size')
  t.equal(batch1.malformed, 0)

  // a is caught mid-write (truncated JSON); c appears truncated, with no cursor yet.
  seen.length = 0
  rewrite(a, '{"n":1,"more":[')
  fs.writeFileSync(c, '{"n":')
  const batch2 = new Batch()
  const r2 = collectFiles(env, source, r1.cursors, batch2, '')
  t.same(seen, [], 'nothing from a broken document')
  t.equal(batch2.malformed, 2, 'each counted malformed')
  t.same(r2.stats, { files: 3, unchanged: 1, read: 0, bytes: 0 })
  t.equal(r2.cursors[a], r1.cursors[a], 'a keeps its old cursor, so the next run reads it again')
  t.notOk(c in r2.cursors, 'c has none')

  // a is complete now: read whole, from byte 0, with the ctx its old cursor kept.
  rewrite(a, '{"n":10,"more":[1,2,3]}')
  fs.writeFileSync(c, '{"n":5}')
  const batch3 = new Batch()
  const r3 = collectFiles(env, source, r2.cursors, batch3, '')
  t.same(
    seen.map((s) => [s.file, s.text, s.ctxIn]),
    [
      ['a.json', '{"n":10,"more":[1,2,3]}', 1],
      ['c.json', '{"n":5}', undefined],
    ],
  )
  t.equal(batch3.malformed, 0)
  t.same([r3.cursors[a]!.offset, r3.cursors[a]!.size, r3.cursors[a]!.ctx], [23, 23, 11])
  t.equal(r3.cursors[c]!.ctx, 5)
  t.same(r3.stats, { files: 3, unchanged: 1, read: 2, bytes: 23 + 7 })
})
