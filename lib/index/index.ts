/**
 * The query index (DESIGN §6): per UTC day, the dedupe winners of every device summed per
 * quarter hour and dimension (device, source, model, project, session), with their cost under
 * each cost mode. Offsets of every zone change only on quarter hours, so any zone's days, weeks
 * and months, and the 5-hour blocks, come out exact. It is derived and disposable: parts are
 * immutable, so an update re-reads only the days whose set of part blobs changed and their
 * neighbours (copies of one response lie a day apart at most, DESIGN §4).
 *
 * On disk it is segmented by UTC month: a small top file (the device heads, each device's month
 * trees, and per month the names of its files and its summed statistics) and per month three
 * files: what the month was built from (`.meta.json`), the fine rows (every dimension) and the
 * coarse rows (project and session left out), so an update rewrites only the months it touched,
 * an update with nothing new reads only the top file, and a report reads only the months and the
 * table it needs. Segments are written under new names before the top file names them; readers
 * never block.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { GitBackend, TreeEntry } from '../git/backend.js'
import { readEntryAt } from '../git/tree.js'
import { deviceFilesIn, readDeviceJson, readManifest } from '../branch/device-files.js'
import { deviceDir, PART_NAME_RE } from '../ledger/paths.js'
import { parseLedgerLine, totalTokens, type LedgerRecord } from '../ledger/record.js'
import { addDays, neighbourDays } from '../ledger/time.js'
import type { CostMode, PriceTable } from '../report/prices.js'
import { DIM, dimKey, emptyRowView, isFailedDim, type Rows } from '../report/aggregate.js'
import { writeFileAtomic } from '../store/fsutil.js'
import { opError } from '../errors.js'
import { deviceHeads } from './heads.js'
import { BestOf, type RankedCopy } from '../ledger/dedupe.js'
import { descends } from '../git/backend.js'

/**
 * 2: the dedupe rule of issue 11 (earliest ts, then committed first), part commit times, first/last instants per row.
 * 3: failed calls (DESIGN §4) kept apart, in dimensions of their own (a sixth field, `DIM.failed`), at cost 0.
 * 4: segments by UTC month, each with a coarse table beside the fine one.
 * 5: a month's tables may be a delta (the days written since) over an earlier full write; each day's response ids.
 */
export const INDEX_VERSION = 5
const QUARTER = 900_000
/**
 * The columns of a row, ROW numbers each: one row per quarter hour and dimension of a day. The
 * costs sit in the column named by their cost mode.
 */
export const COL = {
  /** The quarter hour's start, in quarters (ms / QUARTER). */
  quarter: 0,
  /** Index into the dimensions of the row's table. */
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
/** The order of a day's statistics in the index (on disk an array). */
const STATS: ReadonlyArray<keyof IndexStats> = ['lines', 'duplicates', 'crossDevice', 'invalid', 'newer']

/** The two counts of a cross-device entry, by position. */
const CROSS = { held: 0, counted: 1 } as const
type CrossCounts = Record<string, [number, number]>

/** A device as the top file holds it. */
export interface IndexDevice {
  head: string
  name: string
  lastRecordAt: string | null
  /** month (YYYY-MM) → the tree of the device's month directory the month's segment was built from */
  months: Record<string, string>
}

/** A month as the top file holds it: its files, and its statistics summed (reports read them without the month). */
export interface IndexMonth {
  /** The stem of the month's files: `<file>.meta.json`, and its tables `<file>.fine`, `.coarse`, `.hourly`, `.ids`. */
  file: string
  /**
   * When set, `<file>`'s tables hold only the days written since the month's last full write, `<base>` (whose
   * tables they overlay, and whose meta is gone): an update of a few days does not rewrite the month.
   */
  base?: string
  /** `IndexStats` in `STATS` order, summed over the month's days. */
  stats: number[]
  /** device → [responses of the month recorded on more than one device that it holds, of those counted for it] */
  cross: CrossCounts
  /** models without a price */
  unknown: string[]
}

/** The top file (`index.v1.json`), with the directory it was read from. */
export interface IndexData {
  v: 5
  priceSha: string
  devices: Record<string, IndexDevice>
  months: Record<string, IndexMonth>
  /** Where the segments are (not on disk). */
  dir: string
}

/** One device's part of a month's segment. */
interface MonthDevice {
  /** day → [day tree oid, part oids in name order…] */
  days: Record<string, string[]>
  /** part blob oid → committer time (s) of the commit on this branch that added it (parts of this month). */
  added: Record<string, number>
}

/** A month's `.meta.json`: what its rows were built from. */
interface MonthMeta {
  v: 5
  devices: Record<string, MonthDevice>
  /** day → sorted part blob oids of every device: what the day's rows were built from. */
  parts: Record<string, string[]>
  /** day → `IndexStats` in `STATS` order */
  stats: Record<string, number[]>
  /** day → device → [held, counted] (`CROSS`) */
  cross: Record<string, CrossCounts>
  /** day → models without a price */
  unknown: Record<string, string[]>
}

/** A table of rows (fine or coarse) of one month: its dimensions and each day's rows (`ROW` numbers each). */
interface Table {
  /** "device\tsource\tmodel\tproject\tsession\tfailed" (`dimKey`); the coarse table's project and session are empty. */
  dims: string[]
  days: Map<string, Float64Array>
}
/** A table file's header, before its rows. */
interface TableHeader {
  dims: string[]
  /** day → [start, length] of its rows, in numbers */
  days: Record<string, [number, number]>
}

/**
 * Which table rows come from: `coarse` holds no project nor session; `hourly` is the coarse one summed per hour, exact
 * for a zone whose offsets are whole hours (days, weeks, months and blocks, which start on the hour, come out the same).
 */
export type TableKind = 'fine' | 'coarse' | 'hourly'

/** The tree an indexed device's day was read from. */
export const indexedDayTree = (dev: { days: Record<string, string[]> }, day: string): string | undefined =>
  dev.days[day]?.[0]
/** The part oids of an indexed device's day, in name order. */
const dayParts = (entry: string[]): string[] => entry.slice(1)
const monthOf = (day: string) => day.slice(0, 7)

const FILE = 'index.v1.json' // the name predates INDEX_VERSION; the "v" inside decides

/** A segment named by the top file is gone: the index was replaced meanwhile (or damaged). */
class MissingSegment extends Error {}

/** The top file of the index in `dir` (device heads, months), or null without one of this version. */
export function readIndex(dir: string): IndexData | null {
  try {
    const top = JSON.parse(fs.readFileSync(path.join(dir, FILE), 'utf8')) as IndexData
    return top.v === INDEX_VERSION ? { ...top, dir } : null
  } catch {
    return null
  }
}

/** A segment file parsed by `parse`; one that is gone or damaged is a `MissingSegment` (an update then rebuilds). */
function readSegment<T>(
  dir: string,
  file: string,
  onRead: ((file: string) => void) | undefined,
  parse: (b: Buffer) => T,
): T {
  onRead?.(file)
  let buf: Buffer
  try {
    buf = fs.readFileSync(path.join(dir, file))
  } catch {
    throw new MissingSegment(file)
  }
  try {
    return parse(buf)
  } catch {
    throw new MissingSegment(file)
  }
}

function readMeta(dir: string, month: IndexMonth, onRead?: (file: string) => void): MonthMeta {
  const meta = readSegment(dir, `${month.file}.meta.json`, onRead, (b) => JSON.parse(b.toString('utf8')) as MonthMeta)
  if (meta.v !== INDEX_VERSION) throw new MissingSegment(month.file)
  return meta
}

/**
 * A table file: a 4-byte header length, the JSON header, padding to 8 bytes, then the rows as little-endian doubles.
 * A delta's day of no rows is a day its base has and the month no longer does.
 */
function readTableFile(dir: string, file: string, onRead: ((file: string) => void) | undefined): Table {
  return readSegment(dir, file, onRead, (buf) => {
    const { header, days } = fromHeader<TableHeader>(buf)
    return { dims: header.dims, days }
  })
}

/** `withHeader`'s layout read back: the header, and its days' numbers (views of the file's). */
function fromHeader<H extends { days: Record<string, [number, number]> }>(
  buf: Buffer,
): { header: H; days: Map<string, Float64Array> } {
  const length = buf.readUInt32LE(0)
  const header = JSON.parse(buf.toString('utf8', 4, 4 + length)) as H
  const start = (4 + length + 7) & ~7
  const all =
    (buf.byteOffset + start) % 8 === 0
      ? new Float64Array(buf.buffer, buf.byteOffset + start, (buf.byteLength - start) / 8)
      : new Float64Array(buf.buffer.slice(buf.byteOffset + start, buf.byteOffset + buf.byteLength))
  const days = new Map<string, Float64Array>()
  for (const [day, [at, n]] of Object.entries(header.days)) days.set(day, all.subarray(at, at + n))
  return { header, days }
}

/** A month's table: its full write, with its delta's days in their place (added to `overlaid`). */
function readTable(
  dir: string,
  month: IndexMonth,
  kind: TableKind,
  onRead?: (file: string) => void,
  overlaid?: Set<string>,
): Table {
  const table = readTableFile(dir, `${month.base ?? month.file}.${kind}`, onRead)
  if (!month.base) return table
  const delta = readTableFile(dir, `${month.file}.${kind}`, onRead)
  const index = new Map(table.dims.map((d, i) => [d, i]))
  const dimOf = delta.dims.map((d) => {
    let i = index.get(d)
    if (i === undefined) index.set(d, (i = table.dims.push(d) - 1))
    return i
  })
  for (const [day, rows] of delta.days) {
    overlaid?.add(day)
    if (!rows.length) {
      table.days.delete(day)
      continue
    }
    const own = rows.slice()
    for (let at = 0; at < own.length; at += ROW) own[at + COL.dim] = dimOf[own[at + COL.dim]!]!
    table.days.set(day, own)
  }
  return table
}

/**
 * Keeps only the dimensions some row uses (renumbered), so a month's dimensions do not grow with its updates. `only`:
 * the days of a delta (a day without rows is written empty).
 */
function encodeTable(table: Table, only?: Set<string>): Uint8Array[] {
  const used = new Map<number, number>()
  const dims: string[] = []
  const days: Record<string, [number, number]> = {}
  let n = 0
  for (const day of [...(only ?? table.days.keys())].sort()) {
    const rows = table.days.get(day) ?? NO_ROWS
    days[day] = [n, rows.length]
    n += rows.length
  }
  const all = new Float64Array(n)
  for (const [day, [at]] of Object.entries(days)) {
    const rows = table.days.get(day) ?? NO_ROWS
    all.set(rows, at)
    for (let i = at; i < at + rows.length; i += ROW) {
      const old = all[i + COL.dim]!
      let d = used.get(old)
      if (d === undefined) {
        d = dims.length
        dims.push(table.dims[old]!)
        used.set(old, d)
      }
      all[i + COL.dim] = d
    }
  }
  return withHeader({ dims, days } satisfies TableHeader, all)
}

const NO_ROWS = new Float64Array(0)

/**
 * A 4-byte header length, the JSON header, padding to 8 bytes, the numbers (the layout of tables and ids): as the two
 * pieces written one after the other, so a month's numbers are not copied once more to be written.
 */
function withHeader(header: object, numbers: Float64Array): Uint8Array[] {
  const json = Buffer.from(JSON.stringify(header))
  const head = Buffer.alloc((4 + json.byteLength + 7) & ~7)
  head.writeUInt32LE(json.byteLength, 0)
  json.copy(head, 4)
  return [head, new Uint8Array(numbers.buffer, numbers.byteOffset, numbers.byteLength)]
}

/** Per day, the sorted `idKey`s of every copy its parts hold (a day absent: not known). */
type DayIds = Map<string, Float64Array>

/** A response id's first 52 bits, exact in a double: two ids that share them are taken for copies (and summed again). */
const idKey = (id: string): number => Number.parseInt(id.slice(0, 13), 16)

function sortedIds(keys: number[]): Float64Array {
  return Float64Array.from(new Set(keys)).sort()
}

/** Whether sorted `ids` holds `key`. */
function holds(ids: Float64Array, key: number): boolean {
  let lo = 0
  let hi = ids.length - 1
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1
    const v = ids[mid]!
    if (v === key) return true
    if (v < key) lo = mid + 1
    else hi = mid - 1
  }
  return false
}

/** An ids file: laid out as a table file, its header day → [start, length], its numbers the keys. */
function encodeIds(ids: DayIds, only?: Set<string>): Uint8Array[] {
  const days: Record<string, [number, number]> = {}
  let n = 0
  for (const day of [...(only ?? ids.keys())].sort()) {
    days[day] = [n, ids.get(day)?.length ?? 0]
    n += days[day][1]
  }
  const all = new Float64Array(n)
  for (const [day, [at]] of Object.entries(days)) all.set(ids.get(day) ?? NO_ROWS, at)
  return withHeader({ days }, all)
}

/** A month's ids (a delta's days over its base's); none when they cannot be read (an update then sums days again). */
function readIds(dir: string, month: IndexMonth, onRead?: (file: string) => void): DayIds {
  const read = (file: string): DayIds => {
    onRead?.(file)
    return fromHeader(fs.readFileSync(path.join(dir, file))).days
  }
  try {
    const ids = read(`${month.base ?? month.file}.ids`)
    if (month.base) for (const [day, keys] of read(`${month.file}.ids`)) ids.set(day, keys)
    return ids
  } catch {
    return new Map()
  }
}

/**
 * What the index was built from: each device's head, and the tree it read each day from (verify
 * compares them with the heads'). A day's tree is read from its month's meta file when first
 * asked for: a year holds megabytes of part oids that a default `verify`, which asks for the days
 * of a few new commits, never needs.
 */
export interface IndexSources {
  devices: Record<string, { head: string }>
  /** The tree the index read a device's day from; null when the index was replaced while being read. */
  dayTree(id: string, day: string): string | undefined | null
}

export function readIndexSources(dir: string): IndexSources | null {
  const top = readIndex(dir)
  if (!top) return null
  const metas = new Map<string, MonthMeta | undefined>()
  return {
    devices: Object.fromEntries(Object.entries(top.devices).map(([id, d]) => [id, { head: d.head }])),
    dayTree(id, day) {
      const month = day.slice(0, 7)
      if (!metas.has(month)) {
        const entry = top.months[month]
        try {
          metas.set(month, entry ? readMeta(dir, entry) : undefined)
        } catch (e) {
          if (e instanceof MissingSegment) return null
          throw e
        }
      }
      const dev = metas.get(month)?.devices[id]
      return dev ? indexedDayTree(dev, day) : undefined
    },
  }
}

interface Part {
  device: string
  day: string
  name: string
  oid: string
  added: number
}

/** A device's head listed: its top entry, and its months whose tree changed (or all, after a full walk). */
interface ListedDevice {
  top: IndexDevice
  months: Map<string, MonthDevice>
}

/**
 * A device's head. Only the months whose tree differs from the indexed one are read (and in
 * them, only the day trees that differ). With the parts, when each was added: the committer time
 * of the commit that added it, found by comparing each commit's device directory with its
 * parent's (only the commits since the indexed head when the branch grew; the whole branch
 * otherwise, and then every month is listed), so the incremental index and a rebuild see the
 * same times.
 */
async function listDevice(
  git: GitBackend,
  id: string,
  head: string,
  known: IndexDevice | undefined,
  indexedMonth: (month: string) => MonthDevice | undefined,
): Promise<ListedDevice> {
  const tree = (await git.readCommit(head)).tree
  const dir = await readEntryAt(git, tree, deviceDir(id))
  const top: IndexDevice = { head, name: known?.name ?? id.slice(0, 8), lastRecordAt: null, months: {} }
  const months = new Map<string, MonthDevice>()
  const { full, times } = await partTimes(git, id, head, known)
  if (!dir) return { top, months }
  const entries = await git.readTree(dir.oid)
  const files = deviceFilesIn(entries)
  top.name = (await readDeviceJson(git, files.device).catch(() => null))?.name ?? top.name
  const at = (await readManifest(git, files.manifest).catch(() => null))?.lastRecordAt
  top.lastRecordAt = typeof at === 'string' ? at : null
  for (const e of entries) {
    if (e.type !== 'tree' || !/^\d{4}-\d{2}$/.test(e.name)) continue
    top.months[e.name] = e.oid
    if (!full && known?.months[e.name] === e.oid) continue
    const before = known?.months[e.name] !== undefined ? indexedMonth(e.name) : undefined
    if (!full && known?.months[e.name] !== undefined && !before) throw new MissingSegment(e.name)
    const month: MonthDevice = { days: {}, added: full ? {} : { ...before?.added } }
    for (const [oid, t] of times.get(e.name) ?? []) if (!(oid in month.added)) month.added[oid] = t
    for (const day of await git.readTree(e.oid)) {
      if (day.type !== 'tree') continue
      if (before && indexedDayTree(before, day.name) === day.oid) {
        month.days[day.name] = before.days[day.name]!
        continue
      }
      const parts = (await git.readTree(day.oid))
        .filter((p) => PART_NAME_RE.test(p.name))
        .sort((x, y) => (x.name < y.name ? -1 : 1))
      month.days[day.name] = [day.oid, ...parts.map((p) => p.oid)]
    }
    months.set(e.name, month)
  }
  return { top, months }
}

/**
 * Part blob oid → committer time of the commit that added it, along the first-parent chain of
 * `head`, by month: since the indexed head when `head` descends from it, else (`full`) all.
 */
async function partTimes(
  git: GitBackend,
  id: string,
  head: string,
  known: IndexDevice | undefined,
): Promise<{ full: boolean; times: Map<string, Map<string, number>> }> {
  const base = known && known.head !== head && (await descends(git, known.head, head)) ? known.head : null
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
  const times = new Map<string, Map<string, number>>()
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
      await addedParts(readTree, prev, dir, 0, '', (oid, month) => {
        let m = times.get(month)
        if (!m) times.set(month, (m = new Map()))
        if (!m.has(oid)) m.set(oid, chain[i]!.time)
      })
    prev = dir
  }
  return { full: from === null, times }
}

/** Calls `add` for every part blob under `newTree` (a device directory) that `oldTree` lacks, with its month. */
async function addedParts(
  readTree: (oid: string) => Promise<TreeEntry[]>,
  oldTree: string | null,
  newTree: string,
  depth: number,
  month: string,
  add: (oid: string, month: string) => void,
): Promise<void> {
  const old = new Map<string, TreeEntry>()
  if (oldTree) for (const e of await readTree(oldTree)) old.set(e.name, e)
  for (const e of await readTree(newTree)) {
    const o = old.get(e.name)
    if (o?.oid === e.oid) continue
    if (depth < 2) {
      if (e.type === 'tree')
        await addedParts(
          readTree,
          o?.type === 'tree' ? o.oid : null,
          e.oid,
          depth + 1,
          depth === 0 ? e.name : month,
          add,
        )
    } else if (e.type === 'blob' && PART_NAME_RE.test(e.name)) add(e.oid, month)
  }
}

export interface UpdateResult {
  /** Days whose rows were summed again or took new responses. */
  days: number
  /** Of those, the days that only took new responses of their own (their new parts alone read). */
  appended: number
  /** Parts read. */
  parts: number
  records: number
  rebuilt: boolean
  /** Months whose segment was written. */
  months: number
  index: IndexData
}

export interface UpdateOptions {
  heads?: Map<string, string> | Promise<Map<string, string>>
  withTracking?: boolean
  rebuild?: boolean
  /** Told every segment file read (tests count them). */
  onRead?: (file: string) => void
}

/**
 * Brings the index in `dir` up to the device heads of `git` (and, for a native clone, its
 * remote-tracking heads). `rebuild` starts from nothing; so does an index whose segment went
 * missing.
 */
export async function updateIndex(
  git: GitBackend,
  dir: string,
  prices: PriceTable,
  opts: UpdateOptions = {},
): Promise<UpdateResult> {
  // The caller's trusted heads (DESIGN §8; a promise lets it list them while the index is read),
  // else every head the repository holds.
  const old = opts.rebuild ? null : readIndex(dir)
  const heads = (await opts.heads) ?? (await deviceHeads(git, opts.withTracking ?? false))
  try {
    return await new Update(git, dir, prices, old, opts.onRead).run(heads)
  } catch (e) {
    if (!(e instanceof MissingSegment) || !old) throw e
    return new Update(git, dir, prices, null, opts.onRead).run(heads)
  }
}

const DAY_MS = 86_400_000

/**
 * A loaded day's copies: per copy what the dedupe rule ranks it by and what it adds to its row, in columns of numbers
 * and shared strings (an object per record held a day several times over), and its lines counted.
 */
class DayCopies {
  readonly ids: string[] = []
  readonly ms: number[] = []
  /** input, output, cacheWrite, cacheRead: four per copy. */
  readonly tokens: number[] = []
  /** Its cost under auto, calculate (NaN: no price known) and display: three per copy. */
  readonly costs: number[] = []
  readonly sidechain: boolean[] = []
  /** Its dimension (`dimKey`) and device, one shared string each per distinct value. */
  readonly dims: string[] = []
  readonly devices: string[] = []
  /** When the commit that added its part was made (`RankedCopy.added`). */
  readonly added: number[] = []
  /** Its part's name (a number) and its line in the part: its place in its device's ledger. */
  readonly part: number[] = []
  readonly line: number[] = []
  lines = 0
  invalid = 0
  newer = 0
  private readonly start: number
  /** One string per distinct dimension of the day, which its copies share. */
  private readonly dimOf = new Map<string, string>()

  constructor(readonly day: string) {
    this.start = Date.parse(`${day}T00:00:00.000Z`)
  }

  get size(): number {
    return this.ids.length
  }

  add(r: LedgerRecord, device: string, prices: PriceTable, part: number, line: number, added: number) {
    const key = dimKey(device, r)
    let dim = this.dimOf.get(key)
    if (dim === undefined) this.dimOf.set(key, (dim = key))
    this.ids.push(r.id)
    this.ms.push(Date.parse(r.ts))
    this.tokens.push(r.input, r.output, r.cacheWrite, r.cacheRead)
    // a failed call costs 0 under every mode
    this.costs.push(
      prices.cost(r, 'auto') ?? 0,
      prices.cost(r, 'calculate') ?? Number.NaN,
      prices.cost(r, 'display') ?? 0,
    )
    this.sidechain.push(r.sidechain === true)
    this.dims.push(dim)
    this.devices.push(device)
    this.added.push(added)
    this.part.push(part)
    this.line.push(line)
  }

  /** Whether an instant is in this day (a record outside its part's day counts on the day of its `ts`). */
  covers(ms: number): boolean {
    return ms >= this.start && ms < this.start + DAY_MS
  }

  /** Copy i as the dedupe rule ranks it: only asked for an id that has another copy. */
  ranked(i: number): RankedCopy {
    const t = this.tokens
    return {
      total: totalTokens({
        input: t[4 * i]!,
        output: t[4 * i + 1]!,
        cacheWrite: t[4 * i + 2]!,
        cacheRead: t[4 * i + 3]!,
      }),
      sidechain: this.sidechain[i]!,
      ts: new Date(this.ms[i]!).toISOString(),
      added: this.added[i]!,
      device: this.devices[i]!,
      pos: `${this.day}/${String(this.part[i]).padStart(6, '0')}/${String(this.line[i]).padStart(9, '0')}`,
    }
  }

  /** Keeps only the copies `keep` says (in order). */
  retain(keep: (i: number) => boolean): void {
    const single: unknown[][] = [
      this.ids,
      this.ms,
      this.sidechain,
      this.dims,
      this.devices,
      this.added,
      this.part,
      this.line,
    ]
    let n = 0
    const size = this.size
    for (let i = 0; i < size; i++) {
      if (!keep(i)) continue
      if (n !== i) {
        for (const col of single) col[n] = col[i]
        for (let k = 0; k < 4; k++) this.tokens[4 * n + k] = this.tokens[4 * i + k]!
        for (let k = 0; k < 3; k++) this.costs[3 * n + k] = this.costs[3 * i + k]!
      }
      n++
    }
    for (const col of single) col.length = n
    this.tokens.length = 4 * n
    this.costs.length = 3 * n
  }
}

/** A copy of a loaded day: the day and its index there. */
interface CopyAt {
  day: DayCopies
  i: number
}

/** A month being rewritten: its tables and meta, the old ones with the affected days replaced. */
interface MonthBuild {
  month: string
  fine: Table
  coarse: Table
  hourly: Table
  meta: MonthMeta
  ids: DayIds
  /** The full write the old tables were read over (null: a month written in full). */
  base: string | null
  /** The days of the old delta, and the days summed or appended now: a delta write holds both. */
  overlaid: Set<string>
  written: Set<string>
}

/** One update of the index (`updateIndex`). */
class Update {
  private readonly metas = new Map<string, MonthMeta | null>()
  /** month → device → its current part of the month (re-listed, or the indexed one). */
  private readonly current = new Map<string, Record<string, MonthDevice>>()
  private readonly loaded = new Map<string, DayCopies>()
  private readonly monthIds = new Map<string, DayIds>()
  private devices: Record<string, IndexDevice> = {}
  private partsRead = 0
  private records = 0

  constructor(
    private readonly git: GitBackend,
    private readonly dir: string,
    private readonly prices: PriceTable,
    private readonly old: IndexData | null,
    private readonly onRead: ((file: string) => void) | undefined,
  ) {}

  /** The indexed meta of a month (null when the index has none). */
  private meta(month: string): MonthMeta | null {
    let m = this.metas.get(month)
    if (m === undefined) {
      const entry = this.old?.months[month]
      this.metas.set(month, (m = entry ? readMeta(this.dir, entry, this.onRead) : null))
    }
    return m
  }

  async run(heads: Map<string, string>): Promise<UpdateResult> {
    const old = this.old
    const repriced = !old || old.priceSha !== this.prices.sha256
    const touched = new Set<string>()
    const relisted = new Map<string, Map<string, MonthDevice>>()
    const retimed = new Set<string>()
    for (const [id, head] of heads) {
      const known = old?.devices[id]
      if (known?.head === head) {
        this.devices[id] = known
        continue
      }
      const listed = await listDevice(this.git, id, head, known, (m) => this.meta(m)?.devices[id])
      this.devices[id] = listed.top
      for (const [m, entry] of listed.months) {
        touched.add(m)
        let r = relisted.get(m)
        if (!r) relisted.set(m, (r = new Map()))
        r.set(id, entry)
        const before = known?.months[m] !== undefined ? this.meta(m)?.devices[id] : undefined
        // A part whose commit time changed (an accepted rewrite re-adding old parts) changes its day's winners.
        for (const [day, list] of Object.entries(entry.days))
          for (const oid of dayParts(list)) {
            const was = before?.added[oid]
            if (was !== undefined && was !== entry.added[oid]) retimed.add(day)
          }
      }
      for (const m of Object.keys(known?.months ?? {})) if (!(m in listed.top.months)) touched.add(m)
    }
    for (const [id, known] of Object.entries(old?.devices ?? {}))
      if (!heads.has(id)) for (const m of Object.keys(known.months)) touched.add(m)
    if (repriced) {
      for (const m of Object.keys(old?.months ?? {})) touched.add(m)
      for (const d of Object.values(this.devices)) for (const m of Object.keys(d.months)) touched.add(m)
    }
    if (old && !touched.size && !headsMoved(old.devices, this.devices))
      return { days: 0, appended: 0, parts: 0, records: 0, rebuilt: false, months: 0, index: old }

    // The days whose set of parts is not what their rows were built from (every day when repriced).
    const changed: string[] = []
    for (const m of touched) {
      const devices: Record<string, MonthDevice> = {}
      for (const [id, d] of Object.entries(this.devices)) {
        if (!(m in d.months)) continue
        const entry = relisted.get(m)?.get(id) ?? this.meta(m)?.devices[id]
        if (!entry) throw new MissingSegment(m)
        devices[id] = entry
      }
      this.current.set(m, devices)
      const indexed = this.meta(m)?.parts ?? {}
      const days = new Set([...Object.values(devices).flatMap((d) => Object.keys(d.days)), ...Object.keys(indexed)])
      for (const day of days)
        if (repriced || retimed.has(day) || this.dayOids(day).join() !== (indexed[day] ?? []).join()) changed.push(day)
    }
    // A day that only gained parts whose responses no copy near it holds takes them as they are (`appendable`).
    const appended = repriced ? new Map<string, DayCopies>() : await this.appendable(changed, retimed)
    // A copy in a changed day can move a neighbour's winner: neighbours are summed again too.
    const summed = changed.filter((d) => !appended.has(d))
    const affected = [...new Set(summed.flatMap((d) => [d, ...neighbourDays(d)]))].sort()
    for (const d of affected) appended.delete(d)
    const rewrite = new Set([...touched, ...affected.map(monthOf), ...[...appended.keys()].map(monthOf)])
    const months: Record<string, IndexMonth> = { ...old?.months }
    const replaced: IndexMonth[] = []
    for (const m of [...rewrite].sort()) {
      const build = this.startMonth(m, repriced)
      for (const day of affected) if (monthOf(day) === m) await this.sumDay(build, day)
      for (const [day, added] of appended) if (monthOf(day) === m) this.appendDay(build, day, added)
      const was = months[m]
      if (was) replaced.push(was)
      const written = this.writeMonth(build)
      if (written) months[m] = written
      else delete months[m]
    }
    const index: IndexData = {
      v: INDEX_VERSION,
      priceSha: this.prices.sha256,
      devices: this.devices,
      months,
      dir: this.dir,
    }
    const { dir: _dir, ...onDisk } = index
    writeFileAtomic(path.join(this.dir, FILE), JSON.stringify(onDisk))
    const named = new Set(Object.values(months).flatMap(segmentFiles))
    for (const file of replaced.flatMap(segmentFiles))
      if (!named.has(file)) fs.rmSync(path.join(this.dir, file), { force: true })
    if (!old) removeStrays(this.dir, months)
    return {
      days: affected.length + appended.size,
      appended: appended.size,
      parts: this.partsRead,
      records: this.records,
      rebuilt: repriced,
      months: rewrite.size,
      index,
    }
  }

  /** Every device's current part of a month (the indexed one when no device changed it). */
  private monthDevices(month: string): Record<string, MonthDevice> {
    let devices = this.current.get(month)
    if (!devices) {
      devices = {}
      const meta = this.meta(month)
      for (const [id, d] of Object.entries(this.devices))
        if (month in d.months) {
          const entry = meta?.devices[id]
          if (!entry) throw new MissingSegment(month)
          devices[id] = entry
        }
      this.current.set(month, devices)
    }
    return devices
  }

  private dayPartsOf(day: string): Part[] {
    const parts: Part[] = []
    for (const [device, d] of Object.entries(this.monthDevices(monthOf(day)))) {
      const entry = d.days[day]
      if (!entry) continue
      dayParts(entry).forEach((oid, i) => {
        parts.push({ device, day, name: String(i).padStart(6, '0'), oid, added: d.added[oid] ?? 0 })
      })
    }
    return parts
  }

  /** The day's part oids, every device's, sorted (asked for every day of a touched month: no `Part` built). */
  private dayOids(day: string): string[] {
    const oids: string[] = []
    for (const d of Object.values(this.monthDevices(monthOf(day)))) {
      const entry = d.days[day]
      if (entry) for (let i = 1; i < entry.length; i++) oids.push(entry[i]!)
    }
    return oids.sort()
  }

  /** The month's old tables and meta (none when repriced: every day is summed again), its devices current. */
  private startMonth(month: string, repriced: boolean): MonthBuild {
    const entry = this.old?.months[month]
    const keep = entry && !repriced
    const empty = (): Table => ({ dims: [], days: new Map() })
    const meta = this.meta(month)
    const overlaid = new Set<string>()
    return {
      month,
      fine: keep ? readTable(this.dir, entry, 'fine', this.onRead, overlaid) : empty(),
      coarse: keep ? readTable(this.dir, entry, 'coarse', this.onRead, overlaid) : empty(),
      hourly: keep ? readTable(this.dir, entry, 'hourly', this.onRead, overlaid) : empty(),
      ids: keep ? this.idsOf(month) : new Map(),
      base: keep ? (entry.base ?? entry.file) : null,
      overlaid,
      written: new Set(),
      meta: {
        v: INDEX_VERSION,
        devices: this.monthDevices(month),
        parts: { ...meta?.parts },
        stats: { ...meta?.stats },
        cross: { ...meta?.cross },
        unknown: { ...meta?.unknown },
      },
    }
  }

  /** A day's parts parsed, kept while a neighbour may need them. */
  private async load(day: string): Promise<DayCopies> {
    let loaded = this.loaded.get(day)
    if (!loaded) this.loaded.set(day, (loaded = await this.parse(day, this.dayPartsOf(day))))
    return loaded
  }

  private async parse(day: string, parts: Part[]): Promise<DayCopies> {
    const loaded = new DayCopies(day)
    for (const p of parts) {
      const part = Number(p.name)
      this.partsRead++
      const text = (await this.git.readBlob(p.oid)).toString('utf8')
      let i = 0
      for (const line of text.split('\n')) {
        if (!line) continue
        i++
        loaded.lines++
        const parsed = parseLedgerLine(line)
        if (parsed.kind === 'newer') loaded.newer++
        else if (parsed.kind === 'invalid') loaded.invalid++
        else loaded.add(parsed.record, p.device, this.prices, part, i, p.added)
      }
    }
    return loaded
  }

  /** The indexed ids of a month's days (empty when its segment has none: an index written before them). */
  private idsOf(month: string): DayIds {
    let ids = this.monthIds.get(month)
    if (!ids) {
      const entry = this.old?.months[month]
      this.monthIds.set(month, (ids = entry ? readIds(this.dir, entry, this.onRead) : new Map()))
    }
    return ids
  }

  /**
   * The changed days that only gained parts, and whose new parts hold responses that no copy of the day or its
   * neighbours holds (nor another new part): with their new parts parsed. Their rows are the old ones plus the new
   * records, exactly what summing the day again would give, without reading its old parts nor its neighbours'
   * (DESIGN §6). Any doubt (a part gone or re-timed, ids not indexed, a record outside its part's day, a repeated
   * id) leaves a day to be summed again.
   */
  private async appendable(changed: string[], retimed: Set<string>): Promise<Map<string, DayCopies>> {
    const candidates = new Map<string, { loaded: DayCopies; near: Array<Float64Array | null> }>()
    const known = (day: string): Float64Array | null | undefined => {
      const parts = this.meta(monthOf(day))?.parts[day]
      if (!parts?.length) return null // no part: no copy
      return this.idsOf(monthOf(day)).get(day)
    }
    for (const day of changed) {
      if (retimed.has(day)) continue
      const was = new Set(this.meta(monthOf(day))?.parts[day] ?? [])
      const parts = this.dayPartsOf(day)
      const added = parts.filter((p) => !was.has(p.oid))
      if (!added.length || parts.length - added.length !== was.size) continue
      const near = [known(day), ...neighbourDays(day).map(known)]
      if (near.some((ids) => ids === undefined)) continue
      candidates.set(day, { loaded: await this.parse(day, added), near: near as Array<Float64Array | null> })
    }
    // An id new in two days (two devices' copies of one response, say) is summed in both.
    const seen = new Map<number, number>()
    for (const { loaded } of candidates.values())
      for (const id of loaded.ids) seen.set(idKey(id), (seen.get(idKey(id)) ?? 0) + 1)
    const found = new Map<string, DayCopies>()
    for (const [day, { loaded, near }] of candidates)
      if (
        loaded.ids.every((full, i) => {
          const id = idKey(full)
          return loaded.covers(loaded.ms[i]!) && seen.get(id) === 1 && !near.some((ids) => ids && holds(ids, id))
        })
      )
        found.set(day, loaded)
    return found
  }

  /** A day that only gained responses of its own (`appendable`): its rows, ids and statistics with them added. */
  private appendDay(build: MonthBuild, day: string, added: DayCopies): void {
    const fine = new DayRows(build.fine, build.fine.days.get(day))
    const unknown = new Set(build.meta.unknown[day])
    for (let i = 0; i < added.size; i++) fine.add(added, i, unknown)
    this.records += added.size
    this.setRows(build, day, fine)
    build.ids.set(day, sortedIds([...(build.ids.get(day) ?? []), ...added.ids.map(idKey)]))
    const [lines, duplicates, crossDevice, invalid, newer] = build.meta.stats[day] ?? STATS.map(() => 0)
    build.meta.stats[day] = [
      lines! + added.lines,
      duplicates!,
      crossDevice!,
      invalid! + added.invalid,
      newer! + added.newer,
    ]
    build.meta.parts[day] = this.dayOids(day)
    if (unknown.size) build.meta.unknown[day] = [...unknown].sort()
  }

  /** A day's fine rows into the month's tables, with the coarse and hourly rows they sum to. */
  private setRows(build: MonthBuild, day: string, fine: DayRows): void {
    build.written.add(day)
    const rows = fine.rows()
    if (rows.length) {
      build.fine.days.set(day, rows)
      const coarse = rollUp(build.fine.dims, rows, build.coarse, coarseKey, 1)
      build.coarse.days.set(day, coarse)
      build.hourly.days.set(
        day,
        rollUp(build.coarse.dims, coarse, build.hourly, (dim) => dim, 4),
      )
    } else for (const table of [build.fine, build.coarse, build.hourly]) table.days.delete(day)
  }

  /**
   * Sums a day's winners into the month's tables, with its statistics. Only the day and its two
   * neighbours are held (days come in order): memory follows the records of three days, not of the ledger.
   */
  private async sumDay(build: MonthBuild, day: string): Promise<void> {
    const [before, after] = neighbourDays(day)
    for (const d of this.loaded.keys()) if (d < before) this.loaded.delete(d)
    // The day's own copies, then the neighbours' copies of the same responses (a record's part is its ts's day, so
    // a response without a copy here has no winner here).
    const best = new BestOf<CopyAt>(({ day, i }) => day.ranked(i))
    const own = await this.load(day)
    for (let i = 0; i < own.size; i++) best.take(own.ids[i]!, { day: own, i })
    // The day before was summed already (days come in order): of it only copies of this day's responses are still
    // needed, so memory holds two days' records, not three.
    const summed = this.loaded.get(before)
    summed?.retain((i) => best.best.has(summed.ids[i]!))
    for (const d of [before, after]) {
      const near = await this.load(d)
      for (let i = 0; i < near.size; i++) if (best.best.has(near.ids[i]!)) best.take(near.ids[i]!, { day: near, i })
    }
    const fine = new DayRows(build.fine)
    const unknown = new Set<string>()
    let winners = 0
    let crossDevice = 0
    let cross: CrossCounts | undefined
    for (const [id, { day: from, i }] of best.best) {
      if (!own.covers(from.ms[i]!)) continue
      winners++
      if (best.crossDevice.has(id)) {
        crossDevice++
        cross ??= {}
        for (const d of best.devicesOf.get(id)!) (cross[d] ??= [0, 0])[CROSS.held]++
        cross[from.devices[i]!]![CROSS.counted]++
      }
      fine.add(from, i, unknown)
    }
    this.records += winners
    const { meta } = build
    this.setRows(build, day, fine)
    const oids = this.dayOids(day)
    if (oids.length) {
      meta.parts[day] = oids
      build.ids.set(day, sortedIds(own.ids.map(idKey)))
    } else {
      delete meta.parts[day]
      build.ids.delete(day)
    }
    if (own.lines) {
      const stats: IndexStats = {
        lines: own.lines,
        duplicates: own.lines - winners - own.invalid - own.newer,
        crossDevice,
        invalid: own.invalid,
        newer: own.newer,
      }
      meta.stats[day] = STATS.map((k) => stats[k])
    } else delete meta.stats[day]
    if (cross) meta.cross[day] = cross
    else delete meta.cross[day]
    if (unknown.size) meta.unknown[day] = [...unknown].sort()
    else delete meta.unknown[day]
  }

  /** The month's files under a new stem; null for a month left without parts. */
  private writeMonth(build: MonthBuild): IndexMonth | null {
    const { meta } = build
    if (!Object.keys(meta.devices).length && !build.fine.days.size && !Object.keys(meta.stats).length) return null
    const file = `m-${build.month}-${Date.now().toString(36)}-${process.pid}-${(segmentSeq++).toString(36)}`
    // A few days since the last full write go out as a delta over it; more, and the month is written whole again.
    const days = new Set([...build.overlaid, ...build.written])
    const delta = build.base !== null && days.size <= DELTA_DAYS ? days : undefined
    fs.mkdirSync(this.dir, { recursive: true })
    // Durable before the top file names them: a crash must not leave it naming empty files.
    writeFileAtomic(path.join(this.dir, `${file}.fine`), encodeTable(build.fine, delta))
    writeFileAtomic(path.join(this.dir, `${file}.coarse`), encodeTable(build.coarse, delta))
    writeFileAtomic(path.join(this.dir, `${file}.hourly`), encodeTable(build.hourly, delta))
    writeFileAtomic(path.join(this.dir, `${file}.ids`), encodeIds(build.ids, delta))
    writeFileAtomic(path.join(this.dir, `${file}.meta.json`), JSON.stringify(meta))
    const stats = STATS.map(() => 0)
    for (const day of Object.values(meta.stats)) for (let i = 0; i < STATS.length; i++) stats[i]! += day[i] ?? 0
    const cross: CrossCounts = {}
    for (const per of Object.values(meta.cross))
      for (const [device, [held, counted]] of Object.entries(per)) {
        const c = (cross[device] ??= [0, 0])
        c[CROSS.held] += held
        c[CROSS.counted] += counted
      }
    const unknown = [...new Set(Object.values(meta.unknown).flat())].sort()
    return { file, ...(delta ? { base: build.base! } : {}), stats, cross, unknown }
  }
}

let segmentSeq = 0
/** The most days a delta holds (`IndexMonth.base`). */
const DELTA_DAYS = 4
const TABLE_FILES = ['.fine', '.coarse', '.hourly', '.ids']

/** The files a month's entry names. */
function segmentFiles(m: IndexMonth): string[] {
  return [
    `${m.file}.meta.json`,
    ...TABLE_FILES.map((ext) => `${m.file}${ext}`),
    ...(m.base ? TABLE_FILES.map((ext) => `${m.base}${ext}`) : []),
  ]
}

/** After a rebuild: segment files no month names (left by an update that died before its top file). */
function removeStrays(dir: string, months: Record<string, IndexMonth>): void {
  const named = new Set(Object.values(months).flatMap(segmentFiles))
  let names: string[] = []
  try {
    names = fs.readdirSync(dir)
  } catch {
    return
  }
  for (const name of names)
    if ((/^m-\d{4}-\d{2}-/.test(name) || /^rows-.*\.f64$/.test(name)) && !named.has(name))
      fs.rmSync(path.join(dir, name), { force: true })
}

function headsMoved(indexed: Record<string, IndexDevice>, current: Record<string, IndexDevice>): boolean {
  return (
    Object.keys(current).length !== Object.keys(indexed).length ||
    Object.entries(current).some(([id, d]) => indexed[id]?.head !== d.head)
  )
}

/** One day's rows of a table being summed: "quarter:dim" → row (`COL`). */
class DayRows {
  private readonly byKey = new Map<string, number[]>()
  private readonly dimIndex: Map<string, number>

  /** `rows`: the day's rows so far (of `table`), which the added records go on from. */
  constructor(
    private readonly table: Table,
    rows?: Float64Array,
  ) {
    this.dimIndex = dimIndexOf(table)
    if (rows)
      for (let at = 0; at < rows.length; at += ROW)
        this.byKey.set(`${rows[at + COL.quarter]}:${rows[at + COL.dim]}`, Array.from(rows.subarray(at, at + ROW)))
  }

  private dim(key: string): number {
    let i = this.dimIndex.get(key)
    if (i === undefined) {
      i = this.table.dims.length
      this.table.dims.push(key)
      this.dimIndex.set(key, i)
    }
    return i
  }

  /** A row for the quarter and dimension, created empty (counts 0, first/last at `ms`). */
  row(quarter: number, key: string, ms: number): number[] {
    const dim = this.dim(key)
    const k = `${quarter}:${dim}`
    let row = this.byKey.get(k)
    if (!row) {
      this.byKey.set(k, (row = new Array<number>(ROW).fill(0)))
      row[COL.quarter] = quarter
      row[COL.dim] = dim
      row[COL.first] = row[COL.last] = ms
    }
    return row
  }

  /** Copy i of `copies` into its row; its model into `unknown` when it has no price. */
  add(copies: DayCopies, i: number, unknown: Set<string>): void {
    const ms = copies.ms[i]!
    const dim = copies.dims[i]!
    const row = this.row(Math.floor(ms / QUARTER), dim, ms)
    if (ms < row[COL.first]!) row[COL.first] = ms
    if (ms > row[COL.last]!) row[COL.last] = ms
    row[COL.records]! += 1
    const t = copies.tokens
    row[COL.input]! += t[4 * i]!
    row[COL.output]! += t[4 * i + 1]!
    row[COL.cacheWrite]! += t[4 * i + 2]!
    row[COL.cacheRead]! += t[4 * i + 3]!
    const [auto, calc, display] = [copies.costs[3 * i]!, copies.costs[3 * i + 1]!, copies.costs[3 * i + 2]!]
    if (Number.isNaN(calc)) unknown.add(dim.split('\t')[DIM.model]!)
    row[COL.auto]! += auto
    row[COL.calculate]! += Number.isNaN(calc) ? 0 : calc
    row[COL.display]! += display
  }

  /** The rows by quarter, then dimension. */
  rows(): Float64Array {
    const rows = [...this.byKey.values()].sort((a, b) => a[COL.quarter]! - b[COL.quarter]! || a[COL.dim]! - b[COL.dim]!)
    const out = new Float64Array(rows.length * ROW)
    for (const [i, r] of rows.entries()) out.set(r, i * ROW)
    return out
  }
}

const dimIndexes = new WeakMap<Table, Map<string, number>>()
/** A table's dimension → index map, kept with the table while it is built. */
function dimIndexOf(table: Table): Map<string, number> {
  let m = dimIndexes.get(table)
  if (!m) dimIndexes.set(table, (m = new Map(table.dims.map((d, i) => [d, i]))))
  return m
}

/** The coarse dimension of a fine one: project and session left out. */
const coarseKey = (dim: string): string => {
  const f = dim.split('\t')
  f[DIM.project] = ''
  f[DIM.session] = ''
  return f.join('\t')
}

/**
 * A day's rows (of dimensions `dims`) summed into `into`'s dimensions (`keyOf`, which may grow them), per `quarters`
 * quarter hours (1: quarter hours, 4: hours).
 */
function rollUp(
  dims: string[],
  rows: Float64Array,
  into: Table,
  keyOf: (dim: string) => string,
  quarters: number,
): Float64Array {
  const out = new DayRows(into)
  const keys = new Map<number, string>()
  for (let at = 0; at < rows.length; at += ROW) {
    const dim = rows[at + COL.dim]!
    let key = keys.get(dim)
    if (key === undefined) keys.set(dim, (key = keyOf(dims[dim]!)))
    const first = rows[at + COL.first]!
    const quarter = rows[at + COL.quarter]!
    const row = out.row(quarter - (quarter % quarters), key, first)
    for (let c = COL.records; c <= COL.display; c++) row[c]! += rows[at + c]!
    if (first < row[COL.first]!) row[COL.first] = first
    if (rows[at + COL.last]! > row[COL.last]!) row[COL.last] = rows[at + COL.last]!
  }
  return out.rows()
}

/** What `indexRows` reads: a table, and optionally only the UTC days from..to. */
export interface RowsQuery {
  /** `fine` when the rows are grouped or filtered by project or session; else `coarse`, or `hourly` (see `localTime`). */
  table?: TableKind
  /**
   * The zone the rows will be read in (local `YYYY-MM-DDTHH:MM` of an instant): without `table`, when its offsets are
   * whole hours over the months read, the hourly table serves.
   */
  localTime?: (ms: number) => string
  from?: string
  to?: string
}

/** Whether a zone's offset is whole hours over these months (sampled at every UTC midnight and noon). */
function wholeHours(localTime: (ms: number) => string, months: string[]): boolean {
  for (const month of months) {
    const end = Date.parse(`${addDays(`${month}-28`, 4).slice(0, 7)}-01T00:00:00Z`)
    for (let ms = Date.parse(`${month}-01T00:00:00Z`); ms < end; ms += 43_200_000)
      if (localTime(ms).slice(14, 16) !== '00') return false
  }
  return true
}

/** The UTC days to read for local days since..until of any zone: one more day on each side. */
export function utcRange(since?: string, until?: string): { from?: string; to?: string } {
  return { from: since && addDays(since, -1), to: until && addDays(until, 1) }
}

/**
 * The index as aggregation rows under one cost mode, optionally only the dimensions `keepDim` accepts, from the
 * months (and days) of the query's range and the table it names. Rows of failed calls come as they are
 * (`RowView.failed`, cost 0): whoever sums them decides whether their tokens count.
 */
export function indexRows(
  idx: IndexData,
  mode: CostMode,
  keepDim?: (dim: string[]) => boolean,
  query: RowsQuery = {},
): Rows {
  const inRange = (month: string) =>
    !(query.from && month < monthOf(query.from)) && !(query.to && month > monthOf(query.to))
  const kind =
    query.table ??
    (query.localTime && wholeHours(query.localTime, Object.keys(idx.months).filter(inRange)) ? 'hourly' : 'coarse')
  let top = idx
  let tables: Array<{ table: Table; toGlobal: Int32Array }> | null = null
  let dims: string[][] = []
  for (let attempt = 0; attempt < 3 && !tables; attempt++) {
    try {
      const globalIndex = new Map<string, number>()
      dims = []
      tables = []
      for (const [month, entry] of Object.entries(top.months).sort(([a], [b]) => (a < b ? -1 : 1))) {
        if (!inRange(month)) continue
        const table = readTable(top.dir, entry, kind)
        const toGlobal = new Int32Array(table.dims.length)
        table.dims.forEach((d, i) => {
          let g = globalIndex.get(d)
          if (g === undefined) {
            g = dims.length
            dims.push(d.split('\t'))
            globalIndex.set(d, g)
          }
          toGlobal[i] = g
        })
        tables.push({ table, toGlobal })
      }
    } catch (e) {
      if (!(e instanceof MissingSegment)) throw e
      tables = null // replaced under us: read the new one
      top = readIndex(idx.dir) ?? top
    }
  }
  if (!tables)
    throw opError('INTERNAL', `the index in ${idx.dir} names a file it lacks; run usage-ledger index --rebuild`)
  const cost = COL[mode]
  const keep = keepDim ? dims.map(keepDim) : null
  const failed = dims.map(isFailedDim)
  const unknown = [
    ...new Set(
      Object.entries(top.months)
        .filter(([m]) => inRange(m))
        .flatMap(([, m]) => m.unknown),
    ),
  ].sort()
  const readTables = tables
  return {
    dims,
    unknownModels: mode === 'display' ? [] : unknown,
    each(visit) {
      const row = emptyRowView()
      for (const { table, toGlobal } of readTables) {
        for (const [day, rows] of table.days) {
          if ((query.from && day < query.from) || (query.to && day > query.to)) continue
          for (let at = 0; at < rows.length; at += ROW) {
            const dim = toGlobal[rows[at + COL.dim]!]!
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
      }
    },
  }
}

/** Models without a price anywhere in the index (aggregation keeps those seen in its range). */
export function unknownModels(idx: IndexData): string[] {
  return [...new Set(Object.values(idx.months).flatMap((m) => m.unknown))].sort()
}

/** Per device: responses recorded on more than one device that it holds, and how many of them count for it. */
export function crossDeviceStats(idx: IndexData): Map<string, { records: number; counted: number }> {
  const out = new Map<string, { records: number; counted: number }>()
  for (const month of Object.values(idx.months)) {
    for (const [device, counts] of Object.entries(month.cross)) {
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
  for (const month of Object.values(idx?.months ?? {}))
    for (const [i, k] of STATS.entries()) sum[k] += month.stats[i] ?? 0
  return sum
}
