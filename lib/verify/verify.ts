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
import { descends, type GitBackend, type TreeEntry } from '../git/backend.js'
import { isGenesis } from '../git/genesis.js'
import { CANONICAL_TS_AT, canonicalLine, isCanonicalLine, parseLedgerLine } from '../ledger/record.js'
import { sha256prefix } from '../ledger/hash.js'
import { parseManifest, sealDigestLines, type Manifest } from '../ledger/manifest.js'
import { deviceDir } from '../ledger/paths.js'
import { readManifest as readDeviceManifest } from '../branch/device-files.js'
import { isValidDay } from '../ledger/time.js'
import type { IndexData } from '../index/index.js'
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
  index: Pick<IndexData, 'devices'> | null
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
  const left = new Map(((a && (await trees.read(a, path, commit))) || []).map((e) => [e.name, e]))
  const right = new Map(((b && (await trees.read(b, path, commit))) || []).map((e) => [e.name, e]))
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
  fingerprints: string[]
}

export async function verifyLedger(git: GitBackend, input: VerifyInput): Promise<VerifyResult> {
  const out = new Findings()
  const devices: DeviceVerdict[] = []
  const dirs: TreeEntry[] = []
  const manifests = new Map<string, Manifest | null>()
  const ids = [...input.heads.keys()].sort()
  const verdicts = new Map<string, { verdict: DeviceVerdict; manifest: Manifest | null }>()
  // Two devices at a time: one is checked while git inflates the other's parts.
  const queue = [...ids]
  await Promise.all(
    [0, 1].map(async () => {
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
  const manifest = await readManifest(git, dev?.find((e) => e.name === 'manifest.json')?.oid)
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

async function verifyDevice(
  git: GitBackend,
  id: string,
  head: string,
  input: VerifyInput,
  out: Findings,
): Promise<{ verdict: DeviceVerdict; manifest: Manifest | null }> {
  const trees = new TreeReader(git, out, id)
  const dir = deviceDir(id)
  const checked = { commits: 0, parts: 0, records: 0, trees: 0 }

  // History: the head must descend from every head proved or fetched before.
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
  const proved = input.full || input.fingerprints ? null : (input.proved[id] ?? null)
  const from = proved && (proved === head || (await descends(git, proved, head))) ? proved : null

  // Walk back from the head to where the last proof ended, checking what each commit changed.
  const latest = new Map<string, string>() // part path → the newest commit that added or changed it
  const touchedDays = new Set<string>()
  let commit: string | null = head
  let info = await git.readCommit(head).catch((e: Error) => {
    out.add(
      finding('OBJECT_UNREADABLE', id, `commit ${head} cannot be read: ${e.message}; run git fsck`, { commit: head }),
    )
    return null
  })
  const headTree = info?.tree ?? null
  while (commit && info && commit !== from) {
    // The genesis the branch starts from (DESIGN §2) adds nothing: the start, not a device commit.
    if (isGenesis(info)) break
    checked.commits++
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
    const parent: string | null = info.parents[0] ?? null
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
    for (const c of changes) classifyChange(id, dir, commit, c, out, latest, touchedDays)
    commit = parent
    info = parentInfo
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

  const fromTree = from ? (await git.readCommit(from)).tree : null
  const headDir = await trees.at(headTree, dir, head)
  const fromDir = await trees.at(fromTree, dir, from)
  const devTree = headTree
    ? ((await trees.at(headTree, 'devices', head))?.find((e) => e.name === id)?.oid ?? null)
    : null
  const manifestOid = headDir?.find((e) => e.name === 'manifest.json')?.oid
  const manifest = await readBlobChecked(git, out, id, manifestOid, `${dir}/manifest.json`, latest, head).then((b) => {
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
  })
  const deviceOid = headDir?.find((e) => e.name === 'device.json')?.oid
  const deviceBytes = await readBlobChecked(git, out, id, deviceOid, `${dir}/device.json`, latest, head)
  let name: string | null = null
  try {
    name = deviceBytes ? ((JSON.parse(deviceBytes.toString('utf8')) as { name?: string }).name ?? null) : null
  } catch {
    /* a display name only */
  }
  if (!headDir)
    out.add(finding('DEVICE_DIR_MISSING', id, `the head ${head.slice(0, 12)} has no ${dir}/`, { commit: head }))

  // Every day at the head (full) or the days touched since the proof: their parts.
  // Every day's parts at the head when reading everything; else only the days touched since the proof.
  let allDays: Map<string, TreeEntry[]> | null = from ? null : await listDays(trees, headTree, dir, head)
  const touched = new Map<string, TreeEntry[]>()
  if (from) {
    for (const day of touchedDays) {
      const parts = await dayParts(trees, headTree, dir, day, head)
      if (parts.length) touched.set(day, parts)
    }
  }
  const partsOf = (day: string) => (allDays ?? touched).get(day)!
  const days = [...(allDays ?? touched).keys()].sort()
  const base = from ? await readManifest(git, fromDir?.find((e) => e.name === 'manifest.json')?.oid) : null
  const expected = { days: { ...(base?.days ?? {}) } as Manifest['days'], lastRecordAt: base?.lastRecordAt ?? null }
  const sealed = manifest?.sealed
  const reads = new Map<string, PartRead>()
  // Reading every part: ask git for the next ones while this one is checked.
  const blobs = new ReadAhead(git, from ? [] : days.flatMap((d) => partsOf(d).map((e) => e.oid)))
  const readPart = async (day: string, e: TreeEntry): Promise<PartRead> => {
    const path = `${dir}/${day.slice(0, 7)}/${day}/${e.name}`
    const got = reads.get(path)
    if (got) return got
    const r = await checkPart(blobs, id, day, e.oid, path, latest.get(path) ?? head, out, input.fingerprints)
    checked.parts++
    checked.records += r.lines
    reads.set(path, r)
    return r
  }
  for (const day of days) {
    const parts = partsOf(day)
    const before = from
      ? new Set((await trees.at(fromTree, `${dir}/${day.slice(0, 7)}/${day}`, from))?.map((e) => e.name + e.oid) ?? [])
      : new Set<string>()
    let lines = from ? (base?.days[day]?.records ?? 0) : 0
    for (const e of parts) {
      if (before.has(e.name + e.oid)) continue
      const r = await readPart(day, e)
      lines += r.lines
      if (r.lastTs && (!expected.lastRecordAt || r.lastTs > expected.lastRecordAt)) expected.lastRecordAt = r.lastTs
    }
    expected.days[day] = { parts: parts.length, records: lines }
  }
  if (!from) for (const d of Object.keys(expected.days)) if (!allDays!.has(d)) delete expected.days[d]

  // Manifest counts against the parts.
  if (manifest) {
    const mpath = `${dir}/manifest.json`
    const where = { commit: latest.get(mpath) ?? head, path: mpath }
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
    // The seal: recomputed when it moved, when a late record landed in a sealed day, or always in full.
    const moved =
      !base || JSON.stringify(base.sealed) !== JSON.stringify(sealed) || days.some((d) => sealed && d <= sealed.through)
    if (sealed && moved) {
      const lines: string[] = []
      allDays ??= await listDays(trees, headTree, dir, head)
      for (const [day, parts] of [...allDays].sort(([a], [b]) => (a < b ? -1 : 1))) {
        if (day > sealed.through) continue
        for (const e of parts) lines.push(...(await readPart(day, e)).canonical)
      }
      if (lines.length !== sealed.records || sealDigestLines(lines) !== sealed.digest) {
        out.add(
          finding(
            'SEALED_MISMATCH',
            id,
            `sealed (through ${sealed.through}: ${plural(sealed.records, 'record')}, ${sealed.digest.slice(0, 12)}…) does not match the ${plural(lines.length, 'record')} of those days: the records or the digest were changed`,
            where,
          ),
        )
      }
    }
  } else if (headDir) {
    out.add(
      finding('MANIFEST_INVALID', id, `${dir}/manifest.json is missing or unreadable`, {
        commit: head,
        path: `${dir}/manifest.json`,
      }),
    )
  }

  let fingerprints: string[] | undefined
  if (input.fingerprints) {
    for (const [day, parts] of allDays!) for (const e of parts) await readPart(day, e)
    fingerprints = [...reads.values()].flatMap((r) => r.fingerprints).sort()
  }
  checked.trees = trees.count
  const index = await checkIndex(git, id, head, input.index, days, headTree, dir, trees, out)
  return {
    verdict: { id, name, head, tree: devTree, records: manifest?.records ?? null, from, checked, index, fingerprints },
    manifest,
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
  const m = PART_PATH_RE.exec(rel)
  if (!m || !m[2]!.startsWith(m[1]!) || !isValidDay(m[2]!)) {
    if (c.kind !== 'removed')
      out.add(
        finding(
          'UNEXPECTED_PATH',
          id,
          `commit ${commit.slice(0, 12)} adds ${c.path}, which is not a part (YYYY-MM/YYYY-MM-DD/NNNNNN.ndjson)`,
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
    touchedDays.add(m[2]!)
    if (!latest.has(c.path)) latest.set(c.path, commit)
  }
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
  const commit = latest.get(path) ?? head
  let data: Buffer
  try {
    data = await git.readBlob(oid)
  } catch (e) {
    out.add(
      finding('OBJECT_UNREADABLE', id, `blob ${oid} cannot be read: ${(e as Error).message}; run git fsck`, {
        commit,
        path,
      }),
    )
    return null
  }
  if (blobOid(data) !== oid)
    out.add(
      finding(
        'OBJECT_HASH_MISMATCH',
        id,
        `blob ${oid} does not hash to its oid: the object store is damaged; run git fsck`,
        { commit, path },
      ),
    )
  return data
}

/** A part: its object, then every line (schema, `ts` in the part's day). */
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
  const r: PartRead = { lines: 0, lastTs: null, canonical: [], fingerprints: [] }
  let data: Buffer
  try {
    data = await blobs.read(oid)
  } catch (e) {
    out.add(
      finding('OBJECT_UNREADABLE', id, `part ${oid} cannot be read: ${(e as Error).message}; run git fsck`, {
        commit,
        path,
      }),
    )
    return r
  }
  if (blobOid(data) !== oid)
    out.add(
      finding(
        'OBJECT_HASH_MISMATCH',
        id,
        `part ${oid} does not hash to its oid: the object store is damaged; run git fsck`,
        { commit, path },
      ),
    )
  const text = data.toString('utf8')
  let lineNo = 0
  for (const line of text.split('\n')) {
    lineNo++
    if (!line) continue
    r.lines++
    // Our own writers write canonical lines: checked by one match, parsed only when asked.
    if (!fingerprints && isCanonicalLine(line)) {
      const ts = line.slice(CANONICAL_TS_AT, CANONICAL_TS_AT + 24)
      if (ts.slice(0, 10) !== day)
        out.add(
          finding('RECORD_OUTSIDE_DAY', id, `line ${lineNo}: ts ${ts} is not in the part's day ${day}`, {
            commit,
            path,
            line: lineNo,
          }),
        )
      if (!r.lastTs || ts > r.lastTs) r.lastTs = ts
      r.canonical.push(line)
      continue
    }
    const p = parseLedgerLine(line)
    if (p.kind === 'invalid') {
      out.add(finding('INVALID_RECORD', id, `line ${lineNo}: ${p.problems.join('; ')}`, { commit, path, line: lineNo }))
      r.canonical.push(line)
      continue
    }
    if (p.kind === 'newer') {
      out.add(
        finding(
          'NEWER_RECORD',
          id,
          `line ${lineNo} is schema v${p.v}, newer than this usage-ledger reads; upgrade to check it`,
          { commit, path, line: lineNo, severity: 'warning' },
        ),
      )
      r.canonical.push(line)
      continue
    }
    const rec = p.record
    if (rec.ts.slice(0, 10) !== day)
      out.add(
        finding('RECORD_OUTSIDE_DAY', id, `line ${lineNo}: ts ${rec.ts} is not in the part's day ${day}`, {
          commit,
          path,
          line: lineNo,
        }),
      )
    if (!r.lastTs || rec.ts > r.lastTs) r.lastTs = rec.ts
    // Re-serialised, not as stored: a reader whose parser drifted gets another digest (DESIGN §2).
    const canonical = canonicalLine(rec)
    r.canonical.push(canonical)
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
  if (text.length && !text.endsWith('\n'))
    out.add(finding('INVALID_RECORD', id, `the part does not end in a newline`, { commit, path, line: lineNo }))
  return r
}

async function checkIndex(
  git: GitBackend,
  id: string,
  head: string,
  idx: Pick<IndexData, 'devices'> | null,
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
    if (built.days[day]?.[0] !== dayTree) {
      out.add(
        finding(
          'INDEX_MISMATCH',
          id,
          `the index's ${day} was built from tree ${built.days[day]?.[0]?.slice(0, 12) ?? '(none)'}, the head holds ${dayTree?.slice(0, 12) ?? '(none)'}; run usage-ledger index --rebuild`,
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
