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

// crypto.hash (Node 20.12+) hashes a small input in a third of the time of createHash, which
// a backfill pays once per record (its id).
export const sha256hex = (s: string | Uint8Array): string => {
  const c = load()
  return c.hash ? c.hash('sha256', s as string, 'hex') : c.createHash('sha256').update(s).digest('hex')
}

/** The first `bytes` of a sha256 as hex. */
export const sha256prefix = (s: string, bytes: number): string => sha256hex(s).slice(0, bytes * 2)

/** md5 as hex: only to match an agent's own names (Kimi CLI names work dirs by their path's md5). */
export const md5hex = (s: string): string => load().createHash('md5').update(s).digest('hex')

export const randomHex = (bytes: number) => load().randomBytes(bytes).toString('hex')
