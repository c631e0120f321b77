import { readFileSync } from 'node:fs'
import t from 'tap'
import { EMBEDDED_PRICES, priceFor, PRICES_AS_OF, PriceTable, recordCost, type Price } from '../../lib/report/prices.js'
import { pricingName } from '../../lib/report/prices/names.js'
import { sha256hex, type LedgerRecord } from '../../lib/ledger/record.js'

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
const rates = (p: Price | null) =>
  p && [p.input, p.output, p.cacheWrite5m, p.cacheWrite1h, p.cacheRead].map((v) => Math.round(v * 1e6) / 1e6)

/** Every model the agents log (issue 13): each must stay priced. */
const REQUIRED: Record<string, [input: number, output: number, cacheRead: number]> = {
  'claude-opus-4-20250514': [15, 75, 1.5],
  'claude-opus-4-1-20250805': [15, 75, 1.5],
  'claude-opus-4-5-20251101': [5, 25, 0.5],
  'claude-opus-4-6': [5, 25, 0.5],
  'claude-sonnet-4-20250514': [3, 15, 0.3],
  'claude-sonnet-4-5-20250929': [3, 15, 0.3],
  'claude-haiku-4-5-20251001': [1, 5, 0.1],
  'claude-3-5-haiku-20241022': [0.8, 4, 0.08],
  'claude-3-5-sonnet-20241022': [3, 15, 0.3],
  'claude-3-7-sonnet-20250219': [3, 15, 0.3],
  'gpt-5': [1.25, 10, 0.125],
  'gpt-5-codex': [1.25, 10, 0.125],
  'gpt-5.1': [1.25, 10, 0.125],
  'gpt-5.1-codex': [1.25, 10, 0.125],
  'gpt-5.1-codex-max': [1.25, 10, 0.125],
  'gpt-5.1-codex-mini': [0.25, 2, 0.025],
  'gpt-5.2': [1.75, 14, 0.175],
  'gpt-5.4': [2.5, 15, 0.25],
  'gpt-5-mini': [0.25, 2, 0.025],
  'gpt-4.1': [2, 8, 0.5],
  o3: [2, 8, 0.5],
  'o4-mini': [1.1, 4.4, 0.275],
  'gemini-2.5-pro': [1.25, 10, 0.125],
  'gemini-2.5-flash': [0.3, 2.5, 0.03],
  'gemini-2.5-flash-lite': [0.1, 0.4, 0.01],
  'gemini-3-pro-preview': [2, 12, 0.2],
  'gemini-3-flash': [0.5, 3, 0.05],
  'qwen3-coder-plus': [1, 5, 0.1],
  'qwen3-coder-flash': [0.3, 1.5, 0.03],
  'qwen3-max': [1.2, 6, 0.12],
  'coder-model': [1, 5, 0.1],
  'kimi-k2': [0.57, 2.3, 0.57],
  'kimi-k2-turbo-preview': [1.15, 8, 0.15],
  'kimi-k2.5': [0.6, 3, 0.1],
  'kimi-k2.6': [0.95, 4, 0.16],
  'kimi-for-coding': [0.95, 4, 0.16],
  'glm-4.6': [0.6, 2.2, 0.11],
  'glm-4.5': [0.6, 2.2, 0.11],
  'grok-code-fast-1': [0.2, 1.5, 0.02],
  'grok-4': [3, 15, 0.75],
  'grok-4-fast': [0.2, 0.5, 0.05],
  'deepseek-chat': [0.27, 1.1, 0.07],
  'deepseek-reasoner': [0.55, 2.19, 0.14],
  'claude-sonnet-4.5': [3, 15, 0.3], // Copilot's name
  'openai/gpt-5': [1.25, 10, 0.125],
}

t.test('every model of the issue is priced (at noon UTC, 2026-11-21)', async (t) => {
  for (const [model, [input, output, cacheRead]] of Object.entries(REQUIRED)) {
    const p = priceFor(model, '2026-11-21T12:00:00.000Z')
    t.ok(p, `${model} is priced`)
    if (p) t.same([p.input, p.output, Math.round(p.cacheRead * 1e6) / 1e6], [input, output, cacheRead], model)
  }
})

// That every model of every fixture is priced: test/collect/index.test.ts (it reads them all).
t.test('the names sources log that the dataset spells otherwise', async (t) => {
  t.same(rates(priceFor('grok-4.5-build')), [2, 6, 2, 2, 0.3], "Grok Build's name for grok-4.5")
  t.same(rates(priceFor('kimi-code/k3')), [3, 15, 3, 3, 0.3], "Kimi Code's k3 is kimi-k3")
  t.same(rates(priceFor('claude-opus-4.5-thinking')), [5, 25, 6.25, 10, 0.5], "Droid's thinking variant")
})

t.test('pricingName: prefixes, suffixes, dotted Claude versions, aliases', async (t) => {
  const cases: Array<[string, string]> = [
    ['claude-sonnet-4-5-20250929', 'claude-sonnet-4-5-20250929'],
    ['anthropic/claude-sonnet-4.5', 'claude-sonnet-4-5'],
    ['openrouter/anthropic/claude-opus-4.1', 'claude-opus-4-1'],
    ['claude-3.5-haiku', 'claude-3-5-haiku'],
    ['google/gemini-2.5-pro', 'gemini-2.5-pro'],
    ['x-ai/grok-code-fast-1', 'grok-code-fast-1'],
    ['xai/grok-4', 'grok-4'],
    ['moonshotai/kimi-k2.5', 'kimi-k2.5'],
    ['qwen/qwen3-coder-plus', 'qwen3-coder-plus'],
    ['zai/glm-4.6', 'glm-4.6'],
    ['deepseek/deepseek-chat', 'deepseek-chat'],
    ['gpt-5:free', 'gpt-5'],
    ['claude-sonnet-4-5@20250929', 'claude-sonnet-4-5'],
    ['gemini-2.5-pro@us-central1', 'gemini-2.5-pro'],
    ['claude-sonnet-4-5[1m]', 'claude-sonnet-4-5'],
    ['claude-sonnet-4-5-1m', 'claude-sonnet-4-5'],
    ['claude-sonnet-4.5 (thinking)', 'claude-sonnet-4-5'],
    ['us.anthropic.claude-sonnet-4-5-20250929-v1:0', 'claude-sonnet-4-5-20250929'],
    ['Claude-Opus-4-6', 'claude-opus-4-6'],
    ['coder-model', 'qwen3-coder-plus'],
    ['k2p6', 'kimi-k2.6'],
    ['kimi-code/k3', 'kimi-k3'],
    ['grok-4.5-build', 'grok-4.5'],
    ['grok-4.5-build-free', 'grok-4.5'],
    ['grok-build-0.1', 'grok-build-0.1'],
    ['gemini-3-pro-high', 'gemini-3-pro-preview'],
    ['gemini-3-flash', 'gemini-3-flash-preview'],
    ['gpt-5.1-codex-max', 'gpt-5.1-codex-max'],
    ['kimi-k2.6', 'kimi-k2.6'],
  ]
  for (const [raw, want] of cases) t.equal(pricingName(raw), want, raw)
  for (const [raw] of cases) t.equal(pricingName(pricingName(raw)), pricingName(raw), `idempotent: ${raw}`)
})

t.test('lookup: dated ids, provider prefixes, unknown models', async (t) => {
  t.same(rates(priceFor('claude-sonnet-4-5-20250929')), [3, 15, 3.75, 6, 0.3])
  t.same(rates(priceFor('claude-opus-4-1-20250805')), [15, 75, 18.75, 30, 1.5], 'opus-4-1, not opus-4')
  t.same(rates(priceFor('claude-opus-4-5-20251101')), [5, 25, 6.25, 10, 0.5], 'opus-4-5, not opus-4')
  t.same(rates(priceFor('claude-3-5-haiku-20241022')), [0.8, 4, 1, 1.6, 0.08])
  t.same(rates(priceFor('gpt-5-mini-2025-08-07')), [0.25, 2, 0.25, 0.25, 0.025], 'gpt-5-mini, not gpt-5')
  t.same(rates(priceFor('gpt-5-2025-08-07')), [1.25, 10, 1.25, 1.25, 0.125])
  t.same(rates(priceFor('openai/gpt-5-nano')), [0.05, 0.4, 0.05, 0.05, 0.005])
  t.same(priceFor('anthropic/claude-haiku-4-5'), priceFor('claude-haiku-4-5-20251001'), 'provider prefix')
  t.same(priceFor('us.anthropic.claude-haiku-4-5-20251001-v1:0'), priceFor('claude-haiku-4-5'), 'Bedrock id')
  t.equal(priceFor('mystery-model'), null)
  t.equal(priceFor('unknown'), null)
  t.equal(priceFor('claude-sonnet-45'), null, 'no match without a separator')
  t.equal(priceFor('glm-4.5-air')!.input, 0.11, 'glm-4.5-air is the dataset’s, not the supplement’s glm-4.5')
  t.equal(priceFor('claude-sonnet-4-5-20250929'), priceFor('claude-sonnet-4-5-20250929'), 'cached lookups agree')
})

t.test('tiers: the whole request at the rate of the highest threshold its prompt exceeds', async (t) => {
  const s = priceFor('claude-sonnet-4-5')!
  t.same(s.tiers, [{ threshold: 200_000, input: 6, output: 22.5, cacheWrite5m: 7.5, cacheWrite1h: 12, cacheRead: 0.6 }])
  // Sonnet 4.5: prompt 201k → long rates for everything, output included.
  t.ok(near(recordCost(rec({ input: 1000, output: 100, cacheRead: 200_000 }), 'calculate'), 0.12825))
  t.ok(
    near(recordCost(rec({ input: 100, output: 1000, cacheWrite: 200_000, cacheWrite1h: 50_000 }), 'calculate'), 1.7481),
    'long rates for 5m and 1h writes',
  )
  t.ok(near(recordCost(rec({ cacheRead: 200_000 }), 'calculate'), 0.06), 'exactly 200k → standard rates')
  t.ok(near(recordCost(rec({ cacheRead: 200_001 }), 'calculate'), (200_001 * 0.6) / 1e6), '200001 → long')
  t.ok(near(recordCost(rec({ output: 1_000_000 }), 'calculate'), 15), 'output alone never long')
  t.ok(
    near(recordCost(rec({ model: 'claude-opus-4-1-20250805', cacheRead: 300_000 }), 'calculate'), 0.45),
    'no tier for opus 4.1',
  )
  t.ok(
    near(
      recordCost(rec({ model: 'claude-sonnet-4-20250514', input: 1000, output: 100, cacheRead: 200_000 }), 'calculate'),
      0.12825,
    ),
    "Sonnet 4's tier, from the supplement",
  )
  // Gemini 2.5 Pro: 1.25/10/0.125 up to 200k, 2.5/15/0.25 above.
  const gemini = (o: Partial<LedgerRecord>) =>
    recordCost(rec({ model: 'gemini-2.5-pro', source: 'gemini', ...o }), 'calculate')
  t.ok(near(gemini({ input: 100_000, output: 1000, cacheRead: 100_000 }), 0.125 + 0.01 + 0.0125), 'Gemini at 200k')
  t.ok(near(gemini({ input: 100_001, output: 1000, cacheRead: 100_000 }), 0.2500025 + 0.015 + 0.025), 'Gemini above')
  // Gemini 3 Pro: 2/12/0.2, above 200k 4/18/0.4.
  t.ok(
    near(recordCost(rec({ model: 'google/gemini-3-pro-preview', input: 250_000, output: 10_000 }), 'calculate'), 1.18),
    'Gemini 3 Pro above 200k: 250k × 4 + 10k × 18',
  )
  // Qwen3 Coder Plus: four tiers by input length.
  const qwen = (input: number) =>
    recordCost(rec({ model: 'qwen3-coder-plus', source: 'qwen', input, output: 1000 }), 'calculate')
  t.ok(near(qwen(32_000), 0.032 + 0.005), '≤ 32k: 1 / 5')
  t.ok(near(qwen(32_001), 0.0576018 + 0.009), '> 32k: 1.8 / 9')
  t.ok(near(qwen(200_000), 0.6 + 0.015), '> 128k: 3 / 15')
  t.ok(near(qwen(300_000), 1.8 + 0.06), '> 256k: 6 / 60')
  // GPT-5.4 from 272k prompt tokens.
  t.ok(near(recordCost(rec({ model: 'gpt-5.4', source: 'codex', input: 272_000 }), 'calculate'), 1.36), '272k at 5')
  t.ok(near(recordCost(rec({ model: 'gpt-5.4', source: 'codex', input: 271_999 }), 'calculate'), 0.6799975))
})

t.test('tiers: never for a record that sums a session of requests (droid, copilot)', async (t) => {
  const big = { input: 1000, output: 100, cacheRead: 200_000 }
  t.ok(near(recordCost(rec({ ...big }), 'calculate'), 0.12825), 'one Claude Code request over 200k: long rates')
  for (const source of ['droid', 'copilot'])
    t.ok(
      near(recordCost(rec({ ...big, source }), 'calculate'), (1000 * 3 + 100 * 15 + 200_000 * 0.3) / 1e6),
      `${source}: the session's sum at base rates`,
    )
})

t.test('history: a price change does not reprice the months before it', async (t) => {
  const o3 = (ts: string) => recordCost(rec({ model: 'o3', source: 'codex', ts, input: 1e6, output: 1e6 }), 'calculate')
  t.equal(o3('2025-06-09T23:59:59.999Z'), 50, 'o3 before the cut of 2025-06-10: 10 + 40')
  t.equal(o3('2025-06-10T00:00:00.000Z'), 10, 'from the cut: 2 + 8')
  const opus = (ts: string) =>
    recordCost(rec({ model: 'claude-opus-4-6', ts, input: 300_000, output: 1000 }), 'calculate')
  t.ok(near(opus('2026-03-12T12:00:00.000Z'), 3 + 0.0375), 'Opus 4.6 long context before 2026-03-13: 10 / 37.5')
  t.ok(near(opus('2026-03-13T12:00:00.000Z'), 1.5 + 0.025), 'flat after: 5 / 25')
  const kimi = (ts: string) => priceFor('kimi-for-coding', ts)!.input
  t.equal(kimi('2026-04-19T23:59:59.999Z'), 0.6, 'kimi-for-coding was K2.5')
  t.equal(kimi('2026-04-20T00:00:00.000Z'), 0.95, 'then K2.6')
  // DeepSeek's off-peak hours (16:30–00:30 UTC), a time-of-day constraint in the dataset.
  t.equal(priceFor('deepseek-chat', '2026-11-21T12:00:00.000Z')!.input, 0.27)
  t.equal(priceFor('deepseek-chat', '2026-11-21T16:30:00.000Z')!.input, 0.135)
  t.equal(priceFor('deepseek-chat', '2026-11-21T00:29:59.999Z')!.input, 0.135)
  t.equal(priceFor('deepseek-chat', '2026-11-21T00:30:00.000Z')!.input, 0.27)
})

t.test('recordCost: hand-computed', async (t) => {
  // sonnet 4.5: 3 in, 15 out, 3.75 5m write, 6 1h write, 0.3 read per MTok
  const c1 = recordCost(
    rec({ input: 1000, output: 2000, cacheWrite: 10000, cacheWrite1h: 4000, cacheRead: 50000 }),
    'calculate',
  )
  t.ok(near(c1, 0.0945), `5m+1h writes and reads: ${c1}`)
  t.ok(
    near(recordCost(rec({ input: 1000, output: 2000, cacheWrite: 10000, cacheRead: 50000 }), 'calculate'), 0.0855),
    'all 5m writes',
  )
  t.ok(near(recordCost(rec({ cacheWrite: 100_000, cacheWrite1h: 100_000 }), 'calculate'), 0.6), '1h writes at 2× input')
  t.ok(near(recordCost(rec({ cacheWrite: 100_000 }), 'calculate'), 0.375), '5m writes at 1.25× input')
  t.ok(near(recordCost(rec({ cacheRead: 100_000 }), 'calculate'), 0.03), 'cache read at 0.1× input')
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
  t.ok(
    near(
      recordCost(rec({ model: 'kimi-k2.6', source: 'kimi', input: 1e6, cacheWrite: 1e6, cacheRead: 1e6 }), 'calculate'),
      0.95 + 0.95 + 0.16,
    ),
    'a rate the dataset lacks (Kimi cache writes) is the input rate',
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
  t.ok(near(recordCost(a15, 'calculate'), 0.1324575), 'calculate ignores costUSD')
  t.equal(recordCost(a15, 'display'), 0.1982, 'display = reported')
  t.equal(recordCost(a15, 'auto'), 0.1982, 'auto = reported when present')
  const plain = rec({ input: 1000, output: 2000 })
  t.equal(recordCost(plain, 'display'), 0, 'display without costUSD = 0')
  t.ok(near(recordCost(plain, 'auto'), 0.033), 'auto without costUSD = calculated')

  const unknown = rec({ model: 'mystery-model', input: 1000 })
  t.equal(recordCost(unknown, 'calculate'), null, 'unknown model → null (listed in warnings)')
  t.equal(recordCost(unknown, 'auto'), null)
  t.equal(recordCost(unknown, 'display'), 0)
  t.equal(recordCost({ ...unknown, costUSD: 0.7 }, 'auto'), 0.7, 'a reported cost needs no price')
  t.equal(recordCost({ ...unknown, costUSD: 0.7 }, 'calculate'), null)
})

t.test('pricing.sha256: names the dataset and every layer, stable otherwise', async (t) => {
  t.match(EMBEDDED_PRICES.sha256, /^[0-9a-f]{64}$/)
  t.match(PRICES_AS_OF, /^\d{4}-\d{2}-\d{2}$/)
  const data = readFileSync(new URL('../../data/prices.json', import.meta.url), 'utf8')
  const dataset = PriceTable.dataset(PRICES_AS_OF)
  t.equal(dataset.sha256, sha256hex(JSON.stringify([sha256hex(data), PRICES_AS_OF, []])), "the dataset's bytes")
  const { SUPPLEMENT } = await import('../../lib/report/prices/supplement.js')
  t.equal(dataset.with(SUPPLEMENT).sha256, EMBEDDED_PRICES.sha256, 'the same layers, the same digest')
  t.not(dataset.with(SUPPLEMENT).sha256, dataset.sha256, 'the supplement is named')
  t.not(
    dataset.with({ ...SUPPLEMENT, 'glm-4.6': { input: 0.61 } }).sha256,
    EMBEDDED_PRICES.sha256,
    'a supplement change changes it',
  )
  t.not(PriceTable.dataset('2026-01-01').sha256, dataset.sha256, 'so does the as-of date')
  const a = EMBEDDED_PRICES.withOverrides({ 'gpt-5': { input: 2 }, 'claude-opus-4-6': { output: 20 } }, 'c')
  const b = EMBEDDED_PRICES.withOverrides({ 'claude-opus-4-6': { output: 20 }, 'gpt-5': { input: 2 } }, 'c')
  t.equal(a.sha256, b.sha256, 'the order of config keys does not matter')
  t.not(a.sha256, EMBEDDED_PRICES.sha256)
})

t.test('data/prices.json is what scripts/prices.mjs makes of the installed @pydantic/genai-prices', async (t) => {
  // @ts-expect-error a build script, not typed
  const { compilePrices } = (await import('../../scripts/prices.mjs')) as { compilePrices: () => string }
  const data = readFileSync(new URL('../../data/prices.json', import.meta.url), 'utf8')
  t.ok(compilePrices() === data, 'run `npm run prices` after changing the package')
  t.match(data, /"source": "@pydantic\/genai-prices@\d/)
})

t.test('overrides from config: merge into a known model, add a new one, change the sha', async (t) => {
  const table = EMBEDDED_PRICES.withOverrides(
    {
      'claude-haiku-4-5': { input: 2 },
      'my-local-model': { input: 0.5, output: 1 },
      'glm-4.6': { output: 2 },
      'claude-opus-4-6': { input: 4 },
    },
    'config.json',
  )
  t.equal(table.lookup('claude-haiku-4-5-20251001')!.input, 2, 'overridden field')
  t.equal(table.lookup('claude-haiku-4-5-20251001')!.output, 5, 'other fields kept')
  t.equal(table.lookup('anthropic/claude-haiku-4-5')!.input, 2, 'every name of the model')
  t.equal(table.lookup('claude-haiku-4-5', '2025-01-01T00:00:00.000Z')!.input, 2, 'at every date')
  t.same(table.lookup('my-local-model-q4'), { input: 0.5, output: 1, cacheWrite5m: 0, cacheWrite1h: 0, cacheRead: 0 })
  t.same(rates(table.lookup('glm-4.6')), [0.6, 2, 0.6, 0.6, 0.11], 'over the supplement')
  t.equal(table.lookup('claude-opus-4-6')!.fastMultiplier, 6, "the supplement's fast multiplier kept")
  t.equal(
    table.cost(rec({ model: 'claude-opus-4-6', input: 1e6, speed: 'fast' }), 'calculate'),
    24,
    'and applied to the overridden rate',
  )
  const r = rec({ model: 'my-local-model', source: 'x', input: 1_000_000, output: 2_000_000 })
  t.equal(table.cost(r, 'calculate'), 0.5 + 2)
  t.equal(EMBEDDED_PRICES.cost(r, 'calculate'), null, 'unknown to the embedded table')
  t.not(table.sha256, EMBEDDED_PRICES.sha256, 'pricing.sha256 names the effective table')
  t.equal(EMBEDDED_PRICES.withOverrides({}, 'c').sha256, EMBEDDED_PRICES.sha256)

  const tiered = EMBEDDED_PRICES.withOverrides(
    {
      'claude-opus-4-1': {
        longContext: { threshold: 100_000, input: 30, output: 0, cacheWrite5m: 0, cacheWrite1h: 0, cacheRead: 0 },
      },
    } as never,
    'config.json',
  )
  t.equal(
    tiered.cost(rec({ model: 'claude-opus-4-1-20250805', input: 100_001 }), 'calculate'),
    3.00003,
    'a legacy longContext is a tier',
  )

  t.throws(() => EMBEDDED_PRICES.withOverrides({ 'new-model': { input: 1 } }, 'config.json'), {
    code: 'BAD_CONFIG',
    message: /new model and needs input and output/,
  })
  t.throws(() => EMBEDDED_PRICES.withOverrides({ 'gpt-5': { input: -1 } }, 'config.json'), {
    code: 'BAD_CONFIG',
    message: /prices\.gpt-5 \.input must be a non-negative number/,
  })
  t.throws(() => EMBEDDED_PRICES.withOverrides({ 'gpt-5': { tiers: [{ threshold: 'x' }] } } as never, 'config.json'), {
    code: 'BAD_CONFIG',
    message: /prices\.gpt-5 \.tiers\[0\]\.threshold must be a non-negative number/,
  })
})
