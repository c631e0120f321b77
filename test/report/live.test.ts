/**
 * The live view's renderer (`status --watch`) on fixed status objects: what it shows, and that no
 * line is wider than the terminal (measured with the real string-width package) nor more lines
 * than it has rows.
 */
import t, { type Test } from 'tap'
import { createRequire } from 'node:module'
import { fitLine, renderLive, type LiveStatus } from '../../lib/report/live.js'
import { duration } from '../../lib/text.js'

const stringWidth = createRequire(import.meta.url)('string-width') as (s: string) => number

const NOW = new Date('2026-11-22T12:00:00.000Z')
const totals = (totalTokens: number, costUSD: number) => ({
  records: 1,
  input: totalTokens,
  output: 0,
  cacheWrite: 0,
  cacheRead: 0,
  totalTokens,
  costUSD,
})
const noPercent = { tokens: null, costUSD: null }

function status(over: Partial<LiveStatus> = {}): LiveStatus {
  return {
    device: { id: 'a'.repeat(32), name: 'laptop' },
    remote: 'https://example.com/ledger.git',
    pending: 0,
    lastPushFailure: null,
    timezone: 'UTC',
    block: {
      ...totals(1_234_567, 12.5),
      start: '2026-11-22T09:00:00.000Z',
      end: '2026-11-22T14:00:00.000Z',
      burnRate: { tokensPerMinute: 6858.7, costPerHour: 4.17 },
      projection: { totalTokens: 3_292_000, costUSD: 33.33, remainingMinutes: 120 },
      percent: noPercent,
    },
    week: { ...totals(9_876_543, 98.7), week: '2026-W47', percent: noPercent },
    today: { ...totals(2_000_000, 20), day: '2026-11-22' },
    devices: [
      {
        id: 'a'.repeat(32),
        name: 'laptop',
        thisDevice: true,
        lastRecordAt: '2026-11-22T11:58:00.000Z',
        today: totals(1_500_000, 15),
        block: totals(1_000_000, 10),
      },
      {
        id: 'b'.repeat(32),
        name: 'build-server-in-the-basement-with-a-long-name',
        thisDevice: false,
        lastRecordAt: '2026-11-22T09:00:00.000Z',
        today: totals(500_000, 5),
        block: totals(234_567, 2.5),
      },
    ],
    readings: [],
    warnings: [],
    ...over,
  }
}

const READINGS: LiveStatus['readings'] = [
  {
    source: 'claude-code',
    account: '0123456789abcdef',
    window: '5h',
    minutes: 300,
    usedPercent: 42,
    resetsAt: '2026-11-22T14:10:00.000Z',
    ts: '2026-11-22T11:57:00.000Z',
    deviceName: 'laptop',
  },
  {
    source: 'claude-code',
    account: '0123456789abcdef',
    window: '7d',
    minutes: 10080,
    usedPercent: 91.4,
    resetsAt: '2026-11-26T15:00:00.000Z',
    ts: '2026-11-22T11:00:00.000Z',
    deviceName: 'build-server-in-the-basement-with-a-long-name',
  },
]

/** Every line fits `width` and there are at most `height` of them. */
function fits(t: Test, lines: string[], width: number, height: number) {
  const wide = lines.filter((l) => stringWidth(l) > width)
  t.same(wide, [], `no line wider than ${width}`)
  t.ok(lines.length <= height, `${lines.length} lines within ${height} rows`)
}

const opts = (width: number, height = 40, color = false) => ({ width, height, now: NOW, color, interval: 2 })

t.test('80 columns with readings: the block against the official 5h reading, devices, readings', async (t) => {
  const lines = renderLive(status({ readings: READINGS }), opts(80))
  fits(t, lines, 80, 40)
  const text = lines.join('\n')
  t.match(lines[0], /^usage-ledger live · laptop +2026-11-22 12:00:00 UTC · every 2 s · q quits$/)
  t.equal(lines[1], 'remote: all pushed · https://example.com/ledger.git')
  t.match(text, /5h block {2}09:00–14:00 \(2 h left\)/)
  t.match(text, /█+░+ {2}42% of the 5h limit \(claude-code, read 3 min ago\)/, 'the bar follows the official reading')
  t.match(text, /1,234,567 tokens, \$12\.50 · burn 6,859 tokens\/min, \$4\.17\/h/)
  t.match(text, /projected at 14:00: 3,292,000 tokens, \$33\.33/)
  t.match(text, /today {5}2,000,000 tokens, \$20\.00/)
  t.match(text, /week {6}2026-W47: 9,876,543 tokens, \$98\.70/)
  t.match(text, /device +last record +today +cost +block/)
  t.match(text, /\* laptop +2 min ago +1,500,000 +\$15\.00 +81%/)
  t.match(text, / {2}build-server-in-the-basement-with-a-lo… +3 h ago +500,000 +\$5\.00 +19%/, 'a long name is cut')
  t.match(text, /limit +used +resets +read +seen on/)
  t.match(text, /claude-code 5h +42% +in 2 h 10 min +3 min ago +laptop/)
  t.match(text, /claude-code 7d +91% +in 4 d 3 h +60 min ago +build-server/)
  t.notMatch(text, /\x1b\[/, 'no colour when not asked')
})

t.test('50 columns: every line fits, columns give way, names are cut', async (t) => {
  const lines = renderLive(status({ readings: READINGS }), opts(50))
  fits(t, lines, 50, 40)
  t.match(lines[0], /^usage-ledger live · laptop +12:00:00 · q quits$/, 'the header keeps what fits')
  const text = lines.join('\n')
  t.match(text, /5h block {2}09:00–14:00/)
  t.match(text, /42%/)
  t.match(text, /\* laptop/)
  t.match(text, /build-server…/, 'the long name is cut')
  t.match(text, /claude-code 5h +42%/)
  t.match(text, /in 2 h 10 min/)
  // A sentence too long for the width goes on over the next line rather than being cut.
  t.match(text, /burn 6,859\n +tokens\/min, \$4\.17\/h/)
})

t.test('without readings: against the configured limit, else the elapsed fraction of the block', async (t) => {
  const limited = status({
    block: { ...status().block, percent: { tokens: 61.7, costUSD: 12.5 } },
  })
  const a = renderLive(limited, opts(80)).join('\n')
  t.match(a, /█+░+ {2}62% of the configured token limit/)
  t.notMatch(a, /limit +used +resets/, 'no readings table')
  const cost = renderLive(status({ block: { ...status().block, percent: { tokens: null, costUSD: 95 } } }), opts(80))
  t.match(cost.join('\n'), / 95% of the configured cost limit/)
  const b = renderLive(status(), opts(80)).join('\n')
  t.match(b, /█{30}░{20} {2}60% of the block elapsed/, '12:00 is 3 of the 5 hours from 09:00')
  // A 5h reading whose window has reset since says so, and no longer drives the bar.
  const stale = renderLive(status({ readings: [{ ...READINGS[0]!, resetsAt: '2026-11-22T11:00:00.000Z' }] }), opts(80))
  t.match(stale.join('\n'), /of the block elapsed/)
  t.match(stale.join('\n'), /claude-code 5h +42% +reset +3 min ago/)
})

t.test('the remote line: pending commits, the last background fetch; none', async (t) => {
  const pending = renderLive(status({ pending: 3 }), { ...opts(80), fetchedAt: '2026-11-22T11:59:20.000Z' })
  t.equal(pending[1], 'remote: 3 commits pending · fetched 40 s ago · https://example.com/ledger.git')
  const none = renderLive(status({ remote: null }), opts(80))
  t.equal(none[1], 'no remote: this machine only (usage-ledger init --remote URL)')
  t.match(renderLive(status({ remote: null }), opts(30))[1], /^no remote: this machine only ?…$/)
})

t.test('no active block; no devices', async (t) => {
  const s = status({
    block: { ...totals(0, 0), records: 0, start: null, end: null, percent: noPercent },
    devices: [],
  })
  const lines = renderLive(s, opts(80))
  fits(t, lines, 80, 40)
  const text = lines.join('\n')
  t.match(text, /5h block {2}no active block/)
  t.notMatch(text, /█|░/, 'no bar without a block or a reading')
  t.match(text, /no devices yet/)
})

t.test('warnings: a device held back, pushes failing, a failed background fetch', async (t) => {
  const s = status({
    readings: READINGS,
    warnings: [
      {
        code: 'DEVICE_QUARANTINED',
        detail:
          'device bbbbbbbb (build-server) is held at its last good head 1234abcd: its new head failed a check (MANIFEST_MISMATCH); run usage-ledger verify',
      },
    ],
    lastPushFailure: { at: '2026-11-22T11:30:00.000Z', code: 'AUTH_FAILED', message: 'the remote refused the token' },
  })
  for (const width of [80, 50]) {
    const lines = renderLive(s, { ...opts(width), notes: ['the background fetch failed (exit 1): remote unreachable'] })
    fits(t, lines, width, 40)
    const text = lines.join(' ').replace(/ +/g, ' ')
    t.match(
      text,
      /! device bbbbbbbb \(build-server\) is held at its last good head 1234abcd: .* run usage-ledger verify/,
    )
    t.match(text, /! pushes failing: the last failed 30 min ago: the remote refused the token/)
    t.match(text, /! the background fetch failed \(exit 1\): remote unreachable/)
  }
})

t.test('colour: painted bars and warnings, widths unchanged; never wider when cut', async (t) => {
  const s = status({ readings: READINGS, warnings: [{ code: 'X', detail: 'something to see' }] })
  for (const width of [80, 50, 30]) {
    const lines = renderLive(s, opts(width, 40, true))
    fits(t, lines, width, 40)
    t.match(lines.join('\n'), /\x1b\[32m█+\x1b\[0m/, 'the bar is green below 70%')
    t.match(lines.join('\n'), /\x1b\[33m! something to see\x1b\[0m/)
    const plain = renderLive(s, opts(width, 40, false))
    t.same(
      lines.map((l) => l.replace(/\x1b\[[0-9;]*m/g, '')),
      plain,
      `${width}: the same text with or without colour`,
    )
  }
})

t.test('a short terminal: devices give way first, this device stays; never more lines than rows', async (t) => {
  const many = Array.from({ length: 30 }, (_, i) => ({
    ...status().devices[1]!,
    id: String(i).padStart(32, '0'),
    name: `box-${i}`,
  }))
  const s = status({ readings: READINGS, devices: [...many, status().devices[0]!] })
  const lines = renderLive(s, opts(80, 24))
  fits(t, lines, 80, 24)
  const text = lines.join('\n')
  t.match(text, /\* laptop/, 'this device is kept')
  t.match(text, /… and \d+ more/)
  t.match(text, /claude-code 7d/, 'the readings still show')
  for (const h of [1, 3, 8]) fits(t, renderLive(s, opts(80, h)), 80, h)
  for (const w of [1, 5, 12]) fits(t, renderLive(s, opts(w, 24)), w, 24)
})

t.test('fitLine keeps colour codes whole and resets after a cut; duration', async (t) => {
  const red = '\x1b[31mabcdefghij\x1b[0m tail'
  t.equal(fitLine(red, 20), red, 'fits: unchanged')
  t.equal(fitLine(red, 6), '\x1b[31mabcde…\x1b[0m')
  t.equal(stringWidth(fitLine('日本語のテキスト', 7)), 7)
  t.equal(duration(45_000), '45 s')
  t.equal(duration(12 * 60_000), '12 min')
  t.equal(duration(130 * 60_000), '2 h 10 min')
  t.equal(duration((4 * 24 + 3) * 3_600_000), '4 d 3 h')
})
