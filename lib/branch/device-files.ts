/**
 * The two files beside a device's parts (DESIGN §2): `device.json` (its name, the store writing
 * it) and `manifest.json` (counts, monthly totals, seal, witnesses). The one place they are
 * found and parsed at a head. Both come from any machine, and what an unreadable one means is
 * the caller's to say (the writer refuses a bad manifest, verify reports it, listings do
 * without it): the readers throw, the callers catch.
 */
import type { GitBackend, TreeEntry } from '../git/backend.js'
import { readTreeAt } from '../git/tree.js'
import { parseManifest, type Manifest } from '../ledger/manifest.js'
import { deviceDir } from '../ledger/paths.js'

/** The blobs of a device's two files; an absent file has none. */
export interface DeviceFileOids {
  device?: string
  manifest?: string
}

/** What readers take from device.json: only strings (a name is shown, an installId compared). */
export interface DeviceJson {
  name?: string
  platform?: string
  createdAt?: string
  installId?: string
}

/** The two files among the entries of a device's directory. */
export function deviceFilesIn(entries: readonly TreeEntry[] | null): DeviceFileOids {
  const oid = (name: string) => entries?.find((e) => e.name === name)?.oid
  return { device: oid('device.json'), manifest: oid('manifest.json') }
}

/** The two files of device `id` in `tree` (a commit's root tree; null: no commit yet). */
export async function deviceFilesAt(git: GitBackend, tree: string | null, id: string): Promise<DeviceFileOids> {
  return deviceFilesIn(await readTreeAt(git, tree, deviceDir(id)))
}

/** device.json's string fields; null when absent. Throws when it is not JSON. */
export async function readDeviceJson(git: GitBackend, oid: string | undefined): Promise<DeviceJson | null> {
  if (!oid) return null
  const j: unknown = JSON.parse((await git.readBlob(oid)).toString('utf8'))
  const out: DeviceJson = {}
  if (typeof j !== 'object' || j === null) return out
  for (const k of ['name', 'platform', 'createdAt', 'installId'] as const) {
    const v = (j as Record<string, unknown>)[k]
    if (typeof v === 'string') out[k] = v
  }
  return out
}

/** The manifest; null when absent. Throws when it is not JSON (SyntaxError) or not a manifest (BAD_MANIFEST). */
export async function readManifest(git: GitBackend, oid: string | undefined): Promise<Manifest | null> {
  return oid ? parseManifest((await git.readBlob(oid)).toString('utf8')) : null
}
