/**
 * The dedupe rule (DESIGN §4): per id the record with the largest total wins; on a tie the
 * later one, and across devices the lower deviceId. Readers apply `BestById` over everything
 * they read; writers append only what `beatsRecorded` lets through, so re-reading a source
 * never grows the ledger.
 */
import { totalTokens, type LedgerRecord } from './record.js'

/** What a writer knows of an id it already recorded. */
export interface RecordedBest {
  total: number
  sidechain: boolean
}

/**
 * A candidate is appended when its id is new, when it has more tokens, or when it is the
 * non-sidechain copy of an equal sidechain one (the tie then goes to the later line, which
 * is this one, so readers pick it without knowing the sidechain rule). A sidechain copy never
 * displaces a recorded non-sidechain one.
 */
export function beatsRecorded(candidate: LedgerRecord, best: RecordedBest | undefined): boolean {
  if (!best) return true
  if (candidate.sidechain && !best.sidechain) return false
  const t = totalTokens(candidate)
  if (t !== best.total) return t > best.total
  return best.sidechain && !candidate.sidechain
}

/** Within one run: should `b` (read later) replace `a`? Non-sidechain first, then largest, then later. */
export function laterCopyWins(a: LedgerRecord, b: LedgerRecord): boolean {
  if (Boolean(a.sidechain) !== Boolean(b.sidechain)) return !b.sidechain
  return totalTokens(b) >= totalTokens(a)
}

/** A copy as readers rank it: its total, its device, its place in that device's ledger. */
export interface RankedCopy { total: number; device: string; pos: string | number }

/** The reader rule: the larger total; on a tie the lower deviceId, then the later line. */
export function prefer(a: RankedCopy, b: RankedCopy): boolean {
  if (a.total !== b.total) return a.total > b.total
  if (a.device !== b.device) return a.device < b.device
  return a.pos > b.pos
}

export interface Winner<R> extends RankedCopy {
  record: R
}

export class BestById<R extends LedgerRecord = LedgerRecord> {
  readonly best = new Map<string, Winner<R>>()
  /** Lines that lost to another copy of the same response. */
  dropped = 0
  /** Ids seen on more than one device (a copied ~/.claude, say). */
  readonly crossDevice = new Set<string>()

  private seq = 0

  /**
   * Offers a copy. `pos` is its place in its device's ledger (day/part/line, comparable);
   * without one, the order of offers for a device is taken as ledger order.
   */
  offer(record: R, device: string, pos: string | number = this.seq++): void {
    const copy = { record, device, total: totalTokens(record), pos }
    const cur = this.best.get(record.id)
    if (!cur) { this.best.set(record.id, copy); return }
    this.dropped++
    if (cur.device !== device) this.crossDevice.add(record.id)
    if (prefer(copy, cur)) this.best.set(record.id, copy)
  }

  *winners(): IterableIterator<Winner<R>> { yield* this.best.values() }
}
