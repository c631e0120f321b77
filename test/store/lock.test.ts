import t from 'tap'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { StoreLock } from '../../lib/store/lock.js'
import { LedgerError } from '../../lib/errors.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

t.test('acquire and release', async (t) => {
  const file = path.join(t.testdir({}), 'state', 'lock')
  const lock = await StoreLock.acquire(file, { waitMs: 0 })
  t.ok(fs.existsSync(file), 'lock file created (with its directory)')
  const info = JSON.parse(fs.readFileSync(file, 'utf8'))
  t.equal(info.pid, process.pid)
  t.equal(info.host, os.hostname())
  t.ok(Number.isFinite(Date.parse(info.startedAt)), 'startedAt is a date')
  t.equal(fs.statSync(file).mode & 0o777, 0o600, 'mode 0600')
  lock.release()
  t.notOk(fs.existsSync(file), 'released')
  const again = await StoreLock.acquire(file, { waitMs: 0 })
  t.ok(fs.existsSync(file), 'acquired again')
  again.release()
  t.notOk(fs.existsSync(file))
})

t.test('a second acquirer waits, then times out with LOCKED', async (t) => {
  const file = path.join(t.testdir({}), 'lock')
  const first = await StoreLock.acquire(file)
  const started = Date.now()
  let err: unknown
  try {
    await StoreLock.acquire(file, { waitMs: 150 })
  } catch (e) {
    err = e
  }
  const waited = Date.now() - started
  t.ok(err instanceof LedgerError, 'rejects with a LedgerError')
  t.equal((err as LedgerError).code, 'LOCKED')
  t.equal((err as LedgerError).kind, 'operational')
  t.match((err as LedgerError).message, new RegExp(`pid ${process.pid} on `))
  t.match((err as LedgerError).message, file)
  // At least the bound; that it gives up at all is the rejection above (no upper bound: a timing, which load moves).
  t.ok(waited >= 150, `waited for the bound (${waited} ms)`)
  t.ok(fs.existsSync(file), 'the holder keeps its lock')
  t.equal(JSON.parse(fs.readFileSync(file, 'utf8')).pid, process.pid)
  first.release()
})

t.test('a waiter gets the lock once it is released', async (t) => {
  const file = path.join(t.testdir({}), 'lock')
  const first = await StoreLock.acquire(file)
  let got = false
  const second = StoreLock.acquire(file, { waitMs: 5000 }).then((l) => {
    got = true
    return l
  })
  await sleep(80)
  t.notOk(got, 'still waiting while held')
  first.release()
  const l2 = await second
  t.ok(got)
  t.ok(fs.existsSync(file))
  l2.release()
  t.notOk(fs.existsSync(file))
})

t.test(
  'a lock left by a dead pid on this host is taken over',
  { skip: alive(999999) && 'pid 999999 exists here' },
  async (t) => {
    const pid = 999999
    const file = path.join(t.testdir({}), 'lock')
    fs.writeFileSync(file, JSON.stringify({ pid, host: os.hostname(), startedAt: new Date().toISOString() }))
    const lock = await StoreLock.acquire(file, { waitMs: 0 })
    t.equal(JSON.parse(fs.readFileSync(file, 'utf8')).pid, process.pid, 'now ours')
    t.notOk(fs.existsSync(`${file}.takeover`), 'takeover guard removed')
    lock.release()
  },
)

t.test('a dead pid on another host is not judged by pid', async (t) => {
  const file = path.join(t.testdir({}), 'lock')
  fs.writeFileSync(file, JSON.stringify({ pid: 999999, host: 'some-other-host', startedAt: new Date().toISOString() }))
  await t.rejects(StoreLock.acquire(file, { waitMs: 50 }), { code: 'LOCKED', message: /pid 999999 on some-other-host/ })
  // ...unless it is older than staleAfterMs.
  const lock = await StoreLock.acquire(file, { waitMs: 0, staleAfterMs: 1000, now: () => Date.now() + 2000 })
  t.equal(JSON.parse(fs.readFileSync(file, 'utf8')).pid, process.pid)
  lock.release()
})

t.test('a garbage lock file', async (t) => {
  const file = path.join(t.testdir({}), 'lock')
  fs.writeFileSync(file, 'garbage\0')
  await t.rejects(
    StoreLock.acquire(file, { waitMs: 50 }),
    { code: 'LOCKED', message: /another process/ },
    'a fresh one may be half-written: waited for',
  )
  t.equal(fs.readFileSync(file, 'utf8'), 'garbage\0', 'left alone')
  const old = (Date.now() - 10_000) / 1000
  fs.utimesSync(file, old, old)
  const lock = await StoreLock.acquire(file, { waitMs: 0 })
  t.equal(JSON.parse(fs.readFileSync(file, 'utf8')).pid, process.pid, 'older than 5 s: taken over')
  lock.release()
})

t.test('release leaves a lock that is not ours', async (t) => {
  const file = path.join(t.testdir({}), 'lock')
  const lock = await StoreLock.acquire(file)
  const other = JSON.stringify({ pid: 1, host: 'elsewhere', startedAt: new Date().toISOString() })
  fs.writeFileSync(file, other)
  lock.release()
  t.equal(fs.readFileSync(file, 'utf8'), other, 'not removed')
})

t.test("a second release does not remove a later holder's lock", async (t) => {
  const file = path.join(t.testdir({}), 'lock')
  const now = () => Date.parse('2026-11-21T10:00:00.000Z')
  const a = await StoreLock.acquire(file, { now })
  a.release()
  const b = await StoreLock.acquire(file, { now })
  a.release() // a stale handle released twice
  t.ok(fs.existsSync(file), 'b still holds the lock')
  b.release()
})

t.test('8 concurrent acquirers in one process never overlap', async (t) => {
  const dir = t.testdir({})
  const file = path.join(dir, 'lock')
  const counter = path.join(dir, 'counter')
  fs.writeFileSync(counter, '0')
  let inside = 0,
    maxInside = 0
  const order: number[] = []
  await Promise.all(
    Array.from({ length: 8 }, async (_, i) => {
      await sleep(i % 3)
      const lock = await StoreLock.acquire(file, { waitMs: 20_000 })
      try {
        inside++
        maxInside = Math.max(maxInside, inside)
        const n = Number(fs.readFileSync(counter, 'utf8'))
        await sleep(5)
        await new Promise((r) => setImmediate(r))
        fs.writeFileSync(counter, String(n + 1))
        await sleep(2)
        order.push(i)
        inside--
      } finally {
        lock.release()
      }
    }),
  )
  t.equal(fs.readFileSync(counter, 'utf8'), '8', 'no lost update')
  t.equal(maxInside, 1, 'never two holders at once')
  t.same([...order].sort(), [0, 1, 2, 3, 4, 5, 6, 7])
  t.notOk(fs.existsSync(file), 'all released')
})

t.test(
  'a holder killed and never reaped (a zombie) holds nothing',
  { skip: process.platform !== 'linux' && 'needs /proc' },
  async (t) => {
    const file = path.join(t.testdir({}), 'lock')
    // sh starts a child that ends at once, then becomes `sleep`, which never reaps it.
    const { start } = await import('../helpers/spawn.js')
    const parent = start('sh', ['-c', 'sleep 0 & echo $!; exec sleep 30'])
    const pid = await new Promise<number>((resolve) =>
      parent.child.stdout!.once('data', (b: Buffer) => resolve(Number(String(b).trim()))),
    )
    try {
      for (let i = 0; i < 600 && !/^\d+ \(.*\) Z /s.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8')); i++)
        await sleep(10)
      t.ok(alive(pid), 'signal 0 still reaches it')
      fs.writeFileSync(
        file,
        JSON.stringify({ pid, host: os.hostname(), startedAt: new Date().toISOString(), nonce: 'x' }),
      )
      const lock = await StoreLock.acquire(file, { waitMs: 0 })
      t.equal(JSON.parse(fs.readFileSync(file, 'utf8')).pid, process.pid, 'its lock is taken over at once')
      lock.release()
    } finally {
      parent.child.kill('SIGKILL')
      await parent.done
    }
  },
)
