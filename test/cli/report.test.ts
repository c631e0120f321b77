import t from 'tap'
import { cli, copyFixtures, isolatedEnv, TOKEN_FIELDS } from '../helpers/cli.js'

async function recorded(t: { testdir(): string }) {
  const dir = t.testdir()
  copyFixtures(dir)
  const env = isolatedEnv(dir, { USAGE_LEDGER_DEVICE_ID: 'e'.repeat(32) })
  const r = await cli(['record'], { env })
  if (r.code !== 0) throw new Error(r.stderr)
  return env
}

interface BlockRow {
  period: string
  end: string
  active: boolean
  totalTokens: number
  costUSD: number
  burnRate: { tokensPerMinute: number; costPerHour: number } | null
  projection: Record<string, number> | null
}

const json = async (env: Record<string, string | undefined>, args: string[]) => {
  const r = await cli(['report', ...args, '--json'], { env })
  if (r.code !== 0) throw new Error(r.stderr)
  return JSON.parse(r.stdout) as {
    period: string
    rows: Array<Record<string, number | string>>
    totals: Record<string, number>
  }
}

t.test('weekly, monthly, session and blocks totals equal the daily totals over the same range', async (t) => {
  const env = await recorded(t)
  for (const tz of ['UTC', 'Asia/Kathmandu', 'America/St_Johns']) {
    const daily = await json(env, ['daily', '--tz', tz])
    for (const period of ['weekly', 'monthly', 'session', 'blocks']) {
      const r = await json(env, [period, '--tz', tz])
      t.equal(r.period, period)
      const sums = Object.fromEntries(
        TOKEN_FIELDS.map((k) => [k, r.rows.reduce((a, row) => a + (row[k] as number), 0)]),
      )
      t.same(
        sums,
        Object.fromEntries(TOKEN_FIELDS.map((k) => [k, daily.totals[k]])),
        `${period} rows sum to the daily total in ${tz}`,
      )
      t.same(r.totals, daily.totals, `${period} totals in ${tz}`)
    }
    // With a range, the periods see exactly the days in it.
    const rangeDaily = await json(env, ['daily', '--tz', tz, '--since', '2026-11-20', '--until', '2026-11-20'])
    const rangeWeekly = await json(env, ['weekly', '--tz', tz, '--since', '2026-11-20', '--until', '2026-11-20'])
    t.same(rangeWeekly.totals, rangeDaily.totals, `a one-day range in ${tz}`)
  }
  const weekly = await json(env, ['weekly', '--tz', 'UTC'])
  t.same(
    weekly.rows.map((r) => r.period),
    ['2026-W47'],
    'ISO week of 2026-11-16..22',
  )
})

t.test('blocks: 5-hour windows from the first activity floored to the hour', async (t) => {
  const dir = t.testdir()
  const env = isolatedEnv(dir, { USAGE_LEDGER_DEVICE_ID: 'e'.repeat(32) })
  const lines = [
    '2026-11-21T09:15:00Z',
    '2026-11-21T13:59:00Z',
    '2026-11-21T14:00:00Z',
    '2026-11-21T14:30:00Z',
    '2026-11-21T23:05:00Z',
  ].map((ts, i) => JSON.stringify({ ts, model: 'gpt-5', input: 10 ** i }))
  await cli(['record', '--stdin', '--source', 'x'], { env, input: `${lines.join('\n')}\n` })
  const r = await json(env, ['blocks', '--tz', 'UTC'])
  t.same(
    r.rows.map((row) => [row.period, row.input]),
    [
      ['2026-11-21T09:00', 1 + 10], // 09:00–14:00: 09:15 and 13:59
      ['2026-11-21T14:00', 100 + 1000], // 14:00 starts a new block
      ['2026-11-21T23:00', 10000],
    ],
  )
  const kolkata = await json(env, ['blocks', '--tz', 'Asia/Kolkata'])
  t.same(
    kolkata.rows.map((row) => row.period),
    ['2026-11-21T14:30', '2026-11-21T19:30', '2026-11-22T04:30'],
    'the same blocks, shown in local time',
  )
})

t.test('csv and markdown', async (t) => {
  const env = await recorded(t)
  const daily = await json(env, ['daily', '--tz', 'UTC', '--by', 'source'])
  const csv = (await cli(['report', '--tz', 'UTC', '--by', 'source', '--format', 'csv'], { env })).stdout
    .trim()
    .split('\r\n')
  t.equal(csv[0], 'period,source,records,input,output,cacheWrite,cacheRead,totalTokens,costUSD')
  t.equal(csv.length, daily.rows.length + 2, 'header, one line a row, a total line')
  const first = daily.rows[0]!
  t.equal(
    csv[1],
    [
      first.period,
      first.source,
      first.records,
      first.input,
      first.output,
      first.cacheWrite,
      first.cacheRead,
      first.totalTokens,
      first.costUSD,
    ].join(','),
  )
  t.match(csv[csv.length - 1], new RegExp(`^total,,${daily.totals.records},`))
  const md = (await cli(['report', '--tz', 'UTC', '--by', 'source', '--format', 'markdown'], { env })).stdout
    .trim()
    .split('\n')
  t.equal(md[0], '| Day | Source | Records | Input | Output | Cache write | Cache read | Total tokens | Cost (USD) |')
  t.equal(md[1], '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
  t.equal(md.length, daily.rows.length + 3)
  t.match(md[md.length - 1], /^\| \*\*Total\*\* \| {2}\| \*\*28\*\* \|/)
})

t.test('price overrides in config.json apply to all history and are named in the JSON', async (t) => {
  const env = await recorded(t)
  const before = await json(env, ['monthly', '--tz', 'UTC', '--cost', 'calculate'])
  const { writeFileSync, readFileSync } = await import('node:fs')
  const file = `${env.USAGE_LEDGER_HOME}/config.json`
  const config = JSON.parse(readFileSync(file, 'utf8'))
  writeFileSync(
    file,
    JSON.stringify({
      ...config,
      prices: { 'gpt-5': { input: 0, output: 0, cacheRead: 0 }, 'gpt-5-codex': { input: 0, output: 0, cacheRead: 0 } },
    }),
  )
  const after = (await json(env, ['monthly', '--tz', 'UTC', '--cost', 'calculate'])) as unknown as {
    totals: { costUSD: number; totalTokens: number }
    pricing: { overrides: string[]; sha256: string }
  }
  t.same(after.pricing.overrides, ['gpt-5', 'gpt-5-codex'])
  t.ok(after.totals.costUSD < before.totals.costUSD, 'free Codex models lower the cost of past records')
  t.equal(after.totals.totalTokens, before.totals.totalTokens, 'tokens are untouched')
  writeFileSync(file, JSON.stringify({ ...config, prices: { 'gpt-5': { input: 'cheap' } } }))
  const bad = await cli(['report'], { env })
  t.equal(bad.code, 2)
  t.match(bad.stderr, /prices\.gpt-5 \.input must be a non-negative number/)
})

t.test('tables: plain when piped, compact when narrow, a cost bar with --chart', async (t) => {
  const env = await recorded(t)
  const plain = (await cli(['report', '--tz', 'UTC'], { env })).stdout
  t.notMatch(plain, /\x1b\[/, 'no colour codes when stdout is not a terminal')
  t.match(plain, /Cache write/)
  const compact = (await cli(['report', '--tz', 'UTC', '--compact'], { env })).stdout
  t.notMatch(compact, /Cache write/)
  t.match(compact, /│ Day +│ Records │ +Tokens │ +Cost │/)
  const chart = (await cli(['report', '--tz', 'UTC', '--chart'], { env })).stdout.split('\n')
  const bars = chart.filter((l) => /^│ 2026-/.test(l)).map((l) => (l.match(/█+/)?.[0] ?? '').length)
  t.equal(Math.max(...bars), 20, 'the costliest day has the full bar')
  t.ok(bars.every((b) => b >= 0 && b <= 20))
})

t.test("a day's totals are exact in half- and quarter-hour zones and on DST days (through the index)", async (t) => {
  const dir = t.testdir()
  const env = isolatedEnv(dir, { USAGE_LEDGER_DEVICE_ID: 'e'.repeat(32) })
  // Around every local midnight that matters, a record a minute before and one at it.
  const instants = [
    '2026-11-19T23:50:00.000Z', // 23:50 UTC: the 20th in Kolkata, the 19th in St John's
    '2026-11-19T18:29:00.000Z',
    '2026-11-19T18:30:00.000Z', // Kolkata +05:30
    '2026-11-19T18:14:00.000Z',
    '2026-11-19T18:15:00.000Z', // Kathmandu +05:45
    '2026-11-20T02:59:00.000Z',
    '2026-11-20T03:00:00.000Z',
    '2026-11-20T03:30:00.000Z', // St John's -03:30
    '2026-11-19T10:14:00.000Z',
    '2026-11-19T10:15:00.000Z', // Chatham +13:45
    '2026-03-08T04:59:00.000Z',
    '2026-03-08T05:00:00.000Z',
    '2026-03-09T03:59:00.000Z',
    '2026-03-09T04:00:00.000Z', // New York: a 23-hour day
    '2026-11-01T03:59:00.000Z',
    '2026-11-01T04:00:00.000Z',
    '2026-11-02T04:59:00.000Z',
    '2026-11-02T05:00:00.000Z', // New York: a 25-hour day
    '2026-03-28T22:59:00.000Z',
    '2026-03-28T23:00:00.000Z',
    '2026-03-29T21:59:00.000Z',
    '2026-03-29T22:00:00.000Z', // Berlin: a 23-hour day
    '2026-10-24T21:59:00.000Z',
    '2026-10-24T22:00:00.000Z',
    '2026-10-25T22:59:00.000Z',
    '2026-10-25T23:00:00.000Z', // Berlin: a 25-hour day
  ]
  const lines = instants.map((ts, i) => JSON.stringify({ ts, model: 'gpt-5', input: 2 ** i }))
  t.equal((await cli(['record', '--stdin', '--source', 'x'], { env, input: `${lines.join('\n')}\n` })).code, 0)
  for (const tz of [
    'Asia/Kolkata',
    'Asia/Kathmandu',
    'America/St_Johns',
    'Pacific/Chatham',
    'America/New_York',
    'Europe/Berlin',
    'UTC',
  ]) {
    // The expectation, computed independently with Intl for every record.
    const f = new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' })
    const want: Record<string, number> = {}
    instants.forEach((ts, i) => {
      const d = f.format(new Date(ts))
      want[d] = (want[d] ?? 0) + 2 ** i
    })
    const got = Object.fromEntries((await json(env, ['daily', '--tz', tz])).rows.map((r) => [r.period, r.input]))
    t.same(got, want, `every day's input in ${tz}`)
  }
})

t.test('--source and --model filter', async (t) => {
  const env = await recorded(t)
  const { readFileSync } = await import('node:fs')
  const exp = JSON.parse(readFileSync(new URL('../../fixtures/expected.json', import.meta.url), 'utf8'))
  const pickTotals = (x: Record<string, number>) => Object.fromEntries(TOKEN_FIELDS.map((k) => [k, x[k]]))
  t.same(pickTotals((await json(env, ['--tz', 'UTC', '--source', 'codex'])).totals), exp.codex.totals, '--source codex')
  t.same(
    pickTotals((await json(env, ['--tz', 'UTC', '--model', 'gpt-5-codex'])).totals),
    exp.codex.models['gpt-5-codex'],
    '--model, a full id',
  )
  t.same(
    pickTotals((await json(env, ['--tz', 'UTC', '--model', 'claude-haiku-4-5'])).totals),
    exp['claude-code'].models['claude-haiku-4-5-20251001'],
    '--model, a prefix of dated ids',
  )
  t.equal((await json(env, ['--tz', 'UTC', '--source', 'nothing'])).totals.records, 0)
})

t.test(
  'blocks: end time, the active block (the one containing now), its burn rate and projection as ccusage defines them',
  async (t) => {
    const dir = t.testdir()
    const env = isolatedEnv(dir, { USAGE_LEDGER_DEVICE_ID: 'e'.repeat(32) }) // the clock: 2026-11-22T12:00Z
    const lines = [
      ['2026-11-22T03:00:00Z', 500, 0], // an earlier block
      ['2026-11-22T10:15:00Z', 1000, 0],
      ['2026-11-22T10:45:30Z', 1000, 0],
      ['2026-11-22T11:15:00Z', 0, 7000], // the active block
      ['2026-11-23T08:00:00Z', 5, 0], // a later block (a clock ahead, within the 24 hours accepted)
    ].map(([ts, input, output]) => JSON.stringify({ ts, model: 'gpt-5', input, output }))
    t.equal((await cli(['record', '--stdin', '--source', 'x'], { env, input: `${lines.join('\n')}\n` })).code, 0)
    const r = (await json(env, ['blocks', '--tz', 'UTC'])) as unknown as { rows: BlockRow[] }
    t.same(
      r.rows.map((row) => [row.period, row.end, row.active]),
      [
        ['2026-11-22T03:00', '2026-11-22T08:00', false],
        ['2026-11-22T10:00', '2026-11-22T15:00', true],
        ['2026-11-23T08:00', '2026-11-23T13:00', false],
      ],
      'end and active on every block; active is the block containing now, not the latest',
    )
    t.same(
      [r.rows[0]!.burnRate, r.rows[0]!.projection, r.rows[2]!.burnRate, r.rows[2]!.projection],
      [null, null, null, null],
      'inactive blocks: no burn rate, no projection',
    )
    const active = r.rows[1]!
    // ccusage: tokens and cost over the minutes from the first record (10:15) to the last (11:15).
    t.equal(active.totalTokens, 9000)
    t.equal(active.burnRate?.tokensPerMinute, 150, '9,000 tokens over 60 minutes')
    t.ok(Math.abs(active.burnRate!.costPerHour - active.costUSD) < 1e-6, 'the cost of 60 minutes is the cost per hour')
    // …projected over the 180 minutes left until 15:00.
    t.same(active.projection, {
      totalTokens: 9000 + 150 * 180,
      costUSD: Math.round(active.costUSD * 4 * 100) / 100,
      remainingMinutes: 180,
    })

    const berlin = (await json(env, ['blocks', '--tz', 'Europe/Berlin'])) as unknown as {
      rows: BlockRow[]
    }
    t.same(
      berlin.rows.map((row) => [row.period, row.end, row.active]),
      [
        ['2026-11-22T04:00', '2026-11-22T09:00', false],
        ['2026-11-22T11:00', '2026-11-22T16:00', true],
        ['2026-11-23T09:00', '2026-11-23T14:00', false],
      ],
      'in local time',
    )
    const table = await cli(['report', 'blocks', '--tz', 'UTC'], { env })
    t.match(table.stdout, /2026-11-22T10:00–15:00\*/, 'the active block is marked')
    t.match(table.stdout, /2026-11-22T03:00–08:00 /)
    t.match(
      table.stdout,
      /\* active block 2026-11-22T10:00–15:00: burn rate 150 tokens\/min, \$[0-9.]+\/h; projected at 15:00 \(in 180 min\): 36,000 tokens, \$[0-9.]+\n/,
    )
    const later = (await json({ ...env, USAGE_LEDGER_NOW: '2026-11-22T16:00:00Z' }, [
      'blocks',
      '--tz',
      'UTC',
    ])) as unknown as { rows: BlockRow[] }
    t.same(
      later.rows.map((row) => row.active),
      [false, false, false],
      'between blocks none is active',
    )
  },
)

t.test(
  'failed calls: out of the token totals unless --include-failed, counted in "failed", never any cost',
  async (t) => {
    const dir = t.testdir()
    const env = isolatedEnv(dir, { USAGE_LEDGER_DEVICE_ID: 'e'.repeat(32) }) // the clock: 2026-11-22T12:00Z
    const lines = [
      // A day of failed calls only, of a model without a price: no price is missing for it.
      { ts: '2026-11-20T08:00:00Z', model: 'no-such-model', input: 50, failed: true },
      { ts: '2026-11-21T10:00:00Z', model: 'gpt-5', input: 1000, output: 100 },
      { ts: '2026-11-21T10:05:00Z', model: 'gpt-5', input: 500, failed: true },
      { ts: '2026-11-21T11:00:00Z', model: 'gpt-5', input: 2000, output: 200, cacheRead: 300, costUSD: 1.5 },
      // A failed call whose proxy still reported a cost: 0 under every mode.
      { ts: '2026-11-22T09:00:00Z', model: 'gpt-5', input: 700, costUSD: 5, failed: true },
      { ts: '2026-11-22T09:30:00Z', model: 'gpt-5', input: 400, output: 40 },
    ].map((l) => JSON.stringify(l))
    const rec = await cli(['record', '--stdin', '--source', 'proxy'], { env, input: `${lines.join('\n')}\n` })
    t.equal(rec.code, 0, rec.stderr)
    type Rep = Awaited<ReturnType<typeof json>> & { includeFailed: boolean; warnings: Array<{ code: string }> }
    const counts = (x: Record<string, number | string>) => [
      x.period,
      x.records,
      x.input,
      x.output,
      x.cacheRead,
      x.totalTokens,
      x.failed ?? 0,
    ]
    const cost = (x: Record<string, number | string>) => Math.round((x.costUSD as number) * 1e9) / 1e9

    const daily = (await json(env, ['daily', '--tz', 'UTC'])) as Rep
    t.equal(daily.includeFailed, false)
    t.same(
      daily.rows.map(counts),
      [
        ['2026-11-20', 0, 0, 0, 0, 0, 1],
        ['2026-11-21', 2, 3000, 300, 300, 3600, 1],
        ['2026-11-22', 1, 400, 40, 0, 440, 1],
      ],
      'per day: the tokens of the calls that succeeded, and how many failed',
    )
    t.same(daily.totals, {
      records: 3,
      input: 3400,
      output: 340,
      cacheWrite: 0,
      cacheRead: 300,
      totalTokens: 4040,
      costUSD: daily.totals.costUSD,
      failed: 3,
    })
    t.equal(cost(daily.rows[0]!), 0, 'a day of failed calls costs nothing')
    t.notOk(
      daily.warnings.some((w) => w.code === 'UNKNOWN_MODEL_PRICE'),
      'a failed call is never priced: no missing price',
    )

    const all = (await json(env, ['daily', '--tz', 'UTC', '--include-failed'])) as Rep
    t.equal(all.includeFailed, true)
    t.same(
      all.rows.map(counts),
      [
        ['2026-11-20', 1, 50, 0, 0, 50, 1],
        ['2026-11-21', 3, 3500, 300, 300, 4100, 1],
        ['2026-11-22', 2, 1100, 40, 0, 1140, 1],
      ],
      '--include-failed: their tokens too',
    )
    t.same(counts({ ...all.totals, period: 'total' }), ['total', 6, 4650, 340, 300, 5290, 3])
    t.same(all.rows.map(cost), daily.rows.map(cost), 'at cost 0: every cost as without them')
    t.equal(cost(all.totals), cost(daily.totals))
    t.notOk(all.warnings.some((w) => w.code === 'UNKNOWN_MODEL_PRICE'))
    for (const flags of [[], ['--include-failed']]) {
      const display = await json(env, ['monthly', '--tz', 'UTC', '--cost', 'display', ...flags])
      t.equal(
        cost(display.totals),
        1.5,
        `--cost display ${flags.join(' ')}: only the cost a call that succeeded reported`,
      )
    }

    // Blocks: uncounted failed calls shape no block; one inside a block is counted as failed there.
    const blocks = (await json(env, ['blocks', '--tz', 'UTC'])) as Rep
    t.same(blocks.rows.map(counts), [
      ['2026-11-21T10:00', 2, 3000, 300, 300, 3600, 1],
      ['2026-11-22T09:00', 1, 400, 40, 0, 440, 1],
    ])
    t.equal(blocks.totals.failed, 3, 'the failed call outside every block is in the totals')
    const allBlocks = (await json(env, ['blocks', '--tz', 'UTC', '--include-failed'])) as Rep
    t.same(allBlocks.rows.map(counts), [
      ['2026-11-20T08:00', 1, 50, 0, 0, 50, 1],
      ['2026-11-21T10:00', 3, 3500, 300, 300, 4100, 1],
      ['2026-11-22T09:00', 2, 1100, 40, 0, 1140, 1],
    ])
    t.same(allBlocks.totals, all.totals)

    const csv = (await cli(['report', '--tz', 'UTC', '--format', 'csv'], { env })).stdout.trim().split('\r\n')
    t.same(csv, [
      'period,records,input,output,cacheWrite,cacheRead,totalTokens,costUSD,failed',
      '2026-11-20,0,0,0,0,0,0,0,1',
      `2026-11-21,2,3000,300,0,300,3600,${cost(daily.rows[1]!)},1`,
      `2026-11-22,1,400,40,0,0,440,${cost(daily.rows[2]!)},1`,
      `total,3,3400,340,0,300,4040,${cost(daily.totals)},3`,
    ])
    t.match(
      (await cli(['report', '--tz', 'UTC'], { env })).stdout,
      /\n3 failed calls not counted in the tokens above \(--include-failed counts them, at cost 0\)\n/,
    )
    t.match(
      (await cli(['report', '--tz', 'UTC', '--include-failed', '--format', 'markdown'], { env })).stdout,
      /\n\n3 failed calls counted in the tokens above \(at cost 0\)\n$/,
    )

    t.match(
      (await cli(['report', '--tz', 'UTC', '--format', 'html'], { env })).stdout,
      /<dt>Failed calls \(not counted\)<\/dt><dd>3<\/dd>/,
    )

    // status: the same rule as a report without --include-failed.
    const s = JSON.parse((await cli(['status', '--json'], { env })).stdout)
    t.match(s.block, { start: '2026-11-22T09:00:00.000Z', records: 1, totalTokens: 440, failed: 1 })
    t.match(s.week, { week: '2026-W47', records: 3, totalTokens: 4040, failed: 3 })
    t.match((await cli(['status'], { env })).stdout, /5h block .*: 440 tokens, \$[0-9.]+; 1 failed call not counted\n/)

    // A failed record is a record like any other for the ledger's checks.
    t.equal((await cli(['verify'], { env })).code, 0)
  },
)
