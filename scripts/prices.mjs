// Makes data/prices.json, the price dataset the CLI reads when it prices (DESIGN §9), from the
// installed @pydantic/genai-prices (pinned in package.json; its data is MIT). Only what a token
// ledger can use is kept: the first-party providers of the models agents log, each model's match
// rule and its token rates (USD per million) with their start dates, times of day and tiers.
// Run `npm run prices` after bumping the package; test/report/prices.test.ts fails until then.
import { createRequire } from 'node:module'
import { readFileSync, writeFileSync } from 'node:fs'

const require = createRequire(import.meta.url)

/** Searched in this order; resellers (openrouter, github-copilot) are reached by name normalisation. */
export const PROVIDERS = [
  'anthropic',
  'openai',
  'google',
  'x-ai',
  'moonshotai',
  'deepseek',
  'zai',
  'zhipuai',
  'mistral',
  'minimax',
]

const FIELDS = {
  input_mtok: 'input',
  output_mtok: 'output',
  cache_read_mtok: 'cacheRead',
  cache_write_mtok: 'cacheWrite5m',
  cache_write_1h_mtok: 'cacheWrite1h',
}

/** genai-prices tiers are per field (the whole request at a tier's price once its input passes the
 * tier's start); ours are per request: one set of rates for each start any field has. */
function rates(prices) {
  const base = {}
  const starts = new Set()
  for (const [from, to] of Object.entries(FIELDS)) {
    const v = prices[from]
    if (v === undefined) continue
    if (typeof v === 'number') base[to] = v
    else {
      base[to] = v.base
      for (const t of v.tiers) starts.add(t.start)
    }
  }
  if (base.input === undefined && base.output === undefined) return null
  if (starts.size) {
    base.tiers = [...starts]
      .sort((a, b) => a - b)
      .map((threshold) => {
        const tier = { threshold }
        for (const [from, to] of Object.entries(FIELDS)) {
          const v = prices[from]
          if (v === undefined) continue
          if (typeof v === 'number') tier[to] = v
          else tier[to] = v.tiers.filter((t) => t.start <= threshold).at(-1)?.price ?? v.base
        }
        return tier
      })
  }
  return base
}

function period(constraint, prices) {
  const r = rates(prices)
  if (!r) return null
  if (constraint?.type === 'start_date') return { from: constraint.start_date, ...r }
  if (constraint?.type === 'time_of_date')
    return { hours: [constraint.start_time.slice(0, 8), constraint.end_time.slice(0, 8)], ...r }
  if (constraint) throw new Error(`unknown price constraint ${JSON.stringify(constraint)}`)
  return r
}

export function compilePrices() {
  const main = require.resolve('@pydantic/genai-prices')
  const pkg = JSON.parse(readFileSync(new URL('../package.json', `file://${main}`), 'utf8'))
  const { findProvider } = require('@pydantic/genai-prices')
  const models = []
  for (const id of PROVIDERS) {
    const provider = findProvider({ providerId: id })
    if (!provider) throw new Error(`@pydantic/genai-prices has no provider ${id}`)
    for (const m of provider.models) {
      const list = Array.isArray(m.prices) ? m.prices : [{ prices: m.prices }]
      const periods = list.map((c) => period(c.constraint, c.prices))
      if (periods.some((p) => p === null)) continue // image, audio or per-request models
      models.push({ id: `${id}/${m.id}`, match: m.match, periods })
    }
  }
  const lines = models.map((m) => `    ${JSON.stringify(m)}`)
  return `{\n  "source": ${JSON.stringify(`${pkg.name}@${pkg.version}`)},\n  "models": [\n${lines.join(',\n')}\n  ]\n}\n`
}

if (import.meta.url === `file://${process.argv[1]}`)
  writeFileSync(new URL('../data/prices.json', import.meta.url), compilePrices())
