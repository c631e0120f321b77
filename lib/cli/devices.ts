/** `devices [list|rename NAME|forget ID]`: who is in the ledger, from their manifests. */
import { forgetDevice, renameDevice, storeDevices } from '../app/query/devices.js'
import { sharedNames } from '../app/query/device-ref.js'
import { Store } from '../store/store.js'
import { out, say, type CommandContext, type Outcome, type CommandSpec, optional } from './context.js'
import { usageError } from '../errors.js'
import { DEVICE_ID_RE } from '../ledger/paths.js'
import { sayPush } from './messages.js'
import { plural } from '../text.js'

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
    const rows = await storeDevices(store, Boolean(ctx.global.repo))
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

async function rename(ctx: CommandContext, name: string | undefined): Promise<Outcome> {
  if (!name?.trim()) throw usageError('NO_NAME', 'devices rename needs the new name: usage-ledger devices rename NAME')
  const store = Store.open(ctx.env, { home: ctx.global.home, git: ctx.global.git, name })
  try {
    const { sameName, commit, push: pushed } = await renameDevice(store, name)
    if (sameName.length && !ctx.global.json) say(ctx, sameNameWarning(name, [store.device.id, ...sameName]))
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
    await store.close()
  }
}

async function forget(ctx: CommandContext, id: string | undefined, yes: boolean): Promise<Outcome> {
  if (!id || !DEVICE_ID_RE.test(id))
    throw usageError('BAD_DEVICE_ID', 'devices forget needs a device id (32 hex, see usage-ledger devices)')
  const store = Store.open(ctx.env, { home: ctx.global.home, git: ctx.global.git })
  try {
    const forgotten = await forgetDevice(store, id, async (remote) => {
      if (yes) return true
      if (!ctx.env.stderrIsTTY)
        throw usageError('CONFIRM', `deleting ledger/${id} on ${remote} cannot be undone there; pass --yes`)
      ctx.env.stderr.write(`delete ledger/${id} on ${remote}? [y/N] `)
      return /^y(es)?$/i.test((await readLine(ctx.env.stdin)).trim())
    })
    if (!forgotten) {
      say(ctx, 'nothing deleted')
      return 'ok'
    }
    if (ctx.global.json) out(ctx, JSON.stringify({ schema: 'usage-ledger/devices@1', forgotten: id }))
    else say(ctx, `deleted ledger/${id} on ${forgotten.remote}; local stores keep its records`)
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

export const command: CommandSpec<DevicesOptions> = {
  positionals: {
    action: { choices: ['list', 'rename', 'forget'], default: 'list' },
    arg: { type: 'string', describe: 'rename: the new name; forget: the device id' },
  },
  options: { yes: { type: 'boolean', default: false, describe: 'forget without asking' } },
  storeOnly: (a) => (a.action === 'list' ? undefined : `devices ${a.action}`),
  parse: (a) => ({ action: a.action as DevicesOptions['action'], arg: optional(a.arg), yes: Boolean(a.yes) }),
  run: devices,
}
