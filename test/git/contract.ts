/**
 * The one conformance suite every GitBackend must pass (DESIGN §6, §11). Expected object ids
 * come from native git in a separate repository and from hashing by hand, so two backends
 * passing it write byte-identical objects; native git then fsck's, logs and clones the result.
 */
import type { Test } from 'tap'
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import net, { type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { CommitInfo, GitBackend, Remote, TreeEntry } from '../../lib/git/backend.js'
import { trackingRef } from '../../lib/git/backend.js'
import { readEntryAt, readTreeAt, walkBlobs, writeFiles } from '../../lib/git/tree.js'
import { GENESIS_COMMIT, GENESIS_OID, isGenesis, writeGenesis } from '../../lib/git/genesis.js'
import { dayDir, deviceDir, ledgerRef, LEDGER_REF_PREFIX } from '../../lib/ledger/paths.js'
import {
  blobOid,
  commitOid,
  fsck,
  git,
  nativeCommitTree,
  nativeGit,
  nativeTreeOf,
  prng,
  scratchRepo,
  treeOidInOrder,
} from './native.js'
import { startGitServer, type GitServer } from '../helpers/git-server.js'

export const EMPTY_BLOB = 'e69de29bb2d1d6434b8b29ae775ad8c2e48c5391'
export const EMPTY_TREE = '4b825dc642cb6eb9a060e54bf8d69288fbee4904'
const ABSENT = 'deadbeefdeadbeefdeadbeefdeadbeefdeadbeef'
/** 2026-11-21T10:15:03Z */
const T = 1795256103
const DEVICE = '0123456789abcdef0123456789abcdef'
const DEVICE2 = 'fedcba9876543210fedcba9876543210'
const ledgerSig = (id: string, timestamp: number) => ({ name: 'usage-ledger', email: `${id}@usage-ledger`, timestamp })

const nameSorted = (es: TreeEntry[]) => [...es].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))

async function rejectsCode(t: Test, p: Promise<unknown>, code: string, msg: string) {
  await t.rejects(p, { name: 'LedgerError', code }, msg)
}

/** A port nothing listens on: one the system just gave out and took back. */
async function closedPort(): Promise<number> {
  const srv = net.createServer()
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve))
  const { port } = srv.address() as AddressInfo
  await new Promise((resolve) => srv.close(resolve))
  return port
}

/** The branches of a bare repository, as native git reads them from disk. */
function headsOf(bare: string): Map<string, string> {
  const out = git(bare, ['for-each-ref', '--format=%(refname) %(objectname)', 'refs/heads/'])
  return new Map(out ? out.split('\n').map((l) => l.split(' ') as [string, string]) : [])
}

/** Sets branches and tags of a bare repository by a native push from `gitdir` (by path, not HTTP). */
function seed(gitdir: string, bare: string, refs: Record<string, string>) {
  git(gitdir, ['push', '--quiet', '--force', bare, ...Object.entries(refs).map(([ref, oid]) => `${oid}:${ref}`)])
}

export function backendContract(t: Test, make: (gitdir: string) => GitBackend): void {
  /** A fresh, initialised backend in this subtest's own temp dir. */
  const open = async (tt: Test, init = true) => {
    // t.testdir() recreates its directory on every call: call it once per test.
    const dir = tt.testdir()
    const gitdir = join(dir, 'home', 'repo.git')
    const b = make(gitdir)
    tt.teardown(() => b.close())
    if (init) await b.init()
    return { b, gitdir, dir }
  }
  const scratch = (tt: Test) => {
    const s = scratchRepo()
    tt.teardown(s.dispose)
    return s.gitdir
  }
  /** Two root commits and a small history: c1 ← c2 ← c3 (merge of c2 and r). */
  const history = async (b: GitBackend) => {
    const tree = await b.writeTree([
      { mode: '100644', type: 'blob', name: 'f', oid: await b.writeBlob(Buffer.from('x\n')) },
    ])
    const c1 = await b.writeCommit({
      tree,
      parents: [],
      author: ledgerSig(DEVICE, T),
      committer: ledgerSig(DEVICE, T),
      message: 'one\n',
    })
    const c2 = await b.writeCommit({
      tree,
      parents: [c1],
      author: ledgerSig(DEVICE, T + 1),
      committer: ledgerSig(DEVICE, T + 1),
      message: 'two\n',
    })
    const r = await b.writeCommit({
      tree,
      parents: [],
      author: ledgerSig(DEVICE2, T),
      committer: ledgerSig(DEVICE2, T),
      message: 'unrelated\n',
    })
    const c3 = await b.writeCommit({
      tree,
      parents: [c2, r],
      author: ledgerSig(DEVICE, T + 2),
      committer: ledgerSig(DEVICE, T + 2),
      message: 'merge\n',
    })
    return { tree, c1, c2, c3, r }
  }

  t.test('init makes a bare repository native git accepts, and is idempotent', async (t) => {
    const { b, gitdir } = await open(t, false)
    t.equal(b.gitdir, gitdir, 'gitdir is what it was made with')
    await b.init()
    t.equal(git(gitdir, ['rev-parse', '--is-bare-repository']), 'true', 'bare')
    t.equal(git(gitdir, ['symbolic-ref', 'HEAD']), 'refs/heads/main', 'HEAD points at main')
    t.same(fsck(gitdir), { code: 0, output: '' }, 'fsck --strict clean on the empty repo')
    t.equal(await b.readRef('refs/heads/main'), null, 'unborn main reads as null')
    t.same([...(await b.listRefs('refs/heads/'))], [], 'no refs yet')

    const { c2 } = await history(b)
    await b.updateRef(`refs/heads/ledger/${DEVICE}`, c2, null)
    await b.init()
    const again = make(gitdir)
    t.teardown(() => again.close())
    await again.init()
    t.equal(await again.readRef(`refs/heads/ledger/${DEVICE}`), c2, 'a second init keeps refs')
    t.equal((await again.readCommit(c2)).message, 'two\n', 'a second init keeps objects')
    t.equal(git(gitdir, ['symbolic-ref', 'HEAD']), 'refs/heads/main', 'HEAD unchanged')
    t.same(fsck(gitdir), { code: 0, output: '' }, 'still clean')
  })

  t.test('init on a repository native git made keeps its content', async (t) => {
    const gitdir = join(t.testdir(), 'native.git')
    git(undefined, ['init', '--bare', '--quiet', gitdir])
    const oid = git(gitdir, ['hash-object', '-w', '--stdin'], { input: 'native\n' })
    const b = make(gitdir)
    t.teardown(() => b.close())
    await b.init()
    t.equal((await b.readBlob(oid)).toString(), 'native\n')
  })

  t.test('writeBlob returns the oid git hash-object computes and round-trips the bytes', async (t) => {
    const { b, gitdir } = await open(t)
    const samples: Array<[string, Buffer]> = [
      ['empty', Buffer.alloc(0)],
      ['text', Buffer.from('hello\n')],
      ['no trailing newline', Buffer.from('{"v":1}')],
      ['utf-8', Buffer.from('€ — ü 日本\n')],
      ['every byte value', Buffer.from(Array.from({ length: 512 }, (_, i) => i & 0xff))],
      ['crlf', Buffer.from('a\r\nb\r\n')],
      ['300 KiB random', prng(300 * 1024, 7)],
    ]
    for (const [label, data] of samples) {
      const oid = await b.writeBlob(data)
      t.equal(oid, git(undefined, ['hash-object', '--stdin'], { input: data }), `${label}: same oid as git hash-object`)
      t.equal(oid, blobOid(data), `${label}: same oid as sha1("blob <n>\\0" + data)`)
      t.equal(
        await b.writeBlob(new Uint8Array(data)),
        oid,
        `${label}: writing again (as a Uint8Array) gives the same oid`,
      )
      const back = await b.readBlob(oid)
      t.ok(Buffer.isBuffer(back), `${label}: readBlob gives a Buffer`)
      t.ok(back.equals(data), `${label}: readBlob returns the same bytes`)
      t.ok(nativeGit(gitdir, ['cat-file', 'blob', oid]).out.equals(data), `${label}: native git reads the same bytes`)
    }
    t.equal(await b.writeBlob(Buffer.alloc(0)), EMPTY_BLOB)
    t.same(fsck(gitdir), { code: 0, output: '' }, 'fsck --strict clean')
  })

  t.test('writeTree sorts like git, nests, and matches native mktree', async (t) => {
    const { b, gitdir } = await open(t)
    const ref = scratch(t)
    const x = await b.writeBlob(Buffer.from('x\n'))
    const y = await b.writeBlob(Buffer.from('y\n'))
    git(ref, ['hash-object', '-w', '--stdin'], { input: 'x\n' })
    git(ref, ['hash-object', '-w', '--stdin'], { input: 'y\n' })

    t.equal(await b.writeTree([]), EMPTY_TREE, 'empty tree')

    const innerEntries: TreeEntry[] = [
      { mode: '100644', type: 'blob', name: 'z', oid: x },
      { mode: '100644', type: 'blob', name: 'y.txt', oid: y },
    ]
    const inner = await b.writeTree(innerEntries)
    t.equal(inner, treeOidInOrder([innerEntries[1]!, innerEntries[0]!]), 'inner tree by hand')
    t.equal(
      inner,
      git(ref, ['mktree'], { input: `100644 blob ${x}\tz\n100644 blob ${y}\ty.txt\n` }),
      'inner tree = native mktree',
    )

    // Unsorted on purpose. Git sorts a tree named "a" as "a/": '-' < '.' < '/' < '0'.
    const outerEntries: TreeEntry[] = [
      { mode: '100644', type: 'blob', name: 'b', oid: y },
      { mode: '040000', type: 'tree', name: 'a', oid: inner },
      { mode: '100644', type: 'blob', name: 'a0', oid: x },
      { mode: '100644', type: 'blob', name: 'a.b', oid: y },
      { mode: '100644', type: 'blob', name: 'a-c', oid: x },
    ]
    const gitOrder = ['a-c', 'a.b', 'a', 'a0', 'b']
    const byName = new Map(outerEntries.map((e) => [e.name, e]))
    const sorted = gitOrder.map((n) => byName.get(n)!)
    const outer = await b.writeTree(outerEntries)
    t.equal(outer, treeOidInOrder(sorted), 'outer tree by hand, in git order')
    const mktreeInput = outerEntries.map((e) => `${e.mode} ${e.type} ${e.oid}\t${e.name}\n`).join('')
    t.equal(outer, git(ref, ['mktree'], { input: mktreeInput }), 'outer tree = native mktree')
    t.equal(await b.writeTree([...outerEntries].reverse()), outer, 'entry order given does not matter')

    t.same(git(gitdir, ['ls-tree', '--name-only', outer]).split('\n'), gitOrder, 'native ls-tree order')
    // The interface does not fix the order readTree returns (system: git's stored order; iso:
    // plain name order), so compare by name; callers that need an order sort (walkBlobs does).
    t.same(
      nameSorted(await b.readTree(outer)),
      nameSorted(outerEntries),
      'readTree returns every entry with mode, type and oid',
    )
    t.same(nameSorted(await b.readTree(inner)), nameSorted(innerEntries), 'readTree of the nested tree')
    t.same(await b.readTree(EMPTY_TREE), [], 'readTree of the empty tree')
    t.same(fsck(gitdir), { code: 0, output: '' }, 'fsck --strict clean (sorted, no zero-padded modes)')
  })

  t.test('writeCommit hashes like git commit-tree; readCommit round-trips', async (t) => {
    const { b, gitdir } = await open(t)
    const ref = scratch(t)
    const blob = await b.writeBlob(Buffer.from('x\n'))
    git(ref, ['hash-object', '-w', '--stdin'], { input: 'x\n' })
    const tree = await b.writeTree([{ mode: '100644', type: 'blob', name: 'f', oid: blob }])
    git(ref, ['mktree'], { input: `100644 blob ${blob}\tf\n` })

    const root: CommitInfo = {
      tree,
      parents: [],
      author: ledgerSig(DEVICE, T),
      committer: { name: 'someone else', email: 'ci@example.com', timestamp: T + 60 },
      message: 'record: +3 records (2026-11-20..2026-11-21)\n',
    }
    const c1 = await b.writeCommit(root)
    t.equal(c1, commitOid(root), 'root commit oid by hand')
    t.equal(c1, nativeCommitTree(ref, root), 'root commit oid = native commit-tree')

    const child: CommitInfo = {
      tree,
      parents: [c1],
      author: ledgerSig(DEVICE, T + 3600),
      committer: ledgerSig(DEVICE, T + 3600),
      message: 'record: +1 records (2026-11-21..2026-11-21)\n\nsecond paragraph\n',
    }
    const c2 = await b.writeCommit(child)
    t.equal(c2, commitOid(child), 'child commit oid by hand')
    t.equal(c2, nativeCommitTree(ref, child), 'child commit oid = native commit-tree')

    const other: CommitInfo = {
      tree,
      parents: [],
      author: ledgerSig(DEVICE2, 0),
      committer: ledgerSig(DEVICE2, 0),
      message: 'epoch\n',
    }
    const r = await b.writeCommit(other)
    t.equal(r, nativeCommitTree(ref, other), 'timestamp 0')
    const merge: CommitInfo = {
      tree,
      parents: [c2, r],
      author: ledgerSig(DEVICE, T + 7200),
      committer: ledgerSig(DEVICE, T + 7200),
      message: 'merge\n',
    }
    const c3 = await b.writeCommit(merge)
    t.equal(c3, commitOid(merge), 'merge commit oid by hand (parent order kept)')
    t.equal(c3, nativeCommitTree(ref, merge), 'merge commit = native commit-tree')

    t.same(await b.readCommit(c1), root, 'readCommit(root)')
    t.same(await b.readCommit(c2), child, 'readCommit(child)')
    t.same(await b.readCommit(c3), merge, 'readCommit(merge) keeps parent order')
    t.same(await b.readCommit(r), other, 'readCommit(epoch)')

    const raw = git(gitdir, ['cat-file', '-p', c3])
    t.match(raw, `parent ${c2}\nparent ${r}\n`, 'native sees both parents in order')
    t.match(raw, `author usage-ledger <${DEVICE}@usage-ledger> ${T + 7200} +0000\n`, 'native sees the author')
    t.equal(
      git(gitdir, ['log', '--format=%an <%ae> %at|%cn <%ce> %ct|%s', '-1', c1]),
      `usage-ledger <${DEVICE}@usage-ledger> ${T}|someone else <ci@example.com> ${T + 60}|record: +3 records (2026-11-20..2026-11-21)`,
      'git log shows author and committer apart',
    )
    t.same(fsck(gitdir), { code: 0, output: '' }, 'fsck --strict clean')
  })

  t.test('the genesis: the same oid as native git and by hand, written twice as once, accepted by fsck', async (t) => {
    const { b, gitdir } = await open(t)
    const ref = scratch(t)
    t.equal(GENESIS_COMMIT.tree, EMPTY_TREE, 'its tree is the empty tree')
    t.equal(commitOid(GENESIS_COMMIT), GENESIS_OID, 'GENESIS_OID is the commit hashed by hand')
    git(ref, ['mktree'], { input: '' })
    t.equal(nativeCommitTree(ref, GENESIS_COMMIT), GENESIS_OID, 'native commit-tree makes the same commit')
    const g = await writeGenesis(b)
    t.equal(g, GENESIS_OID, 'writeGenesis returns GENESIS_OID')
    t.equal(await writeGenesis(b), g, 'writing it again gives the same oid')
    t.same(await b.readTree(EMPTY_TREE), [], 'the empty tree is in the repository')
    t.ok(isGenesis(await b.readCommit(g)), 'reads back as the genesis')
    t.notOk(isGenesis({ tree: EMPTY_TREE, parents: [g] }), 'an empty tree with a parent is not a genesis')
    // A device branch starting there: native git logs it and fsck --strict is clean.
    const tree = await writeFiles(
      b,
      null,
      new Map([[`${deviceDir(DEVICE)}/manifest.json`, await b.writeBlob(Buffer.from('{}\n'))]]),
    )
    const c = await b.writeCommit({
      tree,
      parents: [g],
      author: ledgerSig(DEVICE, T),
      committer: ledgerSig(DEVICE, T),
      message: 'record: +0 records\n',
    })
    await b.updateRef(ledgerRef(DEVICE), c, null)
    t.equal(
      git(gitdir, ['rev-list', '--max-parents=0', ledgerRef(DEVICE)]),
      GENESIS_OID,
      "the branch's root is the genesis",
    )
    t.same(fsck(gitdir), { code: 0, output: '' }, 'git fsck --strict is clean')
  })

  t.test('readRef and updateRef compare-and-swap', async (t) => {
    const { b, gitdir } = await open(t)
    const { c1, c2, c3 } = await history(b)
    const ref = ledgerRef(DEVICE)
    t.equal(await b.readRef(ref), null, 'missing ref is null')

    await b.updateRef(ref, c1, null)
    t.equal(await b.readRef(ref), c1, 'created')
    t.equal(git(gitdir, ['rev-parse', ref]), c1, 'native sees the created ref')

    await rejectsCode(t, b.updateRef(ref, c2, null), 'REF_STALE', 'create refused when the ref exists')
    t.equal(await b.readRef(ref), c1, 'unchanged after the refused create')

    await b.updateRef(ref, c2, c1)
    t.equal(await b.readRef(ref), c2, 'advanced with the right old value')
    t.equal(git(gitdir, ['rev-parse', ref]), c2)

    await rejectsCode(t, b.updateRef(ref, c3, c1), 'REF_STALE', 'stale old value refused')
    t.equal(await b.readRef(ref), c2, 'unchanged after the stale update')
    t.equal(git(gitdir, ['rev-parse', ref]), c2)

    const absent = ledgerRef(DEVICE2)
    await rejectsCode(t, b.updateRef(absent, c1, c2), 'REF_STALE', 'an old value for an absent ref is refused')
    t.equal(await b.readRef(absent), null, 'still absent')

    // Someone else (native git) moves the ref: the backend must see it, not a cached value.
    git(gitdir, ['update-ref', ref, c3, c2])
    t.equal(await b.readRef(ref), c3, 'readRef sees a move made by another process')
    await rejectsCode(
      t,
      b.updateRef(ref, c1, c2),
      'REF_STALE',
      'CAS against the value before the outside move is refused',
    )
    await b.updateRef(ref, c1, c3)
    t.equal(git(gitdir, ['rev-parse', ref]), c1, 'going back is allowed when the old value matches (CAS, not ff)')

    // Packed refs (native gc/fetch pack them) read and update the same way.
    git(gitdir, ['pack-refs', '--all'])
    t.equal(await b.readRef(ref), c1, 'packed ref reads')
    await rejectsCode(t, b.updateRef(ref, c2, c3), 'REF_STALE', 'stale CAS on a packed ref refused')
    await b.updateRef(ref, c2, c1)
    t.equal(await b.readRef(ref), c2, 'packed ref advanced')
    t.equal(git(gitdir, ['rev-parse', ref]), c2, 'native agrees')
    t.same(fsck(gitdir), { code: 0, output: '' }, 'fsck --strict clean')
  })

  t.test('updateRefs moves several refs in one step, or none when one is stale', async (t) => {
    const { b, gitdir } = await open(t)
    const { c1, c2, c3 } = await history(b)
    const [r1, r2, r3] = [ledgerRef(DEVICE), ledgerRef(DEVICE2), 'refs/heads/merged']
    await b.updateRefs([
      { ref: r1, newOid: c1, expectedOld: null },
      { ref: r2, newOid: c2, expectedOld: null },
    ])
    t.same([git(gitdir, ['rev-parse', r1]), git(gitdir, ['rev-parse', r2])], [c1, c2], 'both created')
    await rejectsCode(
      t,
      b.updateRefs([
        { ref: r1, newOid: c2, expectedOld: c1 },
        { ref: r3, newOid: c3, expectedOld: null },
        { ref: r2, newOid: c3, expectedOld: c1 },
      ]),
      'REF_STALE',
      'one stale old value refuses the whole step',
    )
    t.same(
      [await b.readRef(r1), await b.readRef(r2), await b.readRef(r3)],
      [c1, c2, null],
      'and nothing moved, the refs before the stale one included',
    )
    await b.updateRefs([
      { ref: r1, newOid: c3, expectedOld: c1 },
      { ref: r2, newOid: c3, expectedOld: c2 },
      { ref: r3, newOid: c3, expectedOld: null },
    ])
    t.same(
      [r1, r2, r3].map((r) => git(gitdir, ['rev-parse', r])),
      [c3, c3, c3],
      'every ref moved; native git agrees',
    )
    await b.updateRefs([])
    t.same(fsck(gitdir), { code: 0, output: '' }, 'fsck --strict clean')
  })

  t.test('deleteRef compare-and-delete, loose and packed; an absent ref is fine', async (t) => {
    const { b, gitdir } = await open(t)
    const { c1, c2 } = await history(b)
    const ref = ledgerRef(DEVICE),
      other = ledgerRef(DEVICE2)
    await b.updateRef(ref, c2, null)
    await b.updateRef(other, c1, null)
    await rejectsCode(t, b.deleteRef(ref, c1), 'REF_STALE', 'a stale old value is refused')
    t.equal(await b.readRef(ref), c2, 'still there')
    await b.deleteRef(ref, c2)
    t.equal(await b.readRef(ref), null, 'deleted')
    t.notOk(git(gitdir, ['for-each-ref', ref]), 'native does not see it')
    await b.deleteRef(ref, c2)
    t.pass('deleting an absent ref is a no-op')
    git(gitdir, ['pack-refs', '--all'])
    await b.deleteRef(other, c1)
    t.equal(await b.readRef(other), null, 'a packed ref is deleted')
    t.notOk(git(gitdir, ['for-each-ref', other]), 'native agrees')
    t.same(fsck(gitdir), { code: 0, output: '' }, 'fsck --strict clean')
  })

  t.test('listRefs returns only refs under the prefix', async (t) => {
    const { b, gitdir } = await open(t)
    const { c1, c2, c3, r } = await history(b)
    await b.updateRef(ledgerRef(DEVICE), c2, null)
    await b.updateRef(ledgerRef(DEVICE2), r, null)
    await b.updateRef('refs/heads/main', c1, null)
    await b.updateRef('refs/heads/merged', c3, null)
    await b.updateRef('refs/heads/ledger-old', c1, null)
    git(gitdir, ['update-ref', `refs/tags/ledger/${DEVICE}`, c1])

    const want = new Map([
      [ledgerRef(DEVICE), c2],
      [ledgerRef(DEVICE2), r],
    ])
    t.same(new Map(await b.listRefs(LEDGER_REF_PREFIX)), want, 'only refs/heads/ledger/*')
    t.same(
      [...(await b.listRefs('refs/heads/')).keys()].sort(),
      ['refs/heads/ledger-old', ledgerRef(DEVICE), ledgerRef(DEVICE2), 'refs/heads/main', 'refs/heads/merged'].sort(),
      'every head under refs/heads/',
    )
    t.equal((await b.listRefs('refs/heads/nothing/')).size, 0, 'no refs under an absent prefix')

    git(gitdir, ['pack-refs', '--all'])
    t.same(new Map(await b.listRefs(LEDGER_REF_PREFIX)), want, 'same answer once the refs are packed')
    await b.updateRef(ledgerRef(DEVICE), c3, c2)
    t.same(
      new Map(await b.listRefs(LEDGER_REF_PREFIX)),
      new Map([
        [ledgerRef(DEVICE), c3],
        [ledgerRef(DEVICE2), r],
      ]),
      'a loose update overrides the packed value',
    )
  })

  t.test('isAncestor', async (t) => {
    const { b } = await open(t)
    const { c1, c2, c3, r } = await history(b)
    t.equal(await b.isAncestor(c1, c1), true, 'a commit is its own ancestor')
    t.equal(await b.isAncestor(c1, c2), true, 'parent')
    t.equal(await b.isAncestor(c1, c3), true, 'grandparent')
    t.equal(await b.isAncestor(r, c3), true, 'second parent of a merge')
    t.equal(await b.isAncestor(c2, c1), false, 'reverse')
    t.equal(await b.isAncestor(c3, c2), false, 'reverse of a merge')
    t.equal(await b.isAncestor(r, c2), false, 'unrelated')
    t.equal(await b.isAncestor(c1, r), false, 'unrelated, other way')
  })

  t.test('reading a missing object fails with GIT_MISSING_OBJECT, and the backend keeps working', async (t) => {
    const { b } = await open(t)
    const oid = await b.writeBlob(Buffer.from('present\n'))
    await rejectsCode(t, b.readBlob(ABSENT), 'GIT_MISSING_OBJECT', 'readBlob')
    await rejectsCode(t, b.readTree(ABSENT), 'GIT_MISSING_OBJECT', 'readTree')
    await rejectsCode(t, b.readCommit(ABSENT), 'GIT_MISSING_OBJECT', 'readCommit')
    t.equal((await b.readBlob(oid)).toString(), 'present\n', 'a read after the failures still works')
    const results = await Promise.allSettled([b.readBlob(ABSENT), b.readBlob(oid), b.readTree(ABSENT), b.readBlob(oid)])
    t.same(
      results.map((x) => x.status),
      ['rejected', 'fulfilled', 'rejected', 'fulfilled'],
      'interleaved missing and present reads',
    )
    t.equal((results[3] as PromiseFulfilledResult<Buffer>).value.toString(), 'present\n')
    await t.rejects(b.readTree(oid), { name: 'LedgerError' }, 'reading a blob as a tree fails')
  })

  t.test('writeFiles builds the device layout; a second part only adds; native git accepts all of it', async (t) => {
    const { b, gitdir, dir } = await open(t)
    const dev = deviceDir(DEVICE)
    const text = {
      device: `{"id":"${DEVICE}","name":"laptop"}\n`,
      manifest1: '{"records":3}\n',
      manifest2: '{"records":4}\n',
      p21a: '{"v":1,"n":1}\n{"v":1,"n":2}\n',
      p20a: '{"v":1,"n":3}\n',
      p31a: '{"v":1,"n":0}\n',
      p21b: '{"v":1,"n":4}\n',
    }
    const oid: Record<keyof typeof text, string> = {} as never
    for (const k of Object.keys(text) as Array<keyof typeof text>) oid[k] = await b.writeBlob(Buffer.from(text[k]))

    const files1 = new Map([
      [`${dev}/device.json`, oid.device],
      [`${dev}/manifest.json`, oid.manifest1],
      [`${dev}/${dayDir('2026-11-21')}/000001.ndjson`, oid.p21a],
      [`${dev}/${dayDir('2026-11-20')}/000001.ndjson`, oid.p20a],
      [`${dev}/${dayDir('2026-10-31')}/000001.ndjson`, oid.p31a],
    ])
    const root1 = await writeFiles(b, null, files1)
    t.equal(
      `${dev}/2026-11/2026-11-21/000001.ndjson`,
      `devices/${DEVICE}/2026-11/2026-11-21/000001.ndjson`,
      'layout of a part path',
    )

    const lsTree = (tree: string) =>
      new Map(
        git(gitdir, ['ls-tree', '-r', tree])
          .split('\n')
          .map((l) => {
            const [meta, path] = l.split('\t')
            const [mode, type, o] = meta!.split(' ')
            t.equal(`${mode} ${type}`, '100644 blob', `${path} is a plain file`)
            return [path!, o!]
          }),
      )
    t.same(lsTree(root1), files1, 'native ls-tree -r lists exactly the files written')
    t.equal(
      root1,
      nativeTreeOf(gitdir, files1, join(dir, 'index1')),
      'root = what native write-tree makes of the same files',
    )

    t.same(await readEntryAt(b, root1, `${dev}/2026-11/2026-11-20/000001.ndjson`), {
      mode: '100644',
      type: 'blob',
      name: '000001.ndjson',
      oid: oid.p20a,
    })
    t.same(
      (await readTreeAt(b, root1, `${dev}/2026-11`))!.map((e) => `${e.type}:${e.name}`),
      ['tree:2026-11-20', 'tree:2026-11-21'],
    )
    t.same(
      (await readTreeAt(b, root1, ''))!.map((e) => e.name),
      ['devices'],
      'root holds only devices/',
    )
    t.equal(await readTreeAt(b, root1, `${dev}/2026-12`), null, 'absent directory')
    t.equal(await readEntryAt(b, root1, `${dev}/2026-11/2026-11-22/000001.ndjson`), null, 'absent file')
    t.equal(await readTreeAt(b, null, dev), null, 'no root, no tree')

    const files2 = new Map([
      [`${dev}/2026-11/2026-11-21/000002.ndjson`, oid.p21b],
      [`${dev}/manifest.json`, oid.manifest2],
    ])
    const root2 = await writeFiles(b, root1, files2)
    const all2 = new Map([...files1, ...files2])
    t.same(lsTree(root2), all2, 'second write = first files + the new part, manifest rewritten')
    t.equal(root2, nativeTreeOf(gitdir, all2, join(dir, 'index2')), 'root2 = native write-tree')
    const walked1 = []
    for await (const e of walkBlobs(b, root1)) walked1.push(e)
    const walked2 = []
    for await (const e of walkBlobs(b, root2)) walked2.push(e)
    t.same(
      walked2.map((e) => e.path),
      [
        `devices/${DEVICE}/2026-10/2026-10-31/000001.ndjson`,
        `devices/${DEVICE}/2026-11/2026-11-20/000001.ndjson`,
        `devices/${DEVICE}/2026-11/2026-11-21/000001.ndjson`,
        `devices/${DEVICE}/2026-11/2026-11-21/000002.ndjson`,
        `devices/${DEVICE}/device.json`,
        `devices/${DEVICE}/manifest.json`,
      ],
      'walkBlobs: depth first, name order',
    )
    const after = new Map(walked2.map((e) => [e.path, e.oid]))
    for (const e of walked1) {
      if (e.path.endsWith('manifest.json')) continue
      t.equal(after.get(e.path), e.oid, `unchanged: ${e.path}`)
    }
    for (const dir of [`${dev}/2026-10`, `${dev}/2026-11/2026-11-20`]) {
      t.equal(
        (await readEntryAt(b, root2, dir))!.oid,
        (await readEntryAt(b, root1, dir))!.oid,
        `untouched subtree keeps its oid: ${dir}`,
      )
    }
    t.same(
      git(gitdir, ['diff-tree', '-r', '--name-status', root1, root2]).split('\n'),
      [`A\t${dev}/2026-11/2026-11-21/000002.ndjson`, `M\t${dev}/manifest.json`],
      'native diff-tree: one part added, manifest modified, nothing else',
    )

    const msg1 = 'record: +3 records (2026-10-31..2026-11-21)\n'
    const c1 = await b.writeCommit({
      tree: root1,
      parents: [],
      author: ledgerSig(DEVICE, T),
      committer: ledgerSig(DEVICE, T),
      message: msg1,
    })
    await b.updateRef(ledgerRef(DEVICE), c1, null)
    const c2 = await b.writeCommit({
      tree: root2,
      parents: [c1],
      author: ledgerSig(DEVICE, T + 600),
      committer: ledgerSig(DEVICE, T + 600),
      message: 'record: +1 records (2026-11-21..2026-11-21)\n',
    })
    await b.updateRef(ledgerRef(DEVICE), c2, c1)

    t.same(fsck(gitdir), { code: 0, output: '' }, 'fsck --strict clean')
    t.equal(
      git(gitdir, ['log', '--format=%H|%an <%ae>|%cn <%ce>|%at|%s', ledgerRef(DEVICE)]),
      [
        `${c2}|usage-ledger <${DEVICE}@usage-ledger>|usage-ledger <${DEVICE}@usage-ledger>|${T + 600}|record: +1 records (2026-11-21..2026-11-21)`,
        `${c1}|usage-ledger <${DEVICE}@usage-ledger>|usage-ledger <${DEVICE}@usage-ledger>|${T}|record: +3 records (2026-10-31..2026-11-21)`,
      ].join('\n'),
      'git log shows both commits with the ledger identity',
    )
    const raw = git(gitdir, ['cat-file', '-p', c2])
    t.match(
      raw,
      `tree ${root2}\nparent ${c1}\nauthor usage-ledger <${DEVICE}@usage-ledger> ${T + 600} +0000\ncommitter usage-ledger <${DEVICE}@usage-ledger> ${T + 600} +0000\n`,
    )

    const clone = join(dir, 'clone')
    git(undefined, ['clone', '--quiet', '--branch', `ledger/${DEVICE}`, gitdir, clone])
    t.equal(
      nativeGit(undefined, ['-C', clone, 'show', `HEAD:${dev}/2026-11/2026-11-21/000002.ndjson`]).stdout,
      text.p21b,
      'native clone checks out the part',
    )
  })

  // The remote operations, against `git http-backend` over HTTP (with a token) and, for the
  // system backend, a bare repository given by path; native git looks at the remote from disk.
  const TOKEN = 'contract-token'
  const serverRoot = mkdtempSync(join(tmpdir(), 'ul-contract-remotes-'))
  let server: Promise<GitServer> | undefined
  const httpServer = () => (server ??= startGitServer({ root: serverRoot, token: TOKEN }))
  t.teardown(async () => {
    if (server) await (await server).close()
    rmSync(serverRoot, { recursive: true, force: true })
  })
  let remotes = 0
  /** A new empty bare remote: how a backend reaches it, and its directory. */
  const bareRemote = async (kind: 'http' | 'path', under: string): Promise<{ remote: Remote; bare: string }> => {
    const name = `r${++remotes}`
    if (kind === 'http') {
      const s = await httpServer()
      return { bare: s.createBare(name), remote: { url: s.repoUrl(name), token: TOKEN } }
    }
    const bare = join(under, `${name}.git`)
    git(undefined, ['init', '--bare', '--quiet', '--initial-branch=main', bare])
    return { bare, remote: { url: bare } }
  }
  const backendName = make(join(serverRoot, 'probe.git')).name
  const kinds = backendName === 'iso' ? (['http'] as const) : (['http', 'path'] as const)

  t.test('remoteUrl reads a remote URL from the repository config as native git wrote it', async (t) => {
    const { b, gitdir, dir } = await open(t)
    t.equal(await b.remoteUrl('origin'), null, 'none in a fresh repository')
    git(gitdir, ['config', 'remote.origin.url', 'https://example.com/me/ledger.git'])
    git(gitdir, ['config', 'remote.spaces.url', '/srv/a b/ledger.git'])
    git(gitdir, ['config', 'remote.quoted.url', 'https://example.com/a#b;c'])
    t.equal(await b.remoteUrl('origin'), 'https://example.com/me/ledger.git', 'origin')
    t.equal(await b.remoteUrl('spaces'), '/srv/a b/ledger.git', 'inner spaces kept')
    t.equal(await b.remoteUrl('quoted'), 'https://example.com/a#b;c', 'a value git had to quote')
    t.equal(await b.remoteUrl('upstream'), null, 'a remote not configured')
    // A clone with a work tree keeps its config in .git, where --repo finds it.
    const clone = join(dir, 'clone')
    git(undefined, ['clone', '--quiet', gitdir, clone])
    const c = make(join(clone, '.git'))
    t.teardown(() => c.close())
    t.equal(await c.remoteUrl('origin'), gitdir, "a native clone's origin")
  })

  if (backendName === 'iso') {
    t.test('iso refuses a remote that is not HTTP(S): ISO_REMOTE, and nothing is written', async (t) => {
      const { b, dir } = await open(t)
      const { c1 } = await history(b)
      await b.updateRef(ledgerRef(DEVICE), c1, null)
      const { remote, bare } = await bareRemote('path', dir)
      for (const r of [remote, { url: 'ssh://git@example.com/me/ledger.git' }, { url: 'git@example.com:me/l.git' }]) {
        await rejectsCode(t, b.listRemoteRefs(r, 'refs/heads/'), 'ISO_REMOTE', `listRemoteRefs ${r.url}`)
        await rejectsCode(t, b.fetchRefs(r, [ledgerRef(DEVICE)]), 'ISO_REMOTE', `fetchRefs ${r.url}`)
        await rejectsCode(t, b.push(r, ledgerRef(DEVICE)), 'ISO_REMOTE', `push ${r.url}`)
        await rejectsCode(t, b.deleteRemoteRef(r, ledgerRef(DEVICE)), 'ISO_REMOTE', `deleteRemoteRef ${r.url}`)
      }
      t.same(headsOf(bare), new Map(), 'the path remote is untouched')
      t.same([...(await b.listRefs('refs/remotes/'))], [], 'no tracking ref')
    })
  }

  for (const kind of kinds) {
    t.test(`${kind} remote: listRemoteRefs gives the branches under a prefix; an empty remote has none`, async (t) => {
      const { b, gitdir, dir } = await open(t)
      const { remote, bare } = await bareRemote(kind, dir)
      t.same([...(await b.listRemoteRefs(remote, 'refs/heads/'))], [], 'an empty remote')
      const { c1, c2, c3, r } = await history(b)
      seed(gitdir, bare, {
        [ledgerRef(DEVICE)]: c2,
        [ledgerRef(DEVICE2)]: r,
        'refs/heads/main': c1,
        'refs/heads/ledger-old': c3,
        [`refs/tags/ledger/${DEVICE}`]: c1,
      })
      t.same(
        new Map(await b.listRemoteRefs(remote, LEDGER_REF_PREFIX)),
        new Map([
          [ledgerRef(DEVICE), c2],
          [ledgerRef(DEVICE2), r],
        ]),
        'only refs/heads/ledger/*',
      )
      t.same(
        new Map(await b.listRemoteRefs(remote, 'refs/heads/')),
        new Map([
          ['refs/heads/ledger-old', c3],
          [ledgerRef(DEVICE), c2],
          [ledgerRef(DEVICE2), r],
          ['refs/heads/main', c1],
        ]),
        'every branch under refs/heads/, nested ones too, no tag',
      )
      t.equal((await b.listRemoteRefs(remote, 'refs/heads/nothing/')).size, 0, 'nothing under an absent prefix')
      t.same([...(await b.listRefs('refs/'))], [], 'listing writes no ref here')
    })

    t.test(`${kind} remote: fetchRefs brings several branches into refs/remotes/origin/, overwriting`, async (t) => {
      const { b, gitdir, dir } = await open(t)
      const { remote, bare } = await bareRemote(kind, dir)
      const [mine, theirs] = [ledgerRef(DEVICE), ledgerRef(DEVICE2)]
      t.same(await b.fetchRefs(remote, [mine]), new Map(), 'an empty remote: nothing')
      // The commits come from another repository: the fetch must bring their objects.
      const other = make(join(dir, 'other.git'))
      t.teardown(() => other.close())
      await other.init()
      const { c1, c2, r } = await history(other)
      seed(other.gitdir, bare, { 'refs/heads/main': c1, [mine]: c2, [theirs]: r })
      t.same(await b.fetchRefs(remote, []), new Map(), 'nothing asked, nothing fetched')
      t.same(
        await b.fetchRefs(remote, [mine, theirs]),
        new Map([
          [mine, c2],
          [theirs, r],
        ]),
        'two branches in one call, each to its head',
      )
      t.equal(await b.readRef(trackingRef(mine)), c2, `into ${trackingRef(mine)}`)
      t.equal(await b.readRef(trackingRef(theirs)), r, `into ${trackingRef(theirs)}`)
      t.equal(await b.readRef(mine), null, 'the local branch is not touched')
      t.equal((await b.readCommit(c2)).message, 'two\n', 'the objects came along')
      t.equal(await b.isAncestor(c1, c2), true, 'with their history')

      git(bare, ['update-ref', mine, r])
      t.same(await b.fetchRefs(remote, [mine]), new Map([[mine, r]]), 'a rewritten branch is fetched as it is now')
      t.equal(await b.readRef(trackingRef(mine)), r, 'its tracking ref is overwritten, not fast-forwarded')

      git(bare, ['update-ref', '-d', theirs])
      t.same(await b.fetchRefs(remote, [theirs, mine]), new Map([[mine, r]]), 'a branch gone since listing is left out')
      t.same(await b.fetchRefs(remote, [theirs]), new Map(), 'only a gone branch: an empty answer')

      // HEAD names main; without main it names no branch.
      git(bare, ['update-ref', '-d', 'refs/heads/main'])
      git(bare, ['update-ref', mine, c2])
      t.same(await b.fetchRefs(remote, [mine]), new Map([[mine, c2]]), 'a remote without main')
      t.same(fsck(gitdir), { code: 0, output: '' }, 'fsck --strict clean')
    })

    t.test(`${kind} remote: push creates, fast-forwards, and refuses what is not a fast-forward`, async (t) => {
      const { b, dir } = await open(t)
      const { remote, bare } = await bareRemote(kind, dir)
      const { tree, c1, c2, c3, r } = await history(b)
      const ref = ledgerRef(DEVICE)
      await b.updateRef(ref, c1, null)
      await b.push(remote, ref)
      t.same(headsOf(bare), new Map([[ref, c1]]), 'an empty remote gets the branch')
      t.equal(await b.readRef(trackingRef(ref)), c1, 'and the tracking ref follows')
      await b.updateRef(ref, c2, c1)
      await b.push(remote, ref)
      t.same(headsOf(bare), new Map([[ref, c2]]), 'fast-forwarded')
      t.equal(await b.readRef(trackingRef(ref)), c2, 'tracking ref follows')
      await b.push(remote, ref)
      t.same(headsOf(bare), new Map([[ref, c2]]), 'pushing what the remote has changes nothing')
      await b.updateRef(ledgerRef(DEVICE2), r, null)
      await b.push(remote, ledgerRef(DEVICE2))
      t.same(
        headsOf(bare),
        new Map([
          [ref, c2],
          [ledgerRef(DEVICE2), r],
        ]),
        'a second branch the remote lacked is created beside the first',
      )

      await b.updateRef(ref, c1, c2)
      await rejectsCode(t, b.push(remote, ref), 'PUSH_REJECTED', 'a rewound branch is refused')
      t.equal(headsOf(bare).get(ref), c2, 'the remote keeps its commits')
      t.equal(await b.readRef(trackingRef(ref)), c2, 'the tracking ref stays')

      // The remote moved on with a commit this store never saw.
      const elsewhere = nativeCommitTree(bare, {
        tree,
        parents: [c2],
        author: ledgerSig(DEVICE, T + 9),
        committer: ledgerSig(DEVICE, T + 9),
        message: 'elsewhere\n',
      })
      git(bare, ['update-ref', ref, elsewhere])
      await b.updateRef(ref, c3, c1)
      await rejectsCode(t, b.push(remote, ref), 'PUSH_REJECTED', 'a branch that lacks the remote head is refused')
      t.equal(headsOf(bare).get(ref), elsewhere, 'the remote keeps the commit')
      t.equal(await b.readRef(trackingRef(ref)), c2, 'the tracking ref stays')

      await rejectsCode(t, b.push(remote, ledgerRef('ab'.repeat(16))), 'GIT_FAILED', 'a branch this store lacks')
      t.same(fsck(bare), { code: 0, output: '' }, 'the remote is fsck --strict clean')
    })

    t.test(
      `${kind} remote: deleteRemoteRef deletes a branch and its tracking ref; an absent one is fine`,
      async (t) => {
        const { b, gitdir, dir } = await open(t)
        const { remote, bare } = await bareRemote(kind, dir)
        const { c2, r } = await history(b)
        const [mine, theirs] = [ledgerRef(DEVICE), ledgerRef(DEVICE2)]
        seed(gitdir, bare, { [mine]: c2, [theirs]: r })
        await b.fetchRefs(remote, [mine, theirs])
        await b.deleteRemoteRef(remote, mine)
        t.same(headsOf(bare), new Map([[theirs, r]]), 'deleted on the remote, the other branch kept')
        t.equal(await b.readRef(trackingRef(mine)), null, 'its tracking ref is gone')
        t.equal(await b.readRef(trackingRef(theirs)), r, 'the other tracking ref is kept')
        await b.deleteRemoteRef(remote, mine)
        t.same(headsOf(bare), new Map([[theirs, r]]), 'deleting a branch the remote lacks is fine')
        const fresh = make(join(dir, 'fresh.git'))
        t.teardown(() => fresh.close())
        await fresh.init()
        await fresh.deleteRemoteRef(remote, theirs)
        t.same(headsOf(bare), new Map(), 'a repository without that branch or its tracking ref deletes it too')
      },
    )
  }

  if (kinds.includes('path' as never)) {
    t.test('path remote: a path with no repository is REMOTE_NOT_FOUND', async (t) => {
      const { b, dir } = await open(t)
      const { c1 } = await history(b)
      await b.updateRef(ledgerRef(DEVICE), c1, null)
      const remote = { url: join(dir, 'absent.git') }
      await rejectsCode(t, b.listRemoteRefs(remote, 'refs/heads/'), 'REMOTE_NOT_FOUND', 'listRemoteRefs')
      await rejectsCode(t, b.fetchRefs(remote, [ledgerRef(DEVICE)]), 'REMOTE_NOT_FOUND', 'fetchRefs')
      await rejectsCode(t, b.push(remote, ledgerRef(DEVICE)), 'REMOTE_NOT_FOUND', 'push')
      await rejectsCode(t, b.deleteRemoteRef(remote, ledgerRef(DEVICE)), 'REMOTE_NOT_FOUND', 'deleteRemoteRef')
    })
  }

  t.test('http remote failures: refused credentials (401), no such repository (404), nobody listening', async (t) => {
    const { b, dir } = await open(t)
    const { remote, bare } = await bareRemote('http', dir)
    const { c1 } = await history(b)
    const ref = ledgerRef(DEVICE)
    await b.updateRef(ref, c1, null)
    const absent = { ...remote, url: remote.url.replace(/[^/]+\.git$/, 'absent.git') }
    const cases: Array<[string, Remote, string]> = [
      ['no token', { url: remote.url }, 'AUTH_FAILED'],
      ['a wrong token', { url: remote.url, token: 'wrong' }, 'AUTH_FAILED'],
      ['no such repository', absent, 'REMOTE_NOT_FOUND'],
      ['nobody listening', { url: `http://127.0.0.1:${await closedPort()}/r.git`, token: TOKEN }, 'REMOTE_UNREACHABLE'],
    ]
    for (const [why, r, code] of cases) {
      await rejectsCode(t, b.listRemoteRefs(r, 'refs/heads/'), code, `listRemoteRefs: ${why}`)
      await rejectsCode(t, b.fetchRefs(r, [ref]), code, `fetchRefs: ${why}`)
      await rejectsCode(t, b.push(r, ref), code, `push: ${why}`)
      await rejectsCode(t, b.deleteRemoteRef(r, ref), code, `deleteRemoteRef: ${why}`)
    }
    t.same(headsOf(bare), new Map(), 'nothing reached the repository')
    t.equal(await b.readRef(trackingRef(ref)), null, 'no tracking ref')
  })

  t.test(
    'maintain: nothing within git gc --auto limits; past them the system backend packs in the background, keeping every object and ref',
    async (t) => {
      const { b, gitdir } = await open(t)
      const { c3 } = await history(b)
      await b.updateRef(ledgerRef(DEVICE), c3, null)
      t.equal(await b.maintain(), false, 'a few loose objects: nothing to do')

      // git estimates the loose objects from objects/17 alone: blobs whose oids start with 17,
      // more than gc.auto / 256 of them, reachable from a branch.
      const entries: TreeEntry[] = []
      for (let i = 0; entries.length < 40; i++) {
        const data = Buffer.from(`loose ${i}\n`)
        if (blobOid(data).startsWith('17'))
          entries.push({ mode: '100644', type: 'blob', name: `b${i}`, oid: await b.writeBlob(data) })
      }
      const tree = await b.writeTree(entries)
      const sig = ledgerSig(DEVICE2, T)
      const many = await b.writeCommit({ tree, parents: [c3], author: sig, committer: sig, message: 'many\n' })
      await b.updateRef(ledgerRef(DEVICE2), many, null)
      const loose17 = () =>
        existsSync(join(gitdir, 'objects', '17')) ? readdirSync(join(gitdir, 'objects', '17')).length : 0
      const before = loose17()
      t.ok(before > 6700 / 256, `${before} loose objects in objects/17`)

      const started = await b.maintain()
      t.equal(started, b.name === 'system', b.name === 'system' ? 'git gc --auto started' : 'iso has no housekeeping')
      if (started) {
        // It runs on its own; wait (bounded) for it to finish.
        for (let i = 0; i < 600 && (loose17() > 0 || existsSync(join(gitdir, 'gc.pid'))); i++)
          await new Promise((r) => setTimeout(r, 100))
        t.equal(loose17(), 0, 'the loose objects are packed')
        t.ok(
          readdirSync(join(gitdir, 'objects', 'pack')).some((f) => f.endsWith('.pack')),
          'into a pack',
        )
      } else t.equal(loose17(), before, 'left as they were')
      t.same(fsck(gitdir), { code: 0, output: '' }, 'native fsck --strict: clean')
      t.ok(
        existsSync(join(gitdir, ledgerRef(DEVICE))) && existsSync(join(gitdir, ledgerRef(DEVICE2))),
        'refs are still loose files',
      )
      t.equal(await b.readRef(ledgerRef(DEVICE)), c3)
      t.equal(await b.readRef(ledgerRef(DEVICE2)), many)
      t.same((await b.readCommit(many)).tree, tree, 'the commit reads back')
      t.same(await b.readTree(tree), nameSorted(entries), 'so does its tree')
      let same = 0
      for (const e of entries) if ((await b.readBlob(e.oid)).toString() === `loose ${e.name.slice(1)}\n`) same++
      t.equal(same, entries.length, 'and every blob')
      t.equal(await b.maintain(), false, 'packed: nothing to do again')
    },
  )
}
