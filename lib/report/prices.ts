/**
 * The embedded price table (DESIGN §9), USD per million tokens. Costs are computed at report
 * time, so fixing a price here fixes all history. Models match by longest prefix, so dated
 * snapshots (claude-sonnet-4-5-20250929) use their family's row.
 */
import { sha256hex, type LedgerRecord } from '../ledger/record.js'
import { inputError } from '../errors.js'

export interface Price {
  input: number
  output: number
  cacheWrite5m: number
  cacheWrite1h: number
  cacheRead: number
  /** Rates that apply to the whole request once its prompt (input + cache) exceeds `threshold`. */
  longContext?: {
    threshold: number
    input: number
    output: number
    cacheWrite5m: number
    cacheWrite1h: number
    cacheRead: number
  }
  /** Multiplier for `speed: "fast"` requests. */
  fastMultiplier?: number
}

export const PRICES_AS_OF = '2026-11-01'

const anthropic = (input: number, output: number): Price => ({
  input,
  output,
  cacheWrite5m: input * 1.25,
  cacheWrite1h: input * 2,
  cacheRead: input * 0.1,
})
const openai = (input: number, output: number, cacheRead: number): Price => ({
  input,
  output,
  cacheWrite5m: 0,
  cacheWrite1h: 0,
  cacheRead,
})
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

export type PriceOverrides = Record<string, Partial<Price>>

/** A price table: the embedded one, or it with the overrides of config.json's `prices`. */
export class PriceTable {
  private readonly prefixes: string[]
  private readonly cache = new Map<string, Price | null>()
  private digest: string | undefined

  constructor(
    readonly prices: Record<string, Price>,
    readonly asOf: string,
  ) {
    this.prefixes = Object.keys(prices).sort((a, b) => b.length - a.length)
  }

  /** Names the table (asOf and every row), for `pricing.sha256` and the index. */
  get sha256(): string {
    this.digest ??= sha256hex(
      JSON.stringify({
        asOf: this.asOf,
        prices: Object.fromEntries(
          Object.keys(this.prices)
            .sort()
            .map((k) => [k, this.prices[k]]),
        ),
      }),
    )
    return this.digest
  }

  /** Overrides merge into a known model's row; a new model needs at least input and output. */
  withOverrides(overrides: PriceOverrides | undefined, where: string): PriceTable {
    if (!overrides || !Object.keys(overrides).length) return this
    const merged: Record<string, Price> = { ...this.prices }
    for (const [model, o] of Object.entries(overrides)) {
      const bad = (why: string) =>
        inputError('BAD_CONFIG', `${where}: prices.${model} ${why}; give USD per million tokens`)
      if (!o || typeof o !== 'object') throw bad('must be an object')
      for (const [k, v] of Object.entries(o)) {
        if (k === 'longContext') continue
        if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw bad(`.${k} must be a non-negative number`)
      }
      const base = merged[model]
      if (!base && (o.input === undefined || o.output === undefined))
        throw bad('is a new model and needs input and output')
      const zero: Price = { input: 0, output: 0, cacheWrite5m: 0, cacheWrite1h: 0, cacheRead: 0 }
      merged[model] = { ...zero, ...base, ...o } as Price
    }
    return new PriceTable(merged, this.asOf)
  }

  lookup(model: string): Price | null {
    let p = this.cache.get(model)
    if (p === undefined) {
      const m = model.replace(/^(anthropic|openai)\//, '')
      const key = this.prefixes.find((k) => m === k || m.startsWith(`${k}-`) || m.startsWith(`${k}@`))
      p = key ? this.prices[key]! : null
      this.cache.set(model, p)
    }
    return p
  }

  /** The cost of one record, or null when its model has no price (reported as a warning). */
  cost(r: LedgerRecord, mode: CostMode): number | null {
    if (mode === 'display') return r.costUSD ?? 0
    if (mode === 'auto' && r.costUSD !== undefined) return r.costUSD
    const p = this.lookup(r.model)
    if (!p) return null
    const prompt = r.input + r.cacheWrite + r.cacheRead
    const rate = p.longContext && prompt > p.longContext.threshold ? p.longContext : p
    const w1h = r.cacheWrite1h ?? 0
    const usd =
      (r.input * rate.input +
        r.output * rate.output +
        (r.cacheWrite - w1h) * rate.cacheWrite5m +
        w1h * rate.cacheWrite1h +
        r.cacheRead * rate.cacheRead) /
      1e6
    return r.speed === 'fast' && p.fastMultiplier ? usd * p.fastMultiplier : usd
  }
}

export type CostMode = 'auto' | 'calculate' | 'display'

export const EMBEDDED_PRICES = new PriceTable(PRICES, PRICES_AS_OF)
export const PRICES_SHA256 = EMBEDDED_PRICES.sha256
export const priceFor = (model: string) => EMBEDDED_PRICES.lookup(model)
export const recordCost = (r: LedgerRecord, mode: CostMode) => EMBEDDED_PRICES.cost(r, mode)
