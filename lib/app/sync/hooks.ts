/**
 * The post-merge hook (DESIGN §7): install the shipped `hooks/post-merge`, which refreshes the
 * index after every merge, without clobbering a hook that is already there (and take it away
 * again); with `--follow`, make `git pull` in a native clone merge every device branch. Also
 * what the automation snippets need to know of this machine: how to run `record`.
 */
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Env } from '../../env.js'
import { opError, usageError } from '../../errors.js'
import { resolveHome } from '../../store/home.js'
import { Store, type StoreOptions } from '../../store/store.js'
import { shellQuote } from '../../text.js'

/** The line by which an installed hook is known to be ours (it is in hooks/post-merge). */
export const HOOK_MARKER = '# usage-ledger-hook: post-merge'
/** Where a post-merge hook that was there before ours goes; ours runs it first. */
export const CHAINED_SUFFIX = '.usage-ledger-chained'

export interface HooksResult {
  hooksDir: string
  hook: HookChange
  /** What `--follow` did, when asked. */
  followed: Follow | null
}

/** `hooks install` and `hooks install --uninstall`, with or without `--follow`. */
export async function installHooks(
  env: Env,
  where: Pick<StoreOptions, 'home' | 'repo'>,
  action: 'install' | 'uninstall',
  withFollow: boolean,
): Promise<HooksResult> {
  const dir = await hooksDir(env, where)
  // Following first: when the remote cannot be reached, nothing is installed half-way.
  const followed = withFollow
    ? await (action === 'install' ? follow : unfollow)(Store.open(env, where).paths.gitdir)
    : null
  const hook = action === 'install' ? installHook(dir) : uninstallHook(dir)
  return { hooksDir: dir, hook, followed }
}

// ---------------------------------------------------------------- follow

/** What `--follow` set up (or, on uninstall, took away) in a clone. */
export interface Follow {
  json: { branch: string; remote: string; devices: string[]; added: string[]; unrelated: string[] }
  message: string
  warning?: string
}

/** The one-off for a ledger begun before the genesis (README "The post-merge hook"). */
const joinCommand = (remote: string) =>
  `for b in $(git for-each-ref --format='%(refname)' refs/remotes/${remote}/ledger/); do git merge --no-edit --allow-unrelated-histories "$b" || break; done`

async function gitIn(
  gitdir: string,
  args: string[],
  allowFail = false,
): Promise<{ code: number; out: string; err: string }> {
  const { runGit } = await import('../../git/system.js')
  const r = await runGit(args, { gitdir })
  const res = { code: r.code, out: r.stdout.toString('utf8').trim(), err: r.stderr.trim() }
  if (r.code !== 0 && !allowFail)
    throw opError('GIT_FAILED', `git ${args.join(' ')} failed in ${gitdir}: ${res.err || `exit ${r.code}`}`)
  return res
}

/** The checked-out branch and the remote it pulls from. */
async function pullTarget(gitdir: string): Promise<{ branch: string; remote: string; remoteSet: boolean }> {
  const head = await gitIn(gitdir, ['symbolic-ref', '--quiet', '--short', 'HEAD'], true)
  if (head.code !== 0 || !head.out)
    throw usageError(
      'FOLLOW_NO_BRANCH',
      `--follow: ${gitdir} has no branch checked out (a detached HEAD); check out the branch that should follow the devices (git checkout main), then run this again`,
    )
  const branch = head.out
  const configured = (await gitIn(gitdir, ['config', '--get', `branch.${branch}.remote`], true)).out
  const remote = configured || 'origin'
  if ((await gitIn(gitdir, ['config', '--get', `remote.${remote}.url`], true)).code !== 0) {
    throw usageError(
      'FOLLOW_NO_REMOTE',
      `--follow: ${gitdir} has no remote "${remote}"; clone the ledger remote (git clone URL), or set branch.${branch}.remote, then run this again`,
    )
  }
  return { branch, remote, remoteSet: !!configured }
}

const DEVICE_BRANCH_RE = /^refs\/heads\/ledger\/[0-9a-f]{32}$/

/**
 * Makes a plain `git pull` on the checked-out branch merge every device branch (DESIGN §2: they
 * share the genesis with main, so they merge as related histories, several at once): a fetch
 * refspec for `ledger/*`, a `branch.<b>.merge` line per device, and `branch.<b>.rebase false`
 * (device commits are merged, never copied by a rebase). Idempotent; run again for new devices.
 */
async function follow(gitdir: string): Promise<Follow> {
  const { branch, remote, remoteSet } = await pullTarget(gitdir)
  const refspec = `+refs/heads/ledger/*:refs/remotes/${remote}/ledger/*`
  const specs = (await gitIn(gitdir, ['config', '--get-all', `remote.${remote}.fetch`], true)).out.split('\n')
  if (!specs.includes(refspec)) await gitIn(gitdir, ['config', '--add', `remote.${remote}.fetch`, refspec])
  const fetched = await gitIn(gitdir, ['fetch', '--quiet', '--no-tags', remote, refspec], true)
  if (fetched.code !== 0) {
    throw opError(
      'FOLLOW_FETCH',
      `--follow: git fetch ${remote} failed in ${gitdir}: ${fetched.err.split('\n').filter(Boolean).join(' ') || `exit ${fetched.code}`}; check the remote and git's credentials for it, then run this again`,
    )
  }
  const tracking = `refs/remotes/${remote}/ledger/`
  const refs = (await gitIn(gitdir, ['for-each-ref', '--format=%(refname)', tracking])).out.split('\n').filter(Boolean)
  const devices = refs
    .map((r) => r.slice(tracking.length))
    .filter((id) => DEVICE_BRANCH_RE.test(`refs/heads/ledger/${id}`))
    .sort()
  const merges = new Set((await gitIn(gitdir, ['config', '--get-all', `branch.${branch}.merge`], true)).out.split('\n'))
  const added: string[] = []
  for (const id of devices) {
    if (merges.has(`refs/heads/ledger/${id}`)) continue
    await gitIn(gitdir, ['config', '--add', `branch.${branch}.merge`, `refs/heads/ledger/${id}`])
    added.push(id)
  }
  if (!remoteSet) await gitIn(gitdir, ['config', `branch.${branch}.remote`, remote])
  await gitIn(gitdir, ['config', `branch.${branch}.rebase`, 'false'])

  // A ledger begun before the genesis: its device branches share no commit with the branch.
  const unrelated: string[] = []
  if ((await gitIn(gitdir, ['rev-parse', '--verify', '--quiet', 'HEAD'], true)).code === 0) {
    for (const id of devices) {
      if ((await gitIn(gitdir, ['merge-base', 'HEAD', `${tracking}${id}`], true)).code !== 0) unrelated.push(id)
    }
  }
  const n = devices.length
  const message =
    `git pull on ${branch} in ${gitdir} now merges ${n} device branch${n === 1 ? '' : 'es'} from ${remote}` +
    (added.length ? ` (${added.length} newly followed)` : '')
  const warning = unrelated.length
    ? `warning: ${unrelated.length} device branch${unrelated.length === 1 ? ' shares' : 'es share'} no history with ${branch} (a ledger begun before usage-ledger gave every branch one root); git pull refuses ${unrelated.length === 1 ? 'it' : 'them'} until you join them once, in the clone: ${joinCommand(remote)}`
    : undefined
  return { json: { branch, remote, devices, added, unrelated }, message, warning }
}

/** Undoes `follow`: the device merge lines and the `ledger/*` refspec go; fetched refs stay. */
async function unfollow(gitdir: string): Promise<Follow> {
  const { branch, remote } = await pullTarget(gitdir)
  const merges = (await gitIn(gitdir, ['config', '--get-all', `branch.${branch}.merge`], true)).out
    .split('\n')
    .filter(Boolean)
  const removed = merges.filter((m) => DEVICE_BRANCH_RE.test(m)).map((m) => m.slice('refs/heads/ledger/'.length))
  if (removed.length) await gitIn(gitdir, ['config', '--unset-all', `branch.${branch}.merge`, '^refs/heads/ledger/'])
  await gitIn(gitdir, ['config', '--unset-all', `remote.${remote}.fetch`, '^\\+refs/heads/ledger/\\*:'], true)
  const message = `git pull on ${branch} in ${gitdir} no longer merges device branches (${removed.length} unfollowed)`
  return { json: { branch, remote, devices: [], added: [], unrelated: [] }, message }
}

// ---------------------------------------------------------------- install

/**
 * The hooks directory of the target repository. The store's is always `<gitdir>/hooks`, the one
 * `fetch` runs; a clone's honours `core.hooksPath`, as git itself does when it merges.
 */
async function hooksDir(env: Env, where: Pick<StoreOptions, 'home' | 'repo'>): Promise<string> {
  const store = Store.open(env, where)
  const gitdir = store.paths.gitdir
  if (!where.repo) {
    if (!store.initialized)
      throw usageError(
        'NO_STORE',
        `no store at ${store.paths.home} yet; run usage-ledger init (or record) first, or pass --repo GITDIR`,
      )
    return path.join(gitdir, 'hooks')
  }
  const configured = await configuredHooksPath(gitdir)
  if (!configured) return path.join(gitdir, 'hooks')
  // A relative core.hooksPath is relative to where git runs hooks: the top of the work tree, or
  // the repository itself when it is bare.
  const base = path.basename(gitdir) === '.git' ? path.dirname(gitdir) : gitdir
  return path.resolve(base, configured)
}

/** `core.hooksPath` of the repository (local or global config), or null when unset or git is missing. */
async function configuredHooksPath(gitdir: string): Promise<string | null> {
  try {
    const { runGit } = await import('../../git/system.js')
    const r = await runGit(['config', '--path', '--get', 'core.hooksPath'], { gitdir })
    const value = r.code === 0 ? r.stdout.toString('utf8').trim() : ''
    return value || null
  } catch {
    return null // no git: git is not what runs the hooks then either, our fetch is
  }
}

export interface HookChange {
  hook: string
  changed: boolean
  /** The previous hook, now run by ours (install) or back in place (uninstall). */
  chained: string | null
  cli: string | null
  message: string
}

function installHook(dir: string): HookChange {
  const hook = path.join(dir, 'post-merge')
  const chained = hook + CHAINED_SUFFIX
  const cli = cliLocation()
  const text = renderHook(cli)
  const existing = readIfExists(hook)
  const keptChained = fs.existsSync(chained) ? chained : null
  const base = { hook, cli: cli?.bin ?? null }
  if (existing !== null && isOurs(existing)) {
    if (existing === text && isExecutable(hook))
      return { ...base, changed: false, chained: keptChained, message: `post-merge hook already installed in ${dir}` }
    writeExecutable(hook, text) // another CLI path or a newer hook: same hook, brought up to date
    return { ...base, changed: true, chained: keptChained, message: `post-merge hook updated in ${dir}` }
  }
  const foreign = existing !== null || isSymlink(hook) // a dangling link is somebody's too
  if (foreign && keptChained) {
    throw opError(
      'HOOK_CHAIN_TAKEN',
      `both ${hook} (not ours) and ${chained} exist; move one of them aside, then run hooks install again`,
    )
  }
  // Ours is written next to it first, so a failure in between leaves the foreign hook in place.
  const tmp = `${hook}.usage-ledger-tmp-${process.pid}`
  fs.mkdirSync(dir, { recursive: true })
  writeExecutable(tmp, text)
  if (foreign) fs.renameSync(hook, chained)
  fs.renameSync(tmp, hook)
  const nowChained = fs.existsSync(chained) ? chained : null
  const message =
    `post-merge hook installed in ${dir}` +
    (nowChained ? `; the hook that was there runs first, from ${path.basename(chained)}` : '')
  return { ...base, changed: true, chained: nowChained, message }
}

function uninstallHook(dir: string): HookChange {
  const hook = path.join(dir, 'post-merge')
  const chained = hook + CHAINED_SUFFIX
  const existing = readIfExists(hook)
  const base = { hook, cli: null }
  if (existing !== null && !isOurs(existing)) {
    return {
      ...base,
      changed: false,
      chained: null,
      message: `the post-merge hook in ${dir} is not usage-ledger's; left alone`,
    }
  }
  if (existing !== null) fs.rmSync(hook)
  const restored = fs.existsSync(chained) || isSymlink(chained)
  if (restored) fs.renameSync(chained, hook)
  if (existing === null && !restored)
    return { ...base, changed: false, chained: null, message: `no usage-ledger post-merge hook in ${dir}` }
  return {
    ...base,
    changed: true,
    chained: restored ? hook : null,
    message: `post-merge hook removed from ${dir}${restored ? '; the previous hook is back in place' : ''}`,
  }
}

const isOurs = (text: string) => text.split('\n', 3).some((line) => line.startsWith(HOOK_MARKER))

function readIfExists(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw e
  }
}

function isSymlink(file: string): boolean {
  try {
    return fs.lstatSync(file).isSymbolicLink()
  } catch {
    return false
  }
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK)
    return true
  } catch {
    return false
  }
}

/** Whole or not at all: a merge running meanwhile sees the old hook or the new one. */
function writeExecutable(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`
  try {
    fs.writeFileSync(tmp, text, { mode: 0o755 })
    fs.chmodSync(tmp, 0o755) // the umask may have taken bits off
    fs.renameSync(tmp, file)
  } catch (e) {
    fs.rmSync(tmp, { force: true })
    throw e
  }
}

/** The shipped hooks/post-merge with the paths of node and of this CLI filled in. */
function renderHook(cli: CliLocation | null): string {
  const template = shippedHook()
  return template
    .replace(/^USAGE_LEDGER_NODE=''$/m, `USAGE_LEDGER_NODE=${shellQuote(cli?.node ?? '')}`)
    .replace(/^USAGE_LEDGER_BIN=''$/m, `USAGE_LEDGER_BIN=${shellQuote(cli?.bin ?? '')}`)
}

function shippedHook(): string {
  // From the bundle (dist/cli.cjs) the package root is one up; from the sources (lib/app/sync/) three.
  for (const rel of ['../hooks/post-merge', '../../../hooks/post-merge']) {
    const file = fileURLToPath(new URL(rel, import.meta.url))
    const text = readIfExists(file)
    if (text !== null && isOurs(text)) return text
  }
  throw opError(
    'HOOK_MISSING',
    'the shipped hooks/post-merge is missing from this usage-ledger installation; reinstall usage-ledger',
  )
}

// ---------------------------------------------------------------- the running CLI

interface CliLocation {
  node: string
  bin: string
}

/**
 * The running CLI: this node and the bin script it was started as. Hooks, cron and launchd do
 * not have the user's PATH (nvm, npm prefixes), so snippets name both absolutely; when the
 * script is not a usage-ledger bin (an in-process test), they fall back to `usage-ledger`.
 */
function cliLocation(): CliLocation | null {
  const bin = process.argv[1]
  if (!bin || !/^usage-ledger(\.js)?$/.test(path.basename(bin))) return null
  const abs = path.resolve(bin)
  return fs.existsSync(abs) ? { node: process.execPath, bin: abs } : null
}

/** The command words that run `usage-ledger record --quiet` for this store, from anywhere. */
function recordWords(env: Env, home?: string): string[] {
  const cli = cliLocation()
  const words = cli ? [cli.node, cli.bin] : ['usage-ledger']
  // cron, systemd and launchd do not see USAGE_LEDGER_HOME or XDG_DATA_HOME: a store that is
  // not in the default place is named.
  const dir = resolveHome(env, home)
  if (dir !== path.join(env.userHome, '.local', 'share', 'usage-ledger')) words.push('--home', dir)
  return [...words, 'record', '--quiet']
}

/** What a snippet that runs `record` needs: the command words and the store's `record.minInterval`. */
export interface RecordSetup {
  words: string[]
  minInterval?: number
  /** The store's config file, where `record.minInterval` is set. */
  configFile: string
  /** The command words that run `collect cliproxy` for this store (the queue collector's units). */
  collectWords: string[]
  /** The queue's URL when one is configured here (else the snippets show the default). */
  cliproxyUrl?: string
  /** Where the user's home is (launchd does not expand ~). */
  userHome: string
}

export function recordSetup(env: Env, home?: string): RecordSetup {
  const words = recordWords(env, home)
  const store = Store.open(env, { home })
  const url = env.vars.USAGE_LEDGER_CLIPROXY_URL || store.config.sources?.cliproxy?.url
  return {
    words,
    minInterval: store.config.record?.minInterval,
    configFile: store.paths.config,
    collectWords: [...words.slice(0, -2), 'collect', 'cliproxy'],
    ...(typeof url === 'string' && url ? { cliproxyUrl: url } : {}),
    userHome: env.userHome,
  }
}
