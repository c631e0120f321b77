/** Who is in the ledger, from their manifests; renaming this device and forgetting a retired one. */
import { rememberDevice } from '../device-id.js'
import type { GitBackend } from '../../git/backend.js'
import { redactUrl } from '../../git/backend.js'
import { deviceFilesAt, readDeviceJson, readManifest } from '../../branch/device-files.js'
import { trustedHeads } from '../sync/trust.js'
import { resolveRemote } from '../sync/remote.js'
import { pushOrKeep, type PushSummary } from '../sync/push.js'
import { ledgerRef } from '../../ledger/paths.js'
import type { Store } from '../../store/store.js'
import { usageError } from '../../errors.js'
import { commitDeviceName } from '../../branch/writer.js'
import { deviceHeads } from '../../index/heads.js'
import { sharedNames } from './device-ref.js'

export interface DeviceRow {
  id: string
  name: string
  platform: string | null
  head: string
  records: number
  lastRecordAt: string | null
  updatedAt: string | null
  thisDevice: boolean
  /** Another device has the same display name (`--device NAME` cannot tell them apart). */
  duplicateName: boolean
}

export async function listDevices(git: GitBackend, me: string, heads: Map<string, string>): Promise<DeviceRow[]> {
  const rows: DeviceRow[] = []
  for (const [id, head] of heads) {
    const files = await deviceFilesAt(git, (await git.readCommit(head)).tree, id)
    const device = await readDeviceJson(git, files.device).catch(() => null)
    // Not JSON: listed without counts; JSON that is no manifest fails the listing (BAD_MANIFEST).
    const m = await readManifest(git, files.manifest).catch((e: unknown) => {
      if (e instanceof SyntaxError) return null
      throw e
    })
    rows.push({
      // device.json comes from any machine: only a string is a name.
      id,
      name: typeof device?.name === 'string' ? device.name : id.slice(0, 8),
      platform: typeof device?.platform === 'string' ? device.platform : null,
      head,
      records: m?.records ?? 0,
      lastRecordAt: m?.lastRecordAt ?? null,
      updatedAt: m?.updatedAt ?? null,
      thisDevice: id === me,
      duplicateName: false,
    })
  }
  const shared = sharedNames(rows)
  for (const r of rows) r.duplicateName = shared.has(r.name)
  return rows.sort((a, b) => (a.id < b.id ? -1 : 1))
}

/** `devices [list]`: every device at its trusted head (none before the first record). */
export async function storeDevices(store: Store, clone: boolean): Promise<DeviceRow[]> {
  if (!store.initialized) return []
  const git = await store.git()
  return listDevices(git, store.device.id, (await trustedHeads(git, store.paths, clone, store.env.now())).heads)
}

export interface Renamed {
  /** Other devices this store knows that already have the name. */
  sameName: string[]
  /** The commit rewriting device.json, or null when the branch has none yet. */
  commit: string | null
  push: PushSummary | null
}

/**
 * Renames this device (the store is opened with the new name): config, and a commit rewriting
 * its device.json, pushed when possible.
 */
export async function renameDevice(store: Store, name: string): Promise<Renamed> {
  await store.ensureInit()
  await rememberDevice(store, { name })
  return store.locked(async () => {
    const git = await store.git()
    // Every device this store knows (and a clone's remote-tracking ones) that already has the name.
    const sameName = (await listDevices(git, store.device.id, await deviceHeads(git, true)))
      .filter((d) => d.name === name && d.id !== store.device.id)
      .map((d) => d.id)
    const commit = await commitDeviceName(git, store.device, store.env.now())
    const push = commit && store.config.remote ? await pushOrKeep(store) : null
    return { sameName, commit, push }
  })
}

/**
 * Deletes a retired device's branch on the remote once `confirm` (given the redacted remote)
 * agrees; its data stays in every local store. Returns the redacted remote, or null when not
 * confirmed.
 */
export async function forgetDevice(
  store: Store,
  id: string,
  confirm: (remote: string) => Promise<boolean>,
): Promise<{ remote: string } | null> {
  if (!store.config.remote)
    throw usageError('NO_REMOTE', `no remote is set for ${store.paths.home}; nothing to forget there`)
  if (id === store.device.id)
    throw usageError('FORGET_SELF', 'this is the device you are on; forget it from another machine')
  const remote = redactUrl(store.config.remote)
  if (!(await confirm(remote))) return null
  const git = await store.git()
  await git.deleteRemoteRef(await resolveRemote(store.config.remote, store.env), ledgerRef(id))
  return { remote }
}
