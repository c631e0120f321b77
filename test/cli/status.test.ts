import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { cli, copyFixtures, isolatedEnv } from '../helpers/cli.js'

t.test('status: the current 5-hour block and week over all devices, limits as percentages', async (t) => {
  const dir = t.testdir()
  const env = isolatedEnv(dir, { USAGE_LEDGER_DEVICE_ID: 'f'.repeat(32) }) // the clock: 2026-11-22T12:00Z
  const lines = [
    ['2026-11-22T09:30:00Z', 1000],
    ['2026-11-22T10:00:00Z', 3000],
    ['2026-11-21T08:00:00Z', 500],
    ['2026-11-15T08:00:00Z', 7],
  ].map(([ts, input]) => JSON.stringify({ ts, model: 'claude-haiku-4-5', input }))
  t.equal((await cli(['record', '--stdin', '--source', 'x'], { env, input: `${lines.join('\n')}\n` })).code, 0)
  fs.writeFileSync(
    path.join(dir, 'store/config.json'),
    JSON.stringify({ v: 1, timezone: 'UTC', limits: { block: { tokens: 8000 }, week: { costUSD: 0.01 } } }),
  )
  const r = await cli(['status', '--json'], { env })
  t.equal(r.code, 0, r.stderr)
  const s = JSON.parse(r.stdout)
  t.equal(s.schema, 'usage-ledger/status@1')
  t.match(s.block, {
    start: '2026-11-22T09:00:00.000Z',
    end: '2026-11-22T14:00:00.000Z',
    records: 2,
    totalTokens: 4000,
    percent: { tokens: 50, costUSD: null },
  })
  t.match(s.week, { week: '2026-W47', records: 3, totalTokens: 4500 })
  t.equal(s.week.percent.costUSD, 45, '$0.0045 of $0.01 (haiku input at $1/M)')
  const text = await cli(['status'], { env })
  t.match(text.stdout, /5h block 2026-11-22 09:00–14:00 UTC: 4,000 tokens, \$0\.00 \(50% of the token limit\)/)
  const later = await cli(['status', '--json'], { env: { ...env, USAGE_LEDGER_NOW: '2026-11-22T14:00:00Z' } })
  t.equal(JSON.parse(later.stdout).block.start, null, 'the block ended at 14:00')
  t.match(
    (await cli(['status'], { env: { ...env, USAGE_LEDGER_NOW: '2026-11-22T14:00:00Z' } })).stdout,
    /5h block no active block\n/,
  )
})

t.test('status shows the block that contains now, never simply the latest one; with date and zone', async (t) => {
  const dir = t.testdir()
  const env = isolatedEnv(dir, { USAGE_LEDGER_DEVICE_ID: 'f'.repeat(32) }) // the clock: 2026-11-22T12:00Z
  // A record of another machine whose clock runs ahead (within the 24 hours accepted) opens a later block.
  const lines = [
    ['2026-11-22T10:30:00Z', 1000],
    ['2026-11-22T11:10:00Z', 2000],
    ['2026-11-23T09:00:00Z', 50000],
  ].map(([ts, input]) => JSON.stringify({ ts, model: 'claude-haiku-4-5', input }))
  t.equal((await cli(['record', '--stdin', '--source', 'x'], { env, input: `${lines.join('\n')}\n` })).code, 0)
  fs.writeFileSync(path.join(dir, 'store/config.json'), JSON.stringify({ v: 1, timezone: 'Europe/Berlin' }))
  const s = JSON.parse((await cli(['status', '--json'], { env })).stdout)
  t.match(
    s.block,
    { start: '2026-11-22T10:00:00.000Z', end: '2026-11-22T15:00:00.000Z', records: 2, totalTokens: 3000 },
    'the block containing now, not the later one',
  )
  t.match((await cli(['status'], { env })).stdout, /5h block 2026-11-22 11:00–16:00 Europe\/Berlin: 3,000 tokens/)
  const gap = { ...env, USAGE_LEDGER_NOW: '2026-11-22T20:00:00Z' }
  t.equal(
    JSON.parse((await cli(['status', '--json'], { env: gap })).stdout).block.start,
    null,
    'between blocks: none, though a later block exists',
  )
  t.match((await cli(['status'], { env: gap })).stdout, /5h block no active block/)
  const late = { ...env, USAGE_LEDGER_NOW: '2026-11-22T22:30:00Z' }
  fs.writeFileSync(path.join(dir, 'store/config.json'), JSON.stringify({ v: 1, timezone: 'Asia/Tokyo' }))
  const r = JSON.parse(
    (
      await cli(['record', '--stdin', '--source', 'x', '--json'], {
        env: late,
        input: `${JSON.stringify({ ts: '2026-11-22T22:10:00Z', model: 'claude-haiku-4-5', input: 7 })}\n`,
      })
    ).stdout,
  )
  t.equal(r.appended, 1)
  t.match(
    (await cli(['status'], { env: late })).stdout,
    /5h block 2026-11-23 07:00–12:00 Asia\/Tokyo: 7 tokens/,
    "in the store's zone",
  )
})

t.test('status warns when Claude Code is about to delete transcripts holding unrecorded usage', async (t) => {
  const dir = t.testdir()
  copyFixtures(dir)
  const env = isolatedEnv(dir, { USAGE_LEDGER_DEVICE_ID: 'f'.repeat(32) })
  fs.writeFileSync(path.join(dir, 'claude/settings.json'), JSON.stringify({ cleanupPeriodDays: 10 }))
  const old = new Date('2026-11-14T00:00:00Z') // 8 days before the clock: within 3 days of the 10-day cleanup
  const file = path.join(dir, 'claude/projects/-home-ana-src-infra-tools/f5ca7d43-8e75-4cb0-94b6-6c2e5fa08b05.jsonl')
  fs.utimesSync(file, old, old)
  const before = JSON.parse((await cli(['status', '--json'], { env })).stdout)
  t.match(before.warnings, [{ code: 'CLEANUP_RISK', cleanupPeriodDays: 10, files: 1 }])
  await cli(['record'], { env })
  const after = JSON.parse((await cli(['status', '--json'], { env })).stdout)
  t.same(after.warnings, [], 'recorded: nothing at risk')
})
