import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { SystemBackend } from '../../lib/git/system.js'
import { appendRecords } from '../../lib/branch/writer.js'
import { readEntryAt } from '../../lib/git/tree.js'
import { dayDir, deviceDir, partName } from '../../lib/ledger/paths.js'
import type { DeviceInfo } from '../../lib/store/device.js'
import {
  crossDeviceStats,
  readIndex,
  updateIndex,
  indexRows,
  indexStats,
  unknownModels,
  type IndexData,
} from '../../lib/index/index.js'
import { EMBEDDED_PRICES } from '../../lib/report/prices.js'
import { aggregate, aggregateRows, DIM, type Row } from '../../lib/report/aggregate.js'
import { localTimeIn } from '../../lib/ledger/zone.js'
import { recordId, type LedgerRecord } from '../../lib/ledger/record.js'
import { BestById } from '../../lib/ledger/dedupe.js'

/** A small deterministic PRNG, so a failure reproduces. */
function rng(seed: number) {
  let s = seed >>> 0
  return () => (s = (Math.imul(s ^ (s >>> 15), 2246822507) + 0x6d2b79f5) >>> 0) / 2 ** 32
}

const DEVICES = ['1'.repeat(32), '2'.repeat(32), '3'.repeat(32)]
const MODELS = ['claude-sonnet-4-5-20250929', 'gpt-5', 'mystery-model']
const DAYS = ['2026-09-30', '2026-10-01', '2026-10-15', '2026-10-31', '2026-11-01', '2026-11-02']

/** Index content independent of the order dimensions were first seen in. */
function normalise(idx: IndexData) {
  return {
    rows: tableRows(idx, 'fine'),
    coarse: tableRows(idx, 'coarse'),
    hourly: tableRows(idx, 'hourly'),
    stats: indexStats(idx),
    cross: [...crossDeviceStats(idx)].sort(),
    unknown: unknownModels(idx),
  }
}

/** A table's rows as sorted strings. */
function tableRows(idx: IndexData, table: 'fine' | 'coarse' | 'hourly') {
  const src = indexRows(idx, 'calculate', undefined, { table })
  const rows: string[] = []
  src.each((r) => {
    rows.push(
      `${r.ms}|${src.dims[r.dim]!.join('|')}|${r.records}|${r.input}|${r.output}|${r.cacheWrite}|${r.cacheRead}|${r.costUSD.toFixed(9)}|${r.first}|${r.last}|${r.failed}`,
    )
  })
  return rows.sort()
}

/** The fine table's rows summed per quarter hour, device, source, model and failed, as `tableRows` shows them. */
function coarseOfFine(idx: IndexData) {
  const src = indexRows(idx, 'calculate', undefined, { table: 'fine' })
  const sums = new Map<string, number[]>()
  src.each((r) => {
    const dim = [...src.dims[r.dim]!]
    dim[DIM.project] = ''
    dim[DIM.session] = ''
    const key = `${r.ms}|${dim.join('|')}`
    const s = sums.get(key)
    const v = [r.records, r.input, r.output, r.cacheWrite, r.cacheRead, r.costUSD, r.first, r.last, r.failed]
    if (!s) sums.set(key, v)
    else {
      for (const i of [0, 1, 2, 3, 4, 5, 8]) s[i]! += v[i]!
      s[6] = Math.min(s[6]!, r.first)
      s[7] = Math.max(s[7]!, r.last)
    }
  })
  return [...sums]
    .map(([key, v]) => `${key}|${v.slice(0, 5).join('|')}|${v[5]!.toFixed(9)}|${v[6]}|${v[7]}|${v[8]}`)
    .sort()
}

const rounded = (rows: Row[]) => rows.map((r) => ({ ...r, costUSD: r.costUSD.toFixed(9) }))

t.test('the incrementally updated index equals a full rebuild after random records and fetches', async (t) => {
  // Both ways an update takes a changed day (summed again, or its new responses added) and both ways it writes a
  // month (whole, or a delta), each seen somewhere in the seeds.
  let appended = 0
  let summed = 0
  let deltas = 0
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    const dir = t.testdir()
    const git = new SystemBackend(path.join(dir, 'repo.git'))
    await git.init()
    const random = rng(seed)
    const all: Array<{ r: LedgerRecord; device: string; added: number }> = []
    let clock = Date.parse('2026-11-01T00:00:00Z')
    for (let step = 0; step < 12; step++) {
      const device = DEVICES[Math.floor(random() * DEVICES.length)]!
      const info: DeviceInfo = { id: device, name: `dev-${device[0]}`, platform: 'linux', tool: 'test' }
      const batch: LedgerRecord[] = []
      // Exact copies of responses another device recorded earlier (a copied ~/.claude): equal
      // totals and ts, so the device whose commit added them first must win.
      if (all.length && random() < 0.4) {
        for (let i = 0, n = 1 + Math.floor(random() * 10); i < n; i++) {
          const { r, device: from } = all[Math.floor(random() * all.length)]!
          if (from !== device) batch.push({ ...r })
        }
      }
      for (let i = 0, n = 1 + Math.floor(random() * 30); i < n; i++) {
        // Ids repeat across steps and devices (copies, streaming rewrites), near midnight too.
        // Copies of one response lie minutes apart (DESIGN §4): a key keeps its day.
        // The days span three UTC months (segments); a copy near midnight lies on the next day,
        // across a month's end too (09-30 → 10-01, 10-31 → 11-01).
        const k = Math.floor(random() * 60)
        const key = `k${k}`
        const base =
          Date.parse(`${DAYS[k % DAYS.length]}T00:00:00Z`) +
          (random() < 0.3 ? 86_400_000 - 60_000 : Math.floor(random() * 86_000_000))
        batch.push({
          v: 1,
          id: recordId('t', key),
          ts: new Date(base + Math.floor(random() * 120_000)).toISOString(),
          source: 't',
          model: MODELS[Math.floor(random() * 3)]!,
          input: Math.floor(random() * 1000),
          output: Math.floor(random() * 1000),
          cacheWrite: Math.floor(random() * 3) * 100,
          cacheRead: Math.floor(random() * 5000),
          session: random() < 0.5 ? 'a'.repeat(16) : 'b'.repeat(16),
          // Failed calls (a proxy's), some of them copies of a response that succeeded elsewhere.
          ...(random() < 0.2 ? { failed: true as const } : {}),
        })
      }
      clock += 3_600_000
      const res = await appendRecords(
        git,
        info,
        path.join(dir, `known-${device}`),
        batch.map((r) => ({ ...r })),
        new Date(clock),
      )
      // The commit's new parts, read back (the writer keeps no lines once a part is written).
      if (res.commit) {
        const tree = (await git.readCommit(res.commit)).tree
        for (const day of res.parts.keys()) {
          const part = `${deviceDir(info.id)}/${dayDir(day)}/${partName(res.manifest.days[day]!.parts)}`
          const text = (await git.readBlob((await readEntryAt(git, tree, part))!.oid)).toString('utf8')
          for (const l of text.split('\n'))
            if (l) all.push({ r: JSON.parse(l), device, added: Math.floor(clock / 1000) })
        }
      }
      // A "fetch" every few steps: the index catches up incrementally.
      if (random() < 0.6) {
        const u = await updateIndex(git, path.join(dir, 'inc'), EMBEDDED_PRICES)
        appended += u.appended
        summed += u.days - u.appended
        if (Object.values(u.index.months).some((m) => m.base)) deltas++
      }
    }
    await updateIndex(git, path.join(dir, 'inc'), EMBEDDED_PRICES)
    await updateIndex(git, path.join(dir, 'full'), EMBEDDED_PRICES, { rebuild: true })
    const inc = readIndex(path.join(dir, 'inc'))!,
      full = readIndex(path.join(dir, 'full'))!
    t.same(normalise(inc), normalise(full), `seed ${seed}: incremental = rebuild`)
    t.same(Object.keys(inc.months).sort(), ['2026-09', '2026-10', '2026-11'], 'one segment per month')
    t.same(
      coarseOfFine(inc),
      tableRows(inc, 'coarse'),
      'the coarse table is the fine one summed without project and session',
    )
    const hourStarts = (q: { localTime: (ms: number) => string }) => {
      const out = new Set<boolean>()
      indexRows(inc, 'auto', undefined, q).each((r) => {
        out.add(r.ms % 3_600_000 === 0)
      })
      return [...out].sort()
    }
    t.same(hourStarts({ localTime: localTimeIn('UTC') }), [true], 'UTC reads the hourly table')
    t.same(
      hourStarts({ localTime: localTimeIn('Asia/Kolkata') }),
      [false, true],
      'a zone 5:30 ahead, the quarter hours',
    )

    // And both equal the dedupe rule applied to every line ever written, independently.
    const best = new BestById()
    for (const device of [...DEVICES].sort())
      for (const { r, device: d, added } of all) if (d === device) best.offer(r, d, undefined, added)
    const opts = {
      period: 'daily' as const,
      localTime: localTimeIn('UTC'),
      groupBy: ['device' as const, 'model' as const],
      cost: 'calculate' as const,
      deviceNames: new Map<string, string>(),
    }
    for (const includeFailed of [false, true]) {
      const want = aggregate(best.winners(), { ...opts, includeFailed, prices: EMBEDDED_PRICES })
      const got = aggregateRows(indexRows(inc, 'calculate'), { ...opts, includeFailed })
      t.same(
        rounded(got.rows),
        rounded(want.rows),
        `seed ${seed}${includeFailed ? ', failed calls included' : ''}: per day, device and model, the winners of every line`,
      )
      t.same(rounded([got.totals as Row]), rounded([want.totals as Row]), 'and the totals')
      t.same(got.unknownModels, ['mystery-model'], 'the model without a price is named')
      // The tables a report may read give the same report: UTC's offsets are whole hours (the hourly table), a
      // zone 5:30 ahead's are not (the coarse one, by quarter hour).
      for (const tz of ['UTC', 'Asia/Kolkata'])
        for (const period of ['daily', 'blocks'] as const) {
          const zoned = { ...opts, period, localTime: localTimeIn(tz), includeFailed }
          const [fine, chosen] = [{ table: 'fine' as const }, { localTime: localTimeIn(tz) }].map((q) =>
            rounded(aggregateRows(indexRows(inc, 'calculate', undefined, q), zoned).rows),
          )
          t.same(chosen, fine, `seed ${seed}, ${tz}, ${period}: the table chosen for the zone = the fine one`)
        }
    }
    // The failed winners are out of the default totals, counted in `failed`, and cost nothing.
    const winners = [...best.winners()]
    const failed = winners.filter((w) => w.record.failed)
    const ok = winners.filter((w) => !w.record.failed)
    const sum = (ws: typeof winners) => ws.reduce((n, w) => n + w.record.input, 0)
    const without = aggregateRows(indexRows(inc, 'calculate'), opts).totals
    const withFailed = aggregateRows(indexRows(inc, 'calculate'), { ...opts, includeFailed: true }).totals
    t.ok(failed.length > 0, `seed ${seed}: the ledger holds failed calls`)
    t.same(
      [without.records, without.input, without.failed],
      [ok.length, sum(ok), failed.length],
      'without them: the calls that succeeded',
    )
    t.same([withFailed.records, withFailed.input, withFailed.failed], [winners.length, sum(winners), failed.length])
    for (const mode of ['auto', 'calculate', 'display'] as const) {
      let failedCost = 0
      indexRows(inc, mode).each((r) => {
        if (r.failed) failedCost += r.costUSD
      })
      t.equal(failedCost, 0, `${mode}: failed calls cost nothing`)
    }
    await git.close()
  }
  t.ok(appended > 0, `${appended} days took their new responses alone`)
  t.ok(summed > 0, `${summed} days were summed again`)
  t.ok(deltas > 0, `${deltas} updates left a month as a delta`)
})

t.test(
  'a day that gained only responses of its own reads its new parts alone; a copy re-reads the day and its neighbours',
  async (t) => {
    const dir = t.testdir()
    const git = new SystemBackend(path.join(dir, 'repo.git'))
    await git.init()
    const info: DeviceInfo = { id: DEVICES[0]!, name: 'a', platform: 'linux', tool: 'test' }
    const rec = (i: number, day: string): LedgerRecord => ({
      v: 1,
      id: recordId('t', `r${i}`),
      ts: `${day}T12:00:00.000Z`,
      source: 't',
      model: 'gpt-5',
      input: i,
      output: 1,
      cacheWrite: 0,
      cacheRead: 0,
    })
    const days = ['2026-11-01', '2026-11-05', '2026-11-10', '2026-11-15']
    await appendRecords(
      git,
      info,
      path.join(dir, 'known'),
      days.map((d, i) => rec(i, d)),
      new Date('2026-11-20T00:00:00Z'),
    )
    const first = await updateIndex(git, path.join(dir, 'idx'), EMBEDDED_PRICES)
    t.equal(first.records, 4)
    await appendRecords(git, info, path.join(dir, 'known'), [rec(10, '2026-11-10')], new Date('2026-11-20T01:00:00Z'))
    const second = await updateIndex(git, path.join(dir, 'idx'), EMBEDDED_PRICES)
    t.same([second.days, second.parts, second.records], [1, 1, 1], 'a new response: its day, its new part, its record')
    // A bigger copy of r2 (11-10) and a new response on 11-15: 11-10 is summed again with its neighbours, 11-15
    // takes its new response alone.
    await appendRecords(
      git,
      info,
      path.join(dir, 'known'),
      [{ ...rec(2, '2026-11-10'), input: 50 }, rec(11, '2026-11-15')],
      new Date('2026-11-20T02:00:00Z'),
    )
    const third = await updateIndex(git, path.join(dir, 'idx'), EMBEDDED_PRICES)
    t.same([third.days, third.appended], [4, 1], '11-09, 11-10 and 11-11 summed; 11-15 appended')
    t.equal(third.parts, 5, 'both new parts (read first, for their ids), then every part of 11-10 (three now)')
    t.equal(third.records, 3, "the winners of 11-10 (r2's bigger copy, r10), and 11-15's new one")
    const full = await updateIndex(git, path.join(dir, 'full'), EMBEDDED_PRICES, { rebuild: true })
    t.same(normalise(third.index), normalise(full.index), 'incremental = rebuild')
    const none = await updateIndex(git, path.join(dir, 'idx'), EMBEDDED_PRICES)
    t.same([none.days, none.parts], [0, 0], 'nothing new: nothing read')
    const repriced = await updateIndex(
      git,
      path.join(dir, 'idx'),
      EMBEDDED_PRICES.withOverrides({ 'gpt-5': { input: 100 } }, 'c'),
    )
    t.equal(repriced.rebuilt, true, 'a different price table rebuilds')
    await git.close()
  },
)

t.test(
  'copies with equal totals and ts count for the device that committed them first, incrementally and after a rewrite',
  async (t) => {
    const dir = t.testdir()
    const git = new SystemBackend(path.join(dir, 'repo.git'))
    await git.init()
    const [low, , high] = DEVICES as [string, string, string]
    const info = (id: string): DeviceInfo => ({ id, name: id.slice(0, 1), platform: 'linux', tool: 'test' })
    const recs = () =>
      [0, 1, 2].map(
        (i): LedgerRecord => ({
          v: 1,
          id: recordId('t', `copy${i}`),
          ts: `2026-11-10T1${i}:00:00.000Z`,
          source: 't',
          model: 'gpt-5',
          input: 10 + i,
          output: 1,
          cacheWrite: 0,
          cacheRead: 0,
        }),
      )
    const owners = (idx: IndexData) => {
      const src = indexRows(idx, 'auto')
      const out: Record<string, number> = {}
      src.each((r) => {
        const device = src.dims[r.dim]![DIM.device]!
        out[device] = (out[device] ?? 0) + r.records
      })
      return out
    }
    let repo = git
    const check = async (label: string, want: Record<string, number>) => {
      const inc = (await updateIndex(repo, path.join(dir, 'inc'), EMBEDDED_PRICES)).index
      const full = (await updateIndex(repo, path.join(dir, `full-${label}`), EMBEDDED_PRICES, { rebuild: true })).index
      t.same(owners(inc), want, `${label}: incremental`)
      t.same(normalise(inc), normalise(full), `${label}: incremental = rebuild`)
    }
    // The higher id records first; the lower id (a copied ~/.claude) an hour later.
    await appendRecords(git, info(high), path.join(dir, 'k-high'), recs(), new Date('2026-11-11T00:00:00Z'))
    await check('original only', { [high]: 3 })
    await appendRecords(git, info(low), path.join(dir, 'k-low'), recs(), new Date('2026-11-11T01:00:00Z'))
    await check('after the copy', { [high]: 3 })
    t.same(
      crossDeviceStats(readIndex(path.join(dir, 'inc'))!),
      new Map([
        [low, { records: 3, counted: 0 }],
        [high, { records: 3, counted: 3 }],
      ]),
      'which devices hold the copies, and for which they count',
    )

    // The higher id's branch is rewritten (as fetch --accept-rewrite would take it): the same part,
    // committed after the lower id's copy now. Its day's winners change though its parts did not.
    await git.close()
    const { spawnSync } = await import('node:child_process')
    spawnSync('git', ['--git-dir', path.join(dir, 'repo.git'), 'update-ref', '-d', `refs/heads/ledger/${high}`])
    repo = new SystemBackend(path.join(dir, 'repo.git'))
    await appendRecords(repo, info(high), path.join(dir, 'k-high-2'), recs(), new Date('2026-11-11T02:00:00Z'))
    await check('after the rewrite', { [low]: 3 })
    await repo.close()
  },
)

t.test(
  'failed calls are kept apart in the index; an index of the version before is rebuilt, not misread',
  async (t) => {
    const dir = t.testdir()
    const git = new SystemBackend(path.join(dir, 'repo.git'))
    await git.init()
    const info: DeviceInfo = { id: DEVICES[0]!, name: 'a', platform: 'linux', tool: 'test' }
    const rec = (i: number, failed: boolean): LedgerRecord => ({
      v: 1,
      id: recordId('proxy', `r${i}`),
      ts: `2026-11-10T12:0${i}:00.000Z`,
      source: 'proxy',
      model: 'gpt-5',
      input: 1000 * (i + 1),
      output: 10,
      cacheWrite: 0,
      cacheRead: 0,
      costUSD: 2,
      ...(failed ? { failed: true as const } : {}),
    })
    await appendRecords(
      git,
      info,
      path.join(dir, 'known'),
      [rec(0, false), rec(1, true), rec(2, true)],
      new Date('2026-11-20T00:00:00Z'),
    )
    const idxDir = path.join(dir, 'idx')
    const first = await updateIndex(git, idxDir, EMBEDDED_PRICES)
    t.equal(first.records, 3, 'a failed record is a record like any other')
    const rows = (idx: IndexData, mode: 'auto' | 'calculate' | 'display') => {
      const src = indexRows(idx, mode)
      const out: Array<[string, number, number, number, number]> = []
      src.each((r) => {
        out.push([src.dims[r.dim]![DIM.failed]!, r.records, r.input, r.failed, r.costUSD])
      })
      return out.sort()
    }
    t.same(
      rows(first.index, 'display'),
      [
        ['', 1, 1000, 0, 2],
        ['failed', 2, 5000, 2, 0],
      ],
      'one quarter hour, two rows: the failed calls in a dimension of their own, at cost 0',
    )
    t.equal(
      rows(first.index, 'calculate').find((r) => r[0] === 'failed')![4],
      0,
      'a failed call has no calculated cost either',
    )
    t.same(unknownModels(first.index), [], 'and needs no price')
    const file = path.join(idxDir, 'index.v1.json')
    const written = fs.readFileSync(file, 'utf8')
    t.equal(JSON.parse(written).v, 5)
    // Version 4 (no deltas, no ids): read as if it were current, it would miss a delta's days.
    fs.writeFileSync(file, written.replace('"v":5', '"v":4'))
    t.equal(readIndex(idxDir), null, 'an index of version 4 is not read')
    // An index written by the version before: one JSON naming one rows file.
    fs.writeFileSync(
      file,
      JSON.stringify({
        v: 3,
        priceSha: EMBEDDED_PRICES.sha256,
        devices: {},
        parts: {},
        dims: [],
        days: {},
        stats: {},
        cross: {},
        unknown: {},
        rowsFile: 'rows-old-1.f64',
      }),
    )
    fs.writeFileSync(path.join(idxDir, 'rows-old-1.f64'), Buffer.alloc(0))
    t.equal(readIndex(idxDir), null, 'an index of another version is not read')
    const again = await updateIndex(git, idxDir, EMBEDDED_PRICES)
    t.equal(again.rebuilt, true, 'it is rebuilt')
    t.same(normalise(again.index), normalise(first.index))
    t.notOk(fs.existsSync(path.join(idxDir, 'rows-old-1.f64')), "the old version's rows file is gone")
    await git.close()
  },
)

const rec = (key: string, ts: string, input = 10): LedgerRecord => ({
  v: 1,
  id: recordId('t', key),
  ts,
  source: 't',
  model: 'gpt-5',
  input,
  output: 1,
  cacheWrite: 0,
  cacheRead: 0,
  session: 'c'.repeat(16),
})
const infoOf = (id: string): DeviceInfo => ({ id, name: id.slice(0, 1), platform: 'linux', tool: 'test' })

/** Records per month and device, as the index counts them. */
function perMonth(idx: IndexData): Record<string, number> {
  const src = indexRows(idx, 'auto')
  const out: Record<string, number> = {}
  src.each((r) => {
    const key = `${new Date(r.ms).toISOString().slice(0, 7)} ${src.dims[r.dim]![DIM.device]!.slice(0, 1)}`
    out[key] = (out[key] ?? 0) + r.records
  })
  return out
}

t.test('copies on either side of a month end: a change on one side re-sums the other month too', async (t) => {
  const [a, b] = DEVICES as [string, string]
  for (const order of ['late copy last', 'early copy last'] as const) {
    const dir = t.testdir()
    const git = new SystemBackend(path.join(dir, 'repo.git'))
    await git.init()
    // One response: device a's copy on 10-31 just before midnight, device b's on 11-01 just after (its ts
    // later: a's copy wins, whichever was committed first).
    const copy = (device: string, ts: string, at: string) => () =>
      appendRecords(git, infoOf(device), path.join(dir, `k${device[0]}`), [rec('x', ts)], new Date(at))
    const early = copy(a, '2026-10-31T23:59:50.000Z', '2026-11-02T00:00:00Z')
    const late = copy(b, '2026-11-01T00:00:20.000Z', '2026-11-02T01:00:00Z')
    // Other days of both months, so each month has rows of its own.
    await appendRecords(
      git,
      infoOf(b),
      path.join(dir, `k${b[0]}`),
      [rec('o1', '2026-10-10T10:00:00.000Z'), rec('o2', '2026-11-10T10:00:00.000Z')],
      new Date('2026-11-01T00:00:00Z'),
    )
    if (order === 'late copy last') await early()
    else await late()
    const first = await updateIndex(git, path.join(dir, 'inc'), EMBEDDED_PRICES)
    t.same(
      perMonth(first.index),
      order === 'late copy last'
        ? { '2026-10 1': 1, '2026-10 2': 1, '2026-11 2': 1 }
        : { '2026-10 2': 1, '2026-11 2': 2 },
      `${order}: before`,
    )
    if (order === 'late copy last') await late()
    else await early()
    const second = await updateIndex(git, path.join(dir, 'inc'), EMBEDDED_PRICES)
    t.equal(second.months, 2, `${order}: both months' segments are rewritten`)
    t.same(
      perMonth(second.index),
      { '2026-10 1': 1, '2026-10 2': 1, '2026-11 2': 1 },
      `${order}: the 10-31 copy counts`,
    )
    t.same(
      crossDeviceStats(second.index),
      new Map([
        [a, { records: 1, counted: 1 }],
        [b, { records: 1, counted: 0 }],
      ]),
      `${order}: both devices hold it, it counts for a`,
    )
    const full = await updateIndex(git, path.join(dir, 'full'), EMBEDDED_PRICES, { rebuild: true })
    t.same(normalise(second.index), normalise(full.index), `${order}: incremental = rebuild`)
    await git.close()
  }
})

t.test(
  'an update of a few days writes them as a delta over the month; past four days the month is written whole',
  async (t) => {
    const dir = t.testdir()
    const git = new SystemBackend(path.join(dir, 'repo.git'))
    await git.init()
    const [a, b] = [DEVICES[0]!, DEVICES[1]!]
    const idxDir = path.join(dir, 'idx')
    const day = (n: number) => `2026-11-${String(n).padStart(2, '0')}`
    const add = (device: string, records: LedgerRecord[], hour: number) =>
      appendRecords(
        git,
        infoOf(device),
        path.join(dir, `k${device[0]}`),
        records,
        new Date(Date.UTC(2026, 10, 28, hour)),
      )
    await add(
      a,
      Array.from({ length: 10 }, (_, i) => rec(`a${i}`, `${day(i + 1)}T10:00:00.000Z`)),
      0,
    )
    const first = await updateIndex(git, idxDir, EMBEDDED_PRICES)
    const base = first.index.months['2026-11']!.file
    t.equal(first.index.months['2026-11']!.base, undefined, 'a new month: written whole')
    const stat = (f: string) => fs.statSync(path.join(idxDir, f))
    const baseFiles = ['.fine', '.coarse', '.hourly', '.ids'].map((ext) => `${base}${ext}`)
    const before = baseFiles.map((f) => [stat(f).ino, stat(f).mtimeMs])
    const check = async (label: string) => {
      const full = await updateIndex(git, path.join(dir, `full-${label}`), EMBEDDED_PRICES, { rebuild: true })
      t.same(normalise(readIndex(idxDir)!), normalise(full.index), `${label}: incremental = rebuild`)
    }
    // New days 11-11 … 11-14, one an update: the delta grows to four days over the same full write.
    for (let n = 11; n <= 14; n++) {
      const r = await add(b, [rec(`b${n}`, `${day(n)}T11:00:00.000Z`)], n)
      t.ok(r.commit)
      const u = await updateIndex(git, idxDir, EMBEDDED_PRICES)
      const m = u.index.months['2026-11']!
      t.equal(m.base, base, `${day(n)}: a delta over the full write`)
      t.same(
        baseFiles.map((f) => [stat(f).ino, stat(f).mtimeMs]),
        before,
        `${day(n)}: the full write's tables are not rewritten`,
      )
      const delta = JSON.parse(
        fs
          .readFileSync(path.join(idxDir, `${m.file}.fine`))
          .toString('utf8', 4, 4 + fs.readFileSync(path.join(idxDir, `${m.file}.fine`)).readUInt32LE(0)),
      ) as { days: Record<string, unknown> }
      t.same(
        Object.keys(delta.days).sort(),
        Array.from({ length: n - 10 }, (_, i) => day(11 + i)),
        `${day(n)}: the delta holds the days written since`,
      )
      await check(day(n))
    }
    // A copy of a0 (11-01) on b: a day already in the base, summed again with its neighbours: too many days for a delta.
    await add(b, [{ ...rec('a0', `${day(1)}T10:00:00.000Z`), input: 99 }], 20)
    const whole = await updateIndex(git, idxDir, EMBEDDED_PRICES)
    t.equal(whole.index.months['2026-11']!.base, undefined, 'past four days: the month is written whole')
    t.same(
      baseFiles.filter((f) => fs.existsSync(path.join(idxDir, f))),
      [],
      'and the old full write is gone',
    )
    t.same(
      fs.readdirSync(idxDir).filter((f) => f.startsWith('m-')).length,
      5,
      "only the new write's five files are left",
    )
    await check('whole')
    let n = 0
    indexRows(whole.index, 'auto').each((r) => {
      n += r.records
    })
    t.equal(n, 14, 'every response once (a0 counted once, its bigger copy)')
    await git.close()
  },
)

t.test('an update rewrites only the months it touched; with nothing new it opens no segment', async (t) => {
  const dir = t.testdir()
  const git = new SystemBackend(path.join(dir, 'repo.git'))
  await git.init()
  const info = infoOf(DEVICES[0]!)
  const known = path.join(dir, 'known')
  const idxDir = path.join(dir, 'idx')
  await appendRecords(
    git,
    info,
    known,
    ['2026-09-15', '2026-10-15', '2026-11-15'].map((d, i) => rec(`r${i}`, `${d}T12:00:00.000Z`)),
    new Date('2026-11-20T00:00:00Z'),
  )
  const first = await updateIndex(git, idxDir, EMBEDDED_PRICES)
  t.same(Object.keys(first.index.months).sort(), ['2026-09', '2026-10', '2026-11'])
  const files = () => Object.fromEntries(fs.readdirSync(idxDir).map((f) => [f, fs.statSync(path.join(idxDir, f))]))
  const before = files()

  const reads: string[] = []
  const none = await updateIndex(git, idxDir, EMBEDDED_PRICES, { onRead: (f) => reads.push(f) })
  t.same([none.days, none.parts, none.months, reads], [0, 0, 0, []], 'nothing new: no segment opened')

  await appendRecords(git, info, known, [rec('new', '2026-10-15T13:00:00.000Z')], new Date('2026-11-20T01:00:00Z'))
  const second = await updateIndex(git, idxDir, EMBEDDED_PRICES, { onRead: (f) => reads.push(f) })
  t.equal(second.months, 1, 'one month rewritten')
  t.ok(reads.length > 0 && reads.every((f) => f.startsWith('m-2026-10-')), `only October's segment is read: ${reads}`)
  const after = files()
  for (const m of ['2026-09', '2026-11']) {
    const file = first.index.months[m]!.file
    t.equal(second.index.months[m]!.file, file, `${m}: the same segment`)
    for (const ext of ['.meta.json', '.fine', '.coarse', '.hourly']) {
      const name = `${file}${ext}`
      t.same(
        [after[name]?.ino, after[name]?.mtimeMs],
        [before[name]!.ino, before[name]!.mtimeMs],
        `${name}: not rewritten`,
      )
    }
  }
  const oldOct = first.index.months['2026-10']!.file
  t.not(second.index.months['2026-10']!.file, oldOct, 'October: a new segment')
  t.equal(second.index.months['2026-10']!.base, oldOct, 'a delta over the full write')
  t.same(
    Object.keys(after).filter((f) => f.startsWith(oldOct)),
    ['.coarse', '.fine', '.hourly', '.ids'].map((ext) => `${oldOct}${ext}`),
    "of the old October segment only its tables are left, as the delta's base",
  )
  t.same(perMonth(second.index), { '2026-09 1': 1, '2026-10 1': 2, '2026-11 1': 1 })

  // A report of a range reads only its months (±1 day): without the others' files it still reads.
  for (const m of ['2026-09', '2026-11'])
    for (const ext of ['.meta.json', '.fine', '.coarse', '.hourly'])
      fs.rmSync(path.join(idxDir, `${second.index.months[m]!.file}${ext}`))
  let n = 0
  indexRows(second.index, 'auto', undefined, { from: '2026-10-02', to: '2026-10-30' }).each((r) => {
    n += r.records
  })
  t.equal(n, 2, 'October alone')
  t.throws(() => indexRows(second.index, 'auto'), /index --rebuild/, 'a missing segment is said')
  const again = await updateIndex(git, idxDir, EMBEDDED_PRICES, { rebuild: true })
  t.same(perMonth(again.index), { '2026-09 1': 1, '2026-10 1': 2, '2026-11 1': 1 }, 'index --rebuild mends it')
  // A damaged segment (a crash, a disk) found by an update: the update rebuilds.
  fs.writeFileSync(path.join(idxDir, `${again.index.months['2026-10']!.file}.fine`), '')
  await appendRecords(git, info, known, [rec('more', '2026-10-16T13:00:00.000Z')], new Date('2026-11-20T02:00:00Z'))
  const mended = await updateIndex(git, idxDir, EMBEDDED_PRICES)
  t.equal(mended.rebuilt, true, 'a damaged segment: rebuilt')
  t.same(perMonth(mended.index), { '2026-09 1': 1, '2026-10 1': 3, '2026-11 1': 1 })
  await git.close()
})
