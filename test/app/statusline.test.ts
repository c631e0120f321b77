import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { statusline } from '../../lib/app/statusline.js'
import { accountHash, makeReading } from '../../lib/ledger/limits.js'
import { DEFAULT_STATUSLINE_FORMAT, renderStatusline } from '../../lib/report/statusline.js'
import { displayWidth } from '../../lib/text.js'
import { fakeEnv } from '../helpers/env.js'

const ME = 'a'.repeat(32)
const LAPTOP = 'b'.repeat(32)
const zero = { records: 0, input: 0, output: 0, cacheWrite: 0, cacheRead: 0, totalTokens: 0, costUSD: 0 }
const totals = (totalTokens: number, costUSD: number, records = 1) => ({ ...zero, records, totalTokens, costUSD })

/** A cache as refreshLiveCache writes it: two devices, a block both used, readings the laptop saw. */
function cache(readings: unknown[]) {
  const device = (id: string, name: string, thisDevice: boolean, block: number, cost: number) => ({
    id,
    name,
    thisDevice,
    records: 10,
    today: totals(block, cost),
    block: totals(block, cost),
    week: totals(block, cost),
  })
  return {
    v: 1,
    at: '2026-11-22T11:58:00.000Z',
    dayEnd: '2026-11-23T00:00:00.000Z',
    status: {
      schema: 'usage-ledger/status@1',
      device: { id: ME, name: 'workstation', head: null },
      devices: [
        device(ME, 'workstation', true, 6_000_000, 93.45),
        device(LAPTOP, 'laptop-of-ana', false, 4_000_000, 30),
      ],
      timezone: 'UTC',
      today: totals(10_000_000, 123.45, 20),
      week: totals(10_000_000, 456.78, 20),
      block: {
        ...totals(10_000_000, 123.45, 20),
        start: '2026-11-22T09:00:00.000Z',
        end: '2026-11-22T14:00:00.000Z',
        burnRate: { tokensPerMinute: 60_000, costPerHour: 41.15 },
        projection: { totalTokens: 17_200_000, costUSD: 205.75, remainingMinutes: 120 },
      },
      readings,
      warnings: [],
    },
  }
}

function storeAt(dir: string, live: unknown, claudeJson?: unknown) {
  const store = path.join(dir, 'store')
  fs.mkdirSync(path.join(store, 'state'), { recursive: true })
  fs.writeFileSync(path.join(store, 'config.json'), JSON.stringify({ v: 1, statusline: { refreshMinutes: 0 } }))
  fs.writeFileSync(path.join(store, 'state/live.json'), JSON.stringify(live))
  if (claudeJson) {
    fs.mkdirSync(path.join(dir, 'claude'), { recursive: true })
    fs.writeFileSync(path.join(dir, 'claude/.claude.json'), JSON.stringify(claudeJson))
  }
  return fakeEnv({ USAGE_LEDGER_HOME: store, CLAUDE_CONFIG_DIR: path.join(dir, 'claude'), TZ: 'UTC' })
}

const reading = (account: string, minutes: number, used: number, resets: string, ts = '2026-11-22T11:40:00.000Z') =>
  makeReading({ ts, source: 'claude-code', account, minutes, usedPercent: used, resetsAt: resets })!

t.test("readings another device saw: with its name and age; this account's only", async (t) => {
  const mine = accountHash('uuid-of-ana')
  const other = accountHash('uuid-of-bob')
  const dir = t.testdir()
  const env = storeAt(
    dir,
    cache([
      { ...reading(mine, 300, 87.5, '2026-11-22T14:00:00Z'), device: LAPTOP, deviceName: 'laptop-of-ana' },
      { ...reading(mine, 10_080, 61, '2026-11-27T09:00:00Z'), device: LAPTOP, deviceName: 'laptop-of-ana' },
      {
        ...reading(other, 300, 3, '2026-11-22T15:00:00Z', '2026-11-22T11:59:00.000Z'),
        device: LAPTOP,
        deviceName: 'laptop-of-ana',
      },
    ]),
    { oauthAccount: { accountUuid: 'uuid-of-ana', emailAddress: 'ana@example.com' } },
  )
  const run = await statusline(env, { stdin: '{}' })
  t.same(
    run.facts.limits,
    {
      '5h': {
        usedPercent: 87.5,
        resetsAt: '2026-11-22T14:00:00.000Z',
        fresh: false,
        at: '2026-11-22T11:40:00.000Z',
        deviceName: 'laptop-of-ana',
      },
      '7d': {
        usedPercent: 61,
        resetsAt: '2026-11-27T09:00:00.000Z',
        fresh: false,
        at: '2026-11-22T11:40:00.000Z',
        deviceName: 'laptop-of-ana',
      },
    },
    "the newest of this account's, not the other account's newer one",
  )
  t.match(run.facts.block, { costUSD: 123.45, costPerHour: 41.15, share: 0.6, devices: 2 })
  const line = renderStatusline(run.facts, DEFAULT_STATUSLINE_FORMAT, false)
  t.equal(line, '$123 today │ block $123 $41/h 60% here │ 5h 88% ↻14:00 7d 61% ↻Fri @laptop-… 20m')
  t.ok(displayWidth(line) <= 80, `the default line fits 80 columns (${displayWidth(line)})`)
  const coloured = renderStatusline(run.facts, DEFAULT_STATUSLINE_FORMAT, true)
  t.equal(displayWidth(coloured), displayWidth(line), 'colour takes no columns')
  t.match(coloured, '\x1b[31m88%\x1b[0m', 'a window nearly used up in red')
  t.equal(run.spooled.length, 0)
})

t.test("this call's readings win over cached ones and are spooled when they differ", async (t) => {
  const mine = accountHash('uuid-of-ana')
  const dir = t.testdir()
  const env = storeAt(
    dir,
    cache([{ ...reading(mine, 300, 87.5, '2026-11-22T14:00:00Z'), device: LAPTOP, deviceName: 'laptop-of-ana' }]),
    { oauthAccount: { accountUuid: 'uuid-of-ana' } },
  )
  const stdin = JSON.stringify({
    rate_limits: { five_hour: { used_percentage: 87.5, resets_at: Date.parse('2026-11-22T14:00:00Z') / 1000 } },
  })
  const same = await statusline(env, { stdin })
  t.same(same.spooled, [], 'the same as the synced reading: nothing spooled')
  t.match(same.facts.limits['5h'], { fresh: true, usedPercent: 87.5 })
  const moved = await statusline(env, { stdin: stdin.replace('87.5', '90') })
  t.match(moved.spooled, [{ account: mine, usedPercent: 90, window: '5h' }])
  t.equal(renderStatusline(moved.facts, '{5h}', false), '5h 90% ↻14:00', 'no source note for this call')
})

t.test('the note when there is nothing else; unknown placeholders kept', async (t) => {
  const facts = { now: Date.parse('2026-11-22T12:00:00Z'), limits: {}, note: 'no cache yet' }
  t.equal(renderStatusline(facts, DEFAULT_STATUSLINE_FORMAT, false), 'usage-ledger: no cache yet')
  t.equal(renderStatusline(facts, 'x {foo} | {today}', false), 'x {foo} usage-ledger: no cache yet')
})
