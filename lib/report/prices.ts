/**
 * Prices (DESIGN §9), USD per million tokens, in three layers: the dataset data/prices.json (made
 * from @pydantic/genai-prices by scripts/prices.mjs), the supplement (prices/supplement.ts), and
 * config.json's overrides. A model is looked up by its pricing name (prices/names.ts). The dataset
 * is read on the first price asked for, never by a command that prices nothing (`record`).
 */
import fs from 'node:fs'
import { fileURLToPath } from 'node:url'
import { sha256hex, type LedgerRecord } from '../ledger/record.js'
import { inputError, opError } from '../errors.js'
import { pricingName } from './prices/names.js'
import { SUPPLEMENT } from './prices/supplement.js'

export interface Rates {
  input: number
  output: number
  cacheWrite5m: number
  cacheWrite1h: number
  cacheRead: number
}

/** Rates for the whole request once its prompt (input + cache writes + cache reads) exceeds `threshold`. */
export interface Tier extends Rates {
  threshold: number
}

export interface Price extends Rates {
  /** Ascending thresholds; the highest one the prompt exceeds applies (Anthropic's and Gemini's long context, Qwen's input tiers). */
  tiers?: Tier[]
  /** Multiplier for `speed: "fast"` requests. */
  fastMultiplier?: number
}

/** A price in force from a UTC date on, or during hours of each UTC day (`HH:MM:SS`, end excluded). */
export interface Period extends Partial<Price> {
  from?: string
  hours?: [string, string]
}

/** A supplement or override row: rates to merge into a known model, or a new model's periods. */
export type PriceRow = Partial<Price> | Period[]

export type PriceOverrides = Record<string, Partial<Price>>

/** When the supplement was last checked against the providers' price pages. */
export const PRICES_AS_OF = '2026-12-07'

interface Dated {
  from?: string
  hours?: [string, string]
  price: Price
}

/** What a model name resolves to: the row's key (dataset id or layer key) and its prices over time. */
interface Row {
  key: string
  periods: Dated[]
}

type Match =
  | { equals: string }
  | { starts_with: string }
  | { ends_with: string }
  | { contains: string }
  | { regex: string }
  | { or: Match[] }
  | { and: Match[] }

const matches = (m: Match, name: string): boolean =>
  'or' in m
    ? m.or.some((x) => matches(x, name))
    : 'and' in m
      ? m.and.every((x) => matches(x, name))
      : 'equals' in m
        ? name === m.equals.toLowerCase()
        : 'starts_with' in m
          ? name.startsWith(m.starts_with.toLowerCase())
          : 'ends_with' in m
            ? name.endsWith(m.ends_with.toLowerCase())
            : 'contains' in m
              ? name.includes(m.contains.toLowerCase())
              : new RegExp(m.regex).test(name)

/** A dataset rate left out is the input rate (a cache hit or write billed as plain input). */
function filled(p: Partial<Price>): Price {
  const fill = (r: Partial<Rates>): Rates => {
    const input = r.input ?? 0
    const cacheWrite5m = r.cacheWrite5m ?? input
    return {
      input,
      output: r.output ?? 0,
      cacheWrite5m,
      cacheWrite1h: r.cacheWrite1h ?? cacheWrite5m,
      cacheRead: r.cacheRead ?? input,
    }
  }
  const price: Price = fill(p)
  if (p.tiers?.length) price.tiers = p.tiers.map((t) => ({ threshold: t.threshold, ...fill(t) }))
  if (p.fastMultiplier !== undefined) price.fastMultiplier = p.fastMultiplier
  return price
}

const toDated = ({ from, hours, ...p }: Period, fill: (p: Partial<Price>) => Price): Dated => ({
  ...(from ? { from } : {}),
  ...(hours ? { hours } : {}),
  price: fill(p),
})

let datasetText: string | undefined
/** The dataset's bytes: what `pricing.sha256` names, read without parsing (a warm report prices nothing). */
function readDataset(): string {
  if (datasetText !== undefined) return datasetText
  // From the bundle (dist/cli.cjs) the package root is one up; from the sources (lib/report/) two.
  for (const rel of ['../data/prices.json', '../../data/prices.json']) {
    try {
      datasetText = fs.readFileSync(fileURLToPath(new URL(rel, import.meta.url)), 'utf8')
      return datasetText
    } catch {
      /* the other layout */
    }
  }
  throw opError(
    'PRICES_MISSING',
    'data/prices.json is missing from this usage-ledger installation; reinstall usage-ledger',
  )
}

let datasetRows: Array<Row & { id: string; match: Match }> | undefined
function loadDataset() {
  const json = JSON.parse(readDataset()) as { models: Array<{ id: string; match: Match; periods: Period[] }> }
  return json.models.map((m) => ({
    id: m.id.slice(m.id.indexOf('/') + 1),
    match: m.match,
    key: m.id,
    periods: m.periods.map((p) => toDated(p, filled)),
  }))
}

/** genai-prices' order: a model named exactly, else the first whose rule matches. */
function datasetRow(name: string): Row | null {
  const rows = (datasetRows ??= loadDataset())
  return rows.find((r) => r.id === name) ?? rows.find((r) => matches(r.match, name)) ?? null
}

/** The period in force at `ts` (canonical UTC): the last listed that applies, else the first. */
function priceAt(row: Row, ts: string): Price {
  const time = ts.slice(11, 19)
  for (let i = row.periods.length - 1; i > 0; i--) {
    const p = row.periods[i]!
    if (p.from !== undefined && ts >= p.from) return p.price
    if (p.hours) {
      const [start, end] = p.hours
      if (end < start ? time >= start || time < end : time >= start && time < end) return p.price
    }
  }
  return row.periods[0]!.price
}

const zeroFilled = (p: Partial<Price>): Price => ({
  input: 0,
  output: 0,
  cacheWrite5m: 0,
  cacheWrite1h: 0,
  cacheRead: 0,
  ...p,
})

/** A layer over the dataset or another table: its rows merge into the models below or add new ones. */
export class PriceTable {
  private readonly cache = new Map<string, Row | null>()
  private split: { patches: Map<string, Array<Partial<Price>>>; added: Map<string, Row> } | undefined
  private digest: string | undefined

  private constructor(
    private readonly below: PriceTable | null,
    private readonly rows: Record<string, PriceRow>,
    /** How a new model's missing rates are filled: config overrides with 0, as they always were. */
    private readonly fill: (p: Partial<Price>) => Price,
    readonly asOf: string,
  ) {}

  static dataset(asOf: string): PriceTable {
    return new PriceTable(null, {}, filled, asOf)
  }

  /** This table with `rows` on top. */
  with(rows: Record<string, PriceRow>, fill: (p: Partial<Price>) => Price = filled): PriceTable {
    return Object.keys(rows).length ? new PriceTable(this, rows, fill, this.asOf) : this
  }

  /** Names the effective table (the dataset's bytes and every layer), for `pricing.sha256` and the index. */
  get sha256(): string {
    this.digest ??= sha256hex(
      JSON.stringify([
        this.below?.sha256 ?? sha256hex(readDataset()),
        this.asOf,
        Object.keys(this.rows)
          .sort()
          .map((k) => [k, this.rows[k]]),
      ]),
    )
    return this.digest
  }

  /** Overrides merge into a known model's row; a new model needs at least input and output. */
  withOverrides(overrides: PriceOverrides | undefined, where: string): PriceTable {
    if (!overrides || !Object.keys(overrides).length) return this
    const rows: Record<string, PriceRow> = {}
    for (const [model, o] of Object.entries(overrides)) {
      const bad = (why: string) =>
        inputError('BAD_CONFIG', `${where}: prices.${model} ${why}; give USD per million tokens`)
      if (!o || typeof o !== 'object' || Array.isArray(o)) throw bad('must be an object')
      const { longContext, ...rates } = o as Partial<Price> & { longContext?: Tier }
      const rate = (k: string, v: unknown) => {
        if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw bad(`.${k} must be a non-negative number`)
      }
      for (const [k, v] of Object.entries(rates)) {
        if (k !== 'tiers') rate(k, v)
        else if (!Array.isArray(v)) throw bad('.tiers must be a list of {threshold, input, output, …}')
      }
      for (const [i, t] of [...(rates.tiers ?? []), ...(longContext ? [longContext] : [])].entries()) {
        if (!t || typeof t !== 'object') throw bad(`.tiers[${i}] must be an object`)
        for (const [k, v] of Object.entries(t)) rate(`tiers[${i}].${k}`, v)
      }
      if (!this.resolve(model) && (o.input === undefined || o.output === undefined))
        throw bad('is a new model and needs input and output')
      // Before tiers, a config gave one long-context tier as `longContext`.
      rows[model] = longContext ? { ...rates, tiers: [longContext] } : rates
    }
    return this.with(rows, zeroFilled)
  }

  private layers() {
    if (this.split) return this.split
    const patches = new Map<string, Array<Partial<Price>>>()
    const added = new Map<string, Row>()
    for (const [model, row] of Object.entries(this.rows)) {
      const name = pricingName(model)
      const known = Array.isArray(row) ? null : this.below?.resolve(name)
      if (known) patches.set(known.key, [...(patches.get(known.key) ?? []), row as Partial<Price>])
      else
        added.set(name, {
          key: model,
          periods: Array.isArray(row) ? row.map((p) => toDated(p, this.fill)) : [toDated(row, this.fill)],
        })
    }
    this.split = { patches, added }
    return this.split
  }

  /** The row a model name prices at: a new model's by its name or the name followed by
   * `-suffix` (unless the layers below know that longer name), else the row below with this layer's merges. */
  private resolve(model: string): Row | null {
    let row = this.cache.get(model)
    if (row !== undefined) return row
    const name = pricingName(model)
    const { patches, added } = this.layers()
    let own: Row | undefined = added.get(name)
    if (!own) {
      let best = ''
      for (const k of added.keys()) if (k.length > best.length && name.startsWith(`${k}-`)) best = k
      own = best ? added.get(best) : undefined
    }
    const below = own && added.get(name) ? null : this.below ? this.below.resolve(name) : datasetRow(name)
    if (below) {
      const merges = patches.get(below.key)
      row = merges
        ? {
            key: below.key,
            periods: below.periods.map((p) => ({ ...p, price: Object.assign({}, p.price, ...merges) })),
          }
        : below
    } else row = own ?? null
    this.cache.set(model, row)
    return row
  }

  /** The price of `model` at `ts` (canonical UTC; by default the latest dated price). */
  lookup(model: string, ts = '9999-12-31T00:00:00.000Z'): Price | null {
    const row = this.resolve(model)
    return row ? priceAt(row, ts) : null
  }

  /**
   * The cost of one record, or null when its model has no price (reported as a warning). A failed call (DESIGN §4)
   * costs nothing under every mode, whatever its source said.
   */
  cost(r: LedgerRecord, mode: CostMode): number | null {
    if (r.failed) return 0
    if (mode === 'display') return r.costUSD ?? 0
    if (mode === 'auto' && r.costUSD !== undefined) return r.costUSD
    const p = this.lookup(r.model, r.ts)
    if (!p) return null
    const prompt = r.input + r.cacheWrite + r.cacheRead
    let rate: Rates = p
    if (!SUMS_OF_REQUESTS.has(r.source)) for (const t of p.tiers ?? []) if (prompt > t.threshold) rate = t
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

/**
 * Sources whose records sum many requests (a session's running total: DESIGN §5, cumulative
 * counters): their prompt size says nothing of any one request, so no tier applies to them.
 */
const SUMS_OF_REQUESTS = new Set(['droid', 'copilot'])

export const EMBEDDED_PRICES = PriceTable.dataset(PRICES_AS_OF).with(SUPPLEMENT)
export const priceFor = (model: string, ts?: string) => EMBEDDED_PRICES.lookup(model, ts)
export const recordCost = (r: LedgerRecord, mode: CostMode) => EMBEDDED_PRICES.cost(r, mode)
