/** One clear error per way a remote can fail, for both backends (DESIGN §7: exit 1). */
import { LedgerError } from '../errors.js'
import { redactUrl } from './backend.js'

export const authFailed = (url: string) => new LedgerError('operational', 'AUTH_FAILED',
  `${redactUrl(url)} refused the credentials (401/403); set USAGE_LEDGER_TOKEN or store a token with git's credential helper`)

export const unreachable = (url: string, why: string) => new LedgerError('operational', 'REMOTE_UNREACHABLE',
  `${redactUrl(url)} is unreachable (${why}); commits stay local and are pushed next time`)

export const timedOut = (url: string, why: string) => new LedgerError('operational', 'REMOTE_UNREACHABLE',
  `${redactUrl(url)} timed out (${why}); commits stay local and are pushed next time; if the remote is only slow, raise USAGE_LEDGER_NET_TIMEOUT (seconds)`)

export const serverError = (url: string, why: string) => new LedgerError('operational', 'REMOTE_UNREACHABLE',
  `${redactUrl(url)} failed on its side (${why}); commits stay local and are pushed next time`)

export const pushRejected = (url: string, ref: string) => new LedgerError('operational', 'PUSH_REJECTED',
  `${redactUrl(url)} rejected ${ref} as not a fast-forward: the remote's branch has commits this store lacks; ` +
  `nothing recorded is lost: run usage-ledger fetch to see whether another store writes as this device or the branch was rewritten`)

/** Classifies git's stderr; null when it is none of the above. */
export function classifyGitError(url: string, stderr: string, ref = ''): LedgerError | null {
  if (/HTTP 40[13]|Authentication failed|could not read Username|terminal prompts disabled|403 Forbidden|401 Unauthorized/i.test(stderr)) return authFailed(url)
  if (/\[rejected\]|non-fast-forward|fetch first|\(stale info\)/i.test(stderr)) return pushRejected(url, ref)
  // curl 28: http.lowSpeedLimit/Time (USAGE_LEDGER_NET_TIMEOUT) ran out.
  const slow = /Operation too slow[^\n]*|Operation timed out[^\n]*/i.exec(stderr)
  if (slow) return timedOut(url, slow[0].replace(/[.\s]+$/, '').slice(0, 200))
  const status = /RPC failed; HTTP (5\d\d)|returned error: (5\d\d)/i.exec(stderr)
  if (status) return serverError(url, `HTTP ${status[1] ?? status[2]}`)
  if (/Could not resolve host|Connection refused|Failed to connect|Couldn't connect|Connection reset|timed out|does not appear to be a git repository|No such file or directory|unable to access|Empty reply|remote end hung up|unexpected disconnect|early EOF/i.test(stderr)) {
    // git's last fatal/error line says it best (push --porcelain adds its stdout after stderr).
    const lines = stderr.trim().split('\n').filter(Boolean)
    const line = [...lines].reverse().find((l) => /^(fatal|error):/.test(l)) ?? lines.pop() ?? ''
    return unreachable(url, line.replace(/^fatal: /, '').slice(0, 200))
  }
  return null
}
