/**
 * The names behind this machine's hashes (DESIGN §4 privacy): `state/names.json` maps a
 * project hash to the directory name of its cwd and a session hash to the session id, so
 * reports on the machine that recorded them can show more than hashes. It lives in the store's
 * state, never in the repository: nothing of it is committed or pushed (with config
 * privacy.shareNames, `record` commits the project names alone, lib/ledger/names.ts). Written by
 * `record` from what the collectors saw; losing it loses only the names.
 */
import { readJsonIfExists, writeFileAtomic } from './fsutil.js'
import type { GitBackend } from '../git/backend.js'
import { readEntryAt } from '../git/tree.js'
import { deviceDir } from '../ledger/paths.js'
import { parseSharedNames, SHARED_NAMES_FILE } from '../ledger/names.js'

export const NAMES_VERSION = 1

export interface Names {
  v: 1
  /** project hash (16 hex) → directory name (the last component of the cwd) */
  projects: Record<string, string>
  /** session hash (16 hex) → the tool's session id */
  sessions: Record<string, string>
}

const empty = (): Names => ({ v: 1, projects: {}, sessions: {} })
const HASH = /^[0-9a-f]{16}$/

/** The map; a missing, damaged or newer file is no names (reports then show hashes). */
export function loadNames(file: string): Names & { newer?: boolean } {
  let f: Partial<Names> | undefined
  try {
    f = readJsonIfExists<Partial<Names>>(file)
  } catch {
    return empty()
  }
  if (!f || typeof f !== 'object') return empty()
  if (typeof f.v === 'number' && f.v > NAMES_VERSION) return { ...empty(), newer: true }
  const clean = (o: unknown): Record<string, string> => {
    const out: Record<string, string> = {}
    if (o && typeof o === 'object')
      for (const [k, v] of Object.entries(o)) if (HASH.test(k) && typeof v === 'string') out[k] = v
    return out
  }
  return { v: 1, projects: clean(f.projects), sessions: clean(f.sessions) }
}

/**
 * Adds names `record` saw (the caller holds the store lock); writes only when one is new or
 * changed. A file written by a newer usage-ledger is left alone.
 */
export function addNames(
  file: string,
  projects: ReadonlyMap<string, string>,
  sessions: ReadonlyMap<string, string>,
): boolean {
  if (!projects.size && !sessions.size) return false
  const cur = loadNames(file)
  if (cur.newer) return false
  let changed = false
  for (const [map, into] of [
    [projects, cur.projects],
    [sessions, cur.sessions],
  ] as const) {
    for (const [hash, name] of map)
      if (into[hash] !== name) {
        into[hash] = name
        changed = true
      }
  }
  if (changed)
    writeFileAtomic(file, `${JSON.stringify({ v: NAMES_VERSION, projects: cur.projects, sessions: cur.sessions })}\n`)
  return changed
}

/**
 * The project names other devices share (`devices/<id>/names.json` at each head, written only
 * with their config privacy.shareNames); a device's own map wins over these.
 */
export async function sharedProjectNames(
  git: GitBackend,
  heads: Array<{ id: string; head: string }>,
): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const { id, head } of heads) {
    try {
      const entry = await readEntryAt(git, (await git.readCommit(head)).tree, `${deviceDir(id)}/${SHARED_NAMES_FILE}`)
      if (entry) Object.assign(out, parseSharedNames((await git.readBlob(entry.oid)).toString('utf8')))
    } catch {
      /* an unreadable file is no names */
    }
  }
  return out
}
