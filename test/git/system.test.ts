import t, { type Test } from 'tap'
import { join } from 'node:path'
import { writeFileSync } from 'node:fs'
import { MAINTENANCE_ARGS, MAINTENANCE_LIMITS, needsMaintenance, SystemBackend } from '../../lib/git/system.js'
import { backendContract } from './contract.js'
import { blobOid, fsck, git, nativeGit, prng } from './native.js'

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
