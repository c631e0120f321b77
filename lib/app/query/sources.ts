/**
 * What `sources` shows: every registered source, whether its files are on this machine and
 * where, and what the ledger holds from it (every device, after dedupe, from the query index).
 */
import fs from 'node:fs'
import { FILE_SOURCES } from '../../collect/index.js'
import { SOURCE as CLIPROXY, URL_VAR as CLIPROXY_URL_VAR, cliproxyUrl } from '../../collect/cliproxy/index.js'
import { stdin } from '../../collect/stdin/index.js'
import type { FileSource } from '../../collect/types.js'
import { indexRows } from '../../index/index.js'
import { DIM, type Rows } from '../../report/aggregate.js'
import type { Store } from '../../store/store.js'
import { refreshIndex, storePrices } from './index.js'

/** What the ledger holds from one source. */
export interface HeldRecords {
  /** Records of every device (after dedupe), and of this device among them. */
  records: number
  thisDevice: number
  /** The newest record's instant (ISO), null when none. */
  newest: string | null
}

export interface SourceRow extends HeldRecords {
  name: string
  title: string
  kind: FileSource['kind'] | 'queue' | 'stdin'
  /** The variable that moves it; null for stdin. */
  envVar: string | null
  /** At least one file found (stdin: something recorded through it). */
  found: boolean
  /** Where it looks, there or not (a queue: its URL when one is configured; empty for stdin). */
  looksIn: string[]
  /** The places of `looksIn` that exist on this machine. */
  places: string[]
  files: number
  /** stdin: the names other tools recorded under (`record --stdin --source NAME`). */
  names?: string[]
}

/** The `usage-ledger/sources@1` object. */
export interface SourcesView {
  schema: 'usage-ledger/sources@1'
  /** False before the first `record`: nothing is recorded yet. */
  store: boolean
  sources: SourceRow[]
}

const none = (): HeldRecords => ({ records: 0, thisDevice: 0, newest: null })

/** Per source name: what the index holds (the coarse rows name device and source, and count). */
export function heldBySource(rows: Rows, thisDevice: string): Map<string, HeldRecords> {
  const dims = rows.dims.map((dim) => ({ source: dim[DIM.source]!, mine: dim[DIM.device] === thisDevice }))
  const newest = new Map<string, number>()
  const out = new Map<string, HeldRecords>()
  rows.each((row) => {
    const dim = dims[row.dim]!
    const held = out.get(dim.source) ?? none()
    held.records += row.records
    if (dim.mine) held.thisDevice += row.records
    out.set(dim.source, held)
    if (row.records > 0 && row.last > (newest.get(dim.source) ?? -Infinity)) newest.set(dim.source, row.last)
  })
  for (const [source, ms] of newest) out.get(source)!.newest = new Date(ms).toISOString()
  return out
}

export async function listSources(store: Store): Promise<SourcesView> {
  const view = store.initialized ? await refreshIndex(store, storePrices(store), false) : null
  const held = view ? heldBySource(indexRows(view.index, 'auto'), store.device.id) : new Map<string, HeldRecords>()
  const env = store.env
  const rows: SourceRow[] = FILE_SOURCES.map((s) => {
    const looksIn = s.looksIn(env)
    const files = s.discover(env).length
    return {
      name: s.name,
      title: s.title,
      kind: s.kind,
      envVar: s.envVar,
      found: files > 0,
      looksIn,
      places: looksIn.filter((p) => fs.existsSync(p)),
      files,
      ...(held.get(s.name) ?? none()),
    }
  })
  // CLIProxyAPI's queue: found when configured (a bad address or a key in config is said here too).
  let queue: string | null = null
  try {
    queue = cliproxyUrl(env, store.config)?.url ?? null
  } catch (e) {
    queue = `(${(e as Error).message})`
  }
  rows.push({
    name: CLIPROXY,
    title: 'CLIProxyAPI usage queue',
    kind: 'queue',
    envVar: CLIPROXY_URL_VAR,
    found: queue !== null && !queue.startsWith('('),
    looksIn: queue ? [queue] : [],
    places: queue && !queue.startsWith('(') ? [queue] : [],
    files: 0,
    ...(held.get(CLIPROXY) ?? none()),
  })
  // Whatever is not a registered source's came through stdin, under the name its tool gave.
  const names = [...held.keys()].filter((n) => !rows.some((s) => s.name === n)).sort()
  const fromStdin = none()
  for (const n of names) {
    const h = held.get(n)!
    fromStdin.records += h.records
    fromStdin.thisDevice += h.thisDevice
    if (h.newest && (!fromStdin.newest || h.newest > fromStdin.newest)) fromStdin.newest = h.newest
  }
  rows.push({
    name: stdin.name,
    title: stdin.title,
    kind: 'stdin',
    envVar: null,
    found: names.length > 0,
    looksIn: [],
    places: [],
    files: 0,
    ...fromStdin,
    names,
  })
  return { schema: 'usage-ledger/sources@1', store: Boolean(view), sources: rows }
}
