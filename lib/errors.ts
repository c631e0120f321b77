/**
 * The one error type. `code` names the failure; `kind` decides the exit code, which only the
 * CLI maps (DESIGN §7): usage/input → 2, operational → 1, integrity → 3.
 */
export type ErrorKind = 'usage' | 'input' | 'operational' | 'integrity'

export class LedgerError extends Error {
  readonly code: string
  readonly kind: ErrorKind
  /** Extra lines shown after the message (e.g. every bad stdin line). */
  readonly details: string[]

  constructor(kind: ErrorKind, code: string, message: string, details: string[] = [], options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'LedgerError'
    this.kind = kind
    this.code = code
    this.details = details
  }
}

export const usageError = (code: string, message: string, details?: string[]) =>
  new LedgerError('usage', code, message, details)
export const inputError = (code: string, message: string, details?: string[]) =>
  new LedgerError('input', code, message, details)
export const opError = (code: string, message: string, cause?: unknown) =>
  new LedgerError('operational', code, message, [], { cause })
