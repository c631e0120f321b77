/**
 * The writer's per-day seals (manifest v2, DESIGN §2) on a real repository: a late record
 * re-seals its own day only, reading only that day's parts; a v1 manifest is converted once;
 * two devices writing the same records get the same day digests.
 */
import t from 'tap'
import path from 'node:path'
import { sealDigestLines, sealRoot, MANIFEST_VERSION } from '../../lib/ledger/manifest.js'
import {
  appendRecords,
  asV1,
  commitManifest,
  counting,
  dayLines,
  device,
  headManifest,
  history,
  newRepo,
  partsByDay,
  rec,
  sha256,
} from '../helpers/seals.js'

const NOW = new Date('2026-11-10T12:00:00Z')
const dev = device('d')

t.test('each sealed day carries the digest of its lines; today none; the root hashes the list', async (t) => {
  const dir = t.testdir()
  const git = await newRepo(dir)
  const known = path.join(dir, 'known')
  await appendRecords(git, dev, known, [...history(10)], NOW)
  const m = await headManifest(git, dev.id)
  t.equal(m.v, 2)
  t.equal(MANIFEST_VERSION, 2)
  t.equal(m.sealed.through, '2026-11-09')
  t.equal(m.days['2026-11-10']!.digest, undefined, 'today, the open day, has no digest')
  let list = ''
  for (let d = 1; d <= 9; d++) {
    const day = `2026-11-0${d}`
    const lines = await dayLines(git, dev.id, day)
    t.equal(m.days[day]!.digest, sealDigestLines(lines), `${day}: sha256 of its sorted lines`)
    list += `${day} ${m.days[day]!.digest}\n`
  }
  t.same(m.sealed, { through: '2026-11-09', records: 27, root: sha256(list) })
  t.equal(m.sealed.digest, undefined, 'no v1 digest')
  t.equal(sealRoot(m.days, m.sealed.through), m.sealed.root)
  await git.close()
})

t.test("a late record re-seals only its day, reading only that day's parts", async (t) => {
  const dir = t.testdir()
  const real = await newRepo(dir)
  const known = path.join(dir, 'known')
  await appendRecords(real, dev, known, [...history(10)], NOW)
  // a second part on the late day, so "its parts" is more than one
  await appendRecords(real, dev, known, [rec('second', '2026-11-04T20:00:00.000Z')], NOW)
  const before = await headManifest(real, dev.id)
  const partsBefore = await partsByDay(real, dev.id)
  t.equal(partsBefore.get('2026-11-04')!.length, 2)
  const { git, blobs } = counting(real)
  await appendRecords(git, dev, known, [rec('late', '2026-11-04T21:00:00.000Z', { output: 7 })], NOW)
  const after = await headManifest(real, dev.id)
  const allParts = new Set([...partsBefore.values()].flat())
  t.same(
    blobs.filter((oid) => allParts.has(oid)).sort(),
    [...partsBefore.get('2026-11-04')!].sort(),
    "the parts read: the late day's, each once",
  )
  for (const day of Object.keys(before.days)) {
    if (day === '2026-11-04') continue
    t.equal(after.days[day]!.digest, before.days[day]!.digest, `${day}'s digest unchanged`)
  }
  t.not(after.days['2026-11-04']!.digest, before.days['2026-11-04']!.digest, "the late day's digest changed")
  t.equal(after.days['2026-11-04']!.digest, sealDigestLines(await dayLines(real, dev.id, '2026-11-04')))
  t.not(after.sealed.root, before.sealed.root, 'and the root')
  t.equal(after.sealed.records, before.sealed.records + 1)
  t.equal(after.sealed.root, sealRoot(after.days, '2026-11-09'))
  await real.close()
})

t.test("a commit of today's records reads no part; the day's rollover seals yesterday only", async (t) => {
  const dir = t.testdir()
  const real = await newRepo(dir)
  const known = path.join(dir, 'known')
  await appendRecords(real, dev, known, [...history(10)], NOW)
  const c1 = counting(real)
  await appendRecords(c1.git, dev, known, [rec('today', '2026-11-10T13:00:00.000Z')], NOW)
  const parts = await partsByDay(real, dev.id)
  const all = new Set([...parts.values()].flat())
  t.same(
    c1.blobs.filter((o) => all.has(o)),
    [],
    "today's records: no part read",
  )
  const before = await headManifest(real, dev.id)
  const c2 = counting(real)
  await appendRecords(c2.git, dev, known, [rec('next', '2026-11-11T01:00:00.000Z')], new Date('2026-11-11T02:00:00Z'))
  t.same(c2.blobs.filter((o) => all.has(o)).sort(), [...parts.get('2026-11-10')!].sort(), "rollover: yesterday's parts")
  const after = await headManifest(real, dev.id)
  t.equal(after.sealed.through, '2026-11-10')
  t.equal(after.days['2026-11-10']!.digest, sealDigestLines(await dayLines(real, dev.id, '2026-11-10')))
  for (let d = 1; d <= 9; d++) t.equal(after.days[`2026-11-0${d}`]!.digest, before.days[`2026-11-0${d}`]!.digest)
  t.equal(after.days['2026-11-11']!.digest, undefined)
  await real.close()
})

t.test('a v1 manifest is converted by the next commit: every sealed day digested once', async (t) => {
  const dir = t.testdir()
  const real = await newRepo(dir)
  const known = path.join(dir, 'known')
  await appendRecords(real, dev, known, [...history(10)], NOW)
  const v2 = await headManifest(real, dev.id)
  const v1 = await asV1(real, dev.id, v2)
  await commitManifest(real, dev.id, v1)
  t.equal((await headManifest(real, dev.id)).v, 1, 'the head holds a v1 manifest')
  const parts = await partsByDay(real, dev.id)
  const { git, blobs } = counting(real)
  await appendRecords(git, dev, known, [rec('after', '2026-11-10T14:00:00.000Z')], NOW)
  const m = await headManifest(real, dev.id)
  t.equal(m.v, 2)
  t.equal(m.sealed.digest, undefined)
  t.same(m.sealed, v2.sealed, 'the same seal as a device that wrote v2 from the start')
  for (const day of Object.keys(v2.days)) t.equal(m.days[day]!.digest, v2.days[day]!.digest, day)
  const sealedParts = [...parts].filter(([d]) => d <= '2026-11-09').flatMap(([, o]) => o)
  // (the known-ids cache, which the plumbing commit made stale, reads its window's days again too)
  t.same(
    [...new Set(blobs.filter((o) => sealedParts.includes(o)))].sort(),
    sealedParts.sort(),
    'every part of the sealed days read',
  )
  await real.close()
})

t.test('two devices writing the same records get the same day digests and root', async (t) => {
  const dir = t.testdir()
  const git = await newRepo(dir)
  const all = history(10)
  // one device in one run; another in three runs of its own order (other parts, same lines)
  await appendRecords(git, dev, path.join(dir, 'k1'), [...all], NOW)
  const other = device('e')
  const known = path.join(dir, 'k2')
  const rev = [...all].reverse()
  await appendRecords(git, other, known, rev.slice(0, 7), new Date('2026-11-05T12:00:00Z'))
  await appendRecords(git, other, known, rev.slice(7, 20), new Date('2026-11-08T12:00:00Z'))
  await appendRecords(git, other, known, rev.slice(20), NOW)
  const a = await headManifest(git, dev.id)
  const b = await headManifest(git, other.id)
  t.not(JSON.stringify(a.days), JSON.stringify(b.days), 'their parts differ')
  for (const day of Object.keys(a.days)) t.equal(b.days[day]!.digest, a.days[day]!.digest, day)
  t.same(b.sealed, a.sealed)
  await git.close()
})
