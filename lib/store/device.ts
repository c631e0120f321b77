/** Device identity (DESIGN §3): a stable id derived from the machine id, never the raw id. */
import fs from 'node:fs'
import { createRequire } from 'node:module'
import { randomHex, sha256hex } from '../ledger/hash.js'
import { DEVICE_ID_RE } from '../ledger/paths.js'
import { usageError } from '../errors.js'
import type { Env } from '../env.js'
import type { Config } from './home.js'

export function deviceIdFromMachineId(machineId: string): string {
  return sha256hex('usage-ledger/device/v1\0' + machineId).slice(0, 32)
}

function readFirst(files: string[]): string | null {
  for (const f of files) {
    try {
      const s = fs.readFileSync(f, 'utf8').trim()
      if (s) return s
    } catch { /* try the next */ }
  }
  return null
}

// Only macOS and Windows need a subprocess for their id; Linux reads a file.
const execFileSync = (cmd: string, args: string[], opts: object): string =>
  (createRequire(import.meta.url)('node:child_process') as typeof import('node:child_process')).execFileSync(cmd, args, opts) as unknown as string

/** The platform's machine id, or null when none can be read. */
export function machineId(platform: NodeJS.Platform): string | null {
  try {
    if (platform === 'linux') return readFirst(['/etc/machine-id', '/var/lib/dbus/machine-id'])
    if (platform === 'darwin') {
      const out = execFileSync('ioreg', ['-rd1', '-c', 'IOPlatformExpertDevice'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      return /"IOPlatformUUID" = "([^"]+)"/.exec(out)?.[1] ?? null
    }
    if (platform === 'win32') {
      const out = execFileSync('reg', ['query', 'HKLM\\SOFTWARE\\Microsoft\\Cryptography', '/v', 'MachineGuid'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      return /MachineGuid\s+REG_SZ\s+(\S+)/.exec(out)?.[1] ?? null
    }
  } catch { /* fall through to a random id */ }
  return null
}

export function checkDeviceId(id: string, where: string): string {
  if (!DEVICE_ID_RE.test(id)) throw usageError('BAD_DEVICE_ID', `${where}: device id "${id}" must be 32 lowercase hex characters`)
  return id
}

/**
 * Precedence: --device-id, USAGE_LEDGER_DEVICE_ID, the id saved in config, the machine id,
 * a random id (saved by the caller in config so it stays stable).
 */
export function resolveDeviceId(env: Env, config: Config, flag?: string): { id: string; fromRandom: boolean } {
  if (flag) return { id: checkDeviceId(flag, '--device-id'), fromRandom: false }
  const v = env.vars.USAGE_LEDGER_DEVICE_ID
  if (v) return { id: checkDeviceId(v, 'USAGE_LEDGER_DEVICE_ID'), fromRandom: false }
  if (config.deviceId) return { id: checkDeviceId(config.deviceId, 'config.json deviceId'), fromRandom: false }
  const mid = machineId(env.platform)
  if (mid) return { id: deviceIdFromMachineId(mid), fromRandom: false }
  return { id: randomHex(16), fromRandom: true }
}
