/**
 * What this device already recorded, per UTC day: id → tokens of the best copy. Writers need
 * it to append only new or better copies (DESIGN §4). It is a cache of the ledger branch: it
 * is valid for the head named in `HEAD`. A head that descends from it (a run killed between
 * the ref update and this cache, a rename commit) keeps what only the cache knows, which
 * native items have an original (ledger lines carry no native ids), under a new epoch: day files
 * of another epoch rebuild their ids from git. Any other head (another device, a rewritten
 * branch) wipes it, and days are rebuilt from git when asked for.
 */
import { opError } from '../errors.js'
import fs from 'node:fs'
import path from 'node:path'
import type { RecordedBest } from '../ledger/dedupe.js'
import { parseLedgerLine, type LedgerRecord } from '../ledger/record.js'
import { dayDir, deviceDir } from '../ledger/paths.js'
import type { GitBackend } from '../git/backend.js'
import { readTreeAt } from '../git/tree.js'
import { writeFileAtomic } from '../store/fsutil.js'

/** What the cache keeps of the best recorded copy of an id: what the dedupe rule compares. */
export interface KnownEntry {
  input: number
  output: number
  cacheWrite: number
  cacheRead: number
  sidechain: boolean
  /** The copy's `ts`, in ms since the epoch. */
  tsMs: number
}

export const entryOf = (r: LedgerRecord): KnownEntry => ({
  input: r.input,
  output: r.output,
  cacheWrite: r.cacheWrite,
  cacheRead: r.cacheRead,
  sidechain: Boolean(r.sidechain),
  tsMs: Date.parse(r.ts),
})
const entryTotal = (e: KnownEntry) => e.input + e.output + e.cacheWrite + e.cacheRead
export const entryBest = (e: KnownEntry): RecordedBest => ({
  total: entryTotal(e),
  sidechain: e.sidechain,
  ts: new Date(e.tsMs).toISOString(),
})
/** True when readers prefer entry `a` to entry `b` of one id on this device (the dedupe rule without commit order). */
const entryBeats = (a: KnownEntry, b: KnownEntry) => {
  const ta = entryTotal(a),
    tb = entryTotal(b)
  if (ta !== tb) return ta > tb
  if (a.sidechain !== b.sidechain) return !a.sidechain
  return a.tsMs < b.tsMs
}

/**
 * `usage-ledger known v2` (then ` epoch E` unless the epoch is empty), then one
 * `id input output cacheWrite cacheRead sidechain tsMs` line per id and one `m <message>` line
 * per main message. A v1 file (no ts) keeps its messages; its ids are rebuilt from git.
 */
const KNOWN_HEADER_RE = /^usage-ledger known v([12])(?: epoch (\S+))?\n/

function knownFileText(ids: Map<string, KnownEntry>, messages: Set<string>, epoch: string): string {
  const out: string[] = [`usage-ledger known v2${epoch ? ` epoch ${epoch}` : ''}\n`]
  for (const [id, e] of ids)
    out.push(`${id} ${e.input} ${e.output} ${e.cacheWrite} ${e.cacheRead} ${e.sidechain ? 1 : 0} ${e.tsMs}\n`)
  for (const m of messages) out.push(`m ${m}\n`)
  return out.join('')
}

/** The cached day, or undefined when absent or unreadable (then it is rebuilt from git). */
function readKnownFile(
  file: string,
): { ids: Map<string, KnownEntry>; messages: Set<string>; epoch: string } | undefined {
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch {
    return undefined
  }
  const header = KNOWN_HEADER_RE.exec(text)
  if (!header) return undefined
  const ids = new Map<string, KnownEntry>()
  const messages = new Set<string>()
  const v1 = header[1] === '1'
  for (const line of text.slice(header[0].length).split('\n')) {
    if (!line) continue
    if (line.startsWith('m ')) {
      messages.add(line.slice(2))
      continue
    }
    if (v1) continue
    const [id = '', ...fields] = line.split(' ')
    const [input = NaN, output = NaN, cacheWrite = NaN, cacheRead = NaN, sidechain = NaN, tsMs = NaN] =
      fields.map(Number)
    const numbers = [input, output, cacheWrite, cacheRead, tsMs]
    // Damaged: rebuilt from git.
    if (fields.length !== 6 || !numbers.every(Number.isFinite) || (sidechain !== 0 && sidechain !== 1)) return undefined
    ids.set(id, { input, output, cacheWrite, cacheRead, sidechain: sidechain === 1, tsMs })
  }
  // A v1 file's epoch never matches: its ids are rebuilt, its messages kept.
  return { ids, messages, epoch: v1 ? `v1:${header[2] ?? ''}` : (header[2] ?? '') }
}

export class KnownCache {
  private readonly days = new Map<string, Map<string, KnownEntry>>()
  /** Per day, the native items recorded as originals (a source's replay rule: Claude's main copies of a message). */
  private readonly originals = new Map<string, Set<string>>()
  private readonly dirty = new Set<string>()
  /** `HEAD` holds `<head oid> <epoch>`; day files of another epoch than this one rebuild their ids. */
  private readonly cached: { head: string; epoch: string }
  private epoch = ''
  private checked: Promise<void> | null = null

  constructor(
    private readonly dir: string,
    private readonly git: GitBackend,
    private readonly deviceId: string,
    private readonly tree: string | null,
    private readonly head: string | null,
  ) {
    let stamp = ''
    try {
      stamp = fs.readFileSync(path.join(dir, 'HEAD'), 'utf8').trim()
    } catch {
      /* no cache yet */
    }
    const [oid = '', epoch = ''] = stamp.split(' ')
    this.cached = { head: oid, epoch }
  }

  private async check(): Promise<void> {
    if (this.cached.head === (this.head ?? '')) {
      this.epoch = this.cached.epoch
      return
    }
    const descends =
      this.cached.head !== '' &&
      this.head !== null &&
      (await this.git.isAncestor(this.cached.head, this.head).catch(() => false))
    if (descends) this.epoch = `${Date.now().toString(36)}.${Math.random().toString(36).slice(2, 10)}`
    else fs.rmSync(this.dir, { recursive: true, force: true })
  }

  /** Loads (from the cache file, else from git) every day a lookup will touch. */
  async preload(days: Iterable<string>): Promise<void> {
    await (this.checked ??= this.check())
    for (const day of days) {
      if (this.days.has(day)) continue
      const cached = readKnownFile(path.join(this.dir, `${day}.txt`))
      if (cached && cached.epoch === this.epoch) {
        this.days.set(day, cached.ids)
        this.originals.set(day, cached.messages)
      } else {
        // Ledger lines carry no message ids: a rebuild keeps the messages of an older epoch's
        // file (the branch only grew since), else only ids dedupe (see hasOriginal).
        this.days.set(day, await this.rebuild(day))
        this.originals.set(day, cached?.messages ?? new Set())
        this.dirty.add(day)
      }
    }
  }

  private day(day: string): Map<string, KnownEntry> {
    const m = this.days.get(day)
    if (!m) throw opError('INTERNAL', `known cache: day ${day} was not preloaded`)
    return m
  }

  /** The best recorded copy of `id` across `days` (by the reader rule), and the day it is in. */
  best(id: string, days: readonly string[]): { day: string; entry: KnownEntry } | null {
    let found: { day: string; entry: KnownEntry } | null = null
    for (const d of days) {
      const e = this.day(d).get(id)
      if (e && (!found || entryBeats(e, found.entry))) found = { day: d, entry: e }
    }
    return found
  }

  set(day: string, id: string, entry: KnownEntry): void {
    this.day(day).set(id, entry)
    this.dirty.add(day)
  }

  hasOriginal(item: string, days: readonly string[]): boolean {
    return days.some((d) => this.originals.get(d)?.has(item))
  }

  addOriginal(day: string, item: string): void {
    this.day(day)
    this.originals.get(day)!.add(item)
    this.dirty.add(day)
  }

  /** Called after the branch moved to `head`: days first, then the stamp that validates them. */
  save(head: string): void {
    for (const d of this.dirty)
      writeFileAtomic(
        path.join(this.dir, `${d}.txt`),
        knownFileText(this.days.get(d)!, this.originals.get(d)!, this.epoch),
      )
    this.dirty.clear()
    writeFileAtomic(path.join(this.dir, 'HEAD'), `${head}${this.epoch ? ` ${this.epoch}` : ''}\n`)
  }

  private async rebuild(day: string): Promise<Map<string, KnownEntry>> {
    const m = new Map<string, KnownEntry>()
    const entries = await readTreeAt(this.git, this.tree, `${deviceDir(this.deviceId)}/${dayDir(day)}`)
    if (!entries) return m
    const parts = entries.filter((e) => e.type === 'blob').sort((a, b) => (a.name < b.name ? -1 : 1))
    for (const p of parts) {
      for (const line of (await this.git.readBlob(p.oid)).toString('utf8').split('\n')) {
        if (!line) continue
        const parsed = parseLedgerLine(line)
        if (parsed.kind !== 'record') continue
        const r = parsed.record
        const cur = m.get(r.id)
        // The reader rule on one device, in ledger order (a full tie keeps the earlier line).
        if (!cur || entryBeats(entryOf(r), cur)) m.set(r.id, entryOf(r))
      }
    }
    return m
  }
}
