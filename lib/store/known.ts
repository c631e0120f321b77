/**
 * What this device already recorded, per UTC day: id → tokens of the best copy. Writers need
 * it to append only new or better copies (DESIGN §4). It is a cache of the ledger branch: it
 * is valid only for the head named in `HEAD`; any other head (a crash between the ref update
 * and this cache, a reinstall) wipes it, and days are rebuilt from git when asked for.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { RecordedBest } from '../ledger/dedupe.js'
import { parseLedgerLine, totalTokens, type LedgerRecord } from '../ledger/record.js'
import { dayDir, deviceDir } from '../ledger/paths.js'
import type { GitBackend } from '../git/backend.js'
import { readTreeAt } from '../git/tree.js'
import { readJsonIfExists, writeFileAtomic } from './fsutil.js'

/** [input, output, cacheWrite, cacheRead, sidechain 0|1] */
export type KnownEntry = [number, number, number, number, number]

export const entryOf = (r: LedgerRecord): KnownEntry => [r.input, r.output, r.cacheWrite, r.cacheRead, r.sidechain ? 1 : 0]
export const entryBest = (e: KnownEntry): RecordedBest => ({ total: e[0] + e[1] + e[2] + e[3], sidechain: e[4] === 1 })
export const entryTokens = (e: KnownEntry) => ({ input: e[0], output: e[1], cacheWrite: e[2], cacheRead: e[3] })

interface KnownFile { v: 1; ids: Record<string, KnownEntry> }

export class KnownCache {
  private readonly days = new Map<string, Map<string, KnownEntry>>()
  private readonly dirty = new Set<string>()

  constructor(
    private readonly dir: string,
    private readonly git: GitBackend,
    private readonly deviceId: string,
    private readonly tree: string | null,
    head: string | null,
  ) {
    let cachedHead: string | null = null
    try { cachedHead = fs.readFileSync(path.join(dir, 'HEAD'), 'utf8').trim() } catch { /* no cache yet */ }
    if (cachedHead !== (head ?? '')) fs.rmSync(dir, { recursive: true, force: true })
  }

  async day(day: string): Promise<Map<string, KnownEntry>> {
    let m = this.days.get(day)
    if (m) return m
    const file = readJsonIfExists<KnownFile>(path.join(this.dir, day + '.json'))
    if (file?.v === 1) m = new Map(Object.entries(file.ids))
    else {
      m = await this.rebuild(day)
      this.dirty.add(day)
    }
    this.days.set(day, m)
    return m
  }

  /** The best recorded copy of `id` across `days`, and the day it is in. */
  async best(id: string, days: string[]): Promise<{ day: string; entry: KnownEntry } | null> {
    let found: { day: string; entry: KnownEntry } | null = null
    for (const d of days) {
      const e = (await this.day(d)).get(id)
      if (e && (!found || entryBest(e).total >= entryBest(found.entry).total)) found = { day: d, entry: e }
    }
    return found
  }

  async set(day: string, id: string, entry: KnownEntry): Promise<void> {
    (await this.day(day)).set(id, entry)
    this.dirty.add(day)
  }

  /** Called after the branch moved to `head`: days first, then the stamp that validates them. */
  save(head: string): void {
    for (const d of this.dirty) {
      writeFileAtomic(path.join(this.dir, d + '.json'), JSON.stringify({ v: 1, ids: Object.fromEntries(this.days.get(d)!) }))
    }
    this.dirty.clear()
    writeFileAtomic(path.join(this.dir, 'HEAD'), head + '\n')
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
        // The reader rule in ledger order: largest total, a tie goes to the later line.
        if (!cur || totalTokens(r) >= entryBest(cur).total) m.set(r.id, entryOf(r))
      }
    }
    return m
  }
}
