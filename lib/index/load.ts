/**
 * Reading every device's ledger into the dedupe rule's winners. This is the full read that
 * the query index (a later layer) will make incremental; everything that reads the ledger goes
 * through here, so the rule is applied in one place.
 */
import type { GitBackend } from '../git/backend.js'
import { readEntryAt, walkBlobs } from '../git/tree.js'
import { BestById } from '../ledger/dedupe.js'
import { parseLedgerLine, type LedgerRecord } from '../ledger/record.js'
import { deviceDir, LEDGER_REF_PREFIX, PART_NAME_RE } from '../ledger/paths.js'

export interface DeviceSummary {
  id: string
  name: string
  head: string
  lastRecordAt: string | null
}

export interface LoadedLedger {
  devices: DeviceSummary[]
  best: BestById
  lines: number
  invalidLines: number
  newerLines: number
}

/**
 * Device heads of a repository: its own `ledger/*` branches, and in a native clone (`--repo`)
 * also the remote-tracking ones; of two heads of one device the one that descends wins.
 */
export async function deviceHeads(git: GitBackend, withTracking: boolean): Promise<Map<string, string>> {
  const heads = new Map<string, string>()
  for (const [ref, oid] of await git.listRefs(LEDGER_REF_PREFIX)) heads.set(ref.slice(LEDGER_REF_PREFIX.length), oid)
  if (withTracking) {
    for (const [ref, oid] of await git.listRefs('refs/remotes/')) {
      const m = /^refs\/remotes\/[^/]+\/ledger\/([0-9a-f]{32})$/.exec(ref)
      if (!m) continue
      const cur = heads.get(m[1]!)
      if (!cur || (cur !== oid && (await git.isAncestor(cur, oid)))) heads.set(m[1]!, oid)
    }
  }
  return heads
}

export async function loadLedger(git: GitBackend, opts: { withTracking?: boolean } = {}): Promise<LoadedLedger> {
  const heads = await deviceHeads(git, opts.withTracking ?? false)
  const best = new BestById()
  const devices: DeviceSummary[] = []
  let lines = 0, invalidLines = 0, newerLines = 0
  for (const [id, head] of [...heads].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const tree = (await git.readCommit(head)).tree
    const dir = await readEntryAt(git, tree, deviceDir(id))
    let name = id.slice(0, 8)
    let lastRecordAt: string | null = null
    if (dir) {
      for await (const b of walkBlobs(git, dir.oid)) {
        if (b.path === 'device.json') {
          try { name = String((JSON.parse((await git.readBlob(b.oid)).toString('utf8')) as { name?: string }).name ?? name) } catch { /* keep the short id */ }
          continue
        }
        if (!PART_NAME_RE.test(b.path.slice(b.path.lastIndexOf('/') + 1))) continue
        for (const line of (await git.readBlob(b.oid)).toString('utf8').split('\n')) {
          if (!line) continue
          lines++
          const p = parseLedgerLine(line)
          if (p.kind === 'newer') { newerLines++; continue }
          if (p.kind === 'invalid') { invalidLines++; continue }
          best.offer(p.record, id)
          if (!lastRecordAt || p.record.ts > lastRecordAt) lastRecordAt = p.record.ts
        }
      }
    }
    devices.push({ id, name, head, lastRecordAt })
  }
  return { devices, best, lines, invalidLines, newerLines }
}

export type { LedgerRecord }
