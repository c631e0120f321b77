/** `--git auto|system|iso` (config `git.backend`), parsed without loading any backend. */
import { usageError } from '../errors.js'
import type { BackendName } from './backend.js'

export type BackendChoice = BackendName | 'auto'

export function parseBackendChoice(v: unknown): BackendChoice {
  if (v === undefined || v === null || v === '') return 'auto'
  if (v === 'auto' || v === 'system' || v === 'iso') return v
  throw usageError('BAD_GIT_BACKEND', `unknown git backend "${String(v)}"; use --git auto, system or iso`)
}
