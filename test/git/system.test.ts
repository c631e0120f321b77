import t, { type Test } from 'tap'
import { join } from 'node:path'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { MAINTENANCE_ARGS, MAINTENANCE_LIMITS, needsMaintenance, SystemBackend } from '../../lib/git/system.js'
import { backendContract } from './contract.js'
import { blobOid, commitOid, fsck, git, nativeCommitTree, nativeGit, prng, treeOidInOrder } from './native.js'

backendContract(t, (gitdir) => new SystemBackend(gitdir))

/** White-box access to the one long-lived `git cat-file --batch` process. */
interface CatFileInternals {
  child: { pid?: number } | null
  size: number
}
const catFile = (b: SystemBackend) => (b as unknown as { cat: CatFileInternals }).cat

const ABSENT = 'deadbeefdeadbeefdeadbeefdeadbeefdeadbeef'

async function withBlobs(t: Test) {
  const gitdir = join(t.testdir(), 'repo.git')
  const b = new SystemBackend(gitdir)
  t.teardown(() => b.close())
  await b.init()
  // Sizes around and far beyond a 64 KiB pipe chunk, so responses straddle reads.
  const sizes = [0, 1, 100, 4095, 4096, 65535, 65536, 65537, 200_000, 700_000]
  const blobs: Array<{ oid: string; data: Buffer }> = []
  for (let i = 0; i < 30; i++) {
    const data = prng(sizes[i % sizes.length]!, i + 1)
    blobs.push({ oid: await b.writeBlob(data), data })
  }
  return { b, gitdir, blobs }
}

t.test('cat-file --batch: many sequential reads through one process', async (t) => {
  const { b, blobs } = await withBlobs(t)
  await b.readBlob(blobs[0]!.oid)
  const pid = catFile(b).child?.pid
  t.ok(pid, 'a cat-file process is running')
  let bad = 0
  for (let round = 0; round < 10; round++) {
    for (const { oid, data } of blobs) if (!(await b.readBlob(oid)).equals(data)) bad++
  }
  t.equal(bad, 0, '300 sequential reads return the right bytes')
  t.equal(catFile(b).child?.pid, pid, 'still the same process')
})

t.test('cat-file --batch: concurrent reads, mixed with missing objects and other types', async (t) => {
  const { b, blobs } = await withBlobs(t)
  const tree = await b.writeTree(
    blobs.slice(0, 5).map((x, i) => ({ mode: '100644', type: 'blob', name: `f${i}`, oid: x.oid })),
  )
  const jobs: Array<Promise<string>> = []
  const N = 1000
  for (let i = 0; i < N; i++) {
    const x = blobs[(i * 7) % blobs.length]!
    if (i % 11 === 0)
      jobs.push(
        b.readBlob(ABSENT).then(
          () => 'found?!',
          (e: { code?: string }) => `rejected:${e.code}`,
        ),
      )
    else if (i % 13 === 0) jobs.push(b.readTree(tree).then((es) => `tree:${es.length}`))
    else jobs.push(b.readBlob(x.oid).then((d) => (d.equals(x.data) ? 'ok' : `wrong bytes for ${x.oid}`)))
  }
  const got = await Promise.all(jobs)
  const counts = new Map<string, number>()
  for (const g of got) counts.set(g, (counts.get(g) ?? 0) + 1)
  const missing = Math.floor((N - 1) / 11) + 1
  const trees = Array.from({ length: N }, (_, i) => i).filter((i) => i % 11 !== 0 && i % 13 === 0).length
  t.same(
    Object.fromEntries(counts),
    { ok: N - missing - trees, 'rejected:GIT_MISSING_OBJECT': missing, 'tree:5': trees },
    'every concurrent answer went to the request that asked for it',
  )
  t.equal(catFile(b).size, 0, 'nothing left over in the read buffer')
})

t.test('cat-file --batch: objects repacked and pruned under a running reader stay readable', async (t) => {
  const { b, gitdir, blobs } = await withBlobs(t)
  for (const { oid } of blobs.slice(0, 3)) await b.readBlob(oid)
  const pid = catFile(b).child?.pid
  // repack only packs what is reachable: hang every blob off a ref first.
  const tree = await b.writeTree(blobs.map((x, i) => ({ mode: '100644', type: 'blob', name: `f${i}`, oid: x.oid })))
  const sig = { name: 'a', email: 'a@b', timestamp: 1 }
  await b.updateRef(
    'refs/heads/main',
    await b.writeCommit({ tree, parents: [], author: sig, committer: sig, message: 'm\n' }),
    null,
  )
  git(gitdir, ['repack', '-a', '-d', '-q'])
  git(gitdir, ['prune-packed'])
  t.match(git(gitdir, ['count-objects', '-v']), /^count: 0$/m, 'no loose objects left')
  let bad = 0
  for (const { oid, data } of blobs) if (!(await b.readBlob(oid)).equals(data)) bad++
  t.equal(bad, 0, 'every object read back from the new pack')
  const fresh = await b.writeBlob(Buffer.from('written after the repack\n'))
  t.equal((await b.readBlob(fresh)).toString(), 'written after the repack\n', 'a new loose object is seen too')
  t.equal(catFile(b).child?.pid, pid, 'by the same process')
})

t.test(
  'cat-file --batch: a reader that dies mid-answer fails its requests, and the next read starts clean',
  async (t) => {
    const { b, blobs } = await withBlobs(t)
    const big = Buffer.concat([prng(4_000_000, 99), prng(4_000_000, 98)])
    const bigOid = await b.writeBlob(big)
    t.equal(bigOid, blobOid(big))
    const small = blobs[2]!
    await b.readBlob(small.oid)
    const cat = catFile(b)
    const pid = cat.child!.pid!
    const pending = b.readBlob(bigOid)
    // Wait until part of the big answer is buffered, then kill the process mid-answer.
    const started = Date.now()
    while (cat.size === 0 && Date.now() - started < 5000) await new Promise((r) => setImmediate(r))
    t.ok(cat.size > 0 && cat.size < big.length, 'killed while half an answer was buffered')
    process.kill(pid, 'SIGKILL')
    await t.rejects(pending, { code: 'GIT_FAILED' }, 'the pending read fails')
    const next = await Promise.race([
      b.readBlob(small.oid),
      new Promise<'hung'>((r) => setTimeout(() => r('hung'), 5000).unref()),
    ])
    t.ok(Buffer.isBuffer(next) && next.equals(small.data), 'the next read gets its own object from a new process')
    t.not(cat.child?.pid, pid, 'a new process answered')
  },
)

t.test('close() ends the reader; a later read starts another one', async (t) => {
  const { b, blobs } = await withBlobs(t)
  await b.readBlob(blobs[1]!.oid)
  const pid = catFile(b).child!.pid!
  await b.close()
  t.equal(catFile(b).child, null, 'no reader after close')
  // The process exits once its stdin closes.
  const started = Date.now()
  let alive = true
  while (alive && Date.now() - started < 5000) {
    try {
      process.kill(pid, 0)
      await new Promise((r) => setTimeout(r, 20))
    } catch {
      alive = false
    }
  }
  t.notOk(alive, 'the cat-file process exited')
  t.ok((await b.readBlob(blobs[1]!.oid)).equals(blobs[1]!.data), 'reading again works')
})

t.test('git failures carry codes, not crashes', async (t) => {
  const gitdir = join(t.testdir(), 'repo.git')
  const b = new SystemBackend(gitdir)
  t.teardown(() => b.close())
  await b.init()
  const c = await b.writeCommit({
    tree: await b.writeTree([]),
    parents: [],
    author: { name: 'a', email: 'a@b', timestamp: 1 },
    committer: { name: 'a', email: 'a@b', timestamp: 1 },
    message: 'm\n',
  })
  await t.rejects(
    b.writeTree([{ mode: '100644', type: 'blob', name: 'x', oid: ABSENT }]),
    { code: 'GIT_FAILED' },
    'mktree of a missing blob',
  )
  await t.rejects(
    b.isAncestor(ABSENT, c),
    { code: 'GIT_FAILED' },
    'isAncestor with a missing commit is an error, not "false"',
  )
})

t.test("needsMaintenance: git gc --auto's own estimate, read from the repository", async (t) => {
  const gitdir = join(t.testdir(), 'repo.git')
  const b = new SystemBackend(gitdir)
  t.teardown(() => b.close())
  await b.init()
  const limits = { looseObjects: 256 * 3, packs: 2 }
  t.equal(needsMaintenance(gitdir, limits), false, 'an empty repository')
  // Loose objects: only objects/17 is counted; more than looseObjects / 256 there.
  const with17: string[] = []
  const other: string[] = []
  for (let i = 0; with17.length < 4; i++) {
    const data = Buffer.from(`object ${i}\n`)
    const oid = blobOid(data)
    if (oid.startsWith('17')) with17.push(await b.writeBlob(data))
    else if (other.length < 50) other.push(await b.writeBlob(data))
  }
  t.equal(
    needsMaintenance(gitdir, { ...limits, looseObjects: 256 * 4 }),
    false,
    '4 in objects/17, 50 elsewhere: under 4 × 256',
  )
  t.equal(needsMaintenance(gitdir, limits), true, '4 in objects/17: over 3 × 256')
  t.equal(needsMaintenance(gitdir), false, "git's default gc.auto (6700) is far away")
  t.equal(MAINTENANCE_LIMITS.looseObjects, 6700, "git's default gc.auto")

  // Packs: more than `packs` of them, a kept pack (.keep) not counted.
  const pack = (oid: string) =>
    git(gitdir, ['pack-objects', '-q', join(gitdir, 'objects', 'pack', 'pack')], { input: `${oid}\n` })
  const loose = { ...limits, looseObjects: 256 * 100 }
  const names = [pack(other[0]!), pack(other[1]!)]
  t.equal(needsMaintenance(gitdir, loose), false, '2 packs: at the limit')
  names.push(pack(other[2]!))
  t.equal(needsMaintenance(gitdir, loose), true, '3 packs: over it')
  writeFileSync(join(gitdir, 'objects', 'pack', `pack-${names[0]}.keep`), '')
  t.equal(needsMaintenance(gitdir, loose), false, 'one of them kept: 2 count')
})

t.test('maintenance beside a writer: every commit lands, and a kill leaves the repository valid', async (t) => {
  const gitdir = join(t.testdir(), 'repo.git')
  const b = new SystemBackend(gitdir)
  t.teardown(() => b.close())
  await b.init()
  const ref = 'refs/heads/ledger/0123456789abcdef0123456789abcdef'
  const sig = { name: 'usage-ledger', email: 'x@usage-ledger', timestamp: 1795256103 }
  // gc forced to repack everything each time it is started (one pack is already too many).
  const forced = ['-c', 'gc.auto=1', '-c', 'gc.autoPackLimit=1', ...MAINTENANCE_ARGS]
  const { spawn } = await import('node:child_process')
  const gc = () =>
    new Promise<number>((resolve) => {
      const c = spawn('git', forced, { env: { ...process.env, GIT_DIR: gitdir }, stdio: 'ignore' })
      c.on('close', (code) => resolve(code ?? 1))
    })
  let head: string | null = null
  let writing = true
  let gcs = 0
  const maintaining = (async () => {
    while (writing) {
      await gc()
      gcs++
    }
  })()
  const parts: string[] = []
  for (let i = 0; i < 60; i++) {
    const part = await b.writeBlob(prng(3000, i + 1))
    parts.push(part)
    const tree = await b.writeTree([
      { mode: '100644', type: 'blob', name: `${String(i).padStart(6, '0')}.ndjson`, oid: part },
    ])
    const c = await b.writeCommit({ tree, parents: head ? [head] : [], author: sig, committer: sig, message: `${i}\n` })
    await b.updateRef(ref, c, head)
    head = c
  }
  writing = false
  await maintaining
  t.ok(gcs > 0, `${gcs} full repacks ran beside 60 commits`)
  t.equal(git(gitdir, ['rev-list', '--count', ref]), '60', 'every commit is on the branch')
  t.same(fsck(gitdir), { code: 0, output: '' }, 'fsck --strict: clean')
  let readable = 0
  for (const [i, p] of parts.entries()) if ((await b.readBlob(p)).equals(prng(3000, i + 1))) readable++
  t.equal(readable, 60, 'every part reads back')

  // A kill at any moment of a repack: git writes packs under temporary names and renames them.
  for (const delay of [0, 5, 20, 50]) {
    const c = spawn('git', forced, { env: { ...process.env, GIT_DIR: gitdir }, stdio: 'ignore' })
    const closed = new Promise((r) => c.on('close', r))
    await new Promise((r) => setTimeout(r, delay))
    c.kill('SIGKILL')
    await closed
    t.same(fsck(gitdir), { code: 0, output: '' }, `killed after ${delay} ms: fsck --strict clean`)
    t.equal(git(gitdir, ['rev-list', '--count', ref]), '60', 'and the branch whole')
  }
  // A leftover gc.pid of a killed gc does not stop the next one for long: git checks its pid.
  t.equal(nativeGit(gitdir, forced).code, 0, 'the next gc runs')
  t.same(fsck(gitdir), { code: 0, output: '' })
})

/**
 * A `git gc` beside a writer (maintain()) removes the fan-out directories it finds empty; one
 * removed between git's mkdir and its temporary file fails that write. Here a dangling symlink in
 * the directory's place fails git's write that way every time, and a wrapper around git removes
 * the ones pointing at `vanished-once` when a git process ends (a gc removes a directory once):
 * each lost write must be made again, and a write that keeps failing must fail, not loop.
 */
t.test(
  'a fan-out directory removed under git as it writes (a gc beside us): the write is made again',
  { skip: process.platform === 'win32' ? 'a POSIX shell wrapper around git' : false },
  async (t) => {
    const dir = t.testdir()
    const gitdir = join(dir, 'repo.git')
    const objects = join(gitdir, 'objects')
    const realGit = execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim()
    const bin = join(dir, 'bin')
    mkdirSync(bin)
    writeFileSync(
      join(bin, 'git'),
      `#!/bin/sh\n"${realGit}" "$@"\nrc=$?\nif [ -n "$GIT_DIR" ]; then for d in "$GIT_DIR"/objects/??; do\n` +
        `  [ -L "$d" ] && [ "$(readlink "$d")" = vanished-once ] && rm -f "$d"\ndone; fi\nexit $rc\n`,
      { mode: 0o755 },
    )
    const PATH = process.env.PATH
    process.env.PATH = `${bin}:${PATH}`
    t.teardown(() => {
      process.env.PATH = PATH
    })
    const b = new SystemBackend(gitdir)
    t.teardown(() => b.close())
    await b.init()
    const gone = (oid: string, once = true) =>
      symlinkSync(once ? 'vanished-once' : 'vanished', join(objects, oid.slice(0, 2)))
    const loose = (oid: string) => existsSync(join(objects, oid.slice(0, 2), oid.slice(2)))
    const sig = { name: 'usage-ledger', email: 'x@usage-ledger', timestamp: 1795256103 }
    const blob = (s: string) => ({ data: Buffer.from(s), oid: blobOid(s) })
    const [b1, b2, b3, b4, b5] = ['one\n', 'two\n', 'three\n', 'four\n', 'five\n'].map(blob) as [
      ReturnType<typeof blob>,
      ReturnType<typeof blob>,
      ReturnType<typeof blob>,
      ReturnType<typeof blob>,
      ReturnType<typeof blob>,
    ]
    const tree = treeOidInOrder([{ name: 'x', type: 'blob', oid: b2.oid }])
    const parent = treeOidInOrder([{ name: 'dir', type: 'tree', oid: tree }])
    const root = treeOidInOrder([{ name: 'y', type: 'blob', oid: b2.oid }])
    const c1 = { tree: root, parents: [], author: sig, committer: sig, message: 'first\n' }
    const c2 = { tree: root, parents: [commitOid(c1)], author: sig, committer: sig, message: 'second\n' }
    const lostTree = treeOidInOrder([{ name: 'x', type: 'blob', oid: b1.oid }])
    const fetched = blob('fetched\n')
    // Every object here in a fan-out directory of its own: a directory made to fail exists nowhere else.
    const dirs = [b1, b2, b3, b4, b5, fetched].map((x) => x.oid).concat(lostTree, tree, parent, root)
    dirs.push(commitOid(c1), commitOid(c2))
    t.equal(new Set(dirs.map((o) => o.slice(0, 2))).size, dirs.length, 'distinct fan-out directories')

    // git itself: the write fails with the words the backend looks for; mktree answers anyway.
    gone(b1.oid, false)
    const w = nativeGit(gitdir, ['hash-object', '-w', '--stdin'], { input: b1.data })
    t.match(w, { code: 128, stderr: /unable to create temporary file: No such file or directory/ }, 'hash-object fails')
    rmSync(join(objects, b1.oid.slice(0, 2)))
    gone(lostTree, false)
    const m2 = nativeGit(gitdir, ['mktree', '--missing'], { input: `100644 blob ${b1.oid}\tx\n` })
    t.match(m2, { code: 0, stdout: `${lostTree}\n` }, 'mktree answers the id of the tree it could not write')
    t.notOk(loose(lostTree), 'a tree that is not there')
    rmSync(join(objects, lostTree.slice(0, 2)))

    // Blobs: the middle one of three in the pipe is lost; a new process writes it and the third.
    gone(b4.oid)
    t.same(
      await Promise.all([b3, b4, b5].map((x) => b.writeBlob(x.data))),
      [b3, b4, b5].map((x) => x.oid),
      'hash-object: every blob, each answering its own request',
    )
    t.same([b3.oid, b4.oid, b5.oid].map(loose), [true, true, true], 'written')

    // A tree mktree lost: the next tree naming it fails, the lost one is written again.
    await b.writeBlob(b2.data)
    gone(tree)
    t.equal(await b.writeTree([{ mode: '100644', type: 'blob', name: 'x', oid: b2.oid }]), tree)
    t.notOk(loose(tree), 'mktree lost the tree')
    t.equal(await b.writeTree([{ mode: '040000', type: 'tree', name: 'dir', oid: tree }]), parent, 'its parent')
    t.ok(loose(tree) && loose(parent), 'both written')

    // A root tree lost: commit-tree fails, the tree is written again, then the commit.
    gone(root)
    t.equal(await b.writeTree([{ mode: '100644', type: 'blob', name: 'y', oid: b2.oid }]), root)
    t.notOk(loose(root), 'mktree lost the root tree')
    t.equal(await b.writeCommit(c1), commitOid(c1), 'commit-tree, on its tree written again')
    // The commit's own write lost.
    gone(commitOid(c2))
    t.equal(await b.writeCommit(c2), commitOid(c2), 'commit-tree, made again')

    // A fetch whose unpacked objects are lost: fetched again.
    const remote = join(dir, 'remote.git')
    git(undefined, ['init', '--bare', '--quiet', remote])
    git(remote, ['hash-object', '-w', '--stdin'], { input: fetched.data })
    const ft = git(remote, ['mktree'], { input: `100644 blob ${fetched.oid}\tf\n` })
    const fc = nativeCommitTree(remote, { tree: ft, parents: [], author: sig, committer: sig, message: 'f\n' })
    git(remote, ['update-ref', 'refs/heads/ledger/f', fc])
    gone(fetched.oid)
    t.same(await b.fetchRefs({ url: remote }, ['refs/heads/ledger/f']), new Map([['refs/heads/ledger/f', fc]]), 'fetch')
    t.ok(loose(fetched.oid), 'its blob unpacked')

    // A write that keeps failing fails (bounded), and the pipe writes again once it can.
    gone(b1.oid, false)
    await t.rejects(b.writeBlob(b1.data), { code: 'GIT_FAILED' }, 'a directory that never comes back: an error')
    rmSync(join(objects, b1.oid.slice(0, 2)))
    t.equal(await b.writeBlob(b1.data), b1.oid, 'then written')

    t.same(
      readdirSync(objects).filter((n) => n.length === 2 && !existsSync(join(objects, n))),
      [],
      'no obstacle left',
    )
    t.equal((await b.readBlob(b4.oid)).toString(), 'four\n')
    t.same(await b.readTree(parent), [{ mode: '040000', type: 'tree', name: 'dir', oid: tree }])
    t.equal((await b.readCommit(commitOid(c2))).tree, root)
    t.same(fsck(gitdir), { code: 0, output: '' }, 'fsck --strict: clean')
  },
)
