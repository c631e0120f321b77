/** What `report daily|monthly|…` computes: totals over every device's ledger in the store. */
import { usageError } from '../../errors.js'
import type { Store } from '../../store/store.js'
import {
  crossDeviceStats,
  indexRows,
  indexStats,
  utcRange,
  type IndexData,
  type IndexStats,
} from '../../index/index.js'
import {
  aggregateRows,
  GROUP_KEYS,
  recordRows,
  type Aggregate,
  type GroupKey,
  type Period,
  type Rows,
  DIM,
} from '../../report/aggregate.js'
import type { CostMode } from '../../report/prices.js'
import type { ReportResult } from '../../report/render.js'
import { nameRows, type NameMaps } from '../../report/sessions.js'
import { loadNames, sharedProjectNames } from '../../store/names.js'
import { quarantineWarning } from '../../store/quarantine.js'
import { checkZone, localTimeIn, systemZone } from '../../ledger/zone.js'
import { isValidDay } from '../../ledger/time.js'
import { resolveDevices } from './device-ref.js'
import { refreshIndex, storePrices, type ReadView } from './index.js'

export interface ReportQuery {
  period: Period
  tz?: string
  since?: string
  until?: string
  by: string[]
  /** Only these devices, by id, a unique id prefix or name (device-ref.ts). */
  device: string[]
  /** Only these sources and models (a model by its full id or a prefix such as claude-sonnet-4-5). */
  source: string[]
  model: string[]
  cost: CostMode
  /** Count the tokens of failed calls (at cost 0); without it they are only counted in `failed` (DESIGN §4). */
  includeFailed?: boolean
  /** The store is a --repo clone. */
  clone: boolean
}

export interface ReportView {
  result: ReportResult
  /** Devices counted at their last good head (also among the result's warnings). */
  quarantined: ReadView['quarantined']
  /** The same rows aggregated by another period and grouping (the HTML page's tables). */
  aggregateBy: (period: Period, by: GroupKey[]) => Aggregate
}

function checkDay(flag: string, v: string | undefined): string | undefined {
  if (v === undefined) return undefined
  const day = v.replace(/^(\d{4})(\d{2})(\d{2})$/, '$1-$2-$3')
  if (!isValidDay(day)) throw usageError('BAD_DATE', `${flag} "${v}" is not a date; use YYYY-MM-DD`)
  return day
}

export async function buildReport(store: Store, opts: ReportQuery): Promise<ReportView> {
  const checked = checkOptions(store, opts)
  const { tz, since, until, groupBy } = checked
  const prices = storePrices(store)
  const view = store.initialized ? await refreshIndex(store, prices, opts.clone) : null
  const idx = view?.index ?? null
  const devices = reportDevices(idx, opts.device, store.device.id)
  // Project and session are in the fine table only; the coarse one (hourly in a zone of whole-hour offsets) serves
  // every other report.
  const fine = opts.period === 'session' || groupBy.includes('project')
  const rows = idx
    ? indexRows(idx, opts.cost, dimensionFilter(devices, opts), {
        ...(fine ? { table: 'fine' as const } : { localTime: localTimeIn(tz) }),
        ...utcRange(since, until),
      })
    : recordRows([], prices, opts.cost)
  const includeFailed = opts.includeFailed ?? false
  const aggregateBy = rowAggregator(store, rows, checked, devices, opts.cost, includeFailed)
  const agg = aggregateBy(opts.period, [...new Set(groupBy)])
  const stats = indexStats(idx)
  const crossDevices = idx ? crossDeviceHolders(idx) : []
  // A device whose remote head failed the checks counts at its last good head, loudly.
  const quarantined = view?.quarantined ?? []
  const warnings = reportWarnings(store, idx, stats, agg.unknownModels, crossDevices, quarantined)
  const names = await reportNames(store, idx, fine)
  const result: ReportResult = {
    schema: 'usage-ledger/report@1',
    period: opts.period,
    timezone: tz,
    since: since ?? null,
    until: until ?? null,
    groupBy: [...new Set(groupBy)],
    includeFailed,
    rows: nameRows(agg.rows, groupBy.includes('project'), {
      period: opts.period,
      localTime: localTimeIn(tz),
      since,
      until,
      names,
      source: rows,
      includeFailed,
    }),
    totals: agg.totals,
    devices,
    pricing: {
      asOf: prices.asOf,
      sha256: prices.sha256,
      mode: opts.cost,
      overrides: Object.keys(store.config.prices ?? {}),
    },
    dedupe: { duplicateLines: stats.duplicates, crossDevice: stats.crossDevice, devices: crossDevices },
    warnings,
  }
  return { result, quarantined, aggregateBy }
}

/** Items of repeatable comma-list options (`--by device,model --by project`). */
const listItems = (values: string[]): string[] =>
  values
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter(Boolean)

interface CheckedOptions {
  tz: string
  since?: string
  until?: string
  groupBy: GroupKey[]
}

/** The zone, dates and grouping, checked before anything is read. */
function checkOptions(store: Store, opts: ReportQuery): CheckedOptions {
  const tz = checkZone(opts.tz ?? store.config.timezone ?? systemZone())
  const since = checkDay('--since', opts.since)
  const until = checkDay('--until', opts.until)
  if (since && until && since > until) throw usageError('BAD_RANGE', `--since ${since} is after --until ${until}`)
  const groupBy = listItems(opts.by) as GroupKey[]
  for (const g of groupBy)
    if (!GROUP_KEYS.includes(g)) throw usageError('BAD_GROUP', `--by ${g}: group by one of ${GROUP_KEYS.join(', ')}`)
  return { tz, since, until, groupBy }
}

/**
 * Aggregates the report's rows by a period and grouping; the HTML page does it again, by day
 * and device, by model, and by block.
 */
function rowAggregator(
  store: Store,
  rows: Rows,
  { tz, since, until }: CheckedOptions,
  devices: ReportResult['devices'],
  cost: CostMode,
  includeFailed: boolean,
): ReportView['aggregateBy'] {
  return (period, by) =>
    aggregateRows(rows, {
      period,
      localTime: localTimeIn(tz),
      since,
      until,
      groupBy: by,
      cost,
      deviceNames: new Map(devices.map((d) => [d.id, d.name])),
      now: store.env.now().getTime(),
      includeFailed,
    })
}

/** The index's devices by id; with --device, only those named. */
function reportDevices(idx: IndexData | null, wanted: string[], self: string): ReportResult['devices'] {
  const devices = idx
    ? Object.entries(idx.devices)
        .map(([id, d]) => ({ id, name: d.name, head: d.head, lastRecordAt: d.lastRecordAt }))
        .sort((a, b) => (a.id < b.id ? -1 : 1))
    : []
  if (!wanted.length) return devices
  const want = new Set(resolveDevices('--device', wanted, devices, self))
  return devices.filter((d) => want.has(d.id))
}

/** Which index dimensions count: of the report's devices, and the --source and --model asked for. */
function dimensionFilter(devices: ReportResult['devices'], opts: ReportQuery): (dim: string[]) => boolean {
  const only = new Set(devices.map((d) => d.id))
  const sources = new Set(listItems(opts.source))
  const models = listItems(opts.model)
  return (dim) => {
    const model = dim[DIM.model]!
    return (
      only.has(dim[DIM.device]!) &&
      (!sources.size || sources.has(dim[DIM.source]!)) &&
      (!models.length || models.some((m) => model === m || model.startsWith(`${m}-`) || model.startsWith(`${m}@`)))
    )
  }
}

/** Which devices hold the copies, and for which each response counts (the one that recorded it first). */
function crossDeviceHolders(idx: IndexData): NonNullable<ReportResult['dedupe']['devices']> {
  const nameOf = new Map(Object.entries(idx.devices).map(([id, d]) => [id, d.name]))
  return [...crossDeviceStats(idx)]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([id, c]) => ({ id, name: nameOf.get(id) ?? id.slice(0, 8), records: c.records, counted: c.counted }))
}

function reportWarnings(
  store: Store,
  idx: IndexData | null,
  stats: IndexStats,
  missingPrices: string[],
  crossDevices: NonNullable<ReportResult['dedupe']['devices']>,
  quarantined: ReadView['quarantined'],
): ReportResult['warnings'] {
  const { crossDevice, invalid: invalidLines, newer: newerLines } = stats
  const warnings: ReportResult['warnings'] = []
  if (missingPrices.length) warnings.push({ code: 'UNKNOWN_MODEL_PRICE', models: missingPrices })
  if (crossDevice) {
    warnings.push({
      code: 'DUPLICATE_ACROSS_DEVICES',
      records: crossDevice,
      devices: crossDevices,
      detail: `${crossDevice.toLocaleString('en-US')} response${crossDevice === 1 ? ' was' : 's were'} recorded on more than one device (${crossDevices.map((d) => `${d.name} holds ${d.records.toLocaleString('en-US')}, ${d.counted.toLocaleString('en-US')} counted for it`).join('; ')}): a copied ~/.claude? Each counts once, for the device that recorded it first`,
    })
  }
  if (newerLines)
    warnings.push({
      code: 'NEWER_RECORD_VERSION',
      lines: newerLines,
      detail: 'lines written by a newer usage-ledger were skipped; upgrade to count them',
    })
  if (invalidLines)
    warnings.push({
      code: 'INVALID_LEDGER_LINES',
      lines: invalidLines,
      detail: 'ledger lines that are not valid records were skipped',
    })
  for (const q of quarantined) warnings.push(quarantineWarning(q.id, q))
  if (!idx)
    warnings.push({ code: 'EMPTY_STORE', detail: `no ledger in ${store.paths.home}; run usage-ledger record first` })
  return warnings
}

/**
 * Names of this machine's projects and sessions (state/names.json, never pushed), over the
 * project names devices with config privacy.shareNames commit (read only when projects are
 * shown); otherwise hashes.
 */
async function reportNames(store: Store, idx: IndexData | null, showsProjects: boolean): Promise<NameMaps> {
  const local = loadNames(store.paths.names)
  if (!idx || !showsProjects) return local
  const heads = Object.entries(idx.devices).map(([id, d]) => ({ id, head: d.head }))
  return {
    projects: { ...(await sharedProjectNames(await store.git(), heads)), ...local.projects },
    sessions: local.sessions,
  }
}
