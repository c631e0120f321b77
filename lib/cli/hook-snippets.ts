/**
 * Ready-to-paste automation that runs `record` (DESIGN §7 `hooks print`): a shell prompt hook,
 * Claude Code hooks, a crontab line, a systemd user timer, a launchd agent. Pure text: what
 * runs `record` on this machine comes in as a `RecordSetup`.
 */
import type { RecordSetup } from '../app/sync/hooks.js'
import { shellQuote } from '../text.js'

export type HookTarget =
  | 'shell'
  | 'claude-code'
  | 'cron'
  | 'systemd'
  | 'launchd'
  | 'systemd-cliproxy'
  | 'launchd-cliproxy'

/** Every target, in the order `hooks print` lists them. */
export const HOOK_TARGETS: readonly HookTarget[] = [
  'shell',
  'claude-code',
  'cron',
  'systemd',
  'launchd',
  'systemd-cliproxy',
  'launchd-cliproxy',
]

/** The snippet for `target`. */
export function hookSnippet(target: HookTarget, setup: RecordSetup): string {
  const snippets: Record<HookTarget, () => string> = {
    shell: () => shellSnippet(setup),
    'claude-code': () => claudeCodeSnippet(setup.words),
    cron: () => cronSnippet(setup.words),
    systemd: () => systemdSnippet(setup.words),
    launchd: () => launchdSnippet(setup.words),
    'systemd-cliproxy': () => systemdCollectSnippet(setup),
    'launchd-cliproxy': () => launchdCollectSnippet(setup),
  }
  return snippets[target]()
}

const shellLine = (words: string[]) => words.map(shellQuote).join(' ')

function shellSnippet({ words, minInterval, configFile }: RecordSetup): string {
  const interval = minInterval
    ? `# record.minInterval is ${minInterval} s (${configFile}): at most one run per ${minInterval} s reads the sources.`
    : `# record.minInterval is not set: add "record": {"minInterval": 300} to ${configFile}\n# so a busy shell reads the sources at most every 5 minutes.`
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

/**
 * The words that run `statusline` for this store: `statusline` right after the CLI, where the bin
 * sees it and starts the statusline's own small bundle (`--home` after it).
 */
export function statuslineWords(recordWords: string[]): string[] {
  const base = recordWords.slice(0, -2)
  const at = base.indexOf('--home')
  return at < 0 ? [...base, 'statusline'] : [...base.slice(0, at), 'statusline', ...base.slice(at)]
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
      // The statusline (DESIGN §7 `statusline`): today, the block and the limits over every device.
      statusLine: { type: 'command', command: shellLine(statuslineWords(words)), padding: 0 },
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

const DEFAULT_QUEUE = 'redis://127.0.0.1:8317'

/**
 * The CLIProxyAPI queue collector as a systemd user service. The key is in an EnvironmentFile
 * only its owner reads, never in the unit. It is not restarted after exiting with an error of its
 * own (a refused key: the proxy bans an address after 5 refused attempts), only after a crash.
 */
function systemdCollectSnippet(setup: RecordSetup): string {
  const url = setup.cliproxyUrl ?? DEFAULT_QUEUE
  return `# usage-ledger: follow CLIProxyAPI's usage queue and commit what it publishes. Save as
#   ~/.config/systemd/user/usage-ledger-cliproxy.service
# and the key (never in the unit) in ~/.config/usage-ledger/cliproxy.env, readable by you only:
#   install -d -m 700 ~/.config/usage-ledger
#   install -m 600 /dev/null ~/.config/usage-ledger/cliproxy.env
#   printf 'USAGE_LEDGER_CLIPROXY_URL=${url}\\nUSAGE_LEDGER_CLIPROXY_KEY=<management key>\\n' >> ~/.config/usage-ledger/cliproxy.env
# then: systemctl --user daemon-reload && systemctl --user enable --now usage-ledger-cliproxy.service
# (and loginctl enable-linger "$USER" to keep it running while you are logged out).

[Unit]
Description=usage-ledger: collect CLIProxyAPI usage
After=network-online.target

[Service]
Type=simple
EnvironmentFile=%h/.config/usage-ledger/cliproxy.env
ExecStart=${systemdLine(setup.collectWords)}
# SIGTERM commits what is spooled, then exits 0.
KillSignal=SIGTERM
TimeoutStopSec=120
# A crash restarts it; its own errors (a refused key, a bad URL) do not.
Restart=on-abnormal
RestartSec=30
Nice=10

[Install]
WantedBy=default.target
`
}

/**
 * The collector as a launchd agent: the key comes from git's credential helper (the macOS
 * Keychain with osxkeychain), so the plist holds no secret; restarted only after a crash.
 */
function launchdCollectSnippet(setup: RecordSetup): string {
  const label = 'dev.usage-ledger.cliproxy'
  const url = setup.cliproxyUrl ?? DEFAULT_QUEUE
  const host = url.replace(/^redis:\/\//, '').replace(/\/.*$/, '')
  const args = setup.collectWords.map((w) => `    <string>${xml(w)}</string>`).join('\n')
  const log = `${setup.userHome}/Library/Logs/usage-ledger-cliproxy.log`
  return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<!-- usage-ledger: follow CLIProxyAPI's usage queue. The management key is not in this file: store it
     once in the Keychain through git's credential helper (osxkeychain):
       printf 'protocol=redis\\nhost=${xml(host)}\\nusername=usage-ledger\\npassword=<management key>\\n\\n' | git credential approve
     Save this as ~/Library/LaunchAgents/${label}.plist, then:
     launchctl bootstrap gui/$(id -u) ~/Library/LaunchAgents/${label}.plist -->
<plist version="1.0">
<dict>
  <key>Label</key>
  <string>${label}</string>
  <key>ProgramArguments</key>
  <array>
${args}
  </array>
  <key>EnvironmentVariables</key>
  <dict>
    <key>USAGE_LEDGER_CLIPROXY_URL</key>
    <string>${xml(url)}</string>
  </dict>
  <key>RunAtLoad</key>
  <true/>
  <!-- Restarted after a crash, not after its own errors (a refused key would get the address banned). -->
  <key>KeepAlive</key>
  <dict>
    <key>Crashed</key>
    <true/>
  </dict>
  <key>ExitTimeOut</key>
  <integer>120</integer>
  <key>ProcessType</key>
  <string>Background</string>
  <key>StandardOutPath</key>
  <string>/dev/null</string>
  <key>StandardErrorPath</key>
  <string>${xml(log)}</string>
</dict>
</plist>
`
}
