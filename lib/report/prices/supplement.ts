/**
 * What the dataset (data/prices.json, from @pydantic/genai-prices) lacks, layered over it and under
 * config.json's overrides (DESIGN §9). USD per million tokens. A row for a model the dataset knows
 * merges into the dataset's rates; a row for a new model is its whole price. Each says where its
 * numbers come from; delete a row once the dataset carries it.
 */
import type { PriceRow } from '../prices.js'

/** Alibaba Cloud Model Studio (international) bills a Qwen request by its input length, whole
 * request at one tier; explicit cache hits at 10% of input, writes at 125%. */
const qwen = (tiers: Array<[threshold: number, input: number, output: number]>) => {
  const rates = (input: number, output: number) => ({
    input,
    output,
    cacheRead: input * 0.1,
    cacheWrite5m: input * 1.25,
    cacheWrite1h: input * 1.25,
  })
  const [[, input, output], ...rest] = tiers
  return { ...rates(input!, output!), tiers: rest.map(([threshold, i, o]) => ({ threshold, ...rates(i, o) })) }
}

/** Z.ai and Moonshot bill a cache hit at its own rate and a cache write as the input it is. */
const cached = (input: number, output: number, cacheRead: number) => ({
  input,
  output,
  cacheRead,
  cacheWrite5m: input,
  cacheWrite1h: input,
})
const kimiK25 = cached(0.6, 3, 0.1)
const kimiK26 = cached(0.95, 4, 0.16)

export const SUPPLEMENT: Record<string, PriceRow> = {
  // Fast mode (`speed: "fast"`) costs 6× the standard rates (Anthropic's pricing page).
  'claude-opus-4-6': { fastMultiplier: 6 },
  // Sonnet 4's 1M-context beta: a prompt over 200k at 2× input and 1.5× output (Anthropic's
  // pricing page, as for Sonnet 4.5, whose tier the dataset has).
  'claude-sonnet-4': {
    tiers: [{ threshold: 200_000, input: 6, output: 22.5, cacheWrite5m: 7.5, cacheWrite1h: 12, cacheRead: 0.6 }],
  },
  'qwen3-coder-plus': qwen([
    [0, 1, 5],
    [32_000, 1.8, 9],
    [128_000, 3, 15],
    [256_000, 6, 60],
  ]),
  'qwen3-coder-flash': qwen([
    [0, 0.3, 1.5],
    [32_000, 0.5, 2.5],
    [128_000, 0.8, 4],
    [256_000, 1.6, 9.6],
  ]),
  'qwen3-max': qwen([
    [0, 1.2, 6],
    [32_000, 2.4, 12],
    [128_000, 3, 15],
  ]),
  // Z.ai's international list (the dataset has GLM 4.7 and later only).
  'glm-4.6': cached(0.6, 2.2, 0.11),
  'glm-4.5': cached(0.6, 2.2, 0.11),
  // Kimi Code's subscription model served Kimi K2.5, then K2.6 from 2026-04-20 (ccusage 20 prices
  // it the same way); rates are Moonshot's list prices of those models.
  'kimi-for-coding': [kimiK25, { from: '2026-04-20', ...kimiK26 }],
}
