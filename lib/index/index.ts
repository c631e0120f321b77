/**
 * The query index (DESIGN §2, §7): per UTC day, the dedupe winners of every device summed per
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
import type { PriceTable } from '../report/prices.js'
import type { Rows } from '../report/aggregate.js'
import { writeFileAtomic } from '../store/fsutil.js'
import { deviceHeads } from './heads.js'
import { BestById } from '../ledger/dedupe.js'
import { descends } from '../git/backend.js'

/**
 * 2: the dedupe rule of issue 11 (earliest ts, then committed first), part commit times, first/last instants per row.
 */
export const INDEX_VERSION = 2
const QUARTER = 900_000
/**
 * A row: quarter start (ms / QUARTER), dimension, records, input, output, cacheWrite, cacheRead,
 * cost auto, calculate, display, the first and the last record's instant (ms).
 */
export const ROW = 12

export interface IndexDevice {
  head: string
  name: string
  lastRecordAt: string | null
  /** day → [day tree oid, part oids in name order…] */
  days: Record<string, string[]>
  /** part blob oid → committer time (s) of the commit on this branch that added it. */
  added: Record<string, number>
}

export interface IndexData {
  v: 2
  priceSha: string
  devices: Record<string, IndexDevice>
  /** day → sorted part blob oids of every device: what the day's rows were built from. */
  parts: Record<string, string[]>
  /** "device\tsource\tmodel\tproject\tsession" */
  dims: string[]
  /** day → its rows, ROW numbers each (kept on disk as one Float64Array, see writeIndex) */
  days: Record<string, ArrayLike<number>>
  /** day → [lines, duplicate lines dropped, ids on more than one device, invalid lines, newer lines] */
  stats: Record<string, number[]>
  /** day → device → [responses of the day recorded on more than one device that it holds, of those counted for it] */
  cross: Record<string, Record<string, [number, number]>>
  /** day → models without a price */
  unknown: Record<string, string[]>
}

const FILE = 'index.v1.json' // the name predates INDEX_VERSION; the "v" inside decides

/** On disk: the rows as one little-endian Float64Array file, named in the JSON by generation. */
interface IndexFile extends Omit<IndexData, 'days'> {
  rowsFile: string
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
  for (const [day, rows] of Object.entries(idx.days)) all.set(rows, days[day]![0])
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
      const prev = known?.days[day.name]
      if (prev?.[0] === day.oid) {
        dev.days[day.name] = prev
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
  opts: { heads?: Map<string, string>; withTracking?: boolean; rebuild?: boolean } = {},
): Promise<UpdateResult> {
  const old = opts.rebuild ? null : readIndex(dir)
  const repriced = !old || old.priceSha !== prices.sha256
  const idx = old && !repriced ? old : { ...empty(prices.sha256), devices: old?.devices ?? {} }
  // The caller's trusted heads (DESIGN §8), else every head the repository holds.
  const heads = opts.heads ?? (await deviceHeads(git, opts.withTracking ?? false))
  // The current parts of every day, from each device's tree (unchanged devices from the index).
  const partsByDay = new Map<string, Part[]>()
  const devices: Record<string, IndexDevice> = {}
  // Days holding a part whose commit time changed (an accepted rewrite re-adding old parts).
  const retimed = new Set<string>()
  for (const [id, head] of heads) {
    const before = idx.devices[id]
    const dev = (devices[id] = await listDevice(git, id, head, before))
    for (const [day, [, ...oids]] of Object.entries(dev.days)) {
      const list = partsByDay.get(day) ?? []
      oids.forEach((oid, i) => {
        list.push({ device: id, day, name: String(i).padStart(6, '0'), oid, added: dev.added[oid] ?? 0 })
        const was = before?.added?.[oid]
        if (was !== undefined && was !== dev.added[oid]) retimed.add(day)
      })
      partsByDay.set(day, list)
    }
  }
  const allDays = new Set([...partsByDay.keys(), ...Object.keys(idx.parts)])
  const changed = [...allDays].filter(
    (d) =>
      repriced ||
      retimed.has(d) ||
      (partsByDay
        .get(d)
        ?.map((p) => p.oid)
        .sort()
        .join() ?? '') !== (idx.parts[d] ?? []).join(),
  )
  const headsMoved =
    Object.keys(devices).length !== Object.keys(idx.devices).length ||
    Object.entries(devices).some(([id, d]) => idx.devices[id]?.head !== d.head)
  if (!changed.length && !headsMoved && old) return { days: 0, parts: 0, records: 0, rebuilt: false, index: old }
  const affected = new Set(changed.flatMap((d) => [d, ...neighbourDays(d)]))
  const load = new Set([...affected].flatMap((d) => [d, ...neighbourDays(d)]))

  // Every copy of every id in the loaded days; the winners of the affected days are rebuilt.
  const best = new BestById()
  const lines = new Map<string, number>(),
    invalid = new Map<string, number>(),
    newer = new Map<string, number>()
  let records = 0
  for (const day of load) {
    for (const p of partsByDay.get(day) ?? []) {
      const text = (await git.readBlob(p.oid)).toString('utf8')
      let i = 0
      for (const line of text.split('\n')) {
        if (!line) continue
        i++
        if (affected.has(day)) lines.set(day, (lines.get(day) ?? 0) + 1)
        const parsed = parseLedgerLine(line)
        if (parsed.kind !== 'record') {
          if (affected.has(day))
            (parsed.kind === 'newer' ? newer : invalid).set(
              day,
              ((parsed.kind === 'newer' ? newer : invalid).get(day) ?? 0) + 1,
            )
          continue
        }
        best.offer(parsed.record, p.device, `${p.day}/${p.name}/${String(i).padStart(9, '0')}`, p.added)
      }
    }
  }

  const dimIndex = new Map(idx.dims.map((d, i) => [d, i]))
  const dim = (r: LedgerRecord, device: string) => {
    const key = `${device}\t${r.source}\t${r.model}\t${r.project ?? ''}\t${r.session ?? ''}`
    let i = dimIndex.get(key)
    if (i === undefined) {
      i = idx.dims.length
      idx.dims.push(key)
      dimIndex.set(key, i)
    }
    return i
  }
  const rows = new Map<string, Map<string, number[]>>()
  const unknown = new Map<string, Set<string>>()
  const winnersPerDay = new Map<string, number>()
  const crossPerDay = new Map<string, number>()
  const crossDevices = new Map<string, Record<string, [number, number]>>()
  for (const w of best.winners()) {
    const c = { r: w.record, device: w.device }
    const day = c.r.ts.slice(0, 10)
    if (!affected.has(day)) continue
    records++
    winnersPerDay.set(day, (winnersPerDay.get(day) ?? 0) + 1)
    if (best.crossDevice.has(c.r.id)) {
      crossPerDay.set(day, (crossPerDay.get(day) ?? 0) + 1)
      let per = crossDevices.get(day)
      if (!per) crossDevices.set(day, (per = {}))
      for (const d of best.devicesOf.get(c.r.id)!) (per[d] ??= [0, 0])[0]++
      per[c.device]![1]++
    }
    const ms = Date.parse(c.r.ts)
    const q = Math.floor(ms / QUARTER)
    const d = dim(c.r, c.device)
    let dayRows = rows.get(day)
    if (!dayRows) rows.set(day, (dayRows = new Map()))
    const key = `${q}:${d}`
    let row = dayRows.get(key)
    if (!row) dayRows.set(key, (row = [q, d, 0, 0, 0, 0, 0, 0, 0, 0, ms, ms]))
    if (ms < row[10]!) row[10] = ms
    if (ms > row[11]!) row[11] = ms
    row[2]! += 1
    row[3]! += c.r.input
    row[4]! += c.r.output
    row[5]! += c.r.cacheWrite
    row[6]! += c.r.cacheRead
    const calc = prices.cost(c.r, 'calculate')
    if (calc === null) {
      const u = unknown.get(day) ?? new Set()
      u.add(c.r.model)
      unknown.set(day, u)
    }
    row[7]! += prices.cost(c.r, 'auto') ?? 0
    row[8]! += calc ?? 0
    row[9]! += prices.cost(c.r, 'display') ?? 0
  }
  for (const day of affected) {
    const dayRows = rows.get(day)
    if (dayRows?.size) idx.days[day] = [...dayRows.values()].sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]!).flat()
    else delete idx.days[day]
    const parts = partsByDay.get(day)
    if (parts?.length) idx.parts[day] = parts.map((p) => p.oid).sort()
    else delete idx.parts[day]
    const l = lines.get(day) ?? 0
    if (l)
      idx.stats[day] = [
        l,
        l - (winnersPerDay.get(day) ?? 0) - (invalid.get(day) ?? 0) - (newer.get(day) ?? 0),
        crossPerDay.get(day) ?? 0,
        invalid.get(day) ?? 0,
        newer.get(day) ?? 0,
      ]
    else delete idx.stats[day]
    const cross = crossDevices.get(day)
    if (cross) idx.cross[day] = cross
    else delete idx.cross[day]
    const u = unknown.get(day)
    if (u?.size) idx.unknown[day] = [...u].sort()
    else delete idx.unknown[day]
  }
  idx.devices = devices
  idx.priceSha = prices.sha256
  writeIndex(dir, idx)
  return {
    days: affected.size,
    parts: [...load].reduce((n, d) => n + (partsByDay.get(d)?.length ?? 0), 0),
    records,
    rebuilt: repriced,
    index: idx,
  }
}

const COST_COLUMN = { auto: 7, calculate: 8, display: 9 } as const

/** The index as aggregation rows under one cost mode, optionally only the dimensions `keepDim` accepts. */
export function indexRows(idx: IndexData, mode: keyof typeof COST_COLUMN, keepDim?: (dim: string[]) => boolean): Rows {
  const dims = idx.dims.map((d) => d.split('\t'))
  const col = COST_COLUMN[mode]
  const keep = keepDim ? dims.map(keepDim) : null
  return {
    dims,
    unknownModels: mode === 'display' ? [] : unknownModels(idx),
    each(visit) {
      for (const rows of Object.values(idx.days)) {
        for (let i = 0; i < rows.length; i += ROW) {
          if (keep && !keep[rows[i + 1]!]) continue
          visit(
            rows[i]! * QUARTER,
            rows[i + 1]!,
            rows[i + 2]!,
            rows[i + 3]!,
            rows[i + 4]!,
            rows[i + 5]!,
            rows[i + 6]!,
            rows[i + col]!,
            rows[i + 10]!,
            rows[i + 11]!,
          )
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
    for (const [device, [held, counted]] of Object.entries(per)) {
      const s = out.get(device) ?? { records: 0, counted: 0 }
      s.records += held
      s.counted += counted
      out.set(device, s)
    }
  }
  return out
}

/** Sums of the per-day statistics: [lines, duplicate lines dropped, cross-device ids, invalid, newer]. */
export function indexStats(idx: IndexData): number[] {
  const s = [0, 0, 0, 0, 0]
  for (const d of Object.values(idx.stats)) for (let i = 0; i < d.length; i++) s[i]! += d[i]!
  return s
}
