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

export async function loadLedger(git: GitBackend): Promise<LoadedLedger> {
  const refs = await git.listRefs(LEDGER_REF_PREFIX)
  const best = new BestById()
  const devices: DeviceSummary[] = []
  let lines = 0, invalidLines = 0, newerLines = 0
  for (const [ref, head] of [...refs].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const id = ref.slice(LEDGER_REF_PREFIX.length)
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
