/** Where things live in a device's tree (DESIGN §2). */

export const DEVICE_ID_RE = /^[0-9a-f]{32}$/
export const PART_NAME_RE = /^(\d{6})\.ndjson$/

export const ledgerRef = (deviceId: string) => `refs/heads/ledger/${deviceId}`
export const LEDGER_REF_PREFIX = 'refs/heads/ledger/'
export const MERGED_REF = 'refs/heads/merged'

export const deviceDir = (deviceId: string) => `devices/${deviceId}`

/** `2026-11-21` → `2026-11/2026-11-21` relative to the device directory. */
export const dayDir = (day: string) => `${day.slice(0, 7)}/${day}`

export const partName = (n: number) => `${String(n).padStart(6, '0')}.ndjson`

export function partNumber(name: string): number | null {
  const m = PART_NAME_RE.exec(name)
  return m ? Number(m[1]) : null
}

/** A device's limit readings (DESIGN §2): `limits/YYYY-MM/YYYY-MM-DD/NNNNNN.ndjson`. */
export const LIMITS_DIR = 'limits'
export const limitsDayDir = (day: string) => `${LIMITS_DIR}/${dayDir(day)}`
export const LIMITS_PATH_RE = /^limits\/(\d{4}-\d{2})\/(\d{4}-\d{2}-\d{2})\/\d{6}\.ndjson$/
