/** The remote of a store and its credentials (DESIGN §6): tokens never touch our files. */
import { usageError } from '../../errors.js'
import type { Env } from '../../env.js'
import type { Remote } from '../../git/backend.js'

const TOKEN_QUERY_RE = /[?&;](?:access_token|token|private_token|oauth_token)=/i

/** Refuses URLs carrying credentials: they would end up in config.json and in git's logs. */
export function checkRemoteUrl(url: string): string {
  const m = /^([a-z][a-z0-9+.-]*):\/\/([^/@]*)@/i.exec(url)
  if (m && /^https?$/i.test(m[1]!)) {
    throw usageError(
      'URL_WITH_CREDENTIALS',
      "the remote URL carries credentials; give the URL without them and the token in USAGE_LEDGER_TOKEN (or git's credential helper)",
    )
  }
  // A token in the query (`?access_token=`, `?token=`, GitLab's `private_token=`) is a credential too.
  if (TOKEN_QUERY_RE.test(url)) {
    throw usageError(
      'URL_WITH_CREDENTIALS',
      "the remote URL carries a token in its query; give the URL without it and the token in USAGE_LEDGER_TOKEN (or git's credential helper)",
    )
  }
  if (!url.trim()) throw usageError('BAD_REMOTE', 'the remote URL is empty')
  return url
}

/** `git credential fill` for an HTTP(S) URL; null when git or a helper has nothing. */
async function credentialFill(url: string, env: Env): Promise<string | null> {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    return null
  }
  // Imported when a token is asked for: node:child_process (with net, streams and readline behind
  // it) stays unloaded in a `record` with nothing new, which imports this module for its push.
  const { credentialFill: fill } = await import('../../git/system.js')
  return fill({ protocol: u.protocol.replace(':', ''), host: u.host, path: u.pathname.replace(/^\//, '') }, env.vars)
}

/** Seconds without a byte from the remote before a network call gives up (0: never). */
export const DEFAULT_NET_TIMEOUT = 30

/** USAGE_LEDGER_NET_TIMEOUT (seconds, 0 = never); the default when unset or not a number. */
export function netTimeout(env: Env): number {
  const v = Number(env.vars.USAGE_LEDGER_NET_TIMEOUT)
  return env.vars.USAGE_LEDGER_NET_TIMEOUT && Number.isFinite(v) && v >= 0 ? v : DEFAULT_NET_TIMEOUT
}

export async function resolveRemote(url: string, env: Env): Promise<Remote> {
  checkRemoteUrl(url)
  const timeoutSec = netTimeout(env)
  const token = env.vars.USAGE_LEDGER_TOKEN
  if (token) return { url, token, timeoutSec }
  if (/^https?:\/\//i.test(url)) {
    const filled = await credentialFill(url, env)
    if (filled) return { url, token: filled, timeoutSec }
  }
  return { url, timeoutSec }
}
