/**
 * The one error type. `code` names the failure; `kind` decides the exit code, which only the
 * CLI maps (DESIGN §7): usage/input → 2, operational → 1, integrity → 3.
 */
export type ErrorKind = 'usage' | 'input' | 'operational' | 'integrity'

/** Every code a `LedgerError` carries; `--json` prints it as `code` of usage-ledger/error@1 (DESIGN §7). */
export type ErrorCode =
  | 'AMBIGUOUS_DEVICE'
  | 'AUTH_FAILED'
  | 'BAD_CONFIG'
  | 'BAD_DATE'
  | 'BAD_DEVICE_ID'
  | 'BAD_GIT_BACKEND'
  | 'BAD_GROUP'
  | 'BAD_MANIFEST'
  | 'BAD_RANGE'
  | 'BAD_REMOTE'
  | 'BAD_REPO'
  | 'BAD_STATE'
  | 'BAD_STDIN'
  | 'BAD_TIMEZONE'
  | 'CANNOT_MOVE_RECORDS'
  | 'CONFIG_TOO_NEW'
  | 'CONFIRM'
  | 'DEVICE_EXISTS'
  | 'DEVICE_ID_COLLISION'
  | 'DEVICE_ID_FROM_ENV'
  | 'FOLLOW_FETCH'
  | 'FOLLOW_NEEDS_REPO'
  | 'FOLLOW_NO_BRANCH'
  | 'FOLLOW_NO_REMOTE'
  | 'FORGET_SELF'
  | 'GIT_BAD_OBJECT'
  | 'GIT_FAILED'
  | 'GIT_MISSING_OBJECT'
  | 'GIT_SPAWN'
  | 'HOME_UNWRITABLE'
  | 'HOOKS_FOLLOW'
  | 'HOOKS_TARGET'
  | 'HOOK_CHAIN_TAKEN'
  | 'HOOK_MISSING'
  | 'INTERNAL'
  | 'ISO_REMOTE'
  | 'LEDGER_TOO_NEW'
  | 'LOCKED'
  | 'LOCK_FAILED'
  | 'NEW_DEVICE_WITH_ID'
  | 'NOT_A_LEDGER'
  | 'NO_NAME'
  | 'NO_REMOTE'
  | 'NO_STORE'
  | 'OWN_BRANCH_REWRITTEN'
  | 'PRICES_MISSING'
  | 'PUSH_REJECTED'
  | 'REF_STALE'
  | 'REMOTE_DIFFERS'
  | 'REMOTE_NOT_FOUND'
  | 'REMOTE_UNREACHABLE'
  | 'REPO_UNSUPPORTED'
  | 'SQLITE_UNAVAILABLE'
  | 'STATE_TOO_NEW'
  | 'STDIN_SOURCE'
  | 'UNKNOWN_DEVICE'
  | 'UNKNOWN_SOURCE'
  | 'URL_WITH_CREDENTIALS'
  | 'UNKNOWN_SCHEMA'
  | 'CLIPROXY_AUTH'
  | 'CLIPROXY_KEY_REFUSED'
  | 'CLIPROXY_NO_KEY'
  | 'CLIPROXY_NO_URL'
  | 'CLIPROXY_PROTOCOL'
  | 'CLIPROXY_UNREACHABLE'
  | 'CLIPROXY_URL'
  | 'REDIS_CLIENT_UNAVAILABLE'
  | 'BAD_INTERVAL'
  | 'NOT_A_TERMINAL'
  | 'WATCH_WITH_JSON'
  | 'LIVE_NEEDS_BLOCKS'

export class LedgerError extends Error {
  readonly code: ErrorCode
  readonly kind: ErrorKind
  /** Extra lines shown after the message (e.g. every bad stdin line). */
  readonly details: string[]

  constructor(
    kind: ErrorKind,
    code: ErrorCode,
    message: string,
    details: string[] = [],
    options?: { cause?: unknown },
  ) {
    super(message, options)
    this.name = 'LedgerError'
    this.kind = kind
    this.code = code
    this.details = details
  }
}

/** Whether `e` is a `LedgerError`, with one of `codes` when any are given. */
export function isLedgerError(e: unknown, ...codes: ErrorCode[]): e is LedgerError {
  return e instanceof LedgerError && (codes.length === 0 || codes.includes(e.code))
}

export const usageError = (code: ErrorCode, message: string, details?: string[]) =>
  new LedgerError('usage', code, message, details)
export const inputError = (code: ErrorCode, message: string, details?: string[]) =>
  new LedgerError('input', code, message, details)
export const opError = (code: ErrorCode, message: string, cause?: unknown) =>
  new LedgerError('operational', code, message, [], { cause })
