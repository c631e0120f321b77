import t from 'tap'
import { priceFor, recordCost, PRICES, PRICES_AS_OF, PRICES_SHA256 } from '../../lib/report/prices.js'
import type { LedgerRecord } from '../../lib/ledger/record.js'

const rec = (o: Partial<LedgerRecord>): LedgerRecord => ({
  v: 1,
  id: '0'.repeat(32),
  ts: '2026-11-21T10:00:00.000Z',
  source: 'claude-code',
  model: 'claude-sonnet-4-5-20250929',
  input: 0,
  output: 0,
  cacheWrite: 0,
  cacheRead: 0,
  ...o,
})
const near = (a: number | null, b: number) => a !== null && Math.abs(a - b) < 1e-12

t.test('priceFor: longest prefix, dated ids', async (t) => {
  t.equal(priceFor('claude-sonnet-4-5-20250929'), PRICES['claude-sonnet-4-5'])
  t.equal(priceFor('claude-sonnet-4-5'), PRICES['claude-sonnet-4-5'], 'exact')
  t.equal(priceFor('claude-sonnet-4-20250514'), PRICES['claude-sonnet-4'])
  t.equal(priceFor('claude-opus-4-1-20250805'), PRICES['claude-opus-4-1'], 'opus-4-1, not opus-4')
  t.equal(priceFor('claude-opus-4-20250514'), PRICES['claude-opus-4'])
  t.equal(priceFor('claude-haiku-4-5-20251001'), PRICES['claude-haiku-4-5'])
  t.equal(priceFor('claude-3-5-haiku-20241022'), PRICES['claude-3-5-haiku'])
  t.equal(priceFor('claude-sonnet-4-5@20250929'), PRICES['claude-sonnet-4-5'], 'Vertex-style @ suffix')
  t.equal(priceFor('anthropic/claude-haiku-4-5'), PRICES['claude-haiku-4-5'], 'provider prefix')
  t.equal(priceFor('gpt-5-codex'), PRICES['gpt-5-codex'])
  t.equal(priceFor('gpt-5'), PRICES['gpt-5'])
  t.equal(priceFor('gpt-5-2025-08-07'), PRICES['gpt-5'])
  t.equal(priceFor('gpt-5-mini-2025-08-07'), PRICES['gpt-5-mini'])
  t.equal(priceFor('openai/gpt-5-nano'), PRICES['gpt-5-nano'])
  t.equal(priceFor('mystery-model'), null)
  t.equal(priceFor('claude-sonnet-45'), null, 'no match without a separator')
  t.equal(priceFor('xclaude-sonnet-4-5'), null, 'prefix means prefix')
  t.equal(priceFor('unknown'), null)
  t.equal(priceFor('claude-sonnet-4-5-20250929'), priceFor('claude-sonnet-4-5-20250929'), 'cached lookups agree')
})

t.test('table facts', async (t) => {
  const s = PRICES['claude-sonnet-4-5']!
  const want = [3, 15, 3.75, 6, 0.3]
  const got = [s.input, s.output, s.cacheWrite5m, s.cacheWrite1h, s.cacheRead]
  for (const [i, v] of got.entries()) t.ok(near(v, want[i]!), `sonnet 4.5 rate ${i}: ${v} ≈ ${want[i]}`)
  t.same(s.longContext, {
    threshold: 200_000,
    input: 6,
    output: 22.5,
    cacheWrite5m: 7.5,
    cacheWrite1h: 12,
    cacheRead: 0.6,
  })
  t.match(PRICES_AS_OF, /^\d{4}-\d{2}-\d{2}$/)
  t.match(PRICES_SHA256, /^[0-9a-f]{64}$/)
})

t.test('recordCost: hand-computed', async (t) => {
  // sonnet 4.5: 3 in, 15 out, 3.75 5m write, 6 1h write, 0.3 read per MTok
  const c1 = recordCost(
    rec({ input: 1000, output: 2000, cacheWrite: 10000, cacheWrite1h: 4000, cacheRead: 50000 }),
    'calculate',
  )
  t.ok(near(c1, (1000 * 3 + 2000 * 15 + 6000 * 3.75 + 4000 * 6 + 50000 * 0.3) / 1e6), `5m+1h writes and reads: ${c1}`)
  t.ok(near(c1, 0.0945))
  t.ok(
    near(recordCost(rec({ input: 1000, output: 2000, cacheWrite: 10000, cacheRead: 50000 }), 'calculate'), 0.0855),
    'all 5m writes',
  )
  t.ok(near(recordCost(rec({ cacheWrite: 100_000, cacheWrite1h: 100_000 }), 'calculate'), 0.6), '1h writes at 2× input')
  t.ok(near(recordCost(rec({ cacheWrite: 100_000 }), 'calculate'), 0.375), '5m writes at 1.25× input')
  t.ok(near(recordCost(rec({ cacheRead: 100_000 }), 'calculate'), 0.03), 'cache read at 0.1× input')
  t.ok(
    near(recordCost(rec({ cacheWrite: 1_000_000, cacheWrite1h: 1_000_000 }), 'calculate'), 12),
    'a 1M-token prompt is long context: 1h at 12',
  )

  // Long context: once the prompt (input + cache) exceeds 200k, the whole request at the long rates.
  t.ok(
    near(
      recordCost(rec({ input: 1000, output: 100, cacheRead: 200_000 }), 'calculate'),
      (1000 * 6 + 100 * 22.5 + 200_000 * 0.6) / 1e6,
    ),
    'prompt 201k → long rates',
  )
  t.ok(near(recordCost(rec({ input: 1000, output: 100, cacheRead: 200_000 }), 'calculate'), 0.12825))
  t.ok(
    near(recordCost(rec({ input: 100, output: 1000, cacheWrite: 200_000, cacheWrite1h: 50_000 }), 'calculate'), 1.7481),
    'long rates for 5m and 1h writes',
  )
  t.ok(near(recordCost(rec({ cacheRead: 200_000 }), 'calculate'), 0.06), 'exactly 200k → standard rates')
  t.ok(near(recordCost(rec({ cacheRead: 200_001 }), 'calculate'), (200_001 * 0.6) / 1e6), '200001 → long')
  t.ok(near(recordCost(rec({ output: 1_000_000 }), 'calculate'), 15), 'output alone never long')
  t.ok(
    near(
      recordCost(rec({ model: 'claude-opus-4-1-20250805', cacheRead: 300_000 }), 'calculate'),
      (300_000 * 1.5) / 1e6,
    ),
    'no long tier for opus 4.1',
  )

  t.ok(
    near(
      recordCost(
        rec({
          model: 'claude-haiku-4-5-20251001',
          input: 1e6,
          output: 1e6,
          cacheWrite: 1e6,
          cacheWrite1h: 5e5,
          cacheRead: 1e6,
        }),
        'calculate',
      ),
      1 + 5 + 0.625 + 1 + 0.1,
    ),
    'haiku 4.5',
  )
  t.ok(
    near(
      recordCost(
        rec({ model: 'gpt-5-codex', source: 'codex', input: 1030, output: 1240, cacheRead: 9088, reasoning: 832 }),
        'calculate',
      ),
      0.0148235,
    ),
    'gpt-5-codex (reasoning inside output)',
  )

  // Fast mode
  t.ok(near(recordCost(rec({ model: 'claude-opus-4-6', input: 1e6 }), 'calculate'), 5))
  t.ok(
    near(recordCost(rec({ model: 'claude-opus-4-6', input: 1e6, speed: 'fast' }), 'calculate'), 30),
    'fast multiplier 6',
  )
  t.ok(
    near(recordCost(rec({ model: 'claude-opus-4-1-20250805', input: 1e6, speed: 'fast' }), 'calculate'), 15),
    'no multiplier in the table → unchanged',
  )
})

t.test('recordCost: modes', async (t) => {
  // A15: opus 4.1 with a reported costUSD
  const a15 = rec({
    model: 'claude-opus-4-1-20250805',
    input: 14,
    output: 873,
    cacheWrite: 2790,
    cacheRead: 9640,
    costUSD: 0.1982,
  })
  const calc = (14 * 15 + 873 * 75 + 2790 * 18.75 + 9640 * 1.5) / 1e6
  t.ok(near(recordCost(a15, 'calculate'), calc), 'calculate ignores costUSD')
  t.ok(near(calc, 0.1324575))
  t.equal(recordCost(a15, 'display'), 0.1982, 'display = reported')
  t.equal(recordCost(a15, 'auto'), 0.1982, 'auto = reported when present')
  const plain = rec({ input: 1000, output: 2000 })
  t.equal(recordCost(plain, 'display'), 0, 'display without costUSD = 0')
  t.ok(near(recordCost(plain, 'auto'), 0.033), 'auto without costUSD = calculated')

  const unknown = rec({ model: 'mystery-model', input: 1000 })
  t.equal(recordCost(unknown, 'calculate'), null, 'unknown model → null')
  t.equal(recordCost(unknown, 'auto'), null)
  t.equal(recordCost(unknown, 'display'), 0)
  t.equal(recordCost({ ...unknown, costUSD: 0.7 }, 'auto'), 0.7, 'a reported cost needs no price')
  t.equal(recordCost({ ...unknown, costUSD: 0.7 }, 'calculate'), null)
})

t.test('overrides from config: merge into a known model, add a new one, change the sha', async (t) => {
  const { EMBEDDED_PRICES } = await import('../../lib/report/prices.js')
  const table = EMBEDDED_PRICES.withOverrides(
    { 'claude-haiku-4-5': { input: 2 }, 'my-local-model': { input: 0.5, output: 1 } },
    'config.json',
  )
  t.equal(table.lookup('claude-haiku-4-5-20251001')!.input, 2, 'overridden field')
  t.equal(table.lookup('claude-haiku-4-5-20251001')!.output, 5, 'other fields kept')
  t.same(table.lookup('my-local-model-q4'), { input: 0.5, output: 1, cacheWrite5m: 0, cacheWrite1h: 0, cacheRead: 0 })
  const r = {
    v: 1 as const,
    id: 'a'.repeat(32),
    ts: '2026-11-21T00:00:00.000Z',
    source: 'x',
    model: 'my-local-model',
    input: 1_000_000,
    output: 2_000_000,
    cacheWrite: 0,
    cacheRead: 0,
  }
  t.equal(table.cost(r, 'calculate'), 0.5 + 2)
  t.equal(EMBEDDED_PRICES.cost(r, 'calculate'), null, 'unknown to the embedded table')
  t.not(table.sha256, EMBEDDED_PRICES.sha256, 'pricing.sha256 names the effective table')
  t.equal(EMBEDDED_PRICES.withOverrides({}, 'c').sha256, EMBEDDED_PRICES.sha256)
  t.throws(() => EMBEDDED_PRICES.withOverrides({ 'new-model': { input: 1 } }, 'config.json'), {
    code: 'BAD_CONFIG',
    message: /new model and needs input and output/,
  })
  t.throws(() => EMBEDDED_PRICES.withOverrides({ 'gpt-5': { input: -1 } }, 'config.json'), {
    code: 'BAD_CONFIG',
    message: /prices\.gpt-5 \.input must be a non-negative number/,
  })
})
