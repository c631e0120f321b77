import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { makeReading } from '../../lib/ledger/limits.js'
import { limitsSpoolDir, spooledReadings, spoolReadings, takeSpooledReadings } from '../../lib/store/limits-spool.js'

const reading = (ts: string, used: number) =>
  makeReading({ ts, source: 'claude-code', account: 'unknown', minutes: 300, usedPercent: used })!

t.test('append, take, done; readings appended while a run holds the taken file wait for the next run', async (t) => {
  const state = t.testdir()
  t.same(takeSpooledReadings(state).readings, [], 'no spool: nothing')
  spoolReadings(state, [reading('2026-11-22T10:00:00.000Z', 1)])
  spoolReadings(state, [reading('2026-11-22T10:01:00.000Z', 2)])
  t.equal(spooledReadings(state).length, 2)
  const run = takeSpooledReadings(state)
  t.same(
    run.readings.map((r) => r.usedPercent),
    [1, 2],
  )
  spoolReadings(state, [reading('2026-11-22T10:02:00.000Z', 3)])
  run.done()
  t.same(
    spooledReadings(state).map((r) => r.usedPercent),
    [3],
    'the reading spooled during the run is kept',
  )
})

t.test('a taken file a killed run left is taken again; a torn last line is skipped', async (t) => {
  const state = t.testdir()
  spoolReadings(state, [reading('2026-11-22T10:00:00.000Z', 1)])
  const killed = takeSpooledReadings(state) // never done(): the run was killed
  t.equal(killed.readings.length, 1)
  fs.appendFileSync(path.join(limitsSpoolDir(state), 'spool.ndjson'), '{"v":1,"id":"tor')
  const next = takeSpooledReadings(state)
  t.same(
    next.readings.map((r) => r.usedPercent),
    [1],
    "the killed run's reading is still there; the torn line is no reading",
  )
  next.done()
  t.same(fs.readdirSync(limitsSpoolDir(state)), [], 'done removes every file it took')
})
