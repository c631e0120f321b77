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
import { out, say, type CommandContext } from './context.js'

export type HookTarget = 'shell' | 'claude-code' | 'cron' | 'systemd' | 'launchd'

export interface HooksOptions {
  action: 'install' | 'uninstall' | 'print'
  target?: HookTarget
}

/** The line by which an installed hook is known to be ours (it is in hooks/post-merge). */
export const HOOK_MARKER = '# usage-ledger-hook: post-merge'
/** Where a post-merge hook that was there before ours goes; ours runs it first. */
export const CHAINED_SUFFIX = '.usage-ledger-chained'

export async function hooks(ctx: CommandContext, opts: HooksOptions): Promise<number> {
  if (opts.action === 'print') {
    if (!opts.target) throw usageError('HOOKS_TARGET', 'hooks print needs a target: shell, claude-code, cron, systemd or launchd')
    printSnippet(ctx, opts.target)
    return 0
  }
  if (opts.target) throw usageError('HOOKS_TARGET', `hooks ${opts.action} takes no target (${opts.target} is for hooks print)`)
  const dir = await hooksDir(ctx)
  const r = opts.action === 'install' ? installHook(dir) : uninstallHook(dir)
  if (ctx.global.json) out(ctx, JSON.stringify({ schema: 'usage-ledger/hooks@1', action: opts.action, hooksDir: dir, ...r }))
  else say(ctx, r.message)
  return 0
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
    if (!store.initialized) throw usageError('NO_STORE', `no store at ${store.paths.home} yet; run usage-ledger init (or record) first, or pass --repo GITDIR`)
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
    if (existing === text && isExecutable(hook)) return { ...base, changed: false, chained: keptChained, message: `post-merge hook already installed in ${dir}` }
    writeExecutable(hook, text) // another CLI path or a newer hook: same hook, brought up to date
    return { ...base, changed: true, chained: keptChained, message: `post-merge hook updated in ${dir}` }
  }
  const foreign = existing !== null || isSymlink(hook) // a dangling link is somebody's too
  if (foreign && keptChained) {
    throw opError('HOOK_CHAIN_TAKEN', `both ${hook} (not ours) and ${chained} exist; move one of them aside, then run hooks install again`)
  }
  // Ours is written next to it first, so a failure in between leaves the foreign hook in place.
  const tmp = `${hook}.usage-ledger-tmp-${process.pid}`
  fs.mkdirSync(dir, { recursive: true })
  writeExecutable(tmp, text)
  if (foreign) fs.renameSync(hook, chained)
  fs.renameSync(tmp, hook)
  const nowChained = fs.existsSync(chained) ? chained : null
  const message = `post-merge hook installed in ${dir}` + (nowChained ? `; the hook that was there runs first, from ${path.basename(chained)}` : '')
  return { ...base, changed: true, chained: nowChained, message }
}

function uninstallHook(dir: string): HookChange {
  const hook = path.join(dir, 'post-merge')
  const chained = hook + CHAINED_SUFFIX
  const existing = readIfExists(hook)
  const base = { hook, cli: null }
  if (existing !== null && !isOurs(existing)) {
    return { ...base, changed: false, chained: null, message: `the post-merge hook in ${dir} is not usage-ledger's; left alone` }
  }
  if (existing !== null) fs.rmSync(hook)
  const restored = fs.existsSync(chained) || isSymlink(chained)
  if (restored) fs.renameSync(chained, hook)
  if (existing === null && !restored) return { ...base, changed: false, chained: null, message: `no usage-ledger post-merge hook in ${dir}` }
  return { ...base, changed: true, chained: restored ? hook : null, message: `post-merge hook removed from ${dir}` + (restored ? '; the previous hook is back in place' : '') }
}

const isOurs = (text: string) => text.split('\n', 3).some((line) => line.startsWith(HOOK_MARKER))

function readIfExists(file: string): string | null {
  try { return fs.readFileSync(file, 'utf8') } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw e
  }
}

function isSymlink(file: string): boolean {
  try { return fs.lstatSync(file).isSymbolicLink() } catch { return false }
}

function isExecutable(file: string): boolean {
  try { fs.accessSync(file, fs.constants.X_OK); return true } catch { return false }
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
  throw opError('HOOK_MISSING', 'the shipped hooks/post-merge is missing from this usage-ledger installation; reinstall usage-ledger')
}

// ---------------------------------------------------------------- print

interface CliLocation { node: string; bin: string }

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
  if (target === 'claude-code') say(ctx, 'merge this into ~/.claude/settings.json (all projects) or a project\'s .claude/settings.json')
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
  return JSON.stringify({
    hooks: {
      Stop: [{ hooks: [{ type: 'command', command: stop, timeout: 30 }] }],
      SessionEnd: [{ hooks: [{ type: 'command', command: end, timeout: 60 }] }],
    },
  }, null, 2)
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
  return words.map((w) => {
    const v = w.replace(/%/g, '%%')
    return /^[A-Za-z0-9_@%+=:,./-]+$/.test(v) ? v : `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`
  }).join(' ')
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
