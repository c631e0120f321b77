import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { dayEnd, readLiveCache } from '../../../lib/app/query/live.js'
import { cli, isolatedEnv } from '../../helpers/cli.js'
import { machine } from '../../helpers/machine.js'
import { run } from '../../helpers/spawn.js'

const line = (ts: string, input: number) => `${JSON.stringify({ ts, model: 'claude-haiku-4-5', input })}\n`
const record = (env: Record<string, string | undefined>, text: string) =>
  cli(['record', '--stdin', '--source', 'x', '--json'], { env, input: text })
const liveOf = (store: string) => path.join(store, 'state/live.json')

t.test("dayEnd: the first instant of the next local day, in the status' zone", async (t) => {
  t.equal(dayEnd(Date.parse('2026-11-22T12:00:00Z'), 'UTC'), '2026-11-23T00:00:00.000Z')
  t.equal(dayEnd(Date.parse('2026-11-22T12:00:00Z'), 'Europe/Berlin'), '2026-11-22T23:00:00.000Z')
  t.equal(dayEnd(Date.parse('2026-11-22T12:00:00Z'), 'Asia/Kolkata'), '2026-11-22T18:30:00.000Z', 'a half-hour zone')
  t.equal(dayEnd(Date.parse('2026-11-22T20:00:00Z'), 'Asia/Kolkata'), '2026-11-23T18:30:00.000Z', 'past its midnight')
  t.equal(dayEnd(Date.parse('2026-03-29T10:00:00Z'), 'Europe/Berlin'), '2026-03-29T22:00:00.000Z', 'a 23-hour day')
})

t.test('record keeps the cache current only while a statusline uses it', async (t) => {
  const dir = t.testdir()
  const env = isolatedEnv(dir, { USAGE_LEDGER_DEVICE_ID: 'a'.repeat(32) })
  const store = env.USAGE_LEDGER_HOME!
  t.equal(JSON.parse((await record(env, line('2026-11-22T10:00:00Z', 1000))).stdout).appended, 1)
  t.notOk(fs.existsSync(liveOf(store)), 'plain record writes no cache')
  t.equal((await cli(['statusline', '--refresh'], { env })).code, 0)
  const before = readLiveCache(store)
  t.match(before, { v: 1, at: '2026-11-22T12:00:00.000Z', status: { today: { records: 1, totalTokens: 1000 } } })
  const later = { ...env, USAGE_LEDGER_NOW: '2026-11-22T12:05:00.000Z' }
  t.equal(JSON.parse((await record(later, line('2026-11-22T12:01:00Z', 500))).stdout).appended, 1)
  t.match(
    readLiveCache(store),
    {
      at: '2026-11-22T12:05:00.000Z',
      status: { today: { records: 2, totalTokens: 1500 }, block: { totalTokens: 1500 } },
    },
    'a record that committed rewrote it',
  )
  const text = fs.readFileSync(liveOf(store), 'utf8')
  const none = await record({ ...env, USAGE_LEDGER_NOW: '2026-11-22T12:09:00.000Z' }, line('2026-11-22T12:01:00Z', 500))
  t.equal(JSON.parse(none.stdout).appended, 0)
  t.equal(fs.readFileSync(liveOf(store), 'utf8'), text, 'one that committed nothing left it')
  fs.writeFileSync(liveOf(store), JSON.stringify({ v: 2, at: 'x' }))
  t.equal(readLiveCache(store), null, 'a newer cache reads as none')
})

t.test('fetch rewrites the cache when another device moved', async (t) => {
  const root = t.testdir()
  const remote = path.join(root, 'remote.git')
  t.equal((await run('git', ['init', '--bare', '--quiet', remote])).code, 0)
  const a = machine(root, 'a', { id: 'a'.repeat(32) })
  const b = machine(root, 'b', { id: 'b'.repeat(32) })
  for (const m of [a, b]) {
    const r = await cli(['init', '--remote', remote, '--name', m.name], { env: m.env })
    t.equal(r.code, 0, r.stderr)
  }
  t.equal((await cli(['statusline', '--refresh'], { env: b.env })).code, 0)
  t.same(readLiveCache(b.store)?.status.today.records, 0)
  t.equal(JSON.parse((await record(a.env, line('2026-11-22T11:00:00Z', 2000))).stdout).pushed, true)
  t.notOk(fs.existsSync(liveOf(a.store)), "a's record writes no cache: no statusline there")
  const fetched = await cli(['fetch'], { env: { ...b.env, USAGE_LEDGER_NOW: '2026-11-22T12:01:00.000Z' } })
  t.equal(fetched.code, 0, fetched.stderr)
  const cache = readLiveCache(b.store)
  t.match(cache, { at: '2026-11-22T12:01:00.000Z', status: { today: { records: 1, totalTokens: 2000 } } })
  t.match(
    cache?.status.devices.find((d) => d.id === a.env.USAGE_LEDGER_DEVICE_ID),
    { name: 'a', today: { totalTokens: 2000 }, thisDevice: false },
    "b's statusline now sees a",
  )
  const text = fs.readFileSync(liveOf(b.store), 'utf8')
  t.equal((await cli(['fetch'], { env: { ...b.env, USAGE_LEDGER_NOW: '2026-11-22T12:02:00.000Z' } })).code, 0)
  t.equal(fs.readFileSync(liveOf(b.store), 'utf8'), text, 'a fetch that moved nothing left it')
})
