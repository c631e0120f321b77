/**
 * Per-day seals (manifest v2, DESIGN §2) in tests: a device branch written by the real writer
 * into a real repository, a backend wrapper that counts blob reads, and the v1 form of a
 * manifest (a generated old-format sample).
 */
import path from 'node:path'
import { createHash } from 'node:crypto'
import { SystemBackend } from '../../lib/git/system.js'
import type { GitBackend } from '../../lib/git/backend.js'
import { appendRecords, type Candidate } from '../../lib/branch/writer.js'
import type { DeviceInfo } from '../../lib/store/device.js'
import { recordId } from '../../lib/ledger/record.js'
import { parseManifest, sealDigestLines, serializeManifest, type Manifest } from '../../lib/ledger/manifest.js'
import { deviceDir, ledgerRef } from '../../lib/ledger/paths.js'
import { readEntryAt, readTreeAt, writeFiles } from '../../lib/git/tree.js'

export const device = (c: string): DeviceInfo => ({ id: c.repeat(32), name: c, platform: 'linux', tool: 'test' })

export const rec = (key: string, ts: string, extra: Partial<Candidate> = {}): Candidate => ({
  v: 1,
  id: recordId('claude-code', key),
  ts,
  source: 'claude-code',
  model: 'm',
  input: 10,
  output: 5,
  cacheWrite: 0,
  cacheRead: 100,
  ...extra,
})

/** Three records on each of the days 2026-11-01 … 2026-11-`days`. */
export function history(days = 8, prefix = 'h'): Candidate[] {
  const out: Candidate[] = []
  for (let d = 1; d <= days; d++)
    for (let i = 0; i < 3; i++)
      out.push(rec(`${prefix}${d}-${i}`, `2026-11-${String(d).padStart(2, '0')}T1${i}:00:00.000Z`))
  return out
}

/** A GitBackend that counts what it reads; everything else goes to the real backend. */
export interface Counting {
  git: GitBackend
  blobs: string[]
}
export function counting(real: GitBackend): Counting {
  const blobs: string[] = []
  const git = new Proxy(real, {
    get(target, prop, receiver) {
      if (prop === 'readBlob')
        return (oid: string) => {
          blobs.push(oid)
          return target.readBlob(oid)
        }
      const v = Reflect.get(target, prop, receiver)
      return typeof v === 'function' ? v.bind(target) : v
    },
  })
  return { git, blobs }
}

export async function newRepo(dir: string): Promise<SystemBackend> {
  const git = new SystemBackend(path.join(dir, 'repo.git'))
  await git.init()
  return git
}

export async function headManifest(git: GitBackend, id: string): Promise<Manifest> {
  const head = (await git.readRef(ledgerRef(id)))!
  const entry = await readEntryAt(git, (await git.readCommit(head)).tree, `${deviceDir(id)}/manifest.json`)
  return parseManifest((await git.readBlob(entry!.oid)).toString('utf8'))
}

/** day → the oids of its parts at the device head. */
export async function partsByDay(git: GitBackend, id: string): Promise<Map<string, string[]>> {
  const head = (await git.readRef(ledgerRef(id)))!
  const root = (await git.readCommit(head)).tree
  const out = new Map<string, string[]>()
  for (const month of (await readTreeAt(git, root, deviceDir(id))) ?? []) {
    if (month.type !== 'tree') continue
    for (const day of await git.readTree(month.oid))
      out.set(
        day.name,
        (await git.readTree(day.oid)).map((e) => e.oid),
      )
  }
  return out
}

/** Every line of a day at the device head. */
export async function dayLines(git: GitBackend, id: string, day: string): Promise<string[]> {
  const lines: string[] = []
  for (const oid of (await partsByDay(git, id)).get(day) ?? [])
    for (const l of (await git.readBlob(oid)).toString('utf8').split('\n')) if (l) lines.push(l)
  return lines
}

export const sha256 = (s: string) => createHash('sha256').update(s).digest('hex')

/** The manifest a v1 writer would have written for the same parts: one digest over the sealed days. */
export async function asV1(git: GitBackend, id: string, m: Manifest): Promise<Manifest> {
  const lines: string[] = []
  for (const day of Object.keys(m.days).sort())
    if (day <= m.sealed.through) lines.push(...(await dayLines(git, id, day)))
  const days = Object.fromEntries(Object.entries(m.days).map(([d, c]) => [d, { parts: c.parts, records: c.records }]))
  return {
    ...m,
    v: 1,
    days,
    sealed: { through: m.sealed.through, records: lines.length, digest: sealDigestLines(lines) },
  }
}

/** A commit on the device head that only rewrites manifest.json (plumbing, as a tamperer or an old writer would). */
export async function commitManifest(
  git: GitBackend,
  id: string,
  m: Manifest,
  parent?: string | null,
): Promise<string> {
  const head = (await git.readRef(ledgerRef(id)))!
  const files = new Map([[`${deviceDir(id)}/manifest.json`, await git.writeBlob(Buffer.from(serializeManifest(m)))]])
  return commitFiles(git, id, files, parent === undefined ? head : parent, head)
}

/** A commit of `files` (path → blob oid) over the head's tree with `parent`, moved onto the branch. */
export async function commitFiles(
  git: GitBackend,
  id: string,
  files: Map<string, string>,
  parent: string | null,
  head: string,
): Promise<string> {
  const tree = await writeFiles(git, (await git.readCommit(head)).tree, files)
  const sig = { name: 'x', email: 'x@x', timestamp: 1_790_000_000 }
  const parents = parent ? [parent] : []
  const commit = await git.writeCommit({ tree, parents, author: sig, committer: sig, message: 'plumbing\n' })
  await git.updateRef(ledgerRef(id), commit, head)
  return commit
}

export { appendRecords }
