/** Running one collector over a copy of the fixtures, as the collector tests do. */
import fs from 'node:fs'
import { createHash } from 'node:crypto'
import path from 'node:path'
import type { Env } from '../../lib/env.js'
import { collect, Batch, type SourceCursors } from '../../lib/collect/index.js'
import type { FileSource } from '../../lib/collect/types.js'
import type { LedgerRecord } from '../../lib/ledger/record.js'
import type { Totals } from './cli.js'
import { FIXTURES } from './cli.js'

/** A fresh copy of fixtures/<which> under `root` (a t.testdir()); returns its path. */
export function copyFixture(root: string, which: string, name: string = which): string {
  const dst = path.join(root, name)
  fs.cpSync(path.join(FIXTURES, which), dst, { recursive: true })
  return dst
}

/** One collect run of `source`: its records, the batch, the new cursors and the source's stats. */
export function collectOnce(env: Env, source: FileSource, cursors: Record<string, SourceCursors> = {}) {
  const batch = new Batch()
  const res = collect(env, [source], cursors, batch, '')
  return { records: batch.records(), batch, cursors: res.cursors, stats: res.stats[source.name]! }
}

/** Token sums of records grouped by `key` (a UTC day, a model…), for comparing with expected.json. */
export function sumBy(records: LedgerRecord[], key: (r: LedgerRecord) => string): Record<string, Totals> {
  const out: Record<string, Totals> = {}
  for (const r of records) {
    const s = (out[key(r)] ??= { records: 0, input: 0, output: 0, cacheWrite: 0, cacheRead: 0, totalTokens: 0 })
    s.records++
    s.input += r.input
    s.output += r.output
    s.cacheWrite += r.cacheWrite
    s.cacheRead += r.cacheRead
    s.totalTokens += r.input + r.output + r.cacheWrite + r.cacheRead
  }
  return out
}

/** Ids and privacy hashes by DESIGN §4's formulas, computed apart from lib/. */
export const sha256 = (s: string) => createHash('sha256').update(s).digest('hex')
export const recordIdOf = (source: string, nativeKey: string) => sha256(`${source}\n${nativeKey}`).slice(0, 32)
export const hash16 = (s: string) => sha256(`usage-ledger/project/v1\0${s}`).slice(0, 16)
export const byTs = (a: LedgerRecord, b: LedgerRecord) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0)

/** A source's records against its fixtures/expected.json entry: per UTC day, in total, per model. */
export function sameSumsAsExpected(
  t: { same(found: unknown, wanted: unknown, msg: string): unknown },
  records: LedgerRecord[],
  exp: { days: unknown; totals: unknown; models: unknown },
): void {
  t.same(
    sumBy(records, (r) => r.ts.slice(0, 10)),
    exp.days,
    'per UTC day',
  )
  t.same(sumBy(records, () => 'all').all, exp.totals, 'totals')
  t.same(
    sumBy(records, (r) => r.model),
    exp.models,
    'per model',
  )
}

/** One record as a source's expected.json lists it: its native key, hashes' inputs and counts. */
export interface ExpectedRecord {
  label: string
  nativeKey: string
  session: string
  project: string
  ts: string
  model: string
  input: number
  output: number
  cacheWrite: number
  cacheRead: number
  reasoning?: number
}
