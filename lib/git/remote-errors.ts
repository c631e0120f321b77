/** One clear error per way a remote can fail, for both backends (DESIGN §7: exit 1). */
import { LedgerError } from '../errors.js'
import { redactUrl } from './backend.js'

export const authFailed = (url: string) =>
  new LedgerError(
    'operational',
    'AUTH_FAILED',
    `${redactUrl(url)} refused the credentials (401/403); set USAGE_LEDGER_TOKEN or store a token with git's credential helper`,
  )

export const unreachable = (url: string, why: string) =>
  new LedgerError(
    'operational',
    'REMOTE_UNREACHABLE',
    `${redactUrl(url)} is unreachable (${why}); commits stay local and are pushed next time`,
  )

export const timedOut = (url: string, why: string) =>
  new LedgerError(
    'operational',
    'REMOTE_UNREACHABLE',
    `${redactUrl(url)} timed out (${why}); commits stay local and are pushed next time; if the remote is only slow, raise USAGE_LEDGER_NET_TIMEOUT (seconds)`,
  )

export const serverError = (url: string, why: string) =>
  new LedgerError(
    'operational',
    'REMOTE_UNREACHABLE',
    `${redactUrl(url)} failed on its side (${why}); commits stay local and are pushed next time`,
  )

export const notFound = (url: string, why: string) =>
  new LedgerError(
    'operational',
    'REMOTE_NOT_FOUND',
    `${redactUrl(url)} has no such repository (${why}); check the remote URL in config.json ` +
      `(usage-ledger init --remote URL) and that USAGE_LEDGER_TOKEN may read it; commits stay local`,
  )

export const pushRejected = (url: string, ref: string) =>
  new LedgerError(
    'operational',
    'PUSH_REJECTED',
    `${redactUrl(url)} rejected ${ref} as not a fast-forward: the remote's branch has commits this store lacks; ` +
      `nothing recorded is lost: run usage-ledger fetch to see whether another store writes as this device or the branch was rewritten`,
  )

/**
 * git's own words, whole: every non-empty line of what it printed (ssh and the remote side
 * speak through it too), with no URL credentials; for the lines after an error's message.
 */
export function gitErrorLines(stderr: string, max = 40): string[] {
  const lines = stderr
    .replace(/\r/g, '')
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l.trim())
    .map((l) => l.replace(/(\b[a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/gi, '$1'))
  return lines.length > max ? [...lines.slice(0, max), `… ${lines.length - max} more lines`] : lines
}

/**
 * An unclassified failure of a git command: the message names the command and git's first
 * line of substance (an ssh host-key failure says so, not "…and the repository exists."); the
 * details carry everything git printed.
 */
export function gitFailed(what: string, stderr: string, code: number, oneLine = false): LedgerError {
  const lines = gitErrorLines(stderr)
  // A local plumbing command: all it said, on the one line (a full disk names itself there).
  if (oneLine) {
    const all = lines
      .map((l) =>
        l
          .trim()
          .replace(/^(fatal|error): /, '')
          .replace(/[.\s]+$/, ''),
      )
      .join('; ')
    return new LedgerError('operational', 'GIT_FAILED', `${what} failed: ${all.slice(0, 600) || `exit ${code}`}`)
  }
  const boiler =
    /^(fatal: Could not read from remote repository\.?|Please make sure you have the correct access rights|and the repository exists\.?)$/i
  const said = lines.filter((l) => !boiler.test(l.trim()) && /[a-z]/i.test(l))
  // The line that says what went wrong, else git's first words (banners of @@@ say nothing).
  const first =
    said.find((l) =>
      /\b(fail(ed|ure)?|denied|refused|error|fatal|not found|invalid|unable|could not|cannot|no such)\b/i.test(l),
    ) ??
    said[0] ??
    lines[0] ??
    `exit ${code}`
  return new LedgerError(
    'operational',
    'GIT_FAILED',
    `${what} failed: ${first
      .trim()
      .replace(/^(fatal|error): /, '')
      .replace(/[.\s]+$/, '')}`,
    lines.length > 1 ? lines.map((l) => `  git: ${l}`) : [],
  )
}

/** Classifies git's stderr; null when it is none of the above. */
export function classifyGitError(url: string, stderr: string, ref = ''): LedgerError | null {
  // HTTP 404 (GitHub answers it for a private repository the token cannot see too), or a path
  // or ssh remote whose repository is not there.
  const missing =
    /repository '[^'\n]*' not found|Repository not found|does not appear to be a git repository|returned error: 404/i.exec(
      stderr,
    )
  if (missing)
    return notFound(
      url,
      (stderr.split('\n').find((l) => l.includes(missing[0])) ?? missing[0])
        .trim()
        .replace(/^(fatal|error|remote): /, '')
        .slice(0, 200),
    )
  if (
    /HTTP 40[13]|returned error: 40[13]|Authentication failed|could not read Username|terminal prompts disabled|403 Forbidden|401 Unauthorized/i.test(
      stderr,
    )
  )
    return authFailed(url)
  if (/\[rejected\]|non-fast-forward|fetch first|\(stale info\)/i.test(stderr)) return pushRejected(url, ref)
  // curl 28: http.lowSpeedLimit/Time (USAGE_LEDGER_NET_TIMEOUT) ran out.
  const slow = /Operation too slow[^\n]*|Operation timed out[^\n]*/i.exec(stderr)
  if (slow) return timedOut(url, slow[0].replace(/[.\s]+$/, '').slice(0, 200))
  const status = /RPC failed; HTTP (5\d\d)|returned error: (5\d\d)/i.exec(stderr)
  if (status) return serverError(url, `HTTP ${status[1] ?? status[2]}`)
  const offline =
    /Could not resolve host|Connection refused|Failed to connect|Couldn't connect|Connection reset|timed out|No such file or directory|unable to access|Empty reply|remote end hung up|unexpected disconnect|early EOF/i
  if (offline.test(stderr)) {
    // The line that says why (ssh's "connect to host … Connection refused" comes before git's
    // generic "Could not read from remote repository"); push --porcelain adds its stdout after stderr.
    const lines = stderr.replace(/\r/g, '').trim().split('\n').filter(Boolean)
    const line =
      lines.find((l) => offline.test(l)) ??
      [...lines].reverse().find((l) => /^(fatal|error):/.test(l)) ??
      lines.pop() ??
      ''
    return unreachable(
      url,
      line
        .trim()
        .replace(/^(fatal|error): /, '')
        .slice(0, 200),
    )
  }
  return null
}
