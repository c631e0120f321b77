/** Where a store lives (DESIGN §6) and its config file. */
import fs from 'node:fs'
import path from 'node:path'
import { inputError } from '../errors.js'
import type { Env } from '../env.js'
import { writeFileAtomic } from './fsutil.js'

export interface HomePaths {
  home: string
  gitdir: string
  state: string
  index: string
  config: string
  lock: string
  cursors: string
  known: string
  verified: string
  /** Heads `verify` last proved (its default mode starts there). */
  proved: string
  /** Device heads that failed the checks, and rewrites accepted on request. */
  quarantine: string
  /** Names behind this machine's project and session hashes (never pushed; lib/store/names.ts). */
  names: string
}

export function resolveHome(env: Env, flag?: string): string {
  if (flag) return path.resolve(env.cwd, flag)
  const v = env.vars
  if (v.USAGE_LEDGER_HOME) return path.resolve(env.cwd, v.USAGE_LEDGER_HOME)
  // The XDG spec: a relative XDG_DATA_HOME is invalid and ignored.
  if (v.XDG_DATA_HOME && path.isAbsolute(v.XDG_DATA_HOME)) return path.join(v.XDG_DATA_HOME, 'usage-ledger')
  return path.join(env.userHome, '.local', 'share', 'usage-ledger')
}

export function homePaths(home: string): HomePaths {
  const state = path.join(home, 'state')
  return {
    home,
    gitdir: path.join(home, 'repo.git'),
    state,
    index: path.join(home, 'index'),
    config: path.join(home, 'config.json'),
    lock: path.join(state, 'lock'),
    cursors: path.join(state, 'cursors.json'),
    known: path.join(state, 'known'),
    verified: path.join(state, 'verified.json'),
    proved: path.join(state, 'proved.json'),
    quarantine: path.join(state, 'quarantine.json'),
    names: path.join(state, 'names.json'),
  }
}

export const CONFIG_VERSION = 1

/** config.json. Never holds secrets: tokens come from the environment or git's credential helper. */
export interface Config {
  v: 1
  deviceId?: string
  /** Random, one per store: written into device.json so a store can tell its own commits from another's. */
  installId?: string
  deviceName?: string
  remote?: string
  timezone?: string
  git?: { backend?: 'auto' | 'system' | 'iso' }
  record?: { minInterval?: number }
  /**
   * `shareNames`: let other machines show this one's project and session names (off by default; not implemented yet,
   * see README).
   */
  privacy?: { salt?: string; shareNames?: boolean }
  /** Price overrides, USD per million tokens, by model prefix (see lib/report/prices.ts). */
  prices?: Record<string, Record<string, unknown>>
  /** Optional limits shown by status as percentages. */
  limits?: { block?: { tokens?: number; costUSD?: number }; week?: { tokens?: number; costUSD?: number } }
  /**
   * Sources that are not files: `cliproxy.url` (redis://HOST:PORT, CLIProxyAPI's usage queue) and
   * `cliproxy.interval` (seconds between the collector's commits). Never a key: it is refused.
   */
  sources?: { cliproxy?: { url?: string; interval?: number } & Record<string, unknown> }
  /** `statusline`: its line (placeholders, see lib/report/statusline.ts) and how old its cache may get, in minutes. */
  statusline?: { format?: string; refreshMinutes?: number }
}

export function readConfig(file: string): Config {
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { v: 1 }
    throw e
  }
  let o: unknown
  try {
    o = JSON.parse(text)
  } catch (e) {
    throw inputError('BAD_CONFIG', `${file} is not valid JSON (${(e as Error).message}); fix or delete it`)
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o))
    throw inputError('BAD_CONFIG', `${file} must hold a JSON object; fix or delete it`)
  const c = o as Config
  if (c.v !== undefined && c.v > CONFIG_VERSION)
    throw inputError(
      'CONFIG_TOO_NEW',
      `${file} was written by a newer usage-ledger (config v${c.v}); upgrade usage-ledger`,
    )
  // Hand edits: a non-string here would reach the ledger (device.json) or crash a command.
  for (const k of ['remote', 'deviceName', 'deviceId', 'installId', 'timezone'] as const) {
    if (c[k] !== undefined && typeof c[k] !== 'string')
      throw inputError('BAD_CONFIG', `${file}: "${k}" must be a string, not ${JSON.stringify(c[k])}; fix or delete it`)
  }
  const share = (c.privacy as { shareNames?: unknown } | undefined)?.shareNames
  if (share !== undefined && typeof share !== 'boolean')
    throw inputError(
      'BAD_CONFIG',
      `${file}: "privacy.shareNames" must be true or false, not ${JSON.stringify(share)}; fix or delete it`,
    )
  return { ...c, v: 1 }
}

export function writeConfig(file: string, config: Config): void {
  writeFileAtomic(file, `${JSON.stringify(config, null, 2)}\n`)
}

/** Creates config.json only if there is none (atomically: two first runs never both win); false when one exists. */
export function createConfig(file: string, config: Config): boolean {
  const tmp = `${file}.new-${process.pid}-${Math.random().toString(36).slice(2, 8)}`
  writeFileAtomic(tmp, `${JSON.stringify(config, null, 2)}\n`)
  try {
    fs.linkSync(tmp, file)
    return true
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw e
  } finally {
    fs.rmSync(tmp, { force: true })
  }
}
