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
