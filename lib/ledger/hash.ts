/**
 * sha256, the one hash of the ledger (ids, privacy hashes, the sealed digest). node:crypto
 * is loaded on first use: a `record` with nothing new never hashes, and loading it is a
 * measurable part of such a run.
 */
import { createRequire } from 'node:module'
import type { Hash } from 'node:crypto'

let crypto: typeof import('node:crypto') | undefined
const load = () => (crypto ??= createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto'))

export const newSha256 = (): Hash => load().createHash('sha256')

/** git's object hash (verify recomputes object ids). */
export const newSha1 = (): Hash => load().createHash('sha1')

export const sha256hex = (s: string | Uint8Array) => newSha256().update(s).digest('hex')

/** The first `bytes` of a sha256 as hex; a fresh string, not a slice pinning the full digest. */
export const sha256prefix = (s: string, bytes: number) => newSha256().update(s).digest().toString('hex', 0, bytes)

export const randomHex = (bytes: number) => load().randomBytes(bytes).toString('hex')
