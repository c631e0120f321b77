/**
 * The embedded price table (DESIGN §9), USD per million tokens. Costs are computed at report
 * time, so fixing a price here fixes all history. Models match by longest prefix, so dated
 * snapshots (claude-sonnet-4-5-20250929) use their family's row.
 */
import { sha256hex, type LedgerRecord } from '../ledger/record.js'

export interface Price {
  input: number
  output: number
  cacheWrite5m: number
  cacheWrite1h: number
  cacheRead: number
  /** Rates that apply to the whole request once its prompt (input + cache) exceeds `threshold`. */
  longContext?: { threshold: number; input: number; output: number; cacheWrite5m: number; cacheWrite1h: number; cacheRead: number }
  /** Multiplier for `speed: "fast"` requests. */
  fastMultiplier?: number
}

export const PRICES_AS_OF = '2026-11-01'

const anthropic = (input: number, output: number): Price => ({ input, output, cacheWrite5m: input * 1.25, cacheWrite1h: input * 2, cacheRead: input * 0.1 })
const openai = (input: number, output: number, cacheRead: number): Price => ({ input, output, cacheWrite5m: 0, cacheWrite1h: 0, cacheRead })
const sonnetLong = { threshold: 200_000, input: 6, output: 22.5, cacheWrite5m: 7.5, cacheWrite1h: 12, cacheRead: 0.6 }

export const PRICES: Record<string, Price> = {
  'claude-opus-4-6': { ...anthropic(5, 25), fastMultiplier: 6 },
  'claude-opus-4-5': anthropic(5, 25),
  'claude-opus-4-1': anthropic(15, 75),
  'claude-opus-4': anthropic(15, 75),
  'claude-sonnet-4-5': { ...anthropic(3, 15), longContext: sonnetLong },
  'claude-sonnet-4': { ...anthropic(3, 15), longContext: sonnetLong },
  'claude-3-7-sonnet': anthropic(3, 15),
  'claude-haiku-4-5': anthropic(1, 5),
  'claude-3-5-haiku': anthropic(0.8, 4),
  'gpt-5-codex': openai(1.25, 10, 0.125),
  'gpt-5-mini': openai(0.25, 2, 0.025),
  'gpt-5-nano': openai(0.05, 0.4, 0.005),
  'gpt-5': openai(1.25, 10, 0.125),
}

export const PRICES_SHA256 = sha256hex(JSON.stringify({ asOf: PRICES_AS_OF, prices: PRICES }))

const prefixes = Object.keys(PRICES).sort((a, b) => b.length - a.length)
const cache = new Map<string, Price | null>()

export function priceFor(model: string): Price | null {
  let p = cache.get(model)
  if (p === undefined) {
    const m = model.replace(/^(anthropic|openai)\//, '')
    const key = prefixes.find((k) => m === k || m.startsWith(k + '-') || m.startsWith(k + '@'))
    p = key ? PRICES[key]! : null
    cache.set(model, p)
  }
  return p
}

export type CostMode = 'auto' | 'calculate' | 'display'

/** The cost of one record, or null when its model has no price (reported as a warning). */
export function recordCost(r: LedgerRecord, mode: CostMode): number | null {
  if (mode === 'display') return r.costUSD ?? 0
  if (mode === 'auto' && r.costUSD !== undefined) return r.costUSD
  const p = priceFor(r.model)
  if (!p) return null
  const prompt = r.input + r.cacheWrite + r.cacheRead
  const rate = p.longContext && prompt > p.longContext.threshold ? p.longContext : p
  const w1h = r.cacheWrite1h ?? 0
  const usd = (r.input * rate.input + r.output * rate.output + (r.cacheWrite - w1h) * rate.cacheWrite5m + w1h * rate.cacheWrite1h + r.cacheRead * rate.cacheRead) / 1e6
  return r.speed === 'fast' && p.fastMultiplier ? usd * p.fastMultiplier : usd
}
