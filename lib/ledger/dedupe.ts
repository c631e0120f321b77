/**
 * The dedupe rule (DESIGN §4, as amended by issue 11): per id the record with the largest total
 * wins; on a tie a non-sidechain copy beats a sidechain one (DESIGN §5), then the earliest `ts`,
 * then the copy committed first (the commit that added its part; across devices this is the
 * device that recorded the response first), then the lower deviceId (same second), then the
 * earlier line. Never file names or read order. Readers apply `BestById` over everything they
 * read; writers append only what `beatsRecorded` lets through, so re-reading a source never
 * grows the ledger.
 */
import { canonicalLine, totalTokens, type LedgerRecord } from './record.js'

/** What a writer knows of an id it already recorded. */
export interface RecordedBest {
  total: number
  sidechain: boolean
  /** The recorded copy's `ts` (RFC 3339); absent in tests of the total rule only. */
  ts?: string
}

/**
 * A candidate is appended when its id is new, or when readers would prefer it to the recorded
 * copy: more tokens, the non-sidechain copy of an equal sidechain one, or an equal copy with an
 * earlier `ts` (a resumed session re-stamps copied lines; whichever file is read first, the
 * ledger ends up holding the earliest copy). A sidechain copy never displaces a recorded
 * non-sidechain one. A candidate equal in all of these is not appended, so re-reading a source
 * never grows the ledger (and `ts` only ever moves earlier, so an id is appended finitely often).
 */
export function beatsRecorded(candidate: LedgerRecord, best: RecordedBest | undefined): boolean {
  if (!best) return true
  if (candidate.sidechain && !best.sidechain) return false
  const t = totalTokens(candidate)
  if (t !== best.total) return t > best.total
  if (best.sidechain !== Boolean(candidate.sidechain)) return best.sidechain
  return best.ts !== undefined && candidate.ts < best.ts
}

/**
 * Within one run: should `b` replace `a`? Non-sidechain first, then largest, then the earlier
 * `ts`, then the smaller canonical line: the run's result does not depend on the order files
 * (or lines) were read in.
 */
export function laterCopyWins(a: LedgerRecord, b: LedgerRecord): boolean {
  if (Boolean(a.sidechain) !== Boolean(b.sidechain)) return !b.sidechain
  const ta = totalTokens(a),
    tb = totalTokens(b)
  if (ta !== tb) return tb > ta
  if (a.ts !== b.ts) return b.ts < a.ts
  return canonicalLine(b) < canonicalLine(a)
}

/** A copy as readers rank it. */
export interface RankedCopy {
  total: number
  sidechain: boolean
  ts: string
  /** When the commit that added this copy's part was made (seconds; 0 when unknown). */
  added: number
  device: string
  /** Its place in its device's ledger (day/part/line, comparable). */
  pos: string | number
}

/** The reader rule: does copy `a` beat copy `b`? */
export function prefer(a: RankedCopy, b: RankedCopy): boolean {
  if (a.total !== b.total) return a.total > b.total
  if (a.sidechain !== b.sidechain) return b.sidechain
  if (a.ts !== b.ts) return a.ts < b.ts
  if (a.added !== b.added) return a.added < b.added
  if (a.device !== b.device) return a.device < b.device
  return a.pos < b.pos
}

export interface Winner<R> extends RankedCopy {
  record: R
}

/**
 * The winner per id of the copies taken, under `prefer`. A copy is whatever `rank` makes a RankedCopy of: the index
 * holds its copies in columns and ranks one only when its id was taken before.
 */
export class BestOf<C> {
  readonly best = new Map<string, C>()
  /** Lines that lost to another copy of the same response. */
  dropped = 0
  /** Ids seen on more than one device (a copied ~/.claude, say). */
  readonly crossDevice = new Set<string>()
  /** For each id of `crossDevice`, every device holding a copy. */
  readonly devicesOf = new Map<string, Set<string>>()

  constructor(private readonly rank: (copy: C) => RankedCopy) {}

  take(id: string, copy: C): void {
    const cur = this.best.get(id)
    if (cur === undefined) {
      this.best.set(id, copy)
      return
    }
    this.dropped++
    const offered = this.rank(copy)
    const held = this.rank(cur)
    const devices = this.devicesOf.get(id)
    if (devices) devices.add(offered.device)
    else if (held.device !== offered.device) {
      this.crossDevice.add(id)
      this.devicesOf.set(id, new Set([held.device, offered.device]))
    }
    if (prefer(offered, held)) this.best.set(id, copy)
  }

  *winners(): IterableIterator<C> {
    yield* this.best.values()
  }
}

/** BestOf over records. */
export class BestById<R extends LedgerRecord = LedgerRecord> extends BestOf<Winner<R>> {
  private seq = 0

  constructor() {
    super((w) => w)
  }

  /**
   * Offers a copy. `pos` is its place in its device's ledger (day/part/line, comparable);
   * without one, the order of offers for a device is taken as ledger order. `added` is the
   * commit time (seconds) of the commit that added its part.
   */
  offer(record: R, device: string, pos: string | number = this.seq++, added = 0): void {
    this.take(record.id, {
      record,
      device,
      total: totalTokens(record),
      sidechain: record.sidechain === true,
      ts: record.ts,
      added,
      pos,
    })
  }
}
