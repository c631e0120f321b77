/**
 * The one way to name a device on the command line (`report --device`, `verify --device`,
 * `fetch --accept-rewrite`): its id, a unique prefix of its id, or its display name.
 * An unknown or ambiguous name is bad usage (exit 2) and lists the candidates.
 */
import { usageError } from '../../errors.js'

export interface DeviceCandidate {
  id: string
  name: string | null
}

/** The shortest id prefix taken as one: shorter hex strings are too easily meant as something else. */
export const MIN_PREFIX = 4

const describe = (d: DeviceCandidate) => (d.name ? `${d.id} (${d.name})` : d.id)

function listed(ds: DeviceCandidate[], max = 10): string {
  const shown = ds.slice(0, max).map(describe).join(', ')
  return ds.length > max ? `${shown} and ${ds.length - max} more` : shown
}

/**
 * Resolves one name to a device id. In order: the whole id; a device's name (several devices
 * with that name: ambiguous); `this` (the device this store records as, when given); a unique
 * id prefix of at least MIN_PREFIX characters.
 */
export function resolveDevice(
  flag: string,
  wanted: string,
  candidates: DeviceCandidate[],
  thisDevice?: string,
): string {
  const w = wanted.trim()
  const byId = candidates.find((d) => d.id === w)
  if (byId) return byId.id
  const byName = candidates.filter((d) => d.name === w)
  if (byName.length === 1) return byName[0]!.id
  if (byName.length > 1) {
    throw usageError(
      'AMBIGUOUS_DEVICE',
      `${flag} ${w}: ${byName.length} devices are named "${w}": ${listed(byName)}; give the id (or a unique prefix of it) instead`,
    )
  }
  if (w === 'this' && thisDevice && candidates.some((d) => d.id === thisDevice)) return thisDevice
  const lower = w.toLowerCase()
  const byPrefix =
    /^[0-9a-f]+$/.test(lower) && lower.length >= MIN_PREFIX ? candidates.filter((d) => d.id.startsWith(lower)) : []
  if (byPrefix.length === 1) return byPrefix[0]!.id
  if (byPrefix.length > 1) {
    throw usageError(
      'AMBIGUOUS_DEVICE',
      `${flag} ${w}: ${byPrefix.length} devices have ids starting with "${w}": ${listed(byPrefix)}; give more of the id`,
    )
  }
  const known = candidates.length ? `the devices are ${listed(candidates)}` : 'there are no devices yet'
  throw usageError(
    'UNKNOWN_DEVICE',
    `${flag} ${w}: no such device (no device "${w}" in the ledger by id, id prefix of ${MIN_PREFIX}+ characters or name); ${known}; see usage-ledger devices`,
  )
}

/** Resolves every name of a repeatable, comma-separable option; ids in order, each once. */
export function resolveDevices(
  flag: string,
  wanted: string[],
  candidates: DeviceCandidate[],
  thisDevice?: string,
): string[] {
  const ids: string[] = []
  for (const w of wanted
    .flatMap((d) => d.split(','))
    .map((d) => d.trim())
    .filter(Boolean)) {
    const id = resolveDevice(flag, w, candidates, thisDevice)
    if (!ids.includes(id)) ids.push(id)
  }
  return ids
}

/** Devices that share their display name with another one: name → their ids. */
export function sharedNames(devices: DeviceCandidate[]): Map<string, string[]> {
  const by = new Map<string, string[]>()
  for (const d of devices) if (d.name) by.set(d.name, [...(by.get(d.name) ?? []), d.id])
  for (const [name, ids] of by) if (ids.length < 2) by.delete(name)
  return by
}
