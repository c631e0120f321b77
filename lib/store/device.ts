/**
 * Device identity (DESIGN §3): a random id per store kept in config; stores made before
 * that keep the id derived from the machine id (never the raw id) that they always used.
 */
import fs from 'node:fs'
import { createRequire } from 'node:module'
import { randomHex, sha256hex } from '../ledger/hash.js'
import { DEVICE_ID_RE } from '../ledger/paths.js'
import { usageError } from '../errors.js'
import type { Env } from '../env.js'
import type { Config } from './home.js'

/** This device as its branch's `device.json` names it (DESIGN §2, §3); the branch writer writes it. */
export interface DeviceInfo {
  id: string
  name: string
  platform: string
  tool: string
  /** The store writing (config `installId`): device.json names it, so stores sharing an id tell each other apart. */
  installId?: string
}

export const TOOL = 'usage-ledger/0.1.0'

export function deviceIdFromMachineId(machineId: string): string {
  return sha256hex(`usage-ledger/device/v1\0${machineId}`).slice(0, 32)
}

function readFirst(files: string[]): string | null {
  for (const f of files) {
    try {
      const s = fs.readFileSync(f, 'utf8').trim()
      if (s) return s
    } catch {
      /* try the next */
    }
  }
  return null
}

// Only macOS and Windows need a subprocess for their id; Linux reads a file.
const execFileSync = (cmd: string, args: string[], opts: object): string =>
  (createRequire(import.meta.url)('node:child_process') as typeof import('node:child_process')).execFileSync(
    cmd,
    args,
    opts,
  ) as unknown as string

/** The platform's machine id, or null when none can be read. */
export function machineId(platform: NodeJS.Platform): string | null {
  try {
    if (platform === 'linux') return readFirst(['/etc/machine-id', '/var/lib/dbus/machine-id'])
    if (platform === 'darwin') {
      const out = execFileSync('ioreg', ['-rd1', '-c', 'IOPlatformExpertDevice'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      })
      return /"IOPlatformUUID" = "([^"]+)"/.exec(out)?.[1] ?? null
    }
    if (platform === 'win32') {
      const out = execFileSync('reg', ['query', 'HKLM\\SOFTWARE\\Microsoft\\Cryptography', '/v', 'MachineGuid'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      })
      return /MachineGuid\s+REG_SZ\s+(\S+)/.exec(out)?.[1] ?? null
    }
  } catch {
    /* fall through to a random id */
  }
  return null
}

export function checkDeviceId(id: string, where: string): string {
  if (!DEVICE_ID_RE.test(id))
    throw usageError('BAD_DEVICE_ID', `${where}: device id "${id}" must be 32 lowercase hex characters`)
  return id
}

export type DeviceIdSource = 'flag' | 'env' | 'config' | 'legacy' | 'new'

/**
 * This store's own id, when no flag or variable overrides it: the id kept in config; for a
 * store made before ids were kept there (it has a repository but neither `deviceId` nor
 * `installId` in config), the machine-derived id it has always used; otherwise a fresh
 * random id. `save`: config does not hold it yet.
 */
export function defaultDeviceId(
  env: Env,
  config: Config,
  legacyStore: boolean,
): { id: string; source: 'config' | 'legacy' | 'new'; save: boolean } {
  if (config.deviceId)
    return { id: checkDeviceId(config.deviceId, 'config.json deviceId'), source: 'config', save: false }
  if (legacyStore && !config.installId) {
    const mid = machineId(env.platform)
    if (mid) return { id: deviceIdFromMachineId(mid), source: 'legacy', save: true }
  }
  return { id: randomHex(16), source: 'new', save: true }
}

/**
 * Precedence: --device-id, USAGE_LEDGER_DEVICE_ID, then the store's own id (`defaultDeviceId`:
 * config, a pre-config store's machine-derived id, or a random one the caller saves).
 */
export function resolveDeviceId(
  env: Env,
  config: Config,
  flag?: string,
  legacyStore = false,
): { id: string; source: DeviceIdSource; own: string; ownSource: 'config' | 'legacy' | 'new'; save: boolean } {
  const own = defaultDeviceId(env, config, legacyStore)
  const base = { own: own.id, ownSource: own.source, save: own.save }
  if (flag) return { id: checkDeviceId(flag, '--device-id'), source: 'flag', ...base }
  const v = env.vars.USAGE_LEDGER_DEVICE_ID
  if (v) return { id: checkDeviceId(v, 'USAGE_LEDGER_DEVICE_ID'), source: 'env', ...base }
  return { id: own.id, source: own.source, ...base }
}
