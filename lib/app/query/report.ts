/** What `report daily|monthly|…` computes: totals over every device's ledger in the store. */
import { usageError } from '../../errors.js'
import type { Store } from '../../store/store.js'
import { crossDeviceStats, indexRows, indexStats } from '../../index/index.js'
import {
  aggregateRows,
  GROUP_KEYS,
  recordRows,
  type Aggregate,
  type GroupKey,
  type Period,
  DIM,
} from '../../report/aggregate.js'
import type { CostMode } from '../../report/prices.js'
import type { ReportResult } from '../../report/render.js'
import { nameRows } from '../../report/sessions.js'
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
  const tz = checkZone(opts.tz ?? store.config.timezone ?? systemZone())
  const since = checkDay('--since', opts.since)
  const until = checkDay('--until', opts.until)
  if (since && until && since > until) throw usageError('BAD_RANGE', `--since ${since} is after --until ${until}`)
  const groupBy = opts.by
    .flatMap((s) => s.split(','))
    .map((s) => s.trim())
    .filter(Boolean) as GroupKey[]
  for (const g of groupBy)
    if (!GROUP_KEYS.includes(g)) throw usageError('BAD_GROUP', `--by ${g}: group by one of ${GROUP_KEYS.join(', ')}`)
  const prices = storePrices(store)
  const view = store.initialized ? await refreshIndex(store, prices, opts.clone) : null
  const idx = view?.index ?? null
  let devices = idx
    ? Object.entries(idx.devices)
        .map(([id, d]) => ({ id, name: d.name, head: d.head, lastRecordAt: d.lastRecordAt }))
        .sort((a, b) => (a.id < b.id ? -1 : 1))
    : []
  if (opts.device.length) {
    const want = new Set(resolveDevices('--device', opts.device, devices, store.device.id))
    devices = devices.filter((d) => want.has(d.id))
  }
  const only = new Set(devices.map((d) => d.id))
  const sources = new Set(
    opts.source
      .flatMap((x) => x.split(','))
      .map((x) => x.trim())
      .filter(Boolean),
  )
  const models = opts.model
    .flatMap((x) => x.split(','))
    .map((x) => x.trim())
    .filter(Boolean)
  const keep = (dim: string[]) => {
    const model = dim[DIM.model]!
    return (
      only.has(dim[DIM.device]!) &&
      (!sources.size || sources.has(dim[DIM.source]!)) &&
      (!models.length || models.some((m) => model === m || model.startsWith(`${m}-`) || model.startsWith(`${m}@`)))
    )
  }
  const rows = idx ? indexRows(idx, opts.cost, keep) : recordRows([], prices, opts.cost)
  // The HTML page aggregates the same rows again, by day and device, by model, and by block.
  const aggregateBy = (period: Period, by: GroupKey[]) =>
    aggregateRows(rows, {
      period,
      localTime: localTimeIn(tz),
      since,
      until,
      groupBy: by,
      cost: opts.cost,
      deviceNames: new Map(devices.map((d) => [d.id, d.name])),
      now: store.env.now().getTime(),
    })
  const agg = aggregateBy(opts.period, [...new Set(groupBy)])
  const { duplicates: dropped, crossDevice, invalid: invalidLines, newer: newerLines } = indexStats(idx)
  const missingPrices = agg.unknownModels
  const warnings: ReportResult['warnings'] = []
  if (missingPrices.length) warnings.push({ code: 'UNKNOWN_MODEL_PRICE', models: missingPrices })
  // Which devices hold the copies, and for which each response counts (the one that recorded it first).
  const nameOf = new Map(idx ? Object.entries(idx.devices).map(([id, d]) => [id, d.name]) : [])
  const crossDevices = idx
    ? [...crossDeviceStats(idx)]
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([id, c]) => ({ id, name: nameOf.get(id) ?? id.slice(0, 8), records: c.records, counted: c.counted }))
    : []
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
  // A device whose remote head failed the checks counts at its last good head, loudly.
  const quarantined = view?.quarantined ?? []
  for (const q of quarantined) warnings.push(quarantineWarning(q.id, q))
  if (!idx)
    warnings.push({ code: 'EMPTY_STORE', detail: `no ledger in ${store.paths.home}; run usage-ledger record first` })
  // Names of this machine's projects and sessions (state/names.json, never pushed), over the
  // project names devices with config privacy.shareNames commit; otherwise hashes.
  const local = loadNames(store.paths.names)
  const names =
    idx && (opts.period === 'session' || groupBy.includes('project'))
      ? {
          projects: {
            ...(await sharedProjectNames(
              await store.git(),
              Object.entries(idx.devices).map(([id, d]) => ({ id, head: d.head })),
            )),
            ...local.projects,
          },
          sessions: local.sessions,
        }
      : local
  const result: ReportResult = {
    schema: 'usage-ledger/report@1',
    period: opts.period,
    timezone: tz,
    since: since ?? null,
    until: until ?? null,
    groupBy: [...new Set(groupBy)],
    rows: nameRows(agg.rows, groupBy.includes('project'), {
      period: opts.period,
      localTime: localTimeIn(tz),
      since,
      until,
      names,
      source: rows,
    }),
    totals: agg.totals,
    devices,
    pricing: {
      asOf: prices.asOf,
      sha256: prices.sha256,
      mode: opts.cost,
      overrides: Object.keys(store.config.prices ?? {}),
    },
    dedupe: { duplicateLines: dropped, crossDevice, devices: crossDevices },
    warnings,
  }
  return { result, quarantined, aggregateBy }
}
