/**
 * The query index (DESIGN §6): per UTC day, the dedupe winners of every device summed per
 * quarter hour and dimension (device, source, model, project, session), with their cost under
 * each cost mode. Offsets of every zone change only on quarter hours, so any zone's days, weeks
 * and months, and the 5-hour blocks, come out exact. It is derived and disposable: parts are
 * immutable, so an update re-reads only the days whose set of part blobs changed and their
 * neighbours (copies of one response lie a day apart at most, DESIGN §4). Written atomically;
 * readers never block.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { GitBackend, TreeEntry } from '../git/backend.js'
import { readEntryAt } from '../git/tree.js'
import { deviceFilesIn, readDeviceJson, readManifest } from '../branch/device-files.js'
import { deviceDir, PART_NAME_RE } from '../ledger/paths.js'
import { parseLedgerLine, type LedgerRecord } from '../ledger/record.js'
import { neighbourDays } from '../ledger/time.js'
import type { CostMode, PriceTable } from '../report/prices.js'
import { dimKey, emptyRowView, isFailedDim, type Rows } from '../report/aggregate.js'
import { writeFileAtomic } from '../store/fsutil.js'
import { deviceHeads } from './heads.js'
import { BestById } from '../ledger/dedupe.js'
import { descends } from '../git/backend.js'

/**
 * 2: the dedupe rule of issue 11 (earliest ts, then committed first), part commit times, first/last instants per row.
 * 3: failed calls (DESIGN §4) kept apart, in dimensions of their own (a sixth field, `DIM.failed`), at cost 0.
 */
export const INDEX_VERSION = 3
const QUARTER = 900_000
/**
 * The columns of a row, ROW numbers each: one row per quarter hour and dimension of a day. The
 * costs sit in the column named by their cost mode.
 */
export const COL = {
  /** The quarter hour's start, in quarters (ms / QUARTER). */
  quarter: 0,
  /** Index into `IndexData.dims`. */
  dim: 1,
  records: 2,
  input: 3,
  output: 4,
  cacheWrite: 5,
  cacheRead: 6,
  auto: 7,
  calculate: 8,
  display: 9,
  /** The first and the last record's instant (ms). */
  first: 10,
  last: 11,
} as const
export const ROW = 12

/** A day's statistics, summed by `indexStats`. */
export interface IndexStats {
  lines: number
  /** Lines dropped as copies of a response counted elsewhere. */
  duplicates: number
  /** Responses recorded on more than one device. */
  crossDevice: number
  /** Lines that are not valid records. */
  invalid: number
  /** Lines written by a newer usage-ledger. */
  newer: number
}
/** The order of a day's statistics in `IndexData.stats` (on disk an array). */
const STATS: ReadonlyArray<keyof IndexStats> = ['lines', 'duplicates', 'crossDevice', 'invalid', 'newer']

/** The two counts of `IndexData.cross`, by position. */
const CROSS = { held: 0, counted: 1 } as const

export interface IndexDevice {
  head: string
  name: string
  lastRecordAt: string | null
  /** day → [day tree oid, part oids in name order…] (read with `indexedDayTree` and `dayParts`) */
  days: Record<string, string[]>
  /** part blob oid → committer time (s) of the commit on this branch that added it. */
  added: Record<string, number>
}

export interface IndexData {
  v: 3
  priceSha: string
  devices: Record<string, IndexDevice>
  /** day → sorted part blob oids of every device: what the day's rows were built from. */
  parts: Record<string, string[]>
  /** "device\tsource\tmodel\tproject\tsession\tfailed" (`dimKey`; failed: "failed" for failed calls, else empty) */
  dims: string[]
  /** day → its rows, ROW numbers each (kept on disk as one Float64Array, see writeIndex) */
  days: Record<string, ArrayLike<number>>
  /** day → its `IndexStats` in `STATS` order: [lines, duplicates, crossDevice, invalid, newer] */
  stats: Record<string, number[]>
  /**
   * day → device → [responses of the day recorded on more than one device that it holds, of those counted for it]
   * (`CROSS` names them)
   */
  cross: Record<string, Record<string, [number, number]>>
  /** day → models without a price */
  unknown: Record<string, string[]>
}

/** The tree an indexed device's day was read from. */
export const indexedDayTree = (dev: IndexDevice, day: string): string | undefined => dev.days[day]?.[0]
/** The part oids of an indexed device's day, in name order. */
const dayParts = (entry: string[]): string[] => entry.slice(1)

const FILE = 'index.v1.json' // the name predates INDEX_VERSION; the "v" inside decides

/** On disk: the rows as one little-endian Float64Array file, named in the JSON by generation. */
interface IndexFile extends Omit<IndexData, 'days'> {
  rowsFile: string
  /** day → [start, length] of its rows in the rows file, in numbers */
  days: Record<string, [number, number]>
}

/** What the index was built from (device heads and day trees), without its rows. */
export function readIndexSources(dir: string): Pick<IndexData, 'devices'> | null {
  let meta: IndexFile
  try {
    meta = JSON.parse(fs.readFileSync(path.join(dir, FILE), 'utf8')) as IndexFile
  } catch {
    return null
  }
  return meta.v === INDEX_VERSION ? { devices: meta.devices } : null
}

export function readIndex(dir: string): IndexData | null {
  for (let attempt = 0; attempt < 3; attempt++) {
    let meta: IndexFile
    try {
      meta = JSON.parse(fs.readFileSync(path.join(dir, FILE), 'utf8')) as IndexFile
    } catch {
      return null
    }
    if (meta.v !== INDEX_VERSION) return null
    let buf: Buffer
    try {
      buf = fs.readFileSync(path.join(dir, meta.rowsFile))
    } catch {
      continue
    } // replaced under us: read the new one
    const all =
      buf.byteOffset % 8 === 0
        ? new Float64Array(buf.buffer, buf.byteOffset, buf.byteLength / 8)
        : new Float64Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength))
    const days: Record<string, ArrayLike<number>> = {}
    for (const [day, [start, length]] of Object.entries(meta.days)) days[day] = all.subarray(start, start + length)
    const { rowsFile: _rowsFile, ...rest } = meta
    return { ...rest, days }
  }
  return null
}

/** Rows file first, then the JSON naming it (atomically), then the old rows file goes. */
function writeIndex(dir: string, idx: IndexData): void {
  fs.mkdirSync(dir, { recursive: true })
  const days: Record<string, [number, number]> = {}
  let n = 0
  for (const [day, rows] of Object.entries(idx.days)) {
    days[day] = [n, rows.length]
    n += rows.length
  }
  const all = new Float64Array(n)
  for (const [day, [start]] of Object.entries(days)) all.set(idx.days[day]!, start)
  let previous: string | null = null
  try {
    previous = (JSON.parse(fs.readFileSync(path.join(dir, FILE), 'utf8')) as IndexFile).rowsFile
  } catch {
    /* first write */
  }
  const rowsFile = `rows-${Date.now().toString(36)}-${process.pid}.f64`
  writeFileAtomic(path.join(dir, rowsFile), new Uint8Array(all.buffer))
  writeFileAtomic(path.join(dir, FILE), JSON.stringify({ ...idx, days, rowsFile } satisfies IndexFile))
  if (previous && previous !== rowsFile) fs.rmSync(path.join(dir, previous), { force: true })
}

const empty = (priceSha: string): IndexData => ({
  v: INDEX_VERSION,
  priceSha,
  devices: {},
  parts: {},
  dims: [],
  days: {},
  stats: {},
  cross: {},
  unknown: {},
})

interface Part {
  device: string
  day: string
  name: string
  oid: string
  added: number
}

/**
 * Every part of a device head; an unchanged head or day tree is taken from the index. With the
 * parts, when each was added: the committer time of the commit that added it, found by
 * comparing each commit's device directory with its parent's (only the commits since the
 * indexed head when the branch grew; the whole branch otherwise), so the incremental index
 * and a rebuild see the same times.
 */
async function listDevice(
  git: GitBackend,
  id: string,
  head: string,
  known: IndexDevice | undefined,
): Promise<IndexDevice> {
  if (known?.head === head && known.added) return known
  const tree = (await git.readCommit(head)).tree
  const dir = await readEntryAt(git, tree, deviceDir(id))
  const dev: IndexDevice = {
    head,
    name: known?.name ?? id.slice(0, 8),
    lastRecordAt: null,
    days: {},
    added: await partTimes(git, id, head, known),
  }
  if (!dir) return dev
  const entries = await git.readTree(dir.oid)
  const files = deviceFilesIn(entries)
  dev.name = (await readDeviceJson(git, files.device).catch(() => null))?.name ?? dev.name
  const at = (await readManifest(git, files.manifest).catch(() => null))?.lastRecordAt
  dev.lastRecordAt = typeof at === 'string' ? at : null
  for (const e of entries) {
    if (e.type !== 'tree' || !/^\d{4}-\d{2}$/.test(e.name)) continue
    for (const day of await git.readTree(e.oid)) {
      if (day.type !== 'tree') continue
      if (known && indexedDayTree(known, day.name) === day.oid) {
        dev.days[day.name] = known.days[day.name]!
        continue
      }
      const parts = (await git.readTree(day.oid))
        .filter((p) => PART_NAME_RE.test(p.name))
        .sort((x, y) => (x.name < y.name ? -1 : 1))
      dev.days[day.name] = [day.oid, ...parts.map((p) => p.oid)]
    }
  }
  return dev
}

/** Part blob oid → committer time of the commit that added it, along the first-parent chain of `head`. */
async function partTimes(
  git: GitBackend,
  id: string,
  head: string,
  known: IndexDevice | undefined,
): Promise<Record<string, number>> {
  const base = known?.added && known.head !== head && (await descends(git, known.head, head)) ? known.head : null
  const chain: Array<{ tree: string; time: number }> = []
  let reached = base === null
  for (let c: string | undefined = head; c; ) {
    if (c === base) {
      reached = true
      break
    }
    const info = await git.readCommit(c)
    chain.push({ tree: info.tree, time: info.committer.timestamp })
    c = info.parents[0]
  }
  const from = reached && base ? base : null
  const times: Record<string, number> = from ? { ...known!.added } : {}
  // Each commit's trees are the next one's old trees: read every tree once.
  const cache = new Map<string, TreeEntry[]>()
  const readTree = async (oid: string) => {
    let e = cache.get(oid)
    if (!e) {
      if (cache.size > 4096) cache.clear()
      cache.set(oid, (e = await git.readTree(oid)))
    }
    return e
  }
  const dirOf = async (tree: string) => {
    const devices = (await readTree(tree)).find((e) => e.name === 'devices' && e.type === 'tree')
    return devices ? ((await readTree(devices.oid)).find((e) => e.name === id && e.type === 'tree')?.oid ?? null) : null
  }
  let prev = from ? await dirOf((await git.readCommit(from)).tree) : null
  for (let i = chain.length - 1; i >= 0; i--) {
    const dir = await dirOf(chain[i]!.tree)
    if (dir && dir !== prev)
      await addedParts(readTree, prev, dir, 0, (oid) => {
        if (!(oid in times)) times[oid] = chain[i]!.time
      })
    prev = dir
  }
  return times
}

/** Calls `add` for every part blob under `newTree` (a device directory) that `oldTree` lacks. */
async function addedParts(
  readTree: (oid: string) => Promise<TreeEntry[]>,
  oldTree: string | null,
  newTree: string,
  depth: number,
  add: (oid: string) => void,
): Promise<void> {
  const old = new Map<string, TreeEntry>()
  if (oldTree) for (const e of await readTree(oldTree)) old.set(e.name, e)
  for (const e of await readTree(newTree)) {
    const o = old.get(e.name)
    if (o?.oid === e.oid) continue
    if (depth < 2) {
      if (e.type === 'tree') await addedParts(readTree, o?.type === 'tree' ? o.oid : null, e.oid, depth + 1, add)
    } else if (e.type === 'blob' && PART_NAME_RE.test(e.name)) add(e.oid)
  }
}

export interface UpdateResult {
  days: number
  parts: number
  records: number
  rebuilt: boolean
  index: IndexData
}

/**
 * Brings the index in `dir` up to the device heads of `git` (and, for a native clone, its
 * remote-tracking heads). `rebuild` starts from nothing.
 */
export async function updateIndex(
  git: GitBackend,
  dir: string,
  prices: PriceTable,
  opts: { heads?: Map<string, string> | Promise<Map<string, string>>; withTracking?: boolean; rebuild?: boolean } = {},
): Promise<UpdateResult> {
  const old = opts.rebuild ? null : readIndex(dir)
  const repriced = !old || old.priceSha !== prices.sha256
  const idx = old && !repriced ? old : { ...empty(prices.sha256), devices: old?.devices ?? {} }
  // The caller's trusted heads (DESIGN §8; a promise lets it list them while the index is read),
  // else every head the repository holds.
  const heads = (await opts.heads) ?? (await deviceHeads(git, opts.withTracking ?? false))
  const current = await listParts(git, heads, idx.devices)
  const changed = changedDays(idx, current, repriced)
  if (!changed.length && !headsMoved(idx.devices, current.devices) && old)
    return { days: 0, parts: 0, records: 0, rebuilt: false, index: old }
  // A copy in a changed day can move a neighbour's winner: neighbours are rebuilt too, read with theirs.
  const affected = new Set(changed.flatMap((d) => [d, ...neighbourDays(d)]))
  const load = new Set([...affected].flatMap((d) => [d, ...neighbourDays(d)]))
  const tallies = new Map<string, DayTally>()
  const best = await readDays(git, load, affected, current.partsByDay, tallies)
  const records = sumWinners(best, affected, idx.dims, prices, tallies)
  replaceDays(idx, affected, current.partsByDay, tallies)
  idx.devices = current.devices
  idx.priceSha = prices.sha256
  writeIndex(dir, idx)
  return {
    days: affected.size,
    parts: [...load].reduce((n, d) => n + (current.partsByDay.get(d)?.length ?? 0), 0),
    records,
    rebuilt: repriced,
    index: idx,
  }
}

interface CurrentParts {
  devices: Record<string, IndexDevice>
  partsByDay: Map<string, Part[]>
  /** Days holding a part whose commit time changed (an accepted rewrite re-adding old parts). */
  retimed: Set<string>
}

/** The current parts of every day, from each device's tree (unchanged devices from the index). */
async function listParts(
  git: GitBackend,
  heads: Map<string, string>,
  indexed: Record<string, IndexDevice>,
): Promise<CurrentParts> {
  const devices: Record<string, IndexDevice> = {}
  const partsByDay = new Map<string, Part[]>()
  const retimed = new Set<string>()
  for (const [id, head] of heads) {
    const before = indexed[id]
    const dev = (devices[id] = await listDevice(git, id, head, before))
    for (const [day, entry] of Object.entries(dev.days)) {
      const list = partsByDay.get(day) ?? []
      dayParts(entry).forEach((oid, i) => {
        list.push({ device: id, day, name: String(i).padStart(6, '0'), oid, added: dev.added[oid] ?? 0 })
        const was = before?.added?.[oid]
        if (was !== undefined && was !== dev.added[oid]) retimed.add(day)
      })
      partsByDay.set(day, list)
    }
  }
  return { devices, partsByDay, retimed }
}

/** The days whose set of parts is not what their rows were built from (every day when repriced). */
function changedDays(idx: IndexData, current: CurrentParts, repriced: boolean): string[] {
  const allDays = new Set([...current.partsByDay.keys(), ...Object.keys(idx.parts)])
  const oids = (day: string) =>
    current.partsByDay
      .get(day)
      ?.map((p) => p.oid)
      .sort()
      .join() ?? ''
  return [...allDays].filter((d) => repriced || current.retimed.has(d) || oids(d) !== (idx.parts[d] ?? []).join())
}

function headsMoved(indexed: Record<string, IndexDevice>, current: Record<string, IndexDevice>): boolean {
  return (
    Object.keys(current).length !== Object.keys(indexed).length ||
    Object.entries(current).some(([id, d]) => indexed[id]?.head !== d.head)
  )
}

/** What an update finds in one affected day, besides its parts. */
interface DayTally {
  lines: number
  invalid: number
  newer: number
  winners: number
  crossDevice: number
  /** device → [held, counted] (`CROSS`), once a winner of the day is held by more than one device. */
  cross?: Record<string, [number, number]>
  /** "quarter:dim" → row (`COL`) */
  rows: Map<string, number[]>
  /** Models without a price. */
  unknown: Set<string>
}

function tallyOf(tallies: Map<string, DayTally>, day: string): DayTally {
  const known = tallies.get(day)
  if (known) return known
  const t: DayTally = {
    lines: 0,
    invalid: 0,
    newer: 0,
    winners: 0,
    crossDevice: 0,
    rows: new Map(),
    unknown: new Set(),
  }
  tallies.set(day, t)
  return t
}

/** Every copy of every id in the `load` days, offered to the dedupe; the lines of the `affected` days counted. */
async function readDays(
  git: GitBackend,
  load: Set<string>,
  affected: Set<string>,
  partsByDay: Map<string, Part[]>,
  tallies: Map<string, DayTally>,
): Promise<BestById> {
  const best = new BestById()
  for (const day of load) {
    const tally = affected.has(day) ? tallyOf(tallies, day) : null
    for (const p of partsByDay.get(day) ?? []) {
      const text = (await git.readBlob(p.oid)).toString('utf8')
      let i = 0
      for (const line of text.split('\n')) {
        if (!line) continue
        i++
        const parsed = parseLedgerLine(line)
        if (tally) {
          tally.lines++
          if (parsed.kind === 'newer') tally.newer++
          else if (parsed.kind === 'invalid') tally.invalid++
        }
        if (parsed.kind === 'record')
          best.offer(parsed.record, p.device, `${p.day}/${p.name}/${String(i).padStart(9, '0')}`, p.added)
      }
    }
  }
  return best
}

/**
 * The winners of the affected days summed per quarter hour and dimension (new dimensions appended
 * to `dims`), and who holds the cross-device ones; returns how many winners there were.
 */
function sumWinners(
  best: BestById,
  affected: Set<string>,
  dims: string[],
  prices: PriceTable,
  tallies: Map<string, DayTally>,
): number {
  const dimIndex = new Map(dims.map((d, i) => [d, i]))
  const dimOf = (r: LedgerRecord, device: string) => {
    const key = dimKey(device, r)
    let i = dimIndex.get(key)
    if (i === undefined) {
      i = dims.length
      dims.push(key)
      dimIndex.set(key, i)
    }
    return i
  }
  let records = 0
  for (const { record: r, device } of best.winners()) {
    const day = r.ts.slice(0, 10)
    if (!affected.has(day)) continue
    records++
    const tally = tallyOf(tallies, day)
    tally.winners++
    if (best.crossDevice.has(r.id)) {
      tally.crossDevice++
      const per = (tally.cross ??= {})
      for (const d of best.devicesOf.get(r.id)!) (per[d] ??= [0, 0])[CROSS.held]++
      per[device]![CROSS.counted]++
    }
    addToRow(tally, r, dimOf(r, device), prices)
  }
  return records
}

function addToRow(tally: DayTally, r: LedgerRecord, dim: number, prices: PriceTable): void {
  const ms = Date.parse(r.ts)
  const quarter = Math.floor(ms / QUARTER)
  const key = `${quarter}:${dim}`
  let row = tally.rows.get(key)
  if (!row) {
    tally.rows.set(key, (row = new Array<number>(ROW).fill(0)))
    row[COL.quarter] = quarter
    row[COL.dim] = dim
    row[COL.first] = row[COL.last] = ms
  }
  if (ms < row[COL.first]!) row[COL.first] = ms
  if (ms > row[COL.last]!) row[COL.last] = ms
  row[COL.records]! += 1
  row[COL.input]! += r.input
  row[COL.output]! += r.output
  row[COL.cacheWrite]! += r.cacheWrite
  row[COL.cacheRead]! += r.cacheRead
  const calc = prices.cost(r, 'calculate') // a failed call costs 0 under every mode
  if (calc === null) tally.unknown.add(r.model)
  row[COL.auto]! += prices.cost(r, 'auto') ?? 0
  row[COL.calculate]! += calc ?? 0
  row[COL.display]! += prices.cost(r, 'display') ?? 0
}

/** Puts the affected days' new rows, parts and statistics in `idx`; a day left without any loses its entry. */
function replaceDays(
  idx: IndexData,
  affected: Set<string>,
  partsByDay: Map<string, Part[]>,
  tallies: Map<string, DayTally>,
): void {
  for (const day of affected) {
    const t = tallies.get(day)
    if (t?.rows.size)
      idx.days[day] = [...t.rows.values()]
        .sort((a, b) => a[COL.quarter]! - b[COL.quarter]! || a[COL.dim]! - b[COL.dim]!)
        .flat()
    else delete idx.days[day]
    const parts = partsByDay.get(day)
    if (parts?.length) idx.parts[day] = parts.map((p) => p.oid).sort()
    else delete idx.parts[day]
    if (t?.lines) {
      const stats: IndexStats = {
        lines: t.lines,
        duplicates: t.lines - t.winners - t.invalid - t.newer,
        crossDevice: t.crossDevice,
        invalid: t.invalid,
        newer: t.newer,
      }
      idx.stats[day] = STATS.map((k) => stats[k])
    } else delete idx.stats[day]
    if (t?.cross) idx.cross[day] = t.cross
    else delete idx.cross[day]
    if (t?.unknown.size) idx.unknown[day] = [...t.unknown].sort()
    else delete idx.unknown[day]
  }
}

/**
 * The index as aggregation rows under one cost mode, optionally only the dimensions `keepDim` accepts. Rows of failed
 * calls come as they are (`RowView.failed`, cost 0): whoever sums them decides whether their tokens count.
 */
export function indexRows(idx: IndexData, mode: CostMode, keepDim?: (dim: string[]) => boolean): Rows {
  const dims = idx.dims.map((d) => d.split('\t'))
  const cost = COL[mode]
  const keep = keepDim ? dims.map(keepDim) : null
  const failed = dims.map(isFailedDim)
  return {
    dims,
    unknownModels: mode === 'display' ? [] : unknownModels(idx),
    each(visit) {
      const row = emptyRowView()
      for (const rows of Object.values(idx.days)) {
        for (let at = 0; at < rows.length; at += ROW) {
          const dim = rows[at + COL.dim]!
          if (keep && !keep[dim]) continue
          row.ms = rows[at + COL.quarter]! * QUARTER
          row.dim = dim
          row.records = rows[at + COL.records]!
          row.input = rows[at + COL.input]!
          row.output = rows[at + COL.output]!
          row.cacheWrite = rows[at + COL.cacheWrite]!
          row.cacheRead = rows[at + COL.cacheRead]!
          row.costUSD = rows[at + cost]!
          row.first = rows[at + COL.first]!
          row.last = rows[at + COL.last]!
          row.failed = failed[dim] ? row.records : 0
          visit(row)
        }
      }
    },
  }
}

/** Models without a price anywhere in the index (aggregation keeps those seen in its range). */
export function unknownModels(idx: IndexData): string[] {
  return [...new Set(Object.values(idx.unknown).flat())].sort()
}

/** Per device: responses recorded on more than one device that it holds, and how many of them count for it. */
export function crossDeviceStats(idx: IndexData): Map<string, { records: number; counted: number }> {
  const out = new Map<string, { records: number; counted: number }>()
  for (const per of Object.values(idx.cross ?? {})) {
    for (const [device, counts] of Object.entries(per)) {
      const s = out.get(device) ?? { records: 0, counted: 0 }
      s.records += counts[CROSS.held]
      s.counted += counts[CROSS.counted]
      out.set(device, s)
    }
  }
  return out
}

/** The per-day statistics summed over every day of the index (all zero without one). */
export function indexStats(idx: IndexData | null): IndexStats {
  const sum: IndexStats = { lines: 0, duplicates: 0, crossDevice: 0, invalid: 0, newer: 0 }
  for (const day of Object.values(idx?.stats ?? {})) for (const [i, k] of STATS.entries()) sum[k] += day[i] ?? 0
  return sum
}
