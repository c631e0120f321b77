import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { recordUsage } from '../../lib/app/record.js'
import { Store } from '../../lib/store/store.js'
import { fakeEnv } from '../helpers/env.js'

const LINE =
  '{"v":1,"ts":"2026-11-21T10:15:03.123Z","source":"mytool","model":"m-1","input":1234,"output":567,"cacheWrite":2048,"cacheRead":120000}\n'
const ID = 'a1'.repeat(16)
const run = { sources: [] as string[], stdin: false, push: true, dryRun: false }

t.test('the record use case returns what it did and writes nothing to the output streams', async (t) => {
  const home = t.testdir()
  const env = fakeEnv({ USAGE_LEDGER_DEVICE_ID: ID }, { stdin: LINE })
  const open = () => Store.open(env, { home, git: 'iso' })
  const store = open()
  try {
    const r = await recordUsage(store, { ...run, sources: ['mytool'], stdin: true })
    t.notOk(r.skipped)
    if (r.skipped) return
    t.match(r.summary, { device: ID, appended: 1, days: [{ day: '2026-11-21', records: 1, part: 1 }], push: undefined })
    t.match(r.summary.commit, /^[0-9a-f]{40}$/)
    t.same(r.dryRunLines, [])
  } finally {
    await store.close()
  }

  // A full run starts config record.minInterval; the next one within it is skipped.
  const config = path.join(home, 'config.json')
  fs.writeFileSync(
    config,
    JSON.stringify({ ...JSON.parse(fs.readFileSync(config, 'utf8')), record: { minInterval: 60 } }),
  )
  const full = async () => {
    const s = open()
    try {
      return await recordUsage(s, run)
    } finally {
      await s.close()
    }
  }
  t.equal((await full()).skipped, undefined, 'the first full run runs')
  t.match((await full()).skipped, { lastRunAt: '2026-11-22T12:00:00.000Z', minInterval: 60 }, 'the next is skipped')
  t.same([env.out(), env.err()], ['', ''])
})

t.test('record starts the store maintenance past git gc --auto limits; records beside it all land', async (t) => {
  const home = t.testdir()
  const { existsSync, readdirSync } = fs
  const { blobOid, fsck } = await import('../git/native.js')
  const { verifyStore } = await import('../../lib/app/query/verify.js')
  const line = (i: number) =>
    `{"v":1,"ts":"2026-11-22T${String(8 + (i % 3)).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}:00.000Z","source":"mytool","model":"m-1","input":${i + 1},"output":2,"cacheWrite":0,"cacheRead":0}\n`
  const record = async (text: string) => {
    const store = Store.open(fakeEnv({ USAGE_LEDGER_DEVICE_ID: ID }, { stdin: text }), { home, git: 'system' })
    try {
      const r = await recordUsage(store, { ...run, sources: ['mytool'], stdin: true })
      if (r.skipped) throw new Error('skipped')
      return r.summary
    } finally {
      await store.close()
    }
  }
  t.match(await record(line(0)), { appended: 1 })
  const gitdir = path.join(home, 'repo.git')
  const loose17 = () =>
    existsSync(path.join(gitdir, 'objects', '17')) ? readdirSync(path.join(gitdir, 'objects', '17')).length : 0
  t.equal(loose17() <= 27, true, 'one commit is far from the limit')

  // git estimates the loose objects from objects/17: blobs whose oids start with 17, more than
  // gc.auto / 256 of them, reachable from a ref.
  const store = Store.open(fakeEnv({ USAGE_LEDGER_DEVICE_ID: ID }), { home, git: 'system' })
  const git = await store.git()
  const entries = []
  for (let i = 0; entries.length < 40; i++) {
    const data = Buffer.from(`loose ${i}\n`)
    if (blobOid(data).startsWith('17'))
      entries.push({ mode: '100644' as const, type: 'blob' as const, name: `b${i}`, oid: await git.writeBlob(data) })
  }
  const sig = { name: 't', email: 't@t', timestamp: 1 }
  const junk = await git.writeCommit({
    tree: await git.writeTree(entries),
    parents: [],
    author: sig,
    committer: sig,
    message: 'x\n',
  })
  await git.updateRef('refs/test/junk', junk, null)
  await store.close()
  t.ok(loose17() > 27, 'past the limit')

  // This commit starts gc in the background; the next ones commit beside it, under the store lock.
  for (let i = 1; i <= 8; i++) t.match(await record(line(i)), { appended: 1 }, `record ${i} commits`)
  for (let i = 0; i < 600 && (loose17() > 27 || existsSync(path.join(gitdir, 'gc.pid'))); i++)
    await new Promise((r) => setTimeout(r, 100))
  t.ok(
    readdirSync(path.join(gitdir, 'objects', 'pack')).some((f) => f.endsWith('.pack')),
    'gc packed the store',
  )
  // Objects written beside the repack may stay loose until the next one.
  t.ok(loose17() <= 27, 'under the limit again')
  t.same(fsck(gitdir), { code: 0, output: '' }, 'fsck --strict: clean')
  const check = Store.open(fakeEnv({ USAGE_LEDGER_DEVICE_ID: ID }), { home, git: 'system' })
  try {
    const v = await verifyStore(check, { device: [], full: true, fingerprints: false, clone: false })
    t.same(v.findings, [], 'verify --full: no findings')
    t.match(v.devices, [{ id: ID, records: 9 }], 'every record is there')
  } finally {
    await check.close()
  }
})

t.test('a commit left pending is still pending, and pushed, after git gc packed the refs', async (t) => {
  const dir = t.testdir()
  const home = path.join(dir, 'home')
  const remote = path.join(dir, 'remote.git')
  const { git } = await import('../git/native.js')
  const { initStore } = await import('../../lib/app/sync/init.js')
  git(undefined, ['init', '--bare', '--quiet', remote])
  const vars = { USAGE_LEDGER_DEVICE_ID: ID }
  await initStore(fakeEnv(vars), { home, git: 'system' }, { remote })
  const record = async (text: string) => {
    const store = Store.open(fakeEnv(vars, { stdin: text }), { home, git: 'system' })
    try {
      const r = await recordUsage(store, { ...run, sources: ['mytool'], stdin: true })
      if (r.skipped) throw new Error('skipped')
      return { summary: r.summary, pending: store.hasPending() }
    } finally {
      await store.close()
    }
  }
  // Offline: the remote is away, the commit stays pending.
  fs.renameSync(remote, `${remote}.away`)
  const offline = await record(LINE)
  t.match(offline, { summary: { appended: 1, push: { pushed: false } }, pending: true })
  fs.renameSync(`${remote}.away`, remote)
  // A `git gc` (the user's, or the one `git fetch` starts) moves the refs into packed-refs.
  const gitdir = path.join(home, 'repo.git')
  git(gitdir, ['pack-refs', '--all', '--prune'])
  t.notOk(fs.existsSync(path.join(gitdir, 'refs', 'heads', 'ledger', ID)), 'the branch is only in packed-refs')
  const store = Store.open(fakeEnv(vars), { home, git: 'system' })
  t.equal(store.hasPending(), true, 'still pending')
  await store.close()
  // The next run, with nothing new, delivers it.
  const next = await record(LINE)
  t.match(next, { summary: { appended: 0, push: { pushed: true } }, pending: false })
  t.equal(git(remote, ['rev-parse', `refs/heads/ledger/${ID}`]), offline.summary.commit, 'the remote has the commit')
})
