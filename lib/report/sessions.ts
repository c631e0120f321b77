/**
 * What a person sees beside the hashes (DESIGN §4 privacy): the directory name of a project and
 * a session's id, from this machine's own map (lib/store/names.ts, never pushed), and a
 * session's start, end and models, from the report's rows themselves (so on every machine).
 */
import { DIM, type Period, type Row, type Rows } from './aggregate.js'

/** A report row with what is known about its project and session. All optional, all added fields (DESIGN §7). */
export interface NamedRow extends Row {
  /** The directory name of the row's project, where this machine knows it. */
  projectName?: string
  /** Session rows: the tool's session id, where this machine knows it. */
  sessionId?: string
  /**
   * Session rows: local `YYYY-MM-DDTHH:MM` (in --tz) of the quarter hour of the first response, and the end of the last
   * one's: every response lies in [start, end).
   */
  start?: string
  end?: string
  /** Session rows: the models, most tokens first. */
  models?: string[]
}

const QUARTER = 900_000

interface SessionInfo {
  first: number
  last: number
  models: Map<string, number>
  projects: Map<string, number>
}

export interface NameMaps {
  projects: Record<string, string>
  sessions: Record<string, string>
}

export interface NameOptions {
  period: Period
  /** Local `YYYY-MM-DDTHH:MM` of an instant in the report's zone. */
  localTime: (ms: number) => string
  since?: string
  until?: string
  names: NameMaps
  /** The rows the report aggregated (only read for session reports). */
  source: Rows
  /** The report counts failed calls (else a session's times and models leave them out). */
  includeFailed?: boolean
}

/**
 * Per session: its first and last quarter hour, its models and projects by tokens, over the rows inside the report's
 * days.
 */
function sessionInfo(o: NameOptions): Map<string, SessionInfo> {
  const out = new Map<string, SessionInfo>()
  const dayOk = new Map<number, boolean>()
  o.source.each((r) => {
    if (r.failed && !o.includeFailed) return
    const q = Math.floor(r.ms / QUARTER) * QUARTER
    let ok = dayOk.get(q)
    if (ok === undefined) {
      const day = o.localTime(q).slice(0, 10)
      dayOk.set(q, (ok = !((o.since && day < o.since) || (o.until && day > o.until))))
    }
    if (!ok) return
    const dim = o.source.dims[r.dim]!
    const model = dim[DIM.model]!,
      project = dim[DIM.project]
    const key = dim[DIM.session] || '(none)'
    let s = out.get(key)
    if (!s) out.set(key, (s = { first: q, last: q, models: new Map(), projects: new Map() }))
    if (q < s.first) s.first = q
    if (q > s.last) s.last = q
    const tokens = r.input + r.output + r.cacheWrite + r.cacheRead
    s.models.set(model, (s.models.get(model) ?? 0) + tokens)
    if (project) s.projects.set(project, (s.projects.get(project) ?? 0) + tokens)
  })
  return out
}

const byTokens = (m: Map<string, number>) =>
  [...m].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([k]) => k)

/** The rows with names, and for session reports their start, end, models and main project. */
export function nameRows(rows: Row[], groupedByProject: boolean, o: NameOptions): NamedRow[] {
  const sessions = o.period === 'session' ? sessionInfo(o) : null
  return rows.map((row) => {
    const r: NamedRow = { ...row }
    if (sessions) {
      const s = sessions.get(row.period)
      if (s) {
        const main = byTokens(s.projects)[0]
        if (!groupedByProject && main) r.project = main
        r.start = o.localTime(s.first)
        r.end = o.localTime(s.last + QUARTER)
        r.models = byTokens(s.models)
      }
      const id = o.names.sessions[row.period]
      if (id) r.sessionId = id
    }
    const name = r.project ? o.names.projects[r.project] : undefined
    if (name) r.projectName = name
    return r
  })
}

/**
 * What a table shows for each project hash of the rows: its name where known (with the first
 * characters of the hash when two projects share a directory name), else the hash.
 */
export function projectLabels(rows: NamedRow[]): Map<string, string> {
  const byName = new Map<string, Set<string>>()
  for (const r of rows)
    if (r.project && r.projectName) {
      let s = byName.get(r.projectName)
      if (!s) byName.set(r.projectName, (s = new Set()))
      s.add(r.project)
    }
  const out = new Map<string, string>()
  for (const r of rows) {
    if (!r.project || out.has(r.project)) continue
    out.set(
      r.project,
      r.projectName
        ? byName.get(r.projectName)!.size > 1
          ? `${r.projectName} (${r.project.slice(0, 6)})`
          : r.projectName
        : r.project,
    )
  }
  return out
}
