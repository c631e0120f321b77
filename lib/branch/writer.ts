/**
 * Appending to this device's ledger branch: plan (pure reads), then write in the crash-safe
 * order objects → branch ref (compare-and-swap) → caches. The caller saves source cursors last.
 */
import { addDays, neighbourDays, utcDay, utcMonth } from '../ledger/time.js'
import { canonicalLine, type LedgerRecord } from '../ledger/record.js'
import { beatsRecorded } from '../ledger/dedupe.js'
import {
  addToMonth,
  emptyManifest,
  MANIFEST_VERSION,
  sealDigestLines,
  sealedDays,
  sealRoot,
  serializeManifest,
  type Manifest,
} from '../ledger/manifest.js'
import { dayDir, deviceDir, ledgerRef, PART_NAME_RE, partName } from '../ledger/paths.js'
import type { GitBackend, Signature } from '../git/backend.js'
import { inputError } from '../errors.js'
import type { DeviceInfo } from '../store/device.js'
import { readEntryAt, readTreeAt, writeFiles } from '../git/tree.js'
import { writeGenesis } from '../git/genesis.js'
import { KnownCache, entryBest, entryOf } from './known.js'
import { SHARED_NAMES_FILE, serializeSharedNames } from '../ledger/names.js'
import { deviceFilesAt, readDeviceJson, readManifest, type DeviceFileOids } from './device-files.js'
import { readingPart } from './limits.js'
import type { LimitReading } from '../ledger/limits.js'

export interface AppendPlan {
  head: string | null
  /** day → how many records its new part holds */
  parts: Map<string, number>
  /** A dry run's new lines, day by day in ledger order (a commit keeps none: see appendRecords). */
  dryRunLines: string[]
  manifest: Manifest
  appended: number
  /** Copies of responses already recorded at least as well. */
  alreadyRecorded: number
  /** Limit readings committed (DESIGN §4a): newer than this device's of their account and window. */
  readings: number
}

export interface AppendResult extends AppendPlan {
  commit: string | null
}

/** A record on its way in, with the native item it copies (a source's replay rule), if any. */
export type Candidate = LedgerRecord & { copy?: { of: string; replay: boolean } }

/**
 * Appends the candidates that are new or better than what is recorded. Consumes `candidates`
 * (the array is emptied once planned) so a backfill's records can be freed as lines are built.
 */
export async function appendRecords(
  git: GitBackend,
  device: DeviceInfo,
  knownDir: string,
  candidates: Candidate[],
  now: Date,
  opts: {
    dryRun?: boolean
    seen?: Record<string, string>
    sharedNames?: Record<string, string>
    readings?: Iterable<LimitReading>
  } = {},
): Promise<AppendResult> {
  const ref = ledgerRef(device.id)
  const head = await git.readRef(ref)
  const tree = head ? (await git.readCommit(head)).tree : null
  const files = await deviceFilesAt(git, tree, device.id)
  const manifest = await manifestToExtend(git, files.manifest, device.id, now)
  const known = new KnownCache(knownDir, git, device.id, tree, head)
  const { parts, alreadyRecorded } = await keepNewOrBetter(known, manifest, candidates)
  // Each day's part goes to git as soon as its lines are built, and a day the seal covers is
  // digested then (its parts at `tree` and these lines): no day's lines outlive its part (a
  // backfill builds hundreds of MB of them), and git compresses each part while the next days
  // are built. Objects only: the ref moves once all are written.
  const through = addDays(utcDay(now.toISOString()), -1)
  const partBlobs = new Map<string, Promise<string>>()
  const digests = new Map<string, string>()
  const dryRunLines: string[] = []
  const { counts, appended } = await partLines(parts, manifest, async (day, lines) => {
    if (opts.dryRun) {
      for (const line of lines) dryRunLines.push(line)
      return
    }
    partBlobs.set(partPath(device.id, day, manifest), writePartBlob(git, lines))
    if (day <= through) digests.set(day, await dayDigest(git, tree, deviceDir(device.id), day, lines))
  })
  const limits = await readingPart(git, tree, device.id, opts.readings ?? [], now)
  const plan: AppendPlan = {
    head,
    parts: counts,
    dryRunLines,
    manifest,
    appended,
    alreadyRecorded,
    readings: limits?.count ?? 0,
  }
  if ((appended === 0 && !limits) || opts.dryRun) {
    if (!opts.dryRun && head) known.save(head) // what was learnt or rebuilt, for the same head
    return { ...plan, commit: null }
  }
  await completeManifest(git, tree, device.id, manifest, counts, digests, through, now, opts.seen)
  if (limits) partBlobs.set(limits.path, writePartBlob(git, limits.lines))
  const newTree = await writeAppendedTree(git, tree, files, device, plan, now, opts.sharedNames, partBlobs)
  const span = (days: string[]) => (days.length === 1 ? days[0] : `${days[0]}..${days[days.length - 1]}`)
  const readingsNote = limits ? `${limits.count} limit reading${limits.count === 1 ? '' : 's'}` : ''
  const message = appended
    ? `record: +${appended} record${appended === 1 ? '' : 's'} (${span([...counts.keys()])})${limits ? `, +${readingsNote}` : ''}\n`
    : `record: +${readingsNote} (${limits!.day})\n`
  const commit = await commitToBranch(git, device, head, newTree, message, now)
  known.save(commit)
  return { ...plan, commit }
}

/** The head's manifest, or a new one for a new branch; refused when a newer usage-ledger wrote it. */
async function manifestToExtend(git: GitBackend, oid: string | undefined, id: string, now: Date): Promise<Manifest> {
  const manifest = (await readManifest(git, oid)) ?? emptyManifest(id, now.toISOString())
  // Rewriting a newer manifest with this version would drop what it does not know.
  if ((manifest.v ?? 1) > MANIFEST_VERSION)
    throw inputError(
      'LEDGER_TOO_NEW',
      `this device's ledger was last written by a newer usage-ledger (manifest v${manifest.v}); upgrade usage-ledger to record`,
    )
  return manifest
}

/**
 * The candidates to append, per UTC day: those new or better than the copy recorded, whose
 * replacement moves the monthly totals. Teaches `known` what they are; empties `candidates`.
 */
async function keepNewOrBetter(
  known: KnownCache,
  manifest: Manifest,
  candidates: Candidate[],
): Promise<{ parts: Map<string, LedgerRecord[]>; alreadyRecorded: number }> {
  const window = await preloadWindows(known, candidates)
  const parts = new Map<string, LedgerRecord[]>()
  let alreadyRecorded = 0
  for (const r of candidates) {
    const day = utcDay(r.ts)
    const days = window.get(day)!
    // A replay of an item whose original was recorded earlier may carry another id: the item
    // decides (a source's rule, e.g. Claude's sidechain copies; DESIGN §5).
    const copy = r.copy
    if (copy?.replay && known.hasOriginal(copy.of, days)) {
      alreadyRecorded++
      continue
    }
    const prev = known.best(r.id, days)
    if (prev && !beatsRecorded(r, entryBest(prev.entry))) {
      alreadyRecorded++
      // An original read again after a run died before saving this cache: it is known again.
      if (copy && !copy.replay && !known.hasOriginal(copy.of, [day])) known.addOriginal(day, copy.of)
      continue
    }
    if (prev) addToMonth(manifest, utcMonth(prev.day), prev.entry, -1)
    addToMonth(manifest, utcMonth(day), r, 1)
    known.set(day, r.id, entryOf(r))
    if (copy && !copy.replay) known.addOriginal(day, copy.of)
    let list = parts.get(day)
    if (!list) parts.set(day, (list = []))
    list.push(r)
  }
  candidates.length = 0
  return { parts, alreadyRecorded }
}

/**
 * Per candidate day, the days holding every earlier copy of its records, loaded into `known`:
 * duplicates of one response lie minutes apart, so a record's own UTC day and its two
 * neighbours (DESIGN §4).
 */
async function preloadWindows(known: KnownCache, candidates: Candidate[]): Promise<Map<string, readonly string[]>> {
  const window = new Map<string, readonly string[]>()
  for (const r of candidates) {
    const day = utcDay(r.ts)
    if (!window.has(day)) {
      const [before, after] = neighbourDays(day)
      window.set(day, [before, day, after])
    }
  }
  await known.preload(new Set([...window.values()].flat()))
  return window
}

/**
 * Each day's new part as canonical lines in ledger order, counted into the manifest, each
 * handed to `onPart` once built and then dropped; empties `parts`. Returns day → records.
 */
async function partLines(
  parts: Map<string, LedgerRecord[]>,
  manifest: Manifest,
  onPart: (day: string, lines: string[]) => Promise<void>,
): Promise<{ counts: Map<string, number>; appended: number }> {
  const counts = new Map<string, number>()
  let appended = 0
  for (const day of [...parts.keys()].sort()) {
    const recs = parts.get(day)!.sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : a.id < b.id ? -1 : 1))
    parts.delete(day)
    counts.set(day, recs.length)
    appended += recs.length
    const d = (manifest.days[day] ??= { parts: 0, records: 0 })
    d.parts++
    d.records += recs.length
    manifest.records += recs.length
    const last = recs[recs.length - 1]!.ts
    if (!manifest.lastRecordAt || last > manifest.lastRecordAt) manifest.lastRecordAt = last
    await onPart(day, recs.map(canonicalLine))
  }
  return { counts, appended }
}

/** What a commit's manifest says beyond the counts: when, the witnesses, the seal. */
async function completeManifest(
  git: GitBackend,
  tree: string | null,
  id: string,
  manifest: Manifest,
  added: Map<string, number>,
  digests: Map<string, string>,
  through: string,
  now: Date,
  seen: Record<string, string> | undefined,
): Promise<void> {
  manifest.updatedAt = now.toISOString()
  // The other devices' heads this device verified at its last fetch: witnesses against a
  // later rewrite of their branches (DESIGN §2).
  if (seen) manifest.seen = Object.fromEntries(Object.entries(seen).filter(([other]) => other !== id))
  await reseal(git, tree, deviceDir(id), manifest, added, digests, through)
}

/** The new parts, the manifest and what else changed in the device's directory, written over `tree`. */
async function writeAppendedTree(
  git: GitBackend,
  tree: string | null,
  current: DeviceFileOids,
  device: DeviceInfo,
  plan: AppendPlan,
  now: Date,
  sharedNames: Record<string, string> | undefined,
  partBlobs: Map<string, Promise<string>>,
): Promise<string> {
  const dir = deviceDir(device.id)
  const files = new Map<string, string>()
  const blob = (text: string) => git.writeBlob(Buffer.from(text))
  for (const [file, oid] of partBlobs) files.set(file, await oid)
  files.set(`${dir}/manifest.json`, await blob(serializeManifest(plan.manifest)))
  const deviceText = await deviceFile(git, current.device, device, now)
  if (deviceText) files.set(`${dir}/device.json`, await blob(deviceText))
  // Project names only with config privacy.shareNames; turned off, an earlier file is emptied.
  const namesEntry = await readEntryAt(git, tree, `${dir}/${SHARED_NAMES_FILE}`)
  if (sharedNames || namesEntry) {
    const text = serializeSharedNames(sharedNames ?? {})
    if (!namesEntry || (await git.readBlob(namesEntry.oid)).toString('utf8') !== text)
      files.set(`${dir}/${SHARED_NAMES_FILE}`, await blob(text))
  }
  return writeFiles(git, tree, files)
}

/** Where a day's new part goes in the tree (its number counted into the manifest already). */
const partPath = (id: string, day: string, m: Manifest) =>
  `${deviceDir(id)}/${dayDir(day)}/${partName(m.days[day]!.parts)}`

/** A part's blob, written without waiting for it; awaited in order later. */
function writePartBlob(git: GitBackend, lines: string[]): Promise<string> {
  // Encoded line by line into one buffer: a joined text would be a copy of the day (more than
  // a MB each in a backfill) in V8's large-object space, freed only by a full GC.
  let size = lines.length
  for (const line of lines) size += Buffer.byteLength(line)
  const data = Buffer.allocUnsafeSlow(size)
  let at = 0
  for (const line of lines) {
    at += data.write(line, at)
    data[at++] = 10
  }
  const oid = git.writeBlob(data)
  // A failure while other parts are written is not an unhandled rejection; it is thrown when awaited.
  oid.catch(() => {})
  return oid
}

/**
 * Commits `tree` on the device's branch and moves the ref only if it still names `head`
 * (compare-and-swap). A new branch starts from the genesis every device branch and main
 * share (DESIGN §2).
 */
async function commitToBranch(
  git: GitBackend,
  device: DeviceInfo,
  head: string | null,
  tree: string,
  message: string,
  now: Date,
): Promise<string> {
  const sig: Signature = {
    name: 'usage-ledger',
    email: `${device.id}@usage-ledger`,
    timestamp: Math.floor(now.getTime() / 1000),
  }
  const commit = await git.writeCommit({
    tree,
    parents: [head ?? (await writeGenesis(git))],
    author: sig,
    committer: sig,
    message,
  })
  await git.updateRef(ledgerRef(device.id), commit, head)
  return commit
}

/**
 * The seal (manifest v2, DESIGN §2): every day before today 00:00Z that holds records carries
 * the digest of its lines, and the root (`seal.root` on disk) hashes that list. A day is digested again only
 * when it got new lines or has no digest yet (the days since the last seal, or every day of a
 * v1 manifest, converted once), reading back that one day's parts: a late record costs one day,
 * not the history. Today stays open: it grows on every run, so its digest would re-read its
 * parts on every run, here and in every reader. `digests` holds the digest of each day in
 * `added` through `through`, taken when its part was written (dayDigest with its new lines).
 */
async function reseal(
  git: GitBackend,
  tree: string | null,
  dir: string,
  m: Manifest,
  added: Map<string, number>,
  digests: Map<string, string>,
  through: string,
): Promise<void> {
  const lateRecord = [...added.keys()].some((d) => d <= through)
  if (m.v === MANIFEST_VERSION && m.sealed.through === through && !lateRecord) return
  m.v = MANIFEST_VERSION
  for (const [day, counts] of Object.entries(m.days)) {
    if (day > through) delete counts.digest
    else if (added.has(day)) counts.digest = digests.get(day)
    else if (!counts.digest) counts.digest = await dayDigest(git, tree, dir, day)
  }
  const days = sealedDays(m.days, through)
  m.sealed = { through, records: days.reduce((n, d) => n + m.days[d]!.records, 0), root: sealRoot(m.days, through) }
}

/** The digest of one day: its parts at `tree` and the lines being added to it. */
async function dayDigest(
  git: GitBackend,
  tree: string | null,
  dir: string,
  day: string,
  adding: string[] = [],
): Promise<string> {
  const lines: string[] = []
  for (const e of (await readTreeAt(git, tree, `${dir}/${dayDir(day)}`)) ?? []) {
    if (e.type !== 'blob' || !PART_NAME_RE.test(e.name)) continue
    for (const line of (await git.readBlob(e.oid)).toString('utf8').split('\n')) if (line) lines.push(line)
  }
  for (const line of adding) lines.push(line)
  return sealDigestLines(lines)
}

async function deviceFile(
  git: GitBackend,
  oid: string | undefined,
  device: DeviceInfo,
  now: Date,
): Promise<string | null> {
  // A damaged device.json is rewritten.
  const cur = await readDeviceJson(git, oid).catch(() => null)
  if (cur && cur.name === device.name && (!device.installId || cur.installId === device.installId)) return null
  return `${JSON.stringify(
    {
      v: 1,
      id: device.id,
      name: device.name,
      platform: device.platform,
      createdAt: cur?.createdAt || now.toISOString(),
      tool: device.tool,
      ...(device.installId ? { installId: device.installId } : {}),
    },
    null,
    2,
  )}\n`
}

/** A commit that only rewrites device.json (a new display name); null when nothing changes. */
export async function commitDeviceName(git: GitBackend, device: DeviceInfo, now: Date): Promise<string | null> {
  const head = await git.readRef(ledgerRef(device.id))
  if (!head) return null
  const tree = (await git.readCommit(head)).tree
  const text = await deviceFile(git, (await deviceFilesAt(git, tree, device.id)).device, device, now)
  if (!text) return null
  const file = `${deviceDir(device.id)}/device.json`
  const newTree = await writeFiles(git, tree, new Map([[file, await git.writeBlob(Buffer.from(text))]]))
  return commitToBranch(git, device, head, newTree, `rename: ${device.name}\n`, now)
}
