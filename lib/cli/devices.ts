/** `devices [list]` and the device part of `status`: who is in the ledger, from their manifests. */
import type { GitBackend } from '../git/backend.js'
import { readEntryAt } from '../git/tree.js'
import { trustedHeads } from '../app/sync/trust.js'
import { deviceDir } from '../ledger/paths.js'
import { parseManifest } from '../ledger/manifest.js'
import { Store } from '../store/store.js'
import { out, say, type CommandContext, type Outcome } from './context.js'
import { usageError } from '../errors.js'
import { redactUrl } from '../git/backend.js'
import { DEVICE_ID_RE, ledgerRef } from '../ledger/paths.js'
import { commitDeviceName } from '../store/writer.js'
import { resolveRemote } from '../app/sync/remote.js'
import { pushOrKeep } from '../app/sync/push.js'
import { sayPush } from './messages.js'
import { plural } from '../text.js'
import { sharedNames } from './device-ref.js'
import { deviceHeads } from '../index/heads.js'

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
    const tree = (await git.readCommit(head)).tree
    const json = async (file: string) => {
      const e = await readEntryAt(git, tree, `${deviceDir(id)}/${file}`)
      try {
        return e ? JSON.parse((await git.readBlob(e.oid)).toString('utf8')) : null
      } catch {
        return null
      }
    }
    const device = (await json('device.json')) as { name?: string; platform?: string } | null
    const mText = await json('manifest.json')
    const m = mText ? parseManifest(JSON.stringify(mText)) : null
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

export interface DevicesOptions {
  action: 'list' | 'rename' | 'forget'
  arg?: string
  yes: boolean
}

export async function devices(
  ctx: CommandContext,
  opts: DevicesOptions = { action: 'list', yes: false },
): Promise<Outcome> {
  if (opts.action === 'rename') return rename(ctx, opts.arg)
  if (opts.action === 'forget') return forget(ctx, opts.arg, opts.yes)
  const store = Store.open(ctx.env, { home: ctx.global.home, git: ctx.global.git, repo: ctx.global.repo })
  try {
    const git = store.initialized ? await store.git() : null
    const rows = git
      ? await listDevices(
          git,
          store.device.id,
          (await trustedHeads(git, store.paths, Boolean(ctx.global.repo), ctx.env.now())).heads,
        )
      : []
    if (ctx.global.json) out(ctx, JSON.stringify({ schema: 'usage-ledger/devices@1', devices: rows }))
    else if (!rows.length) out(ctx, 'no devices yet; run usage-ledger record')
    else {
      for (const r of rows)
        out(
          ctx,
          `${r.thisDevice ? '*' : ' '} ${r.id}  ${r.name.padEnd(20)} ${plural(r.records, 'record ', 'records').padStart(18)} last ${r.lastRecordAt ?? '-'}  head ${r.head.slice(0, 12)}${r.duplicateName ? '  (same name as another device)' : ''}`,
        )
      for (const [name, ids] of sharedNames(rows)) say(ctx, sameNameWarning(name, ids))
    }
    return 'ok'
  } finally {
    await store.close()
  }
}

const sameNameWarning = (name: string, ids: string[]) =>
  `warning: ${ids.length} devices are named "${name}" (${ids.join(', ')}): --device ${name} cannot tell them apart; give each its own name with usage-ledger devices rename NAME on it`

/** Renames this device: config, and a commit rewriting its device.json, pushed when possible. */
async function rename(ctx: CommandContext, name: string | undefined): Promise<Outcome> {
  if (!name?.trim()) throw usageError('NO_NAME', 'devices rename needs the new name: usage-ledger devices rename NAME')
  const store = Store.open(ctx.env, { home: ctx.global.home, git: ctx.global.git, name })
  try {
    await store.ensureInit()
    await store.remember({ name })
    const lock = await store.lock()
    try {
      const git = await store.git()
      // Every device this store knows (and a clone's remote-tracking ones) that already has the name.
      const sameName = (await listDevices(git, store.device.id, await deviceHeads(git, true)))
        .filter((d) => d.name === name && d.id !== store.device.id)
        .map((d) => d.id)
      if (sameName.length && !ctx.global.json) say(ctx, sameNameWarning(name, [store.device.id, ...sameName]))
      const commit = await commitDeviceName(git, store.device, ctx.env.now())
      const pushed = commit && store.config.remote ? await pushOrKeep(store) : null
      if (ctx.global.json)
        out(
          ctx,
          JSON.stringify({
            schema: 'usage-ledger/devices@1',
            renamed: store.device.id,
            name,
            commit,
            pushed: pushed?.pushed ?? false,
            sameName,
          }),
        )
      else {
        say(
          ctx,
          `this device (${store.device.id}) is now "${name}"${commit ? '' : '; its ledger takes the name with the next record'}`,
        )
        if (pushed) sayPush(ctx, pushed)
      }
      return pushed?.rejected ? 'failed' : 'ok'
    } finally {
      lock.release()
    }
  } finally {
    await store.close()
  }
}

/** Deletes a retired device's branch on the remote; its data stays in every local store. */
async function forget(ctx: CommandContext, id: string | undefined, yes: boolean): Promise<Outcome> {
  if (!id || !DEVICE_ID_RE.test(id))
    throw usageError('BAD_DEVICE_ID', 'devices forget needs a device id (32 hex, see usage-ledger devices)')
  const store = Store.open(ctx.env, { home: ctx.global.home, git: ctx.global.git })
  try {
    if (!store.config.remote)
      throw usageError('NO_REMOTE', `no remote is set for ${store.paths.home}; nothing to forget there`)
    if (id === store.device.id)
      throw usageError('FORGET_SELF', 'this is the device you are on; forget it from another machine')
    if (!yes) {
      if (!ctx.env.stderrIsTTY)
        throw usageError(
          'CONFIRM',
          `deleting ledger/${id} on ${redactUrl(store.config.remote)} cannot be undone there; pass --yes`,
        )
      ctx.env.stderr.write(`delete ledger/${id} on ${redactUrl(store.config.remote)}? [y/N] `)
      const answer = await readLine(ctx.env.stdin)
      if (!/^y(es)?$/i.test(answer.trim())) {
        say(ctx, 'nothing deleted')
        return 'ok'
      }
    }
    const git = await store.git()
    await git.deleteRemoteRef(await resolveRemote(store.config.remote, ctx.env), ledgerRef(id))
    if (ctx.global.json) out(ctx, JSON.stringify({ schema: 'usage-ledger/devices@1', forgotten: id }))
    else say(ctx, `deleted ledger/${id} on ${redactUrl(store.config.remote)}; local stores keep its records`)
    return 'ok'
  } finally {
    await store.close()
  }
}

function readLine(stream: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve) => {
    let buf = ''
    const onData = (c: Buffer | string) => {
      buf += c.toString()
      if (buf.includes('\n')) {
        stream.off('data', onData)
        stream.pause()
        resolve(buf.split('\n')[0]!)
      }
    }
    stream.on('data', onData)
    stream.once('end', () => resolve(buf))
  })
}
