import t from 'tap'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {
  holdRefreshLock,
  REFRESH_STALE_MS,
  refreshHolder,
  refreshLockFile,
  releaseRefreshLock,
  takeRefreshLock,
} from '../../lib/store/refresh-lock.js'
import { run } from '../helpers/spawn.js'

const write = (state: string, holder: object) => fs.writeFileSync(refreshLockFile(state), JSON.stringify(holder))

t.test('taken once: a second taker gets nothing until the holder is gone', async (t) => {
  const state = path.join(t.testdir(), 'state')
  const a = takeRefreshLock(state)
  t.ok(a, 'the first takes it (state/ made)')
  t.equal(takeRefreshLock(state), null, 'not while it is being written (empty)')
  a!.hold(process.pid)
  t.equal(takeRefreshLock(state), null, 'nor while its holder lives')
  t.match(refreshHolder(state), { v: 1, pid: process.pid, host: os.hostname() })
  t.ok(holdRefreshLock(state), 'the holder itself holds it')
  releaseRefreshLock(state)
  t.notOk(fs.existsSync(refreshLockFile(state)), 'released by its holder')
  const b = takeRefreshLock(state)
  t.ok(b)
  b!.drop()
  t.notOk(fs.existsSync(refreshLockFile(state)), 'dropped (a spawn that failed)')
})

t.test('stale: a dead holder, an old one, or one left empty', async (t) => {
  const state = path.join(t.testdir(), 'state')
  fs.mkdirSync(state)
  const dead = await run(process.execPath, ['-e', 'console.log(process.pid)'])
  const pid = Number(dead.stdout.trim())
  write(state, { v: 1, pid, host: os.hostname(), startedAt: new Date().toISOString() })
  t.equal(refreshHolder(state), null, 'a holder whose process ended')
  const taken = takeRefreshLock(state)
  t.ok(taken, 'is taken over')
  taken!.hold(process.pid)
  t.notOk(holdRefreshLock(path.join(state, 'other')) === false, 'another store is another lock')
  write(state, {
    v: 1,
    pid: process.pid,
    host: os.hostname(),
    startedAt: new Date(Date.now() - REFRESH_STALE_MS - 1000).toISOString(),
  })
  t.ok(takeRefreshLock(state), 'a living holder older than the limit is taken over')
  fs.writeFileSync(refreshLockFile(state), '')
  t.equal(takeRefreshLock(state), null, 'an empty lock is being written')
  const old = (Date.now() - 60_000) / 1000
  fs.utimesSync(refreshLockFile(state), old, old)
  t.ok(takeRefreshLock(state), 'unless it stayed empty')
  write(state, { v: 1, pid: 1, host: 'another-host', startedAt: new Date().toISOString() })
  t.equal(takeRefreshLock(state), null, "another host's recent holder is not second-guessed")
  releaseRefreshLock(state)
  t.ok(fs.existsSync(refreshLockFile(state)), 'and not released by this process')
})
