import t, { type Test } from 'tap'
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import type { CommitInfo, GitBackend } from '../../lib/git/backend.js'
import { IsoBackend } from '../../lib/git/iso.js'
import { SystemBackend } from '../../lib/git/system.js'
import { walkBlobs, writeFiles } from '../../lib/git/tree.js'
import { ledgerRef, LEDGER_REF_PREFIX } from '../../lib/ledger/paths.js'
import { backendContract } from './contract.js'
import { fsck, git, nativeCommitTree, prng } from './native.js'

backendContract(t, (gitdir) => new IsoBackend(gitdir))

const T = 1795256103
const DEV_A = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'
const DEV_B = 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb'
const sig = (id: string, ts: number) => ({ name: 'usage-ledger', email: `${id}@usage-ledger`, timestamp: ts })

/** A part that differs a little from day to day, so `git repack` stores most as deltas. */
const part = (dev: string, day: number, n: number) => {
  let s = ''
  for (let i = 0; i < 60; i++) {
    s += `{"v":1,"id":"${(dev + String(day * 1000 + i)).slice(0, 32)}","ts":"2026-11-${String(day).padStart(2, '0')}T10:00:${String(i % 60).padStart(2, '0')}.000Z","source":"claude-code","model":"claude-sonnet-4-5","input":${i},"output":${n},"cacheWrite":0,"cacheRead":120000}\n`
  }
  return s
}

/**
 * A store written entirely by native git: two devices, several commits each, many similar
 * parts, a binary blob. Returns what a reader should find.
 */
function nativeStore(gitdir: string) {
  git(undefined, ['init', '--bare', '--quiet', '--initial-branch=main', gitdir])
  const expect = {
    blobs: new Map<string, Buffer>(),
    heads: new Map<string, string>(),
    commits: new Map<string, CommitInfo>(),
    files: new Map<string, Map<string, string>>(),
  }
  const idx = join(gitdir, '..', 'tmp-index')
  for (const dev of [DEV_A, DEV_B]) {
    let parent: string | null = null
    const files = new Map<string, string>()
    for (let day = 1; day <= 12; day++) {
      const data = Buffer.from(part(dev, day, dev === DEV_A ? 5 : 9))
      const oid = git(gitdir, ['hash-object', '-w', '--stdin'], { input: data })
      expect.blobs.set(oid, data)
      files.set(`devices/${dev}/2026-11/2026-11-${String(day).padStart(2, '0')}/000001.ndjson`, oid)
      if (day === 6) {
        const bin = prng(70_000, day)
        const boid = git(gitdir, ['hash-object', '-w', '--stdin'], { input: bin })
        expect.blobs.set(boid, bin)
        files.set(`devices/${dev}/blob.bin`, boid)
      }
      if (day % 4 === 0) {
        const info = [...files].map(([p, o]) => `100644 ${o}\t${p}\n`).join('')
        git(gitdir, ['read-tree', '--empty'], { env: { GIT_INDEX_FILE: idx } })
        git(gitdir, ['update-index', '--add', '--index-info'], { input: info, env: { GIT_INDEX_FILE: idx } })
        const tree = git(gitdir, ['write-tree'], { env: { GIT_INDEX_FILE: idx } })
        const c: CommitInfo = {
          tree,
          parents: parent ? [parent] : [],
          author: sig(dev, T + day),
          committer: sig(dev, T + day),
          message: `record: day ${day}\n`,
        }
        const oid2 = nativeCommitTree(gitdir, c)
        expect.commits.set(oid2, c)
        git(gitdir, ['update-ref', ledgerRef(dev), oid2])
        parent = oid2
      }
    }
    expect.heads.set(ledgerRef(dev), parent!)
    expect.files.set(dev, files)
  }
  return expect
}

async function checkReads(t: Test, b: GitBackend, expect: ReturnType<typeof nativeStore>) {
  t.same(new Map(await b.listRefs(LEDGER_REF_PREFIX)), expect.heads, 'listRefs finds both device heads')
  for (const [ref, head] of expect.heads) t.equal(await b.readRef(ref), head, `readRef ${ref}`)
  for (const [oid, c] of expect.commits) t.same(await b.readCommit(oid), c, `readCommit ${oid.slice(0, 8)}`)
  let bad = 0
  for (const [oid, data] of expect.blobs) if (!(await b.readBlob(oid)).equals(data)) bad++
  t.equal(bad, 0, `all ${expect.blobs.size} blobs read back byte for byte`)
  for (const [dev, files] of expect.files) {
    const head = expect.heads.get(ledgerRef(dev))!
    const walked = new Map<string, string>()
    for await (const e of walkBlobs(b, (await b.readCommit(head)).tree)) walked.set(e.path, e.oid)
    t.same(walked, files, `the tree at ${dev.slice(0, 4)}'s head holds every file`)
    const first = [...expect.commits].find(([, c]) => c.parents.length === 0 && c.author.email.startsWith(dev))![0]
    t.equal(await b.isAncestor(first, head), true, 'first commit is an ancestor of the head')
    t.equal(await b.isAncestor(head, first), false, 'not the other way round')
  }
  t.equal(
    await b.isAncestor(expect.heads.get(ledgerRef(DEV_A))!, expect.heads.get(ledgerRef(DEV_B))!),
    false,
    'devices are unrelated',
  )
}

t.test('iso reads a store native git wrote: loose, then packed with deltas and packed refs', async (t) => {
  const gitdir = join(t.testdir(), 'native.git')
  const expect = nativeStore(gitdir)
  const b = new IsoBackend(gitdir)

  t.test('loose objects and loose refs', (t) => checkReads(t, b, expect))

  t.test('after git repack -a -d -f and pack-refs (deltas, packed refs)', async (t) => {
    git(gitdir, ['repack', '-a', '-d', '-f', '-q', '--depth=50', '--window=50'])
    git(gitdir, ['pack-refs', '--all'])
    t.match(git(gitdir, ['count-objects', '-v']), /^count: 0$/m, 'no loose objects left')
    const looseDir = join(gitdir, 'refs/heads/ledger')
    t.equal(existsSync(looseDir) ? readdirSync(looseDir).length : 0, 0, 'no loose ledger refs left')
    t.ok(existsSync(join(gitdir, 'packed-refs')), 'packed-refs exists')
    const pack = readdirSync(join(gitdir, 'objects/pack')).find((f) => f.endsWith('.idx'))!
    const deltas = git(gitdir, ['verify-pack', '-v', join(gitdir, 'objects/pack', pack)])
      .split('\n')
      .filter((l) => /^[0-9a-f]{40} blob\s+\d+ \d+ \d+ \d+ [0-9a-f]{40}$/.test(l))
    t.ok(deltas.length >= 10, `the pack stores blobs as deltas (${deltas.length})`)
    await checkReads(t, b, expect)
    await checkReads(t, new IsoBackend(gitdir), expect)
  })

  t.test('after git gc --aggressive --prune=now', async (t) => {
    git(gitdir, ['gc', '--aggressive', '--prune=now', '--quiet'])
    await checkReads(t, new IsoBackend(gitdir), expect)
  })

  t.test('iso writes on top of the packed store; native git accepts it', async (t) => {
    const head = expect.heads.get(ledgerRef(DEV_A))!
    const base = (await b.readCommit(head)).tree
    const newPart = await b.writeBlob(Buffer.from(part(DEV_A, 13, 5)))
    const tree = await writeFiles(b, base, new Map([[`devices/${DEV_A}/2026-11/2026-11-13/000001.ndjson`, newPart]]))
    const c = await b.writeCommit({
      tree,
      parents: [head],
      author: sig(DEV_A, T + 100),
      committer: sig(DEV_A, T + 100),
      message: 'record: +60 records (2026-11-13..2026-11-13)\n',
    })
    await t.rejects(b.updateRef(ledgerRef(DEV_A), c, null), { code: 'REF_STALE' }, 'packed ref counts as existing')
    await b.updateRef(ledgerRef(DEV_A), c, head)
    t.equal(git(gitdir, ['rev-parse', ledgerRef(DEV_A)]), c, 'native sees the loose ref over the packed one')
    t.equal(
      git(gitdir, ['rev-parse', ledgerRef(DEV_B)]),
      expect.heads.get(ledgerRef(DEV_B)),
      'the other device is untouched',
    )
    t.same(
      git(gitdir, ['diff-tree', '-r', '--name-status', head, c]).split('\n'),
      [`A\tdevices/${DEV_A}/2026-11/2026-11-13/000001.ndjson`],
      'native diff: one part added',
    )
    t.same(fsck(gitdir), { code: 0, output: '' }, 'fsck --strict clean')
  })
})

t.test('system and iso write identical objects', async (t) => {
  const dir = t.testdir()
  const sys = new SystemBackend(join(dir, 'sys.git'))
  const iso = new IsoBackend(join(dir, 'iso.git'))
  t.teardown(() => sys.close())
  await sys.init()
  await iso.init()

  async function build(b: GitBackend) {
    const out: string[] = []
    const blobs = [Buffer.alloc(0), Buffer.from(part(DEV_A, 1, 1)), prng(100_000, 3), Buffer.from('ü\r\n')]
    const oids = []
    for (const d of blobs) oids.push(await b.writeBlob(d))
    out.push(...oids)
    const files = new Map([
      [`devices/${DEV_A}/device.json`, oids[3]!],
      [`devices/${DEV_A}/manifest.json`, oids[0]!],
      [`devices/${DEV_A}/2026-11/2026-11-01/000001.ndjson`, oids[1]!],
      [`devices/${DEV_A}/2026-11/2026-11-01.ndjson`, oids[2]!],
      [`devices/${DEV_A}/2026-11.x`, oids[2]!],
      [`devices/${DEV_A}/2026-11-01`, oids[2]!],
    ])
    const root1 = await writeFiles(b, null, files)
    const root2 = await writeFiles(b, root1, new Map([[`devices/${DEV_A}/2026-11/2026-11-01/000002.ndjson`, oids[2]!]]))
    out.push(root1, root2)
    const c1 = await b.writeCommit({
      tree: root1,
      parents: [],
      author: sig(DEV_A, T),
      committer: sig(DEV_B, T + 1),
      message: 'record: +1 records (2026-11-01..2026-11-01)\n',
    })
    const c2 = await b.writeCommit({
      tree: root2,
      parents: [c1],
      author: sig(DEV_A, T + 2),
      committer: sig(DEV_A, T + 2),
      message: 'two\n\nwith a body\n',
    })
    out.push(c1, c2)
    return out
  }
  const a = await build(sys)
  const bb = await build(iso)
  t.same(bb, a, 'every blob, tree and commit oid is the same')
  const head = a[a.length - 1]!
  git(join(dir, 'iso.git'), ['update-ref', 'refs/heads/x', head])
  git(join(dir, 'sys.git'), ['update-ref', 'refs/heads/x', head])
  t.same(fsck(join(dir, 'iso.git')), { code: 0, output: '' }, 'iso repository fsck --strict clean')
  t.same(fsck(join(dir, 'sys.git')), { code: 0, output: '' }, 'system repository fsck --strict clean')

  // Each backend reads the other's repository the same way.
  const sysOnIso = new SystemBackend(join(dir, 'iso.git'))
  t.teardown(() => sysOnIso.close())
  const isoOnSys = new IsoBackend(join(dir, 'sys.git'))
  const walk = async (b: GitBackend) => {
    const out: string[] = [JSON.stringify(await b.readCommit(head))]
    for await (const e of walkBlobs(b, (await b.readCommit(head)).tree))
      out.push(`${e.path} ${e.oid} ${(await b.readBlob(e.oid)).length}`)
    return out
  }
  const [w1, w2, w3, w4] = [await walk(sys), await walk(iso), await walk(sysOnIso), await walk(isoOnSys)]
  t.equal(w1.length, 8, 'commit + 7 files')
  t.same(w2, w1, 'iso reading its own = system reading its own')
  t.same(w3, w1, 'system reading the iso repository')
  t.same(w4, w1, 'iso reading the system repository')
})
