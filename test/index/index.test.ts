import t from 'tap'
import path from 'node:path'
import { SystemBackend } from '../../lib/git/system.js'
import { appendRecords, type DeviceInfo } from '../../lib/store/writer.js'
import { readIndex, updateIndex, indexRows, indexStats, type IndexData } from '../../lib/index/index.js'
import { EMBEDDED_PRICES } from '../../lib/report/prices.js'
import { aggregate, aggregateRows, type Row } from '../../lib/report/aggregate.js'
import { localTimeIn } from '../../lib/ledger/zone.js'
import { recordId, type LedgerRecord } from '../../lib/ledger/record.js'
import { BestById } from '../../lib/ledger/dedupe.js'

/** A small deterministic PRNG, so a failure reproduces. */
function rng(seed: number) {
  let s = seed >>> 0
  return () => ((s = (Math.imul(s ^ (s >>> 15), 2246822507) + 0x6d2b79f5) >>> 0) / 2 ** 32)
}

const DEVICES = ['1'.repeat(32), '2'.repeat(32), '3'.repeat(32)]
const MODELS = ['claude-sonnet-4-5-20250929', 'gpt-5', 'mystery-model']

/** Index content independent of the order dimensions were first seen in. */
function normalise(idx: IndexData) {
  const src = indexRows(idx, 'calculate')
  const rows: string[] = []
  src.each((ms, dim, ...counts) => { rows.push(`${ms}|${src.dims[dim]!.join('|')}|${counts.slice(0, 5).join('|')}|${counts[5]!.toFixed(9)}`) })
  return { rows: rows.sort(), stats: indexStats(idx), unknown: Object.fromEntries(Object.entries(idx.unknown).sort()) }
}

const rounded = (rows: Row[]) => rows.map((r) => ({ ...r, costUSD: r.costUSD.toFixed(9) }))

t.test('the incrementally updated index equals a full rebuild after random records and fetches', async (t) => {
  for (const seed of [1, 2, 3, 4, 5]) {
    const dir = t.testdir()
    const git = new SystemBackend(path.join(dir, 'repo.git'))
    await git.init()
    const random = rng(seed)
    const all: Array<{ r: LedgerRecord; device: string }> = []
    let clock = Date.parse('2026-11-01T00:00:00Z')
    for (let step = 0; step < 12; step++) {
      const device = DEVICES[Math.floor(random() * DEVICES.length)]!
      const info: DeviceInfo = { id: device, name: `dev-${device[0]}`, platform: 'linux', tool: 'test' }
      const batch: LedgerRecord[] = []
      for (let i = 0, n = 1 + Math.floor(random() * 30); i < n; i++) {
        // Ids repeat across steps and devices (copies, streaming rewrites), near midnight too.
        const key = `k${Math.floor(random() * 60)}`
        const base = Date.parse('2026-11-01T00:00:00Z') + Math.floor(random() * 6) * 86_400_000 + (random() < 0.3 ? 86_400_000 - 60_000 : Math.floor(random() * 86_000_000))
        batch.push({
          v: 1, id: recordId('t', key), ts: new Date(base + Math.floor(random() * 120_000)).toISOString(), source: 't', model: MODELS[Math.floor(random() * 3)]!,
          input: Math.floor(random() * 1000), output: Math.floor(random() * 1000), cacheWrite: Math.floor(random() * 3) * 100, cacheRead: Math.floor(random() * 5000),
          session: random() < 0.5 ? 'a'.repeat(16) : 'b'.repeat(16),
        })
      }
      clock += 3_600_000
      const res = await appendRecords(git, info, path.join(dir, 'known-' + device), batch.map((r) => ({ ...r })), new Date(clock))
      if (res.commit) for (const lines of res.parts.values()) for (const l of lines) all.push({ r: JSON.parse(l), device })
      // A "fetch" every few steps: the index catches up incrementally.
      if (random() < 0.6) await updateIndex(git, path.join(dir, 'inc'), EMBEDDED_PRICES)
    }
    await updateIndex(git, path.join(dir, 'inc'), EMBEDDED_PRICES)
    await updateIndex(git, path.join(dir, 'full'), EMBEDDED_PRICES, { rebuild: true })
    const inc = readIndex(path.join(dir, 'inc'))!, full = readIndex(path.join(dir, 'full'))!
    t.same(normalise(inc), normalise(full), `seed ${seed}: incremental = rebuild`)

    // And both equal the dedupe rule applied to every line ever written, independently.
    const best = new BestById()
    for (const device of [...DEVICES].sort()) for (const { r, device: d } of all) if (d === device) best.offer(r, d)
    const opts = { period: 'daily' as const, localTime: localTimeIn('UTC'), groupBy: ['device' as const, 'model' as const], cost: 'calculate' as const, deviceNames: new Map<string, string>() }
    const want = aggregate(best.winners(), { ...opts, prices: EMBEDDED_PRICES })
    const got = aggregateRows(indexRows(inc, 'calculate'), opts)
    t.same(rounded(got.rows), rounded(want.rows), `seed ${seed}: per day, device and model, the winners of every line`)
    t.same(got.unknownModels, ['mystery-model'], 'the model without a price is named')
    await git.close()
  }
})

t.test('an update re-reads only the days whose parts changed, and their neighbours', async (t) => {
  const dir = t.testdir()
  const git = new SystemBackend(path.join(dir, 'repo.git'))
  await git.init()
  const info: DeviceInfo = { id: DEVICES[0]!, name: 'a', platform: 'linux', tool: 'test' }
  const rec = (i: number, day: string): LedgerRecord => ({ v: 1, id: recordId('t', `r${i}`), ts: `${day}T12:00:00.000Z`, source: 't', model: 'gpt-5', input: i, output: 1, cacheWrite: 0, cacheRead: 0 })
  const days = ['2026-11-01', '2026-11-05', '2026-11-10', '2026-11-15']
  await appendRecords(git, info, path.join(dir, 'known'), days.map((d, i) => rec(i, d)), new Date('2026-11-20T00:00:00Z'))
  const first = await updateIndex(git, path.join(dir, 'idx'), EMBEDDED_PRICES)
  t.equal(first.records, 4)
  await appendRecords(git, info, path.join(dir, 'known'), [rec(10, '2026-11-10')], new Date('2026-11-20T01:00:00Z'))
  const second = await updateIndex(git, path.join(dir, 'idx'), EMBEDDED_PRICES)
  t.equal(second.days, 3, 'the changed day and its two neighbours')
  t.equal(second.parts, 2, 'only the parts of 11-10 (two now) are read')
  t.equal(second.records, 2)
  const none = await updateIndex(git, path.join(dir, 'idx'), EMBEDDED_PRICES)
  t.same([none.days, none.parts], [0, 0], 'nothing new: nothing read')
  const repriced = await updateIndex(git, path.join(dir, 'idx'), EMBEDDED_PRICES.withOverrides({ 'gpt-5': { input: 100 } }, 'c'))
  t.equal(repriced.rebuilt, true, 'a different price table rebuilds')
  await git.close()
})
