/** `devices [list]` and the device part of `status`: who is in the ledger, from their manifests. */
import type { GitBackend } from '../git/backend.js'
import { readEntryAt } from '../git/tree.js'
import { deviceHeads } from '../index/load.js'
import { deviceDir } from '../ledger/paths.js'
import { parseManifest } from '../ledger/manifest.js'
import { Store } from '../store/store.js'
import { out, type CommandContext } from './context.js'

export interface DeviceRow {
  id: string
  name: string
  platform: string | null
  head: string
  records: number
  lastRecordAt: string | null
  updatedAt: string | null
  thisDevice: boolean
}

export async function listDevices(git: GitBackend, me: string, withTracking: boolean): Promise<DeviceRow[]> {
  const rows: DeviceRow[] = []
  for (const [id, head] of await deviceHeads(git, withTracking)) {
    const tree = (await git.readCommit(head)).tree
    const json = async (file: string) => {
      const e = await readEntryAt(git, tree, `${deviceDir(id)}/${file}`)
      try { return e ? JSON.parse((await git.readBlob(e.oid)).toString('utf8')) : null } catch { return null }
    }
    const device = (await json('device.json')) as { name?: string; platform?: string } | null
    const mText = await json('manifest.json')
    const m = mText ? parseManifest(JSON.stringify(mText)) : null
    rows.push({
      id, name: device?.name ?? id.slice(0, 8), platform: device?.platform ?? null, head,
      records: m?.records ?? 0, lastRecordAt: m?.lastRecordAt ?? null, updatedAt: m?.updatedAt ?? null, thisDevice: id === me,
    })
  }
  return rows.sort((a, b) => (a.id < b.id ? -1 : 1))
}

export async function devices(ctx: CommandContext): Promise<number> {
  const store = Store.open(ctx.env, { home: ctx.global.home, git: ctx.global.git, repo: ctx.global.repo })
  try {
    const rows = store.initialized ? await listDevices(await store.git(), store.device.id, Boolean(ctx.global.repo)) : []
    if (ctx.global.json) out(ctx, JSON.stringify({ schema: 'usage-ledger/devices@1', devices: rows }))
    else if (!rows.length) out(ctx, 'no devices yet; run usage-ledger record')
    else for (const r of rows) out(ctx, `${r.thisDevice ? '*' : ' '} ${r.id}  ${r.name.padEnd(20)} ${String(r.records).padStart(9)} records  last ${r.lastRecordAt ?? '-'}  head ${r.head.slice(0, 12)}`)
    return 0
  } finally {
    await store.close()
  }
}
