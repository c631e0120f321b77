/**
 * The integrity checks of DESIGN §8 over the device heads a repository holds:
 * - objects: every tree and part read re-hashes to its oid; the index was built from the
 *   day trees now at the heads;
 * - history: every commit only adds parts, only inside its own device directory; heads
 *   descend from the last proved and fetched heads and from every head another device witnessed;
 * - records: schema v1, `ts` inside the part's UTC day;
 * - manifests: `records`, `days` and `lastRecordAt` equal to the parts, `sealed` recomputed.
 * The default mode starts from the head each device was last proved at (a part never changes,
 * so what was proved stays proved) and re-reads only what came after; `full` re-reads all.
 */
import { type CommitInfo, descends, type GitBackend, type TreeEntry } from '../git/backend.js'
import { isGenesis } from '../git/genesis.js'
import {
  CANONICAL_START,
  CANONICAL_TS_AT,
  canonicalLine,
  hexDigit,
  isCanonicalLine,
  parseLedgerLine,
} from '../ledger/record.js'
import { sha256prefix } from '../ledger/hash.js'
import { parseManifest, SealHasher, sealDigestLines, sealRoot, type Manifest } from '../ledger/manifest.js'
import { deviceDir, LIMITS_PATH_RE } from '../ledger/paths.js'
import { parseReadingLine, READING_LOOKBACK_DAYS } from '../ledger/limits.js'
import { deviceFilesIn, readManifest as readDeviceManifest } from '../branch/device-files.js'
import { addDays, isValidDay } from '../ledger/time.js'
import type { IndexSources } from '../index/index.js'
import { finding, type Finding } from './findings.js'
import { blobOid, sortTreeEntries, treeOid } from './objects.js'
import { plural } from '../text.js'
import { SHARED_NAMES_FILE } from '../ledger/names.js'

export interface VerifyInput {
  /** device id → head commit: every device the repository holds. */
  heads: Map<string, string>
  /** Fetched heads not taken into `heads` (a rewrite fetch refused), checked against witnesses. */
  refused: Map<string, string>
  /** Only these devices (all when empty). */
  only: string[]
  full: boolean
  /** Heads this check last proved, per device: the default mode starts there. */
  proved: Record<string, string>
  /** Heads fetch last verified: a head must descend from them. */
  fetched: Record<string, string>
  index: IndexSources | null
  /** Collect a fingerprint line per record (forces reading every part). */
  fingerprints: boolean
  /** Per device, heads an accepted rewrite replaced (`fetch --accept-rewrite`): witnesses of them are void. */
  superseded?: Record<string, string[]>
}

export interface DeviceVerdict {
  id: string
  name: string | null
  head: string
  /** Oid of `devices/<id>` at the head. */
  tree: string | null
  records: number | null
  /** The proved head this run started from (null: from the first commit). */
  from: string | null
  checked: { commits: number; parts: number; records: number; trees: number }
  index: 'current' | 'behind' | 'foreign' | 'none'
  fingerprints?: string[]
}

export interface VerifyResult {
  full: boolean
  /** The tree oid of the union of every device directory: equal on machines holding the same heads. */
  mergedTree: string | null
  devices: DeviceVerdict[]
  findings: Finding[]
  /** Heads proved by this run (devices without an error finding), for the next default run. */
  proved: Record<string, string>
}

const PART_PATH_RE = /^(\d{4}-\d{2})\/(\d{4}-\d{2}-\d{2})\/\d{6}\.ndjson$/
/** Findings of one code per device beyond which only a count is kept: a damaged part can have a line per record. */
const MAX_PER_CODE = 20

class Findings {
  readonly list: Finding[] = []
  private readonly counts = new Map<string, number>()
  add(f: Finding) {
    const key = `${f.device}\t${f.code}`
    const n = (this.counts.get(key) ?? 0) + 1
    this.counts.set(key, n)
    if (n <= MAX_PER_CODE) this.list.push(f)
  }
  /** One closing finding per capped code, so the count is never silently lost. */
  close(): Finding[] {
    for (const [key, n] of this.counts) {
      if (n <= MAX_PER_CODE) continue
      const [device, code] = key.split('\t') as [string, string]
      const first = this.list.find((f) => f.device === device && f.code === code)!
      this.list.push(
        finding(
          code,
          device,
          `${plural(n - MAX_PER_CODE, `more ${code} finding`, `more ${code} findings`)} not listed`,
          { severity: first.severity },
        ),
      )
    }
    // Devices are checked side by side; list each device's findings together, in id order.
    return this.list.sort((a, b) => (a.device < b.device ? -1 : a.device > b.device ? 1 : 0))
  }
  errorsOf(device: string) {
    return this.list.some((f) => f.device === device && f.severity === 'error')
  }
}

/** Reads trees through one place that re-hashes each the first time it is read. */
class TreeReader {
  count = 0
  constructor(
    private readonly git: GitBackend,
    private readonly out: Findings,
    private readonly device: string,
  ) {}

  private readonly cache = new Map<string, TreeEntry[]>()

  async read(oid: string, path: string, commit: string | null): Promise<TreeEntry[] | null> {
    let entries = this.cache.get(oid)
    if (entries) return entries
    try {
      entries = await this.git.readTree(oid)
    } catch (e) {
      this.out.add(
        finding('OBJECT_UNREADABLE', this.device, `tree ${oid} cannot be read: ${(e as Error).message}; run git fsck`, {
          commit,
          path,
        }),
      )
      return null
    }
    this.count++
    if (treeOid(entries) !== oid)
      this.out.add(
        finding(
          'OBJECT_HASH_MISMATCH',
          this.device,
          `tree ${oid} does not hash to its oid: the object store is damaged; run git fsck`,
          { commit, path },
        ),
      )
    this.cache.set(oid, entries)
    return entries
  }

  async at(root: string | null, path: string, commit: string | null): Promise<TreeEntry[] | null> {
    if (!root) return null
    let entries = await this.read(root, '', commit)
    let here = ''
    for (const seg of path.split('/').filter(Boolean)) {
      const e = entries?.find((x) => x.name === seg && x.type === 'tree')
      if (!e) return null
      here = here ? `${here}/${seg}` : seg
      entries = await this.read(e.oid, here, commit)
    }
    return entries
  }
}

type Change = { kind: 'added' | 'removed' | 'changed'; path: string; oid: string }

/** Leaf differences between two trees; equal subtrees are skipped without being read. */
async function diffTrees(
  trees: TreeReader,
  a: string | null,
  b: string | null,
  path: string,
  commit: string,
  out: Change[],
): Promise<void> {
  // Both sides asked at once: one round trip to git's cat-file, not two (the findings keep their order).
  const [l0, r0] = await Promise.all([a ? trees.read(a, path, commit) : null, b ? trees.read(b, path, commit) : null])
  const left = new Map((l0 || []).map((e) => [e.name, e]))
  const right = new Map((r0 || []).map((e) => [e.name, e]))
  for (const name of new Set([...left.keys(), ...right.keys()])) {
    const l = left.get(name),
      r = right.get(name)
    if (l && r && l.oid === r.oid && l.type === r.type) continue
    const p = path ? `${path}/${name}` : name
    if (l?.type === 'tree' || r?.type === 'tree') {
      if (l && r && l.type !== r.type) {
        out.push({ kind: 'removed', path: p, oid: l.oid }, { kind: 'added', path: p, oid: r.oid })
        continue
      }
      await diffTrees(trees, l?.oid ?? null, r?.oid ?? null, p, commit, out)
    } else if (l && r) out.push({ kind: 'changed', path: p, oid: r.oid })
    else if (l) out.push({ kind: 'removed', path: p, oid: l.oid })
    else out.push({ kind: 'added', path: p, oid: r!.oid })
  }
}

async function readManifest(git: GitBackend, oid: string | undefined): Promise<Manifest | null> {
  return readDeviceManifest(git, oid).catch(() => null)
}

interface PartRead {
  lines: number
  lastTs: string | null
  canonical: string[]
  /** Every line was canonical as stored (so a v1 seal's pass need not canonicalise them again). */
  asWritten: boolean
  fingerprints: string[]
}

export async function verifyLedger(git: GitBackend, input: VerifyInput): Promise<VerifyResult> {
  const out = new Findings()
  const devices: DeviceVerdict[] = []
  const dirs: TreeEntry[] = []
  const manifests = new Map<string, Manifest | null>()
  const ids = [...input.heads.keys()].sort()
  const verdicts = new Map<string, { verdict: DeviceVerdict; manifest: Manifest | null }>()
  // Devices side by side: one is checked while git answers for another. A full check holds a day's lines per device
  // in flight, so two; a check of what is new holds a few parts, and waits mostly on git's round trips, so four.
  const queue = [...ids]
  await Promise.all(
    Array.from({ length: input.full || input.fingerprints ? 2 : 4 }, async () => {
      for (let id = queue.shift(); id; id = queue.shift()) {
        const head = input.heads.get(id)!
        const wanted = !input.only.length || input.only.includes(id)
        verdicts.set(id, wanted ? await verifyDevice(git, id, head, input, out) : await summarise(git, id, head, out))
      }
    }),
  )
  for (const id of ids) {
    const v = verdicts.get(id)!
    manifests.set(id, v.manifest)
    if (v.verdict.tree) dirs.push({ mode: '040000', type: 'tree', name: id, oid: v.verdict.tree })
    if (!input.only.length || input.only.includes(id)) devices.push(v.verdict)
  }
  await checkWitnesses(git, input, manifests, out)
  const mergedTree = dirs.length
    ? treeOid([{ mode: '040000', type: 'tree', name: 'devices', oid: treeOid(sortTreeEntries(dirs)) }])
    : null
  const findings = out.close()
  const proved: Record<string, string> = { ...input.proved }
  for (const d of devices) if (!out.errorsOf(d.id)) proved[d.id] = d.head
  return { full: input.full, mergedTree, devices, findings, proved }
}

/** A device outside `--device`: only what the merged tree and the witness check need. */
async function summarise(
  git: GitBackend,
  id: string,
  head: string,
  out: Findings,
): Promise<{ verdict: DeviceVerdict; manifest: Manifest | null }> {
  const trees = new TreeReader(git, out, id)
  const root = await git.readCommit(head).then(
    (c) => c.tree,
    () => null,
  )
  const dev = await trees.at(root, deviceDir(id), head)
  const devTree = root ? ((await trees.at(root, 'devices', head))?.find((e) => e.name === id)?.oid ?? null) : null
  const manifest = await readManifest(git, deviceFilesIn(dev).manifest)
  return {
    verdict: {
      id,
      name: null,
      head,
      tree: devTree,
      records: manifest?.records ?? null,
      from: null,
      checked: { commits: 0, parts: 0, records: 0, trees: 0 },
      index: 'none',
    },
    manifest,
  }
}

/** One device's check: what every step reads through and reports to. */
interface DeviceCheck {
  git: GitBackend
  id: string
  head: string
  /** `devices/<id>` */
  dir: string
  trees: TreeReader
  out: Findings
}

/** The commits a run checks, and what walking them found. */
interface Range {
  /** The proved head the walk stopped at (null: it went back to the branch's start). */
  from: string | null
  headTree: string | null
  commits: number
  /** Path → the newest commit that added or changed it. */
  latest: Map<string, string>
  /** The days whose parts the walked commits added or changed. */
  touchedDays: Set<string>
  /** The limits parts the walked commits added (path → oid), each checked once (DESIGN §8). */
  limitParts: Map<string, string>
}

async function verifyDevice(
  git: GitBackend,
  id: string,
  head: string,
  input: VerifyInput,
  out: Findings,
): Promise<{ verdict: DeviceVerdict; manifest: Manifest | null }> {
  const dev: DeviceCheck = { git, id, head, dir: deviceDir(id), trees: new TreeReader(git, out, id), out }
  const range = await establishRange(dev, input)
  const dirs = await readDeviceDirs(dev, range)
  const atHead = new HeadParts(dev, range.headTree)
  const { manifest } = dirs
  const base = await readManifest(git, deviceFilesIn(dirs.fromDir).manifest)
  const { days, toDigest, ahead } = await daysInRange(
    range,
    atHead,
    manifest && !isV1(manifest) ? daysToDigest(manifest, base, range.touchedDays) : [],
  )
  const parts = new PartReader(dev, range.latest, input.fingerprints, ahead)
  const limitParts = await checkLimitParts(dev, range.limitParts, range.latest)
  const expected = await countDays(dev, days, toDigest, base, dirs.fromTree, range.from, parts)
  if (manifest) await checkManifest(dev, manifest, base, expected, [...days.keys()], range.latest, atHead, parts)
  else if (dirs.headDir) {
    out.add(
      finding('MANIFEST_INVALID', id, `${dev.dir}/manifest.json is missing or unreadable`, {
        commit: head,
        path: `${dev.dir}/manifest.json`,
      }),
    )
  }
  const fingerprints = input.fingerprints ? await parts.fingerprintsOf(await atHead.everyDay()) : undefined
  const checked = {
    commits: range.commits,
    parts: parts.count + limitParts,
    records: parts.records,
    trees: dev.trees.count,
  }
  const index = await checkIndex(git, id, head, input.index, [...days.keys()], range.headTree, dev.dir, dev.trees, out)
  return {
    verdict: {
      id,
      name: dirs.name,
      head,
      tree: dirs.devTree,
      records: manifest?.records ?? null,
      from: range.from,
      checked,
      index,
      fingerprints,
    },
    manifest,
  }
}

/**
 * The commits to check: from the head back to the head this check last proved (the default mode,
 * when the head still descends from it), else back to the branch's start (`full`, and for
 * fingerprints, which need every part). With daysInRange, the one place the two modes differ.
 */
async function establishRange(dev: DeviceCheck, input: VerifyInput): Promise<Range> {
  await checkDescent(dev, input)
  const proved = input.full || input.fingerprints ? null : (input.proved[dev.id] ?? null)
  const from = proved && (proved === dev.head || (await descends(dev.git, proved, dev.head))) ? proved : null
  return walkBack(dev, from)
}

/** History: the head must descend from every head proved or fetched before. */
async function checkDescent({ git, id, head, out }: DeviceCheck, input: VerifyInput): Promise<void> {
  for (const [what, base] of [
    ['last proved', input.proved[id]],
    ['last fetched', input.fetched[id]],
  ] as const) {
    if (base && base !== head && !(await descends(git, base, head))) {
      out.add(
        finding(
          'HISTORY_REWRITTEN',
          id,
          `the head ${head.slice(0, 12)} does not descend from the ${what} head ${base.slice(0, 12)}: the branch was rewritten`,
          { commit: head },
        ),
      )
    }
  }
}

/** Walks the first parents back from the head to `from` (or the genesis), checking what each commit changed. */
async function walkBack(dev: DeviceCheck, from: string | null): Promise<Range> {
  const { git, id, head, out } = dev
  const range: Range = {
    from,
    headTree: null,
    commits: 0,
    latest: new Map(),
    touchedDays: new Set(),
    limitParts: new Map(),
  }
  let commit: string | null = head
  let info: CommitInfo | null = await git.readCommit(head).catch((e: Error) => {
    out.add(
      finding('OBJECT_UNREADABLE', id, `commit ${head} cannot be read: ${e.message}; run git fsck`, { commit: head }),
    )
    return null
  })
  range.headTree = info?.tree ?? null
  while (commit && info && commit !== from) {
    // The genesis the branch starts from (DESIGN §2) adds nothing: the start, not a device commit.
    if (isGenesis(info)) break
    range.commits++
    const parent: string | null = info.parents[0] ?? null
    info = await checkCommit(dev, commit, info, range)
    commit = parent
  }
  if (from && commit === null) {
    out.add(
      finding(
        'HISTORY_REWRITTEN',
        id,
        `the line of commits from the head ${head.slice(0, 12)} does not pass through the last proved head ${from.slice(0, 12)}: the branch was rewritten`,
        { commit: head },
      ),
    )
  }
  return range
}

/** One commit of the line: a single readable parent, and what it changed against it. Returns the parent. */
async function checkCommit(
  { git, id, dir, trees, out }: DeviceCheck,
  commit: string,
  info: CommitInfo,
  range: Range,
): Promise<CommitInfo | null> {
  // Our writers never merge: a merge can graft a foreign history onto a proved head.
  if (info.parents.length > 1)
    out.add(
      finding(
        'NON_LINEAR_HISTORY',
        id,
        `commit ${commit.slice(0, 12)} has ${info.parents.length} parents; a device branch is a line of commits`,
        { commit },
      ),
    )
  const parent = info.parents[0] ?? null
  const parentInfo = parent ? await git.readCommit(parent).catch(() => null) : null
  if (parent && !parentInfo)
    out.add(
      finding(
        'OBJECT_UNREADABLE',
        id,
        `commit ${parent} (parent of ${commit.slice(0, 12)}) cannot be read; run git fsck`,
        { commit },
      ),
    )
  const changes: Change[] = []
  await diffTrees(trees, parentInfo?.tree ?? null, info.tree, '', commit, changes)
  for (const c of changes) classifyChange(id, dir, commit, c, out, range.latest, range.touchedDays, range.limitParts)
  return parentInfo
}

interface DeviceDirs {
  fromTree: string | null
  /** `devices/<id>` at the proved head the range starts from. */
  fromDir: TreeEntry[] | null
  headDir: TreeEntry[] | null
  /** Oid of `devices/<id>` at the head. */
  devTree: string | null
  manifest: Manifest | null
  name: string | null
}

/** The device directory at the head and at the proof, and what the head's says of the device. */
async function readDeviceDirs(dev: DeviceCheck, range: Range): Promise<DeviceDirs> {
  const { git, id, head, dir, trees, out } = dev
  const fromTree = range.from ? (await git.readCommit(range.from)).tree : null
  const headDir = await trees.at(range.headTree, dir, head)
  const fromDir = await trees.at(fromTree, dir, range.from)
  const devTree = range.headTree
    ? ((await trees.at(range.headTree, 'devices', head))?.find((e) => e.name === id)?.oid ?? null)
    : null
  const files = deviceFilesIn(headDir)
  const manifest = await readBlobChecked(git, out, id, files.manifest, `${dir}/manifest.json`, range.latest, head).then(
    (b) => {
      if (!b) return null
      try {
        return parseManifest(b.toString('utf8'))
      } catch (e) {
        out.add(
          finding('MANIFEST_INVALID', id, `manifest.json cannot be read: ${(e as Error).message}`, {
            commit: head,
            path: `${dir}/manifest.json`,
          }),
        )
        return null
      }
    },
  )
  const deviceBytes = await readBlobChecked(git, out, id, files.device, `${dir}/device.json`, range.latest, head)
  let name: string | null = null
  try {
    name = deviceBytes ? ((JSON.parse(deviceBytes.toString('utf8')) as { name?: string }).name ?? null) : null
  } catch {
    /* a display name only */
  }
  if (!headDir)
    out.add(finding('DEVICE_DIR_MISSING', id, `the head ${head.slice(0, 12)} has no ${dir}/`, { commit: head }))
  return { fromTree, fromDir, headDir, devTree, manifest, name }
}

/** The parts at the head by day, listed on demand: every day (once), or the days asked for. */
class HeadParts {
  private all: Map<string, TreeEntry[]> | null = null
  constructor(
    private readonly dev: DeviceCheck,
    private readonly root: string | null,
  ) {}

  async everyDay(): Promise<Map<string, TreeEntry[]>> {
    this.all ??= await listDays(this.dev.trees, this.root, this.dev.dir, this.dev.head)
    return this.all
  }

  async of(days: Iterable<string>): Promise<Map<string, TreeEntry[]>> {
    const found = new Map<string, TreeEntry[]>()
    for (const day of days) {
      const parts = await dayParts(this.dev.trees, this.root, this.dev.dir, day, this.dev.head)
      if (parts.length) found.set(day, parts)
    }
    return found
  }
}

/**
 * The days to count, in order, with their parts at the head: from a proved head only the days
 * the commits since touched, their new parts read on demand; from the start every day, git asked
 * for the next parts (`ahead`) while one is checked. `toDigest`: the days whose v2 digest is
 * recomputed, with their parts at the head (every part of such a day is read, in order).
 */
async function daysInRange(
  range: Range,
  atHead: HeadParts,
  digestDays: string[],
): Promise<{ days: Map<string, TreeEntry[]>; toDigest: Map<string, TreeEntry[]>; ahead: string[] }> {
  const byDay = (m: Map<string, TreeEntry[]>) => new Map([...m].sort(([a], [b]) => (a < b ? -1 : 1)))
  const days = byDay(range.from ? await atHead.of(range.touchedDays) : await atHead.everyDay())
  const elsewhere = await atHead.of(digestDays.filter((d) => !days.has(d)))
  // A day the manifest seals but the head holds no part of digests as no lines.
  const toDigest = byDay(new Map(digestDays.map((d) => [d, days.get(d) ?? elsewhere.get(d) ?? []])))
  const read = range.from ? toDigest : days
  return { days, toDigest, ahead: [...read.values()].flatMap((parts) => parts.map((e) => e.oid)) }
}

/** A manifest that seals its prefix with one digest (v1; `v` absent in the first ones). */
const isV1 = (m: Manifest) => (m.v ?? 1) === 1

/**
 * The v2 days whose digest this run recomputes (DESIGN §8): every day that carries one when no
 * proved manifest vouches for the digests (no proved head, or a v1 one), else those that got
 * parts since (`touched`) or whose digest differs from the proved manifest's.
 */
function daysToDigest(manifest: Manifest, base: Manifest | null, touched: Set<string>): string[] {
  const proved = base && !isV1(base) ? base : null
  return Object.entries(manifest.days ?? {})
    .filter(
      ([day, c]) => c.digest !== undefined && (!proved || touched.has(day) || proved.days[day]?.digest !== c.digest),
    )
    .map(([day]) => day)
}

/** What the manifest must say: the counts proved at the range's start, with the days in range recounted. */
interface Expected {
  days: Manifest['days']
  lastRecordAt: string | null
  /** Per recomputed day (v2): the digest of its lines. */
  digests: Map<string, string>
}

/**
 * Day by day, in order: the counts of the days in range, where a part already at the proved head
 * counts as proved (`base`) and only the new ones are read, and the digests of `toDigest`. A day's lines are let go
 * once it is done (a v1 seal reads them again, `digestV1`): memory bounded by a day.
 */
async function countDays(
  { trees, dir }: DeviceCheck,
  days: Map<string, TreeEntry[]>,
  toDigest: Map<string, TreeEntry[]>,
  base: Manifest | null,
  fromTree: string | null,
  from: string | null,
  parts: PartReader,
): Promise<Expected> {
  const expected: Expected = {
    days: { ...(base?.days ?? {}) },
    lastRecordAt: base?.lastRecordAt ?? null,
    digests: new Map(),
  }
  for (const day of [...new Set([...days.keys(), ...toDigest.keys()])].sort()) {
    const sealing = toDigest.get(day)
    if (sealing) {
      const lines: string[] = []
      for (const e of sealing) for (const line of (await parts.read(day, e)).canonical) lines.push(line)
      expected.digests.set(day, sealDigestLines(lines))
    }
    const entries = days.get(day)
    if (entries) {
      const proved = new Set(
        (await trees.at(fromTree, `${dir}/${day.slice(0, 7)}/${day}`, from))?.map((e) => e.name + e.oid) ?? [],
      )
      let records = base?.days[day]?.records ?? 0
      for (const e of entries) {
        if (proved.has(e.name + e.oid)) continue
        const r = await parts.read(day, e)
        records += r.lines
        if (r.lastTs && (!expected.lastRecordAt || r.lastTs > expected.lastRecordAt)) expected.lastRecordAt = r.lastTs
      }
      expected.days[day] = { parts: entries.length, records }
    }
    parts.release(day, [...(entries ?? []), ...(sealing ?? [])])
  }
  return expected
}

/** The head's manifest against the parts: the device it names, its counts, its seal. */
async function checkManifest(
  dev: DeviceCheck,
  manifest: Manifest,
  base: Manifest | null,
  expected: Expected,
  days: string[],
  latest: Map<string, string>,
  atHead: HeadParts,
  parts: PartReader,
): Promise<void> {
  const path = `${dev.dir}/manifest.json`
  const where = { commit: latest.get(path) ?? dev.head, path }
  checkCounts(dev, manifest, expected, where)
  if (!isV1(manifest)) {
    checkDaySeals(dev, manifest, expected, where)
    return
  }
  // The v1 seal: recomputed when it moved, when a late record landed in a sealed day, or always from the start.
  const sealed = manifest.sealed
  const moved =
    !base || JSON.stringify(base.sealed) !== JSON.stringify(sealed) || days.some((d) => sealed && d <= sealed.through)
  if (sealed && moved) await checkSeal(dev, sealed, where, atHead, expected, parts)
}

function checkCounts(
  { id, out }: DeviceCheck,
  manifest: Manifest,
  expected: Expected,
  where: { commit: string; path: string },
): void {
  if (manifest.deviceId !== id)
    out.add(finding('MANIFEST_COUNTS', id, `manifest.json names device ${manifest.deviceId}`, where))
  for (const day of new Set([...Object.keys(expected.days), ...Object.keys(manifest.days ?? {})])) {
    const want = expected.days[day],
      got = manifest.days?.[day]
    if (want?.parts !== got?.parts || want?.records !== got?.records) {
      out.add(
        finding(
          'MANIFEST_COUNTS',
          id,
          `days.${day} says ${got ? `${plural(got.parts, 'part')}, ${plural(got.records, 'record')}` : 'nothing'}; the parts hold ${want ? `${plural(want.parts, 'part')}, ${plural(want.records, 'record')}` : 'nothing'}`,
          where,
        ),
      )
    }
  }
  const total = Object.values(expected.days).reduce((n, d) => n + d.records, 0)
  if (manifest.records !== total)
    out.add(
      finding(
        'MANIFEST_COUNTS',
        id,
        `records says ${manifest.records}; the parts hold ${plural(total, 'line')}`,
        where,
      ),
    )
  if (manifest.lastRecordAt !== expected.lastRecordAt) {
    out.add(
      finding(
        'MANIFEST_COUNTS',
        id,
        `lastRecordAt says ${manifest.lastRecordAt}; the latest record is at ${expected.lastRecordAt}`,
        where,
      ),
    )
  }
}

/**
 * The v2 seal (DESIGN §2): every sealed day carries a digest, no other day does, each digest
 * recomputed this run equals the day's lines', and `records` and `root` follow from the days.
 */
function checkDaySeals(
  { id, out }: DeviceCheck,
  manifest: Manifest,
  expected: Expected,
  where: { commit: string; path: string },
): void {
  const sealed = manifest.sealed
  const through = sealed?.through ?? ''
  const mismatch = (detail: string) => out.add(finding('SEALED_MISMATCH', id, detail, where))
  for (const day of Object.keys(manifest.days ?? {}).sort()) {
    const { digest, records } = manifest.days[day]!
    const got = expected.digests.get(day)
    if (day <= through && records > 0 && !digest)
      mismatch(`days.${day} has no digest, but the day is sealed (through ${through})`)
    else if (day > through && digest)
      mismatch(`days.${day} has a digest, but the day is not sealed (through ${through})`)
    else if (digest && got !== undefined && got !== digest)
      mismatch(
        `days.${day}.digest (${digest.slice(0, 12)}…) does not match the ${plural(expected.days[day]?.records ?? 0, 'record')} of ${day}: the records or the digest were changed`,
      )
  }
  const records = Object.entries(expected.days)
    .filter(([day]) => day <= through)
    .reduce((n, [, d]) => n + d.records, 0)
  if (sealed?.records !== records)
    mismatch(`seal.records says ${sealed?.records}; the days through ${through} hold ${plural(records, 'record')}`)
  if (sealed?.root !== sealRoot(manifest.days ?? {}, through))
    mismatch(`seal.root (through ${through}: ${sealed?.root?.slice(0, 12)}…) does not match the days' digests`)
}

/** The v1 seal recomputed over every part of the sealed days (DESIGN §2). */
async function checkSeal(
  { git, id, out }: DeviceCheck,
  sealed: NonNullable<Manifest['sealed']>,
  where: { commit: string; path: string },
  atHead: HeadParts,
  expected: Expected,
  read: PartReader,
): Promise<void> {
  const counted = Object.entries(expected.days).reduce((n, [day, c]) => (day <= sealed.through ? n + c.records : n), 0)
  const parts = [...(await atHead.everyDay())]
    .filter(([day]) => day <= sealed.through)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .flatMap(([, entries]) => entries.map((e) => ({ oid: e.oid, asWritten: read.asWritten(e.oid) })))
  const turn = v1Seals.then(() => digestV1(git, parts, counted))
  v1Seals = turn.then(
    () => {},
    () => {},
  )
  const { lines, digest } = await turn
  if (lines !== sealed.records || digest !== sealed.digest) {
    out.add(
      finding(
        'SEALED_MISMATCH',
        id,
        `sealed (through ${sealed.through}: ${plural(sealed.records, 'record')}, ${sealed.digest?.slice(0, 12)}…) does not match the ${plural(lines, 'record')} of those days: the records or the digest were changed`,
        where,
      ),
    )
  }
}

/** The most lines a v1 seal's check holds: a bigger device is digested in ranges of ids of about this many lines. */
const V1_SEAL_LINES = 131_072
/** One v1 seal digested at a time, so devices checked side by side hold one range of lines, not one each. */
let v1Seals: Promise<unknown> = Promise.resolve()

/**
 * The v1 digest (sorted canonical lines) without holding a device's lines: pass i re-reads the parts and keeps the
 * lines whose id's first four hex digits fall in its range, so the passes' sorted runs follow each other in the one
 * sorted order. The parts were checked (their objects, their lines) by the read before; an unreadable one adds nothing.
 */
export async function digestV1(
  git: GitBackend,
  parts: Array<{ oid: string; asWritten?: boolean }>,
  records: number,
  perPass = V1_SEAL_LINES,
): Promise<{ lines: number; digest: string }> {
  const passes = Math.min(0x10000, Math.max(1, Math.ceil(records / perPass)))
  const bound = (i: number) => Math.floor((i * 0x10000) / passes)
  const seal = new SealHasher()
  let count = 0
  for (let i = 0; i < passes; i++) {
    const [lo, hi] = [bound(i), bound(i + 1)]
    // Where a line that is no canonical one falls: compared as the strings the sort compares.
    const [from, to] = [i ? CANONICAL_START + hex4(lo) : '', i < passes - 1 ? CANONICAL_START + hex4(hi) : null]
    const kept: string[] = []
    // git inflates the next parts while this one is sorted out
    const blobs = new ReadAhead(
      git,
      parts.map((e) => e.oid),
      4,
    )
    for (const e of parts) {
      let data: Buffer
      try {
        data = await blobs.read(e.oid)
      } catch {
        continue
      }
      for (let at = 0; at < data.length; ) {
        let end = data.indexOf(10, at)
        if (end < 0) end = data.length
        const key = passes > 1 ? idPrefixAt(data, at, end) : -1
        // A line our writers wrote is kept or passed over by its id's bytes, without a string made of it.
        if (key < 0 || (key >= lo && key < hi)) {
          const raw = end > at ? data.toString('utf8', at, end) : ''
          const line = e.asWritten ? raw : canonicalOf(raw)
          if (line && (key >= 0 || (line >= from && (to === null || line < to)))) kept.push(line)
        }
        at = end + 1
      }
    }
    count += kept.length
    seal.add(kept)
  }
  return { lines: count, digest: seal.digest() }
}

const hex4 = (n: number) => n.toString(16).padStart(4, '0')

/**
 * The first four hex digits of the id of a line that starts as canonical lines do (`{"v":1,"id":"`), as a number;
 * -1 for any other line. Its canonical form starts alike, so this places it without parsing it.
 */
function idPrefixAt(data: Buffer, at: number, end: number): number {
  if (end - at < CANONICAL_START.length + 4) return -1
  for (let c = 0; c < CANONICAL_START.length; c++) if (data[at + c] !== CANONICAL_START.charCodeAt(c)) return -1
  let key = 0
  for (let c = at + CANONICAL_START.length; c < at + CANONICAL_START.length + 4; c++) {
    const v = hexDigit(data[c]!)
    if (v < 0) return -1
    key = key * 16 + v
  }
  return key
}

/** What a line counts as in a seal: itself when canonical or unreadable as a record (as checkLine keeps it). */
function canonicalOf(line: string): string {
  if (isCanonicalLine(line)) return line
  const p = parseLedgerLine(line)
  return p.kind === 'record' ? canonicalLine(p.record) : line
}

/** Checks each part once (checkPart), counting what it read. */
class PartReader {
  count = 0
  records = 0
  private readonly reads = new Map<string, PartRead>()
  private readonly written = new Set<string>()
  private readonly blobs: ReadAhead
  constructor(
    private readonly dev: DeviceCheck,
    private readonly latest: Map<string, string>,
    private readonly fingerprints: boolean,
    ahead: string[],
  ) {
    this.blobs = new ReadAhead(dev.git, ahead)
  }

  async read(day: string, e: TreeEntry): Promise<PartRead> {
    const { id, dir, head, out } = this.dev
    const path = `${dir}/${day.slice(0, 7)}/${day}/${e.name}`
    const got = this.reads.get(path)
    if (got) return got
    const r = await checkPart(this.blobs, id, day, e.oid, path, this.latest.get(path) ?? head, out, this.fingerprints)
    this.count++
    this.records += r.lines
    this.reads.set(path, r)
    if (r.asWritten && r.lines) this.written.add(e.oid)
    return r
  }

  /** Whether a part read this run held only lines that are their own canonical form (unknown: false). */
  asWritten(oid: string): boolean {
    return this.written.has(oid)
  }

  /** Lets go of the canonical lines of `day`'s parts `entries` (their counts stay). */
  release(day: string, entries: TreeEntry[]): void {
    const { dir } = this.dev
    for (const e of entries) {
      const r = this.reads.get(`${dir}/${day.slice(0, 7)}/${day}/${e.name}`)
      if (r) r.canonical = []
    }
  }

  /** Every record's fingerprint line, sorted: every part of `days` read. */
  async fingerprintsOf(days: Map<string, TreeEntry[]>): Promise<string[]> {
    for (const [day, parts] of days) for (const e of parts) await this.read(day, e)
    return [...this.reads.values()].flatMap((r) => r.fingerprints).sort()
  }
}

function classifyChange(
  id: string,
  dir: string,
  commit: string,
  c: Change,
  out: Findings,
  latest: Map<string, string>,
  touchedDays: Set<string>,
  limitParts: Map<string, string>,
): void {
  const where = { commit, path: c.path }
  if (!c.path.startsWith(`${dir}/`)) {
    out.add(
      finding(
        'OUTSIDE_DEVICE_DIR',
        id,
        `commit ${commit.slice(0, 12)} ${c.kind === 'added' ? 'adds' : c.kind === 'removed' ? 'deletes' : 'changes'} ${c.path}, outside ${dir}/`,
        where,
      ),
    )
    return
  }
  const rel = c.path.slice(dir.length + 1)
  if (rel === 'manifest.json' || rel === 'device.json' || rel === SHARED_NAMES_FILE) {
    if (c.kind === 'removed')
      out.add(finding('FILE_REMOVED', id, `commit ${commit.slice(0, 12)} deletes ${c.path}`, where))
    else if (!latest.has(c.path)) latest.set(c.path, commit)
    return
  }
  const limits = LIMITS_PATH_RE.exec(rel)
  const m = limits ?? PART_PATH_RE.exec(rel)
  if (!m || !m[2]!.startsWith(m[1]!) || !isValidDay(m[2]!)) {
    if (c.kind !== 'removed')
      out.add(
        finding(
          'UNEXPECTED_PATH',
          id,
          `commit ${commit.slice(0, 12)} adds ${c.path}, which is not a part (YYYY-MM/YYYY-MM-DD/NNNNNN.ndjson, or limits/ before it)`,
          where,
        ),
      )
    else out.add(finding('PART_REMOVED', id, `commit ${commit.slice(0, 12)} deletes ${c.path}`, where))
    return
  }
  if (c.kind === 'removed')
    out.add(
      finding(
        'PART_REMOVED',
        id,
        `commit ${commit.slice(0, 12)} deletes the part ${c.path}; parts never disappear`,
        where,
      ),
    )
  else if (c.kind === 'changed')
    out.add(
      finding(
        'PART_CHANGED',
        id,
        `commit ${commit.slice(0, 12)} rewrites the part ${c.path}; parts never change once committed`,
        where,
      ),
    )
  if (c.kind !== 'removed') {
    if (!latest.has(c.path)) latest.set(c.path, commit)
    // A limits part is checked on its own (checkLimitParts); the day's records are not touched.
    if (limits) {
      if (!limitParts.has(c.path)) limitParts.set(c.path, c.oid)
    } else touchedDays.add(m[2]!)
  }
}

/**
 * The limits parts the range added (DESIGN §2, §8): re-hashed, each line a valid reading v1 (a
 * newer version is a warning) dated on the part's day or in the lookback before it (a part is a
 * snapshot of the device's newest readings, DESIGN §4a). Readings are not counted in
 * the manifest: git's history already proves the parts are only ever added.
 */
async function checkLimitParts(
  dev: DeviceCheck,
  parts: Map<string, string>,
  latest: Map<string, string>,
): Promise<number> {
  const { git, id, head, dir, out } = dev
  for (const [path, oid] of parts) {
    const commit = latest.get(path) ?? head
    const data = await readObject((o) => git.readBlob(o), 'part', oid, id, { commit, path }, out)
    if (!data) continue
    const day = LIMITS_PATH_RE.exec(path.slice(dir.length + 1))![2]!
    const text = data.toString('utf8')
    let lineNo = 0
    for (const line of text.split('\n')) {
      lineNo++
      if (!line) continue
      const where = { commit, path, line: lineNo }
      const p = parseReadingLine(line)
      if (p.kind === 'newer')
        out.add(
          finding('NEWER_RECORD', id, `a limit reading of v${p.v}, newer than this usage-ledger reads; skipped`, {
            ...where,
            severity: 'warning',
          }),
        )
      else if (p.kind === 'invalid')
        out.add(finding('INVALID_RECORD', id, `not a valid limit reading: ${p.problems.join('; ')}`, where))
      else if (p.reading.ts.slice(0, 10) > day || p.reading.ts.slice(0, 10) < addDays(day, -READING_LOOKBACK_DAYS))
        out.add(
          finding(
            'RECORD_OUTSIDE_DAY',
            id,
            `the limit reading's ts ${p.reading.ts} is not on ${day} nor in the ${READING_LOOKBACK_DAYS} days before it`,
            where,
          ),
        )
    }
    if (text.length && !text.endsWith('\n'))
      out.add(finding('INVALID_RECORD', id, `the part does not end in a newline`, { commit, path, line: lineNo }))
  }
  return parts.size
}

/** The parts of one day at the head, in name order. */
async function dayParts(
  trees: TreeReader,
  root: string | null,
  dir: string,
  day: string,
  head: string,
): Promise<TreeEntry[]> {
  const entries = await trees.at(root, `${dir}/${day.slice(0, 7)}/${day}`, head)
  return (entries ?? [])
    .filter((e) => e.type === 'blob' && /^\d{6}\.ndjson$/.test(e.name))
    .sort((a, b) => (a.name < b.name ? -1 : 1))
}

/** day → its parts at the head, in name order. */
async function listDays(
  trees: TreeReader,
  root: string | null,
  dir: string,
  head: string,
): Promise<Map<string, TreeEntry[]>> {
  const days = new Map<string, TreeEntry[]>()
  const top = await trees.at(root, dir, head)
  for (const month of top ?? []) {
    if (month.type !== 'tree') continue
    for (const day of (await trees.read(month.oid, `${dir}/${month.name}`, head)) ?? []) {
      const parts = day.type === 'tree' ? await trees.read(day.oid, `${dir}/${month.name}/${day.name}`, head) : null
      const ok = (parts ?? []).filter(
        (e) =>
          e.type === 'blob' &&
          PART_PATH_RE.test(`${month.name}/${day.name}/${e.name}`) &&
          day.name.startsWith(month.name) &&
          isValidDay(day.name),
      )
      if (ok.length)
        days.set(
          day.name,
          ok.sort((a, b) => (a.name < b.name ? -1 : 1)),
        )
    }
  }
  return days
}

async function readBlobChecked(
  git: GitBackend,
  out: Findings,
  id: string,
  oid: string | undefined,
  path: string,
  latest: Map<string, string>,
  head: string,
): Promise<Buffer | null> {
  if (!oid) return null
  return readObject((o) => git.readBlob(o), 'blob', oid, id, { commit: latest.get(path) ?? head, path }, out)
}

/** Blob reads kept `width` ahead of their use, in the order given; others read on demand. */
class ReadAhead {
  private readonly pending = new Map<string, Promise<Buffer>>()
  private next = 0
  constructor(
    private readonly git: GitBackend,
    private readonly order: string[],
    private readonly width = 8,
  ) {}

  read(oid: string): Promise<Buffer> {
    while (this.next < this.order.length && this.pending.size < this.width) {
      const o = this.order[this.next++]!
      if (this.pending.has(o)) continue
      const p = this.git.readBlob(o)
      p.catch(() => {}) // reported when used
      this.pending.set(o, p)
    }
    const p = this.pending.get(oid)
    if (!p) return this.git.readBlob(oid)
    this.pending.delete(oid)
    return p
  }
}

/** A part: its object, then every line (schema, `ts` in the part's day). */
async function checkPart(
  blobs: ReadAhead,
  id: string,
  day: string,
  oid: string,
  path: string,
  commit: string,
  out: Findings,
  fingerprints: boolean,
): Promise<PartRead> {
  const r: PartRead = { lines: 0, lastTs: null, canonical: [], asWritten: true, fingerprints: [] }
  const data = await readObject((o) => blobs.read(o), 'part', oid, id, { commit, path }, out)
  if (!data) return r
  const text = data.toString('utf8')
  let lineNo = 0
  for (const line of text.split('\n')) {
    lineNo++
    if (!line) continue
    r.lines++
    checkLine(line, { id, day, commit, path, line: lineNo }, out, fingerprints, r)
  }
  if (text.length && !text.endsWith('\n'))
    out.add(finding('INVALID_RECORD', id, `the part does not end in a newline`, { commit, path, line: lineNo }))
  // A slice of `text` would keep the whole part alive for as long as the check keeps its count: a copy of its 24 chars.
  if (r.lastTs) r.lastTs = Buffer.from(r.lastTs, 'latin1').toString('latin1')
  return r
}

/** A blob read and re-hashed (DESIGN §8 "objects"); null when it cannot be read. */
async function readObject(
  read: (oid: string) => Promise<Buffer>,
  what: 'blob' | 'part',
  oid: string,
  id: string,
  where: { commit: string; path: string },
  out: Findings,
): Promise<Buffer | null> {
  let data: Buffer
  try {
    data = await read(oid)
  } catch (e) {
    out.add(
      finding('OBJECT_UNREADABLE', id, `${what} ${oid} cannot be read: ${(e as Error).message}; run git fsck`, where),
    )
    return null
  }
  if (blobOid(data) !== oid)
    out.add(
      finding(
        'OBJECT_HASH_MISMATCH',
        id,
        `${what} ${oid} does not hash to its oid: the object store is damaged; run git fsck`,
        where,
      ),
    )
  return data
}

type LineAt = { id: string; day: string; commit: string; path: string; line: number }

/** One line into `r`: its `ts`, its canonical form (what the seal digests) and, when asked, its fingerprint. */
function checkLine(line: string, at: LineAt, out: Findings, fingerprints: boolean, r: PartRead): void {
  const { id, commit, path } = at
  // Our own writers write canonical lines: checked by one match, parsed only when asked.
  if (!fingerprints && isCanonicalLine(line)) {
    checkTs(line.slice(CANONICAL_TS_AT, CANONICAL_TS_AT + 24), at, out, r)
    r.canonical.push(line)
    return
  }
  const p = parseLedgerLine(line)
  if (p.kind === 'invalid') {
    out.add(finding('INVALID_RECORD', id, `line ${at.line}: ${p.problems.join('; ')}`, { commit, path, line: at.line }))
    r.canonical.push(line)
    return
  }
  if (p.kind === 'newer') {
    out.add(
      finding(
        'NEWER_RECORD',
        id,
        `line ${at.line} is schema v${p.v}, newer than this usage-ledger reads; upgrade to check it`,
        { commit, path, line: at.line, severity: 'warning' },
      ),
    )
    r.canonical.push(line)
    return
  }
  const rec = p.record
  checkTs(rec.ts, at, out, r)
  // Re-serialised, not as stored: a reader whose parser drifted gets another digest (DESIGN §2).
  const canonical = canonicalLine(rec)
  r.canonical.push(canonical)
  if (canonical !== line) r.asWritten = false
  if (fingerprints)
    r.fingerprints.push(
      [
        rec.id,
        sha256prefix(canonical, 8),
        rec.ts,
        rec.model,
        rec.input,
        rec.output,
        rec.cacheWrite,
        rec.cacheRead,
      ].join('\t'),
    )
}

/** `ts` inside the part's day; the latest one kept for the manifest's `lastRecordAt`. */
function checkTs(ts: string, { id, day, commit, path, line }: LineAt, out: Findings, r: PartRead): void {
  if (ts.slice(0, 10) !== day)
    out.add(
      finding('RECORD_OUTSIDE_DAY', id, `line ${line}: ts ${ts} is not in the part's day ${day}`, {
        commit,
        path,
        line,
      }),
    )
  if (!r.lastTs || ts > r.lastTs) r.lastTs = ts
}

async function checkIndex(
  git: GitBackend,
  id: string,
  head: string,
  idx: IndexSources | null,
  days: string[],
  headTree: string | null,
  dir: string,
  trees: TreeReader,
  out: Findings,
): Promise<DeviceVerdict['index']> {
  const built = idx?.devices[id]
  if (!built) return 'none'
  if (built.head !== head) {
    if (await descends(git, built.head, head)) return 'behind'
    out.add(
      finding(
        'INDEX_FOREIGN',
        id,
        `the index was built from head ${built.head.slice(0, 12)}, which is not in this device's history; run usage-ledger index --rebuild`,
        { commit: head, severity: 'error' },
      ),
    )
    return 'foreign'
  }
  for (const day of days) {
    const dayTree = (await trees.at(headTree, `${dir}/${day.slice(0, 7)}`, head))?.find((e) => e.name === day)?.oid
    const indexed = idx!.dayTree(id, day)
    // Rewritten while we read it: an update is bringing the index forward.
    if (indexed === null) return 'behind'
    if (indexed !== dayTree) {
      out.add(
        finding(
          'INDEX_MISMATCH',
          id,
          `the index's ${day} was built from tree ${indexed?.slice(0, 12) ?? '(none)'}, the head holds ${dayTree?.slice(0, 12) ?? '(none)'}; run usage-ledger index --rebuild`,
          { commit: head, path: `${dir}/${day.slice(0, 7)}/${day}` },
        ),
      )
    }
  }
  return 'current'
}

/** Every head another device saw at its last fetch must be in that device's history now. */
async function checkWitnesses(
  git: GitBackend,
  input: VerifyInput,
  manifests: Map<string, Manifest | null>,
  out: Findings,
): Promise<void> {
  for (const [witness, m] of manifests) {
    for (const [id, seen] of Object.entries(m?.seen ?? {})) {
      if (id === witness || (input.only.length && !input.only.includes(id))) continue
      const head = input.heads.get(id) ?? input.refused.get(id)
      if (!head) {
        out.add(
          finding(
            'DEVICE_MISSING',
            id,
            `device ${witness} saw ${id} at ${seen.slice(0, 12)}, but this repository has no branch of it (forgotten, or not fetched yet)`,
            { commit: seen, severity: 'warning' },
          ),
        )
      } else if (
        head !== seen &&
        !(await descends(git, seen, head)) &&
        !(await isSuperseded(git, input.superseded?.[id], seen))
      ) {
        out.add(
          finding(
            'WITNESS_MISSING',
            id,
            `device ${witness} saw ${id} at ${seen.slice(0, 12)}, which is not in the history of its head ${head.slice(0, 12)}: the branch was rewritten`,
            { commit: head },
          ),
        )
      }
    }
  }
}

/** A head an accepted rewrite replaced, or one of its ancestors. */
async function isSuperseded(git: GitBackend, replaced: string[] | undefined, seen: string): Promise<boolean> {
  for (const r of replaced ?? []) if (r === seen || (await descends(git, seen, r))) return true
  return false
}
