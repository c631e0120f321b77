/** `init`: create the local store (repository, state, config) for this device. */
import { Store } from '../store/store.js'
import { redactUrl, type GitBackend, type Remote } from '../git/backend.js'
import { writeGenesis } from '../git/genesis.js'
import { checkRemoteUrl, resolveRemote } from '../sync/remote.js'
import { fetchInto } from './fetch.js'
import { out, say, type CommandContext } from './context.js'

export interface InitOptions {
  name?: string
  deviceId?: string
  remote?: string
}

export async function init(ctx: CommandContext, opts: InitOptions): Promise<number> {
  const store = Store.open(ctx.env, { home: ctx.global.home, git: ctx.global.git, deviceId: opts.deviceId, name: opts.name })
  try {
    const existed = store.initialized
    if (opts.remote !== undefined) checkRemoteUrl(opts.remote)
    await store.ensureInit()
    store.remember(opts)
    const git = await store.git()
    let sync: Awaited<ReturnType<typeof fetchInto>> | null = null
    if (opts.remote !== undefined) {
      store.config.remote = opts.remote
      store.saveConfig()
      await seedMain(git, await resolveRemote(opts.remote, ctx.env), ctx.env.now())
      // Fetching also continues this device's branch when a reinstall finds it on the remote.
      sync = await fetchInto(store, [])
    }
    if (ctx.global.json) {
      out(ctx, JSON.stringify({ schema: 'usage-ledger/init@1', home: store.paths.home, created: !existed, device: { id: store.device.id, name: store.device.name }, git: git.name, remote: store.config.remote ? redactUrl(store.config.remote) : null, devices: sync?.devices ?? [], findings: sync?.findings ?? [] }))
    } else {
      say(ctx, `${existed ? 'store already initialised' : 'initialised store'} at ${store.paths.home}`)
      say(ctx, `device ${store.device.id} (${store.device.name}), git backend: ${git.name}`)
      if (store.config.remote) say(ctx, `remote ${redactUrl(store.config.remote)}: ${sync?.devices.length ?? 0} device${sync?.devices.length === 1 ? '' : 's'} there`)
      for (const f of sync?.findings ?? []) ctx.env.stderr.write(`${f.severity}: ${f.code} ${f.device}: ${f.detail}
`)
    }
    return sync?.findings.some((f) => f.severity === 'error') ? 3 : 0
  } finally {
    await store.close()
  }
}

const README = `# usage-ledger

This repository is a usage ledger written by [usage-ledger](https://www.npmjs.com/package/usage-ledger).
Each machine ("device") writes only its own branch, \`ledger/<deviceId>\`, and only adds files:

    devices/<deviceId>/device.json                      name, platform, when it started
    devices/<deviceId>/manifest.json                    counts, monthly totals, sealed digest
    devices/<deviceId>/YYYY-MM/YYYY-MM-DD/NNNNNN.ndjson one file per record run and UTC day

Every line of a part is one billed model response. Nothing is ever rewritten; protect the
ledger branches against force pushes (branch protection, \`receive.denyNonFastForwards\`).
`

/**
 * An empty remote gets a \`main\` with a README for humans (some clients need a remote HEAD).
 * Its parent is the genesis every device branch starts from, so a native clone merges the
 * device branches into main (\`git pull\`, several at once) as related histories.
 */
async function seedMain(git: GitBackend, remote: Remote, now: Date): Promise<void> {
  const heads = await git.listRemoteRefs(remote, 'refs/heads/')
  if (heads.size) return
  const tree = await git.writeTree([{ mode: '100644', type: 'blob', name: 'README.md', oid: await git.writeBlob(Buffer.from(README)) }])
  const sig = { name: 'usage-ledger', email: 'init@usage-ledger', timestamp: Math.floor(now.getTime() / 1000) }
  const commit = await git.writeCommit({ tree, parents: [await writeGenesis(git)], author: sig, committer: sig, message: 'usage-ledger: a ledger of AI tool usage, one branch per device\n' })
  const local = await git.readRef('refs/heads/main')
  if (!local) await git.updateRef('refs/heads/main', commit, null)
  try {
    await git.push(remote, 'refs/heads/main')
  } catch (e) {
    // Another machine seeded it at the same moment: theirs is as good as ours.
    if ((e as { code?: string }).code !== 'PUSH_REJECTED') throw e
  }
}
