/**
 * lib/git/tree.ts beyond what the backend contract covers: which trees writeFiles touches,
 * overwrites, no-op writes, lookups through files, walkBlobs with a prefix.
 */
import t from 'tap'
import { join } from 'node:path'
import type { GitBackend, TreeEntry } from '../../lib/git/backend.js'
import { SystemBackend } from '../../lib/git/system.js'
import { readEntryAt, readTreeAt, walkBlobs, writeFiles } from '../../lib/git/tree.js'
import { EMPTY_TREE } from './contract.js'

const A = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'
const B = 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb'

/** Delegates to a real backend and records every tree read and written. */
function counting(inner: GitBackend) {
  const log = { reads: [] as string[], writes: [] as TreeEntry[][] }
  const b: GitBackend = {
    name: inner.name,
    gitdir: inner.gitdir,
    init: () => inner.init(),
    writeBlob: (d) => inner.writeBlob(d),
    writeTree: (e) => {
      log.writes.push(e)
      return inner.writeTree(e)
    },
    writeCommit: (c) => inner.writeCommit(c),
    readRef: (r) => inner.readRef(r),
    listRefs: (p) => inner.listRefs(p),
    updateRef: (r, n, o) => inner.updateRef(r, n, o),
    updateRefs: (m) => inner.updateRefs(m),
    deleteRef: (r, o) => inner.deleteRef(r, o),
    readTree: (o) => {
      log.reads.push(o)
      return inner.readTree(o)
    },
    readBlob: (o) => inner.readBlob(o),
    readCommit: (o) => inner.readCommit(o),
    isAncestor: (a, d) => inner.isAncestor(a, d),
    remoteUrl: (n) => inner.remoteUrl(n),
    listRemoteRefs: (r, p) => inner.listRemoteRefs(r, p),
    fetchRefs: (r, refs) => inner.fetchRefs(r, refs),
    push: (r, ref) => inner.push(r, ref),
    deleteRemoteRef: (r, ref) => inner.deleteRemoteRef(r, ref),
    maintain: () => inner.maintain(),
    close: () => inner.close(),
  }
  return {
    b,
    log,
    reset: () => {
      log.reads.length = 0
      log.writes.length = 0
    },
  }
}

t.test('tree helpers', async (t) => {
  const sys = new SystemBackend(join(t.testdir(), 'repo.git'))
  t.teardown(() => sys.close())
  await sys.init()
  const { b, log, reset } = counting(sys)
  const blob = (s: string) => b.writeBlob(Buffer.from(s))

  const files = new Map<string, string>()
  for (const dev of [A, B]) {
    files.set(`devices/${dev}/device.json`, await blob(dev))
    for (const day of ['2026-10-30', '2026-10-31', '2026-11-01', '2026-11-20', '2026-11-21']) {
      files.set(`devices/${dev}/${day.slice(0, 7)}/${day}/000001.ndjson`, await blob(`${dev} ${day}\n`))
    }
  }
  const root = await writeFiles(b, null, files)
  const dirs = new Set<string>([''])
  for (const p of files.keys()) {
    const segs = p.split('/')
    for (let i = 1; i < segs.length; i++) dirs.add(segs.slice(0, i).join('/'))
  }
  t.equal(log.writes.length, dirs.size, 'from scratch: one tree written per directory, none twice')
  t.equal(log.reads.length, 0, 'from scratch: nothing read')

  t.test('writeFiles reads and rewrites only the trees on the changed path', async (t) => {
    reset()
    const path = `devices/${A}/2026-11/2026-11-21/000002.ndjson`
    const root2 = await writeFiles(b, root, new Map([[path, await blob('new\n')]]))
    const onPath = ['', 'devices', `devices/${A}`, `devices/${A}/2026-11`, `devices/${A}/2026-11/2026-11-21`]
    const expectedReads = []
    for (const d of onPath) expectedReads.push(d === '' ? root : (await readEntryAt(sys, root, d))!.oid)
    t.same(log.reads, expectedReads, 'read: root, devices, the device, the month, the day; nothing else')
    t.equal(log.writes.length, onPath.length, 'one tree written per level on the path')
    for (const d of [
      `devices/${B}`,
      `devices/${A}/2026-10`,
      `devices/${A}/2026-11/2026-11-20`,
      `devices/${A}/device.json`,
    ]) {
      t.equal((await readEntryAt(sys, root2, d))!.oid, (await readEntryAt(sys, root, d))!.oid, `untouched: ${d}`)
    }
  })

  t.test('several files in one call: each directory is written once', async (t) => {
    reset()
    const add = new Map([
      [`devices/${A}/2026-11/2026-11-22/000001.ndjson`, await blob('a22\n')],
      [`devices/${A}/2026-11/2026-11-22/000002.ndjson`, await blob('a22b\n')],
      [`devices/${A}/2026-12/2026-12-01/000001.ndjson`, await blob('a1201\n')],
      [`devices/${A}/manifest.json`, await blob('{}\n')],
    ])
    const root2 = await writeFiles(b, root, add)
    // root, devices, devices/A, 2026-11, 2026-11-22 (new), 2026-12 (new), 2026-12-01 (new)
    t.equal(log.writes.length, 7, 'seven trees written')
    t.same(log.reads.length, 4, 'only existing trees on the paths read: root, devices, the device, 2026-11')
    for (const [p, oid] of add) t.equal((await readEntryAt(sys, root2, p))?.oid, oid, `present: ${p}`)
    t.same(
      (await readTreeAt(sys, root2, `devices/${A}/2026-11/2026-11-22`))!.map((e) => e.name),
      ['000001.ndjson', '000002.ndjson'],
    )
  })

  t.test('overwriting a file changes its oid and nothing beside it', async (t) => {
    const p = `devices/${B}/device.json`
    const nb = await blob('renamed\n')
    const root2 = await writeFiles(b, root, new Map([[p, nb]]))
    t.not(root2, root)
    t.equal((await readEntryAt(sys, root2, p))!.oid, nb, 'new content')
    const before = new Map<string, string>()
    for await (const e of walkBlobs(sys, root)) before.set(e.path, e.oid)
    const after = new Map<string, string>()
    for await (const e of walkBlobs(sys, root2)) after.set(e.path, e.oid)
    before.set(p, nb)
    t.same(after, before, 'same paths; only that one oid differs')
  })

  t.test('writing nothing, or the same oids again, gives back the same tree', async (t) => {
    t.equal(await writeFiles(b, root, new Map()), root, 'empty change set on a base')
    t.equal(await writeFiles(b, null, new Map()), EMPTY_TREE, 'empty change set on nothing = the empty tree')
    t.equal(
      await writeFiles(b, root, new Map([...files].slice(0, 3))),
      root,
      'rewriting existing files with the same oids',
    )
  })

  t.test('readTreeAt and readEntryAt', async (t) => {
    t.same(
      (await readTreeAt(sys, root, ''))!.map((e) => e.name),
      ['devices'],
      "'' is the root",
    )
    t.same(
      (await readTreeAt(sys, root, 'devices/'))!.map((e) => e.name),
      [A, B],
      'a trailing slash is ignored',
    )
    t.same(
      await readEntryAt(sys, root, 'devices'),
      { mode: '040000', type: 'tree', name: 'devices', oid: (await sys.readTree(root))[0]!.oid },
      'a top-level entry',
    )
    t.equal(await readTreeAt(sys, root, `devices/${A}/device.json`), null, 'a file is not a directory')
    t.equal(await readTreeAt(sys, root, `devices/${A}/device.json/x`), null, 'no path through a file')
    t.equal(await readEntryAt(sys, root, `devices/${A}/device.json/x`), null)
    t.equal(await readEntryAt(sys, null, `devices/${A}/device.json`), null, 'no root')
  })

  t.test('walkBlobs with a prefix, from a subtree', async (t) => {
    const sub = (await readEntryAt(sys, root, `devices/${B}`))!.oid
    const got = []
    for await (const e of walkBlobs(sys, sub, `devices/${B}`)) got.push(e)
    t.same(
      got.map((e) => e.path),
      [
        `devices/${B}/2026-10/2026-10-30/000001.ndjson`,
        `devices/${B}/2026-10/2026-10-31/000001.ndjson`,
        `devices/${B}/2026-11/2026-11-01/000001.ndjson`,
        `devices/${B}/2026-11/2026-11-20/000001.ndjson`,
        `devices/${B}/2026-11/2026-11-21/000001.ndjson`,
        `devices/${B}/device.json`,
      ],
      'paths carry the prefix, in name order',
    )
    for (const e of got) t.equal(e.oid, files.get(e.path), `oid of ${e.path}`)
  })
})
