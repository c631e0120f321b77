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
import { appendFileDurable, writeFileAtomic } from '../store/fsutil.js'

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
 * per main message, in any order; a later line of an id replaces an earlier one (a run appends
 * what it learnt). A v1 file (no ts) keeps its messages; its ids are rebuilt from git.
 */
const KNOWN_HEADER_RE = /^usage-ledger known v([12])(?: epoch (\S+))?\n/

function knownLines(ids: Iterable<[string, KnownEntry]>, messages: Iterable<string>): string {
  const out: string[] = []
  for (const [id, e] of ids)
    out.push(`${id} ${e.input} ${e.output} ${e.cacheWrite} ${e.cacheRead} ${e.sidechain ? 1 : 0} ${e.tsMs}\n`)
  for (const m of messages) out.push(`m ${m}\n`)
  return out.join('')
}

function knownFileText(ids: Map<string, KnownEntry>, messages: Set<string>, epoch: string): string {
  return `usage-ledger known v2${epoch ? ` epoch ${epoch}` : ''}\n${knownLines(ids, messages)}`
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
  // A run that died while appending leaves a last line without its newline: damaged.
  if (!header || !text.endsWith('\n')) return undefined
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
    const space = line.indexOf(' ')
    const n = entryNumbers(line, space + 1)
    // Damaged: rebuilt from git.
    if (space < 1 || !n || (n[4] !== 0 && n[4] !== 1)) return undefined
    ids.set(line.slice(0, space), {
      input: n[0]!,
      output: n[1]!,
      cacheWrite: n[2]!,
      cacheRead: n[3]!,
      sidechain: n[4] === 1,
      tsMs: n[5]!,
    })
  }
  // A v1 file's epoch never matches: its ids are rebuilt, its messages kept.
  return { ids, messages, epoch: v1 ? `v1:${header[2] ?? ''}` : (header[2] ?? '') }
}

const entry = new Float64Array(6)
/**
 * The six space-separated decimal numbers of a line from `at` to its end (a day file holds thousands of lines: no
 * split, no array per line); null unless there are exactly six, each of 1 to 16 digits.
 */
function entryNumbers(line: string, at: number): Float64Array | null {
  let k = 0
  let digits = 0
  let v = 0
  for (let i = at; i <= line.length; i++) {
    const c = i < line.length ? line.charCodeAt(i) : 32
    if (c === 32) {
      if (!digits || k === 6) return null
      entry[k++] = v
      v = 0
      digits = 0
    } else if (c >= 48 && c <= 57 && digits < 16) {
      v = v * 10 + (c - 48)
      digits++
    } else return null
  }
  return k === 6 ? entry : null
}

export class KnownCache {
  private readonly days = new Map<string, Map<string, KnownEntry>>()
  /** Per day, the native items recorded as originals (a source's replay rule: Claude's main copies of a message). */
  private readonly originals = new Map<string, Set<string>>()
  private readonly dirty = new Set<string>()
  /** Days read from their file of this epoch: what a run learns of them is appended to it. */
  private readonly appendable = new Set<string>()
  private readonly learnt = new Map<string, { ids: Set<string>; messages: Set<string> }>()
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
        this.appendable.add(day)
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
    this.learntOf(day)?.ids.add(id)
  }

  /** What is learnt of a day whose file gets it appended; none for a day written whole (a backfill's). */
  private learntOf(day: string): { ids: Set<string>; messages: Set<string> } | undefined {
    if (!this.appendable.has(day)) return undefined
    let l = this.learnt.get(day)
    if (!l) this.learnt.set(day, (l = { ids: new Set(), messages: new Set() }))
    return l
  }

  hasOriginal(item: string, days: readonly string[]): boolean {
    return days.some((d) => this.originals.get(d)?.has(item))
  }

  addOriginal(day: string, item: string): void {
    this.day(day)
    const originals = this.originals.get(day)!
    if (originals.has(item)) return
    originals.add(item)
    this.dirty.add(day)
    this.learntOf(day)?.messages.add(item)
  }

  /**
   * Called after the branch moved to `head`: days first, then the stamp that validates them. A day read from its file
   * gets what was learnt appended (a late record on a full day writes its few lines, not the day); others are written
   * whole.
   */
  save(head: string): void {
    for (const d of this.dirty) {
      const file = path.join(this.dir, `${d}.txt`)
      const learnt = this.learnt.get(d)
      if (this.appendable.has(d) && learnt) {
        const ids = this.days.get(d)!
        appendFileDurable(
          file,
          knownLines(
            [...learnt.ids].map((id) => [id, ids.get(id)!]),
            learnt.messages,
          ),
        )
      } else {
        writeFileAtomic(file, knownFileText(this.days.get(d)!, this.originals.get(d)!, this.epoch))
        this.appendable.add(d)
      }
    }
    this.dirty.clear()
    this.learnt.clear()
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
