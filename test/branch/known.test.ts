import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { SystemBackend } from '../../lib/git/system.js'
import { appendRecords, type Candidate } from '../../lib/branch/writer.js'
import { device, rec } from '../helpers/seals.js'

const info = device('d')

t.test(
  "the known-ids cache keeps each id's ts: an equal copy with an earlier ts is appended once, a later one never",
  async (t) => {
    const dir = t.testdir()
    const git = new SystemBackend(path.join(dir, 'repo.git'))
    await git.init()
    const known = path.join(dir, 'known')
    const now = new Date('2026-11-22T12:00:00Z')
    t.equal((await appendRecords(git, info, known, [rec('a', '2026-11-21T10:00:00.000Z')], now)).appended, 1)
    t.match(
      fs.readFileSync(path.join(known, '2026-11-21.txt'), 'utf8'),
      /^usage-ledger known v2\n[0-9a-f]{32} 10 5 0 100 0 \d+\n$/,
    )
    t.equal(
      (await appendRecords(git, info, known, [rec('a', '2026-11-21T11:00:00.000Z')], now)).appended,
      0,
      'later ts: not appended',
    )
    t.equal(
      (await appendRecords(git, info, known, [rec('a', '2026-11-21T09:00:00.000Z')], now)).appended,
      1,
      'earlier ts: appended',
    )
    t.equal(
      (await appendRecords(git, info, known, [rec('a', '2026-11-21T09:00:00.000Z')], now)).appended,
      0,
      'the same again: not appended',
    )
    fs.rmSync(known, { recursive: true })
    t.equal(
      (await appendRecords(git, info, known, [rec('a', '2026-11-21T09:30:00.000Z')], now)).appended,
      0,
      'a cache rebuilt from git keeps the earliest copy',
    )
    await git.close()
  },
)

t.test('a known-ids file of v1 (no ts) keeps its main messages; its ids are rebuilt from git', async (t) => {
  const dir = t.testdir()
  const git = new SystemBackend(path.join(dir, 'repo.git'))
  await git.init()
  const known = path.join(dir, 'known')
  const now = new Date('2026-11-22T12:00:00Z')
  await appendRecords(
    git,
    info,
    known,
    [rec('msg_1:req_1', '2026-11-21T10:00:00.000Z', { copy: { of: 'msg_1', replay: false } })],
    now,
  )
  // As usage-ledger before issue 11 wrote it: six fields, header v1.
  const file = path.join(known, '2026-11-21.txt')
  const v2 = fs.readFileSync(file, 'utf8')
  fs.writeFileSync(file, v2.replace('known v2', 'known v1').replace(/^([0-9a-f]{32}(?: \d+){5}) \d+$/m, '$1'))
  t.match(fs.readFileSync(file, 'utf8'), /^usage-ledger known v1\n[0-9a-f]{32} 10 5 0 100 0\nm msg_1\n$/)
  // A sidechain replay of the message under another requestId: known only from the cache's message.
  const replay = rec('msg_1:req_other', '2026-11-21T10:05:00.000Z', {
    copy: { of: 'msg_1', replay: true },
    sidechain: true,
  })
  const r = await appendRecords(git, info, known, [replay], now)
  t.equal(r.appended, 0, 'the message is still known')
  t.equal(r.alreadyRecorded, 1)
  t.match(
    fs.readFileSync(file, 'utf8'),
    /^usage-ledger known v2\n[0-9a-f]{32} 10 5 0 100 0 \d+\nm msg_1\n$/,
    'rewritten as v2 with the id rebuilt',
  )
  await git.close()
})

t.test('a damaged known-ids file is rebuilt from git', async (t) => {
  const dir = t.testdir()
  const git = new SystemBackend(path.join(dir, 'repo.git'))
  await git.init()
  const known = path.join(dir, 'known')
  const now = new Date('2026-11-22T12:00:00Z')
  await appendRecords(git, info, known, [rec('a', '2026-11-21T10:00:00.000Z')], now)
  const file = path.join(known, '2026-11-21.txt')
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(/ \d+\n$/, ' garbage\n'))
  t.equal(
    (await appendRecords(git, info, known, [rec('a', '2026-11-21T10:00:00.000Z')], now)).appended,
    0,
    'no crash, and the recorded copy is known again',
  )
  t.equal(
    (await appendRecords(git, info, known, [rec('a', '2026-11-21T09:00:00.000Z')], now)).appended,
    1,
    'with its ts',
  )
  await git.close()
})

t.test('a known-ids file is written, read and written back in the v2 format, byte for byte', async (t) => {
  const dir = t.testdir()
  const git = new SystemBackend(path.join(dir, 'repo.git'))
  await git.init()
  const known = path.join(dir, 'known')
  const now = new Date('2026-11-22T12:00:00Z')
  const a = rec('a', '2026-11-21T10:00:00.000Z', { copy: { of: 'msg_a', replay: false } })
  const b = rec('b', '2026-11-21T10:01:00.000Z', { input: 1, output: 2, cacheWrite: 3, cacheRead: 4, sidechain: true })
  const line = (r: Candidate) =>
    `${r.id} ${r.input} ${r.output} ${r.cacheWrite} ${r.cacheRead} ${r.sidechain ? 1 : 0} ${Date.parse(r.ts)}\n`
  const first = `usage-ledger known v2\n${line(a)}${line(b)}m msg_a\n`
  await appendRecords(git, info, known, [a, b], now)
  const file = path.join(known, '2026-11-21.txt')
  t.equal(fs.readFileSync(file, 'utf8'), first)
  const c = rec('c', '2026-11-21T10:02:00.000Z', { sidechain: true })
  t.equal((await appendRecords(git, info, known, [c, { ...b }], now)).appended, 1, 'the cached sidechain copy is known')
  t.equal(
    fs.readFileSync(file, 'utf8'),
    `${first}${line(c)}`,
    'what a later run learnt is appended to the day it read from its file',
  )
  // A better copy of b: its new line replaces the old one when read back.
  const better = { ...b, input: 100 }
  t.equal((await appendRecords(git, info, known, [better], now)).appended, 1, 'a better copy is appended')
  t.equal(fs.readFileSync(file, 'utf8'), `${first}${line(c)}${line(better)}`)
  t.equal((await appendRecords(git, info, known, [{ ...better }], now)).appended, 0, 'and known from the file')
  t.equal((await appendRecords(git, info, known, [{ ...b }], now)).appended, 0, 'its older copy beaten')
  // A run that died while appending leaves a line without its newline: the day is rebuilt from git.
  fs.appendFileSync(file, `${c.id} 1 2 3`)
  t.equal((await appendRecords(git, info, known, [{ ...c }], now)).appended, 0, 'a torn file: rebuilt, c known')
  t.match(fs.readFileSync(file, 'utf8'), /\n$/, 'and written whole again')
  await git.close()
})
