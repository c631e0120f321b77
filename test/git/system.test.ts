import t, { type Test } from 'tap'
import { join } from 'node:path'
import { SystemBackend } from '../../lib/git/system.js'
import { backendContract } from './contract.js'
import { blobOid, git, prng } from './native.js'

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
