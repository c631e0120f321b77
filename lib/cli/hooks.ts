/**
 * `hooks install [--repo GITDIR] [--uninstall]` and `hooks print TARGET` (DESIGN §7): install the
 * shipped post-merge hook, which refreshes the index after every merge, without clobbering a
 * hook that is already there; print ready-to-paste automation snippets that run `record`.
 */
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { opError, usageError } from '../errors.js'
import { resolveHome } from '../store/home.js'
import { Store } from '../store/store.js'
import { out, say, type CommandContext, type Outcome, type CommandSpec } from './context.js'

export type HookTarget = 'shell' | 'claude-code' | 'cron' | 'systemd' | 'launchd'

export interface HooksOptions {
  action: 'install' | 'uninstall' | 'print'
  target?: HookTarget
  /** With --repo: make `git pull` on the checked-out branch merge every device branch (uninstall: stop). */
  follow?: boolean
}

/** The line by which an installed hook is known to be ours (it is in hooks/post-merge). */
export const HOOK_MARKER = '# usage-ledger-hook: post-merge'
/** Where a post-merge hook that was there before ours goes; ours runs it first. */
export const CHAINED_SUFFIX = '.usage-ledger-chained'

export async function hooks(ctx: CommandContext, opts: HooksOptions): Promise<Outcome> {
  if (opts.action === 'print') {
    if (!opts.target)
      throw usageError('HOOKS_TARGET', 'hooks print needs a target: shell, claude-code, cron, systemd or launchd')
    if (opts.follow) throw usageError('HOOKS_FOLLOW', '--follow is for hooks install --repo GITDIR, not hooks print')
    printSnippet(ctx, opts.target)
    return 'ok'
  }
  if (opts.target)
    throw usageError('HOOKS_TARGET', `hooks ${opts.action} takes no target (${opts.target} is for hooks print)`)
  if (opts.follow && !ctx.global.repo)
    throw usageError(
      'FOLLOW_NEEDS_REPO',
      '--follow sets up a native clone of the ledger remote: pass --repo GITDIR (the store follows every device by itself)',
    )
  const dir = await hooksDir(ctx)
  // Following first: when the remote cannot be reached, nothing is installed half-way.
  const followed = opts.follow
    ? await (opts.action === 'install' ? follow : unfollow)(
        Store.open(ctx.env, { home: ctx.global.home, repo: ctx.global.repo }).paths.gitdir,
      )
    : null
  const r = opts.action === 'install' ? installHook(dir) : uninstallHook(dir)
  if (ctx.global.json)
    out(
      ctx,
      JSON.stringify({
        schema: 'usage-ledger/hooks@1',
        action: opts.action,
        hooksDir: dir,
        ...r,
        ...(followed ? { follow: followed.json } : {}),
      }),
    )
  else {
    say(ctx, r.message)
    if (followed) say(ctx, followed.message)
  }
  if (followed?.warning) ctx.env.stderr.write(`${followed.warning}\n`)
  return 'ok'
}

// ---------------------------------------------------------------- follow

/** What `--follow` set up (or, on uninstall, took away) in a clone. */
interface Follow {
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
  const { runGit } = await import('../git/system.js')
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
async function hooksDir(ctx: CommandContext): Promise<string> {
  const store = Store.open(ctx.env, { home: ctx.global.home, repo: ctx.global.repo })
  const gitdir = store.paths.gitdir
  if (!ctx.global.repo) {
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
    const { runGit } = await import('../git/system.js')
    const r = await runGit(['config', '--path', '--get', 'core.hooksPath'], { gitdir })
    const value = r.code === 0 ? r.stdout.toString('utf8').trim() : ''
    return value || null
  } catch {
    return null // no git: git is not what runs the hooks then either, our fetch is
  }
}

interface HookChange {
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
  // From the bundle (dist/cli.cjs) the package root is one up; from the sources (lib/cli/) two.
  for (const rel of ['../hooks/post-merge', '../../hooks/post-merge']) {
    const file = fileURLToPath(new URL(rel, import.meta.url))
    const text = readIfExists(file)
    if (text !== null && isOurs(text)) return text
  }
  throw opError(
    'HOOK_MISSING',
    'the shipped hooks/post-merge is missing from this usage-ledger installation; reinstall usage-ledger',
  )
}

// ---------------------------------------------------------------- print

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
function recordWords(ctx: CommandContext): string[] {
  const cli = cliLocation()
  const words = cli ? [cli.node, cli.bin] : ['usage-ledger']
  // cron, systemd and launchd do not see USAGE_LEDGER_HOME or XDG_DATA_HOME: a store that is
  // not in the default place is named.
  const home = resolveHome(ctx.env, ctx.global.home)
  if (home !== path.join(ctx.env.userHome, '.local', 'share', 'usage-ledger')) words.push('--home', home)
  return [...words, 'record', '--quiet']
}

const shellQuote = (s: string) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`)
const shellLine = (words: string[]) => words.map(shellQuote).join(' ')

function printSnippet(ctx: CommandContext, target: HookTarget): void {
  const words = recordWords(ctx)
  const store = Store.open(ctx.env, { home: ctx.global.home })
  const snippets: Record<HookTarget, () => string> = {
    shell: () => shellSnippet(words, store),
    'claude-code': () => claudeCodeSnippet(words),
    cron: () => cronSnippet(words),
    systemd: () => systemdSnippet(words),
    launchd: () => launchdSnippet(words),
  }
  out(ctx, snippets[target]())
  // JSON has no comments: where it goes is said on stderr.
  if (target === 'claude-code')
    say(ctx, "merge this into ~/.claude/settings.json (all projects) or a project's .claude/settings.json")
}

function shellSnippet(words: string[], store: Store): string {
  const minInterval = store.config.record?.minInterval
  const interval = minInterval
    ? `# record.minInterval is ${minInterval} s (${store.paths.config}): at most one run per ${minInterval} s reads the sources.`
    : `# record.minInterval is not set: add "record": {"minInterval": 300} to ${store.paths.config}\n# so a busy shell reads the sources at most every 5 minutes.`
  return `# usage-ledger: record AI coding tool usage after each prompt (bash or zsh; add to ~/.bashrc or ~/.zshrc).
# It runs in the background with its output sent to /dev/null: it never blocks the prompt, and
# it keeps the exit status the prompt shows.
${interval}
_usage_ledger_record() {
  _usage_ledger_status=$?
  (${shellLine(words)} </dev/null >/dev/null 2>&1 &)
  return $_usage_ledger_status
}
if [ -n "\${ZSH_VERSION-}" ]; then
  autoload -Uz add-zsh-hook && add-zsh-hook precmd _usage_ledger_record
elif [ -n "\${BASH_VERSION-}" ]; then
  case ";\${PROMPT_COMMAND-};" in
    *";_usage_ledger_record;"*) ;;
    *) PROMPT_COMMAND="\${PROMPT_COMMAND:+\${PROMPT_COMMAND%;};}_usage_ledger_record" ;;
  esac
fi
`
}

function claudeCodeSnippet(words: string[]): string {
  const line = shellLine(words)
  // Stop fires after every answer: in the background, so it never delays the next turn.
  // SessionEnd waits for the run, so the last answer is recorded before Claude Code exits.
  const stop = `(${line} </dev/null >/dev/null 2>&1 &)`
  const end = `${line} </dev/null >/dev/null 2>&1 || true`
  return JSON.stringify(
    {
      hooks: {
        Stop: [{ hooks: [{ type: 'command', command: stop, timeout: 30 }] }],
        SessionEnd: [{ hooks: [{ type: 'command', command: end, timeout: 60 }] }],
      },
    },
    null,
    2,
  )
}

function cronSnippet(words: string[]): string {
  // In a crontab line % means a newline unless escaped.
  const line = shellLine(words).replace(/%/g, '\\%')
  return `# usage-ledger: record every 15 minutes (add with crontab -e). cron has neither your PATH nor
# USAGE_LEDGER_TOKEN: pushes use git's credential helper, or a path remote, or add the variable
# in front of the command.
*/15 * * * * ${line} >/dev/null 2>&1 || true
`
}

/** systemd unit syntax: double quotes where needed, and % doubled (it starts a specifier). */
function systemdLine(words: string[]): string {
  return words
    .map((w) => {
      const v = w.replace(/%/g, '%%')
      return /^[A-Za-z0-9_@%+=:,./-]+$/.test(v) ? v : `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`
    })
    .join(' ')
}

function systemdSnippet(words: string[]): string {
  return `# usage-ledger: record every 15 minutes with a systemd user timer. Save the two units below as
#   ~/.config/systemd/user/usage-ledger-record.service
#   ~/.config/systemd/user/usage-ledger-record.timer
# then: systemctl --user daemon-reload && systemctl --user enable --now usage-ledger-record.timer

# ---- usage-ledger-record.service
[Unit]
Description=usage-ledger: record AI coding tool usage

[Service]
Type=oneshot
# "-": a failed run (an unreachable remote) does not mark the unit failed; its commit is kept
# and pushed by the next run.
ExecStart=-${systemdLine(words)}
Nice=10
StandardOutput=null

# ---- usage-ledger-record.timer
[Unit]
Description=usage-ledger: record every 15 minutes

[Timer]
OnCalendar=*:0/15
RandomizedDelaySec=60
Persistent=true

[Install]
WantedBy=timers.target
`
}

const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

function launchdSnippet(words: string[]): string {
  const label = 'dev.usage-ledger.record'
  const args = words.map((w) => `    <string>${xml(w)}</string>`).join('\n')
  return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<!-- usage-ledger: record every 15 minutes. Save as ~/Library/LaunchAgents/${label}.plist, then:
     launchctl bootstrap gui/$(id -u) ~/Library/LaunchAgents/${label}.plist -->
<plist version="1.0">
<dict>
  <key>Label</key>
  <string>${label}</string>
  <key>ProgramArguments</key>
  <array>
${args}
  </array>
  <key>StartInterval</key>
  <integer>900</integer>
  <key>RunAtLoad</key>
  <true/>
  <key>ProcessType</key>
  <string>Background</string>
  <key>StandardOutPath</key>
  <string>/dev/null</string>
  <key>StandardErrorPath</key>
  <string>/dev/null</string>
</dict>
</plist>
`
}

export const command: CommandSpec<HooksOptions> = {
  positionals: {
    action: {
      choices: ['install', 'uninstall', 'print'],
      describe: 'install (--uninstall) the post-merge hook into the store or --repo; print a snippet',
    },
    target: {
      choices: ['shell', 'claude-code', 'cron', 'systemd', 'launchd'],
      describe: 'print: what to print a snippet for',
    },
  },
  options: {
    uninstall: {
      type: 'boolean',
      default: false,
      describe: 'install: remove our hook and restore the one it chained',
    },
    follow: {
      type: 'boolean',
      default: false,
      describe: 'with --repo: git pull on the checked-out branch merges every device branch (with --uninstall: stops)',
    },
  },
  storeOnly: (a) => (a.action === 'print' ? 'hooks print' : undefined),
  parse: (a) => ({
    action: a.uninstall ? 'uninstall' : ((a.action as HooksOptions['action'] | undefined) ?? 'install'),
    target: a.target as HookTarget | undefined,
    follow: Boolean(a.follow),
  }),
  run: hooks,
}
