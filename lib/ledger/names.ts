/**
 * The shared names file of a device directory, `devices/<id>/names.json` (written only when the
 * device's config sets `privacy.shareNames`): the directory names of the device's projects by
 * their hashes, so other machines' reports can show them. Never session ids, never paths.
 * Rewritten by commits like device.json (never removed); turning sharing off rewrites it empty,
 * but what was pushed stays in the branch's history.
 */
export const SHARED_NAMES_FILE = 'names.json'
export const SHARED_NAMES_VERSION = 1

const HASH = /^[0-9a-f]{16}$/

/** `{"v":1,"projects":{hash:name,…}}` with hashes sorted, one line. */
export function serializeSharedNames(projects: Record<string, string>): string {
  const sorted = Object.fromEntries(
    Object.entries(projects)
      .filter(([h, n]) => HASH.test(h) && typeof n === 'string' && n)
      .sort(([a], [b]) => (a < b ? -1 : 1)),
  )
  return `${JSON.stringify({ v: SHARED_NAMES_VERSION, projects: sorted })}\n`
}

/** The project names of a shared names file; nothing from a damaged or newer one. */
export function parseSharedNames(text: string): Record<string, string> {
  let o: { v?: unknown; projects?: unknown }
  try {
    o = JSON.parse(text) as typeof o
  } catch {
    return {}
  }
  if (!o || typeof o !== 'object' || (typeof o.v === 'number' && o.v > SHARED_NAMES_VERSION)) return {}
  const out: Record<string, string> = {}
  if (o.projects && typeof o.projects === 'object')
    for (const [h, n] of Object.entries(o.projects)) if (HASH.test(h) && typeof n === 'string' && n) out[h] = n
  return out
}
