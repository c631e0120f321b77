/**
 * verifyLedger's per-day seals (manifest v2, DESIGN §2/§8) on a real repository: a late record is
 * re-verified by reading that day's parts only; a wrong day names the day; a v1 history still
 * verifies, and its wrong digest is still found.
 */
import t from 'tap'
import path from 'node:path'
import { digestV1, verifyLedger, type VerifyInput } from '../../lib/verify/verify.js'
import type { GitBackend } from '../../lib/git/backend.js'
import { sealRoot, serializeManifest } from '../../lib/ledger/manifest.js'
import { dayDir, deviceDir, ledgerRef } from '../../lib/ledger/paths.js'
import { canonicalLine } from '../../lib/ledger/record.js'
import { readTreeAt } from '../../lib/git/tree.js'
import {
  appendRecords,
  asV1,
  commitFiles,
  commitManifest,
  counting,
  dayLines,
  device,
  headManifest,
  history,
  newRepo,
  partsByDay,
  rec,
  sha256,
} from '../helpers/seals.js'

const NOW = new Date('2026-11-10T12:00:00Z')
const dev = device('d')

async function verify(git: GitBackend, proved: Record<string, string> = {}, full = false) {
  const input: VerifyInput = {
    heads: new Map([[dev.id, (await git.readRef(ledgerRef(dev.id)))!]]),
    refused: new Map(),
    only: [],
    full,
    proved,
    fetched: {},
    index: null,
    fingerprints: false,
  }
  return verifyLedger(git, input)
}

const codes = (r: Awaited<ReturnType<typeof verify>>) => r.findings.map((f) => f.code)

async function setup(t: { testdir(): string; teardown(fn: () => unknown): void }) {
  const dir = t.testdir()
  const git = await newRepo(dir)
  const known = path.join(dir, 'known')
  await appendRecords(git, dev, known, history(10), NOW)
  t.teardown(() => git.close())
  return { git, known }
}

t.test("after a late record, the default mode reads that day's parts only; --full every part", async (t) => {
  const { git, known } = await setup(t)
  const first = await verify(git)
  t.same(codes(first), [], 'the first check (every day) is clean')
  await appendRecords(git, dev, known, [rec('late', '2026-11-04T21:00:00.000Z', { output: 9 })], NOW)
  const parts = await partsByDay(git, dev.id)
  const all = new Set([...parts.values()].flat())
  const { git: g, blobs } = counting(git)
  const second = await verify(g, first.proved)
  t.same(codes(second), [], 'clean')
  t.same(blobs.filter((o) => all.has(o)).sort(), [...parts.get('2026-11-04')!].sort(), "the late day's parts only")
  t.equal(second.devices[0]!.checked.parts, 2)
  const c = counting(git)
  t.same(codes(await verify(c.git, {}, true)), [], '--full: clean')
  t.same([...new Set(c.blobs.filter((o) => all.has(o)))].sort(), [...all].sort(), '--full reads every part')
})

t.test('a record added to an old day without re-sealing it: SEALED_MISMATCH naming that day', async (t) => {
  const { git } = await setup(t)
  const proved = (await verify(git)).proved
  // a new part on 2026-11-03 with the counts the manifest must show, but the old digest
  const m = await headManifest(git, dev.id)
  m.days['2026-11-03']!.parts++
  m.days['2026-11-03']!.records++
  m.records++
  m.sealed.records++
  const head = (await git.readRef(ledgerRef(dev.id)))!
  const line = canonicalLine(rec('forged', '2026-11-03T05:00:00.000Z', { output: 99_999 }))
  const files = new Map([
    [`${deviceDir(dev.id)}/${dayDir('2026-11-03')}/000002.ndjson`, await git.writeBlob(Buffer.from(`${line}\n`))],
    [`${deviceDir(dev.id)}/manifest.json`, await git.writeBlob(Buffer.from(serializeManifest(m)))],
  ])
  await commitFiles(git, dev.id, files, head, head)
  for (const [mode, r] of [
    ['default', await verify(git, proved)],
    ['full', await verify(git, {}, true)],
  ] as const) {
    t.same(codes(r), ['SEALED_MISMATCH'], mode)
    t.match(r.findings[0]!.detail, /^days\.2026-11-03\.digest .* of 2026-11-03:/, `${mode}: the detail names the day`)
  }
})

t.test("a day's digest changed in the manifest, root made to match: SEALED_MISMATCH naming the day", async (t) => {
  const { git } = await setup(t)
  const proved = (await verify(git)).proved
  const m = await headManifest(git, dev.id)
  m.days['2026-11-06']!.digest = m.days['2026-11-02']!.digest
  m.sealed.root = sealRoot(m.days, m.sealed.through)
  await commitManifest(git, dev.id, m)
  const r = await verify(git, proved)
  t.same(codes(r), ['SEALED_MISMATCH'])
  t.match(
    r.findings[0]!.detail,
    /^days\.2026-11-06\.digest/,
    'the default mode: its digest differs from the proved one',
  )
  const full = await verify(git, {}, true)
  t.same(codes(full), ['SEALED_MISMATCH'])
  t.match(full.findings[0]!.detail, /^days\.2026-11-06\.digest/, '--full')
})

t.test('the root, the records count and which days carry a digest are checked', async (t) => {
  const { git } = await setup(t)
  const proved = (await verify(git)).proved
  const base = await headManifest(git, dev.id)
  const cases: [string, (m: typeof base) => void, RegExp][] = [
    ['root', (m) => (m.sealed.root = m.sealed.root!.replace(/^./, (c) => (c === '0' ? '1' : '0'))), /^seal\.root/],
    ['records', (m) => m.sealed.records++, /^seal\.records says 28/],
    ['a sealed day without digest', (m) => delete m.days['2026-11-02']!.digest, /^days\.2026-11-02 has no digest/],
    [
      'today with a digest',
      (m) => (m.days['2026-11-10']!.digest = m.days['2026-11-09']!.digest),
      /^days\.2026-11-10 has a digest/,
    ],
  ]
  for (const [name, tamper, detail] of cases) {
    const head = (await git.readRef(ledgerRef(dev.id)))!
    const m = structuredClone(base)
    tamper(m)
    await commitManifest(git, dev.id, m)
    const r = await verify(git, proved)
    t.ok(codes(r).includes('SEALED_MISMATCH'), name)
    t.ok(
      r.findings.some((f) => f.code === 'SEALED_MISMATCH' && detail.test(f.detail)),
      `${name}: ${r.findings.map((f) => f.detail).join(' | ')}`,
    )
    await git.updateRef(ledgerRef(dev.id), head, (await git.readRef(ledgerRef(dev.id)))!)
  }
})

t.test('a v1 history (generated with the v1 rule) verifies clean; a wrong v1 digest is SEALED_MISMATCH', async (t) => {
  const { git, known } = await setup(t)
  // the branch's one commit again, with the manifest a v1 writer wrote: a v1 history
  const head = (await git.readRef(ledgerRef(dev.id)))!
  const genesis = (await git.readCommit(head)).parents[0]!
  const v1 = await asV1(git, dev.id, await headManifest(git, dev.id))
  await commitManifest(git, dev.id, v1, genesis)
  t.equal((await headManifest(git, dev.id)).v, 1)
  const first = await verify(git)
  t.same(codes(first), [], 'v1, from the start: clean')
  t.same(codes(await verify(git, {}, true)), [], 'v1, --full: clean')
  const wrong = {
    ...v1,
    sealed: { ...v1.sealed, digest: v1.sealed.digest!.replace(/^./, (c) => (c === '0' ? '1' : '0')) },
  }
  const good = (await git.readRef(ledgerRef(dev.id)))!
  await commitManifest(git, dev.id, wrong)
  const r = await verify(git, first.proved)
  t.same(codes(r), ['SEALED_MISMATCH'], 'the default mode recomputes a v1 seal that moved')
  t.match(r.findings[0]!.detail, /^sealed \(through 2026-11-09: 27 records/)
  // back to the good v1 head: the next commit converts it to v2, and a reader whose proof is the
  // v1 head checks every sealed day (its base vouches for no day digest)
  await git.updateRef(ledgerRef(dev.id), good, (await git.readRef(ledgerRef(dev.id)))!)
  await appendRecords(git, dev, known, [rec('today', '2026-11-10T13:00:00.000Z')], NOW)
  t.equal((await headManifest(git, dev.id)).v, 2)
  const parts = await partsByDay(git, dev.id)
  const sealed = new Set([...parts].filter(([d]) => d <= '2026-11-09').flatMap(([, o]) => o))
  const c = counting(git)
  t.same(codes(await verify(c.git, first.proved)), [], 'v1 → v2: clean')
  t.same([...new Set(c.blobs.filter((o) => sealed.has(o)))].sort(), [...sealed].sort(), 'every sealed day read')
})

t.test('a v1 seal counts a line another writer wrote (keys in another order) as its canonical form', async (t) => {
  const { git } = await setup(t)
  const head = (await git.readRef(ledgerRef(dev.id)))!
  const genesis = (await git.readCommit(head)).parents[0]!
  // the digest over the canonical lines, as every writer's v1 seal is
  const v1 = await asV1(git, dev.id, await headManifest(git, dev.id))
  const day = '2026-11-03'
  const [oid] = (await partsByDay(git, dev.id)).get(day)!
  const entries = (await readTreeAt(git, (await git.readCommit(head)).tree, `${deviceDir(dev.id)}/${dayDir(day)}`))!
  const part = entries.find((e) => e.oid === oid)!
  const reordered = (await git.readBlob(oid!))
    .toString('utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const { ts, id, ...rest } = JSON.parse(l)
      return JSON.stringify({ ts, id, ...rest })
    })
  t.not(reordered[0], (await dayLines(git, dev.id, day))[0], 'the part is rewritten in another key order')
  const files = new Map([
    [`${deviceDir(dev.id)}/${dayDir(day)}/${part.name}`, await git.writeBlob(Buffer.from(`${reordered.join('\n')}\n`))],
    [`${deviceDir(dev.id)}/manifest.json`, await git.writeBlob(Buffer.from(serializeManifest(v1)))],
  ])
  await commitFiles(git, dev.id, files, genesis, head)
  t.same(codes(await verify(git)), [], 'from the start: clean')
  t.same(codes(await verify(git, {}, true)), [], '--full: clean')
})

t.test(
  'a v1 seal digested in ranges of ids (digestV1) equals the one sort over every line, in any number of passes',
  async (t) => {
    const git = await newRepo(t.testdir())
    t.teardown(() => git.close())
    const lines: string[] = []
    for (let i = 0; i < 40; i++) lines.push(canonicalLine(rec(`k${i}`, '2026-11-01T10:00:00.000Z', { output: i })))
    // a record written by another writer (keys in another order): counted as its canonical form
    const other = rec('other', '2026-11-01T11:00:00.000Z')
    const { id, ts, ...rest } = other
    const reordered = JSON.stringify({ ts, id, ...rest })
    // the same id twice with different tokens, lines that are no record, and ids sharing their first four digits
    const twin = rec('k3', '2026-11-01T10:00:00.000Z', { output: 99 })
    const odd = [
      canonicalLine(twin),
      '{"v":1,"id":"ZZZZ not hex',
      '{"v":1,"id":"0',
      '{"v":2,"id":"ffff"}',
      'not json',
      `{"v":1,"id":"${'f'.repeat(32)}","broken"`,
      `{"v":1,"id":"${'0'.repeat(31)}1","broken"`,
      `{"v":1,"id":"${'0'.repeat(32)}","broken"`,
    ]
    const blobs = [
      `${lines.slice(0, 15).join('\n')}\n`,
      `${[reordered, ...odd.slice(0, 4)].join('\n')}\n\n`,
      `${lines.slice(15).join('\n')}\n${odd.slice(4).join('\n')}`, // no final newline
    ]
    const parts = await Promise.all(blobs.map(async (b) => ({ oid: await git.writeBlob(Buffer.from(b)) })))
    const every = [...lines, canonicalLine(other), ...odd]
    t.not(reordered, canonicalLine(other), 'the reordered line is not canonical')
    const want = sha256(
      [...every]
        .sort()
        .map((l) => `${l}\n`)
        .join(''),
    )
    for (const perPass of [1, 2, 3, 7, 20, 1000]) {
      const c = counting(git)
      const got = await digestV1(c.git, parts, every.length, perPass)
      t.same(got, { lines: every.length, digest: want }, `${perPass} line(s) a pass`)
      t.equal(c.blobs.length, parts.length * Math.ceil(every.length / perPass), 'each pass reads every part once')
    }
    t.not((await digestV1(git, parts.slice(1), every.length, 3)).digest, want, 'a part left out changes the digest')
  },
)
