#!/usr/bin/env node
// Y of the benchmark (issue 15, item 6; see docs/benchmarks.md): a store after a year of use.
//
//   node bench/year.mjs [--devices 5] [--commits 30000] [--per-part 3] [--runs 3] [--reps 3]
//                       [--seed 42] [--end 2026-11-20] [--fresh] [--keep] [--out FILE]
//                       [--build-only] [--no-unpack] [--cpu-prof DIR]
//
// Setup (not timed, the remotes cached under <bench cache>/year/<parameters>): two bare remotes
// in the real layout (DESIGN §2), written with `git fast-import` instead of 150,000 CLI runs:
//   year  `--devices` device branches of `--commits` commits each, spread over the 365 days
//         before `--end` (a `record` every ~17 minutes), each adding one part of `--per-part`
//         records and rewriting manifest.json as lib/branch/writer.ts does (v1: counts, months,
//         the seal over the UTC-day prefix, recomputed when the day rolls over)
//   day1  the same devices with 5 commits each, on the last day
// The records' canonical lines come from the CLI itself (`record --stdin --dry-run`), so the
// parts are what a `record` writes; `verify --full` must accept both remotes (checked once, when
// built). Then the remote is repacked (what the server's own gc does).
// Per invocation, for both ledgers (copies of the cache): a device home (`init --remote` as
// device 1), whose own objects are then unpacked to loose objects (a device that recorded
// 30,000 times and never packed), and a reader home (`init --remote`). Stated: the device
// store's and the remote's size and object count, before and after maintenance (the CLI's own:
// a `record` that commits starts it; waited for here).
// Per run, each case on the day-1 store then on the year store (alternating order), ratio
// year/day-1 within the run; medians over runs:
//   Yn   `record` with nothing new (empty HOME), median of --reps
//   Yr   `record --stdin` of 100 new responses (one new part, pushed)
//   Yf   the reader's `fetch` after 5 × 1 new part (device 1's from Yr, devices 2–5 written
//        to the remote by this script as the writer would)
//   Yv   the reader's `verify` (default mode) after that fetch
//   Yp   the reader's warm `report daily --by device --json`, median of --reps (every day: the
//        year's output is 365 days against day 1's one)
//   Yw   the same report of the last 7 days (`--since`): the same output on both ledgers
// The reader's totals must equal what the devices recorded (exit 1 otherwise).
import { spawn, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { parseArgs } from 'node:util'
import { loadavg } from 'node:os'
import { DEFAULT_SEED, DEFAULT_END, makeRng } from './generate.mjs'
import {
  CLI,
  benchCacheDir,
  tempDir,
  measureOk,
  median,
  resultsTable,
  fmtRatio,
  fmtInt,
  log,
  writeJson,
  exitOnUncaught,
  parseEndDay,
  requireBuild,
  logMachine,
  benchEnv,
  run,
  gitWith,
  copyTree,
  pointHomeAt,
  cliSha,
} from './lib.mjs'
import { DAY_MS, deviceId as benchDeviceId, zero, addInto, makeRecord, checkReport } from './records.mjs'

exitOnUncaught('bench/year')

const { values: opt } = parseArgs({
  options: {
    devices: { type: 'string', default: '5' },
    commits: { type: 'string', default: '30000' },
    'per-part': { type: 'string', default: '3' },
    runs: { type: 'string', default: '3' },
    reps: { type: 'string', default: '3' },
    seed: { type: 'string', default: String(DEFAULT_SEED) },
    end: { type: 'string', default: DEFAULT_END },
    fresh: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    'build-only': { type: 'boolean', default: false },
    'cpu-prof': { type: 'string' },
    'no-unpack': { type: 'boolean', default: false },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
})
if (opt.help) {
  console.log(
    'usage: node bench/year.mjs [--devices 5] [--commits 30000] [--per-part 3] [--runs 3] [--reps 3] [--seed 42] [--end 2026-11-20] [--fresh] [--keep] [--build-only] [--out FILE]',
  )
  process.exit(0)
}

const DEVICES = Number(opt.devices)
const COMMITS = Number(opt.commits)
const PER_PART = Number(opt['per-part'])
const RUNS = Math.max(1, Number(opt.runs))
const REPS = Math.max(1, Number(opt.reps))
const SEED = Number(opt.seed)
const END_MS = parseEndDay(opt.end)
/** Every command runs at this clock: noon of the --end day, after the last generated commit. */
const NOW = new Date(END_MS + 12 * 3_600_000).toISOString()
const GOAL = 1.5
const SETUP_VERSION = 1
const SOURCE = 'bench'
const GENESIS = '365b2ae49536cf1397866c1f9fb65613b1df0c64'
const ids = Array.from({ length: DEVICES }, (_, i) => benchDeviceId(i + 1, 'e', 'a1e0'))

requireBuild()
const machine = logMachine()
const baseEnv = benchEnv()
const git = gitWith(baseEnv)
const NODE = process.execPath
const envFor = (id, extra = {}) => ({ ...baseEnv, USAGE_LEDGER_DEVICE_ID: id, USAGE_LEDGER_NOW: NOW, ...extra })
const ours = (home, ...args) => [NODE, [CLI, '--home', home, ...args]]

// ---------------------------------------------------------------------------------------------
// The ledgers, in the real layout, through git fast-import.

const utcDay = (ms) => new Date(ms).toISOString().slice(0, 10)
const addDays = (day, n) => utcDay(Date.parse(`${day}T00:00:00Z`) + n * DAY_MS)

/** sha256 over lines sorted in string order (= by id for canonical lines), each ending in "\n" (lib/ledger/manifest.ts). */
function sealDigest(sorted) {
  const h = createHash('sha256')
  for (let i = 0; i < sorted.length; i += 4096) h.update(`${sorted.slice(i, i + 4096).join('\n')}\n`)
  return h.digest('hex')
}
/** Two sorted string arrays merged. */
function merge(a, b) {
  const out = new Array(a.length + b.length)
  let i = 0
  let j = 0
  let k = 0
  while (i < a.length && j < b.length) out[k++] = a[i] < b[j] ? a[i++] : b[j++]
  while (i < a.length) out[k++] = a[i++]
  while (j < b.length) out[k++] = b[j++]
  return out
}

/** lib/ledger/manifest.ts serializeManifest: keys in emptyManifest's order, days/months/seen sorted. */
function serializeManifest(m) {
  const sortKeys = (o) =>
    Object.fromEntries(
      Object.keys(o)
        .sort()
        .map((k) => [k, o[k]]),
    )
  return `${JSON.stringify({ ...m, days: sortKeys(m.days), months: sortKeys(m.months), seen: sortKeys(m.seen) }, null, 2)}\n`
}

/**
 * A device branch written as lib/branch/writer.ts writes it, one commit per entry of `commits`
 * ({atMs, lines}), into the fast-import stream `out`; `manifest` (the branch head's, or null for
 * a new branch) and `sealed` (its sorted sealed lines) are carried on.
 */
function writeCommits(out, id, commits, state) {
  const dir = `devices/${id}`
  for (const c of commits) {
    const m = state.manifest
    const byDay = new Map()
    for (const line of c.lines) {
      const r = JSON.parse(line)
      const day = r.ts.slice(0, 10)
      if (!byDay.has(day)) byDay.set(day, [])
      byDay.get(day).push(line)
      const mo = (m.months[day.slice(0, 7)] ??= { records: 0, input: 0, output: 0, cacheWrite: 0, cacheRead: 0 })
      mo.records++
      for (const k of ['input', 'output', 'cacheWrite', 'cacheRead']) mo[k] += r[k]
      if (!m.lastRecordAt || r.ts > m.lastRecordAt) m.lastRecordAt = r.ts
      if (!state.byDay.has(day)) state.byDay.set(day, [])
      state.byDay.get(day).push(line)
    }
    const files = []
    const days = [...byDay.keys()].sort()
    for (const day of days) {
      const d = (m.days[day] ??= { parts: 0, records: 0 })
      d.parts++
      d.records += byDay.get(day).length
      m.records += byDay.get(day).length
      files.push([
        `${dir}/${day.slice(0, 7)}/${day}/${String(d.parts).padStart(6, '0')}.ndjson`,
        `${byDay.get(day).join('\n')}\n`,
      ])
    }
    m.updatedAt = new Date(c.atMs).toISOString()
    // The seal covers the days before the commit's day; re-computed when that moves (reseal).
    const through = addDays(utcDay(c.atMs), -1)
    const late = days.some((d) => d <= through)
    if (m.sealed.through !== through || late) {
      // A commit just after midnight carries records of the day before: late into a sealed day.
      for (const day of days)
        if (day <= through && state.sealedDays.has(day)) state.sealed = merge(state.sealed, [...byDay.get(day)].sort())
      for (const [day, ls] of state.byDay)
        if (day <= through && !state.sealedDays.has(day)) {
          state.sealed = merge(state.sealed, [...ls].sort())
          state.sealedDays.add(day)
        }
      m.sealed = { through, records: state.sealed.length, digest: sealDigest(state.sealed) }
    }
    files.push([`${dir}/manifest.json`, serializeManifest(m)])
    if (!state.head)
      files.push([
        `${dir}/device.json`,
        `${JSON.stringify(
          {
            v: 1,
            id,
            name: `device-${ids.indexOf(id) + 1}`,
            platform: 'linux',
            createdAt: m.updatedAt,
            tool: 'usage-ledger bench',
          },
          null,
          2,
        )}\n`,
      ])
    const n = c.lines.length
    const range = days.length === 1 ? days[0] : `${days[0]}..${days[days.length - 1]}`
    const msg = `record: +${n} record${n === 1 ? '' : 's'} (${range})\n`
    const sig = `usage-ledger <${id}@usage-ledger> ${Math.floor(c.atMs / 1000)} +0000`
    let s = `commit refs/heads/ledger/${id}\nauthor ${sig}\ncommitter ${sig}\ndata ${Buffer.byteLength(msg)}\n${msg}`
    // Later commits continue the branch fast-import is writing; the first starts at the genesis
    // or at the remote's head.
    if (state.from) s += `from ${state.from}\n`
    state.from = null
    for (const [p, text] of files) s += `M 100644 inline ${p}\ndata ${Buffer.byteLength(text)}\n${text}\n`
    out.write(`${s}\n`)
    state.head = true
  }
}

/** `git fast-import` into `gitdir`; `feed(write)` writes the stream; resolves when git is done. */
function fastImport(gitdir, feed) {
  return new Promise((resolve, reject) => {
    const child = spawn('git', ['--git-dir', gitdir, 'fast-import', '--quiet', '--done'], {
      env: baseEnv,
      stdio: ['pipe', 'inherit', 'pipe'],
    })
    let err = ''
    child.stderr.on('data', (b) => {
      err += b
    })
    child.on('error', reject)
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`git fast-import failed: ${err.trim()}`))))
    const chunks = []
    const out = { write: (s) => chunks.push(s) }
    ;(async () => {
      for await (const _ of feed(out)) {
        const text = chunks.splice(0).join('')
        if (!child.stdin.write(text)) await new Promise((r) => child.stdin.once('drain', r))
      }
      child.stdin.end(`${chunks.join('')}done\n`)
    })().catch(reject)
  })
}

/**
 * Device `dev`'s records for `n` commits spread over [startMs, endMs): commit i at its slot's
 * end, its PER_PART records in the minutes before (sessions of 20 commits); stdin NDJSON.
 */
function deviceInput(dev, n, startMs, endMs, salt) {
  const rng = makeRng([SEED, dev, salt, 0x7ea4])
  const step = (endMs - startMs) / n
  const acc = zero()
  const lines = []
  const at = []
  for (let i = 0; i < n; i++) {
    const t = Math.floor(startMs + (i + 1) * step)
    at.push(t)
    for (let k = 0; k < PER_PART; k++)
      lines.push(
        makeRecord(rng, t - Math.floor(((PER_PART - k) * step) / (PER_PART + 1)), dev, Math.floor(i / 20), acc),
      )
  }
  return { lines, at, truth: acc }
}

/** The canonical lines of stdin records, from the CLI itself (a dry run writes nothing). */
async function canonicalLines(id, stdinLines, home) {
  const out = await run('record --dry-run', ...ours(home, 'record', '--stdin', '--source', SOURCE, '--dry-run'), {
    env: envFor(id),
    input: `${stdinLines.join('\n')}\n`,
  })
  return out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .sort((a, b) => (a.slice(53, 77) < b.slice(53, 77) ? -1 : a.slice(53, 77) > b.slice(53, 77) ? 1 : 0))
}

/** A remote with every device's `commits` commits over [startMs, endMs). */
async function buildRemote(remote, commits, startMs, endMs, salt, scratch) {
  git('init', '--quiet', '--bare', remote)
  // The genesis every branch starts from (DESIGN §2), as lib/git/genesis.ts writes it.
  const empty = git('--git-dir', remote, 'mktree').trim()
  const genesisEnv = {
    ...baseEnv,
    GIT_AUTHOR_NAME: 'usage-ledger',
    GIT_AUTHOR_EMAIL: 'genesis@usage-ledger',
    GIT_AUTHOR_DATE: '@0 +0000',
    GIT_COMMITTER_NAME: 'usage-ledger',
    GIT_COMMITTER_EMAIL: 'genesis@usage-ledger',
    GIT_COMMITTER_DATE: '@0 +0000',
  }
  const g = spawnSync('git', ['--git-dir', remote, 'commit-tree', '--no-gpg-sign', empty, '-F', '-'], {
    env: genesisEnv,
    input:
      'usage-ledger: ledger root\n\nThe empty commit every device branch and main start from, so git can merge them.\n',
    encoding: 'utf8',
  })
  if (g.stdout.trim() !== GENESIS) throw new Error(`genesis ${g.stdout.trim()} ≠ ${GENESIS}: ${g.stderr}`)
  const truths = []
  for (let d = 0; d < DEVICES; d++) {
    const t0 = performance.now()
    const input = deviceInput(d + 1, commits, startMs, endMs, salt)
    const lines = await canonicalLines(ids[d], input.lines, join(scratch, `dry-${d}`))
    if (lines.length !== input.lines.length)
      throw new Error(`dry run gave ${lines.length} of ${input.lines.length} lines`)
    truths.push(input.truth)
    const state = {
      head: null,
      from: GENESIS,
      manifest: {
        v: 1,
        deviceId: ids[d],
        updatedAt: '',
        records: 0,
        lastRecordAt: null,
        days: {},
        months: {},
        sealed: { through: '', records: 0, digest: sealDigest([]) },
        seen: {},
      },
      byDay: new Map(),
      sealed: [],
      sealedDays: new Set(),
    }
    await fastImport(remote, function* (out) {
      for (let i = 0; i < commits; i += 500) {
        const batch = []
        for (let j = i; j < Math.min(commits, i + 500); j++)
          batch.push({ atMs: input.at[j], lines: lines.slice(j * PER_PART, (j + 1) * PER_PART) })
        writeCommits(out, ids[d], batch, state)
        yield
      }
    })
    log(`  device ${d + 1}: ${fmtInt(commits)} commits in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
  }
  return truths
}

const cacheRoot = join(benchCacheDir(), 'year')
const key = `y${COMMITS}-d${DEVICES}-p${PER_PART}-seed${SEED}-end${opt.end}-v${SETUP_VERSION}`
const cacheDir = join(cacheRoot, key)

/** The cached remotes (year and day1) with setup.json, built once. */
async function ensureLedgers() {
  if (opt.fresh) rmSync(cacheDir, { recursive: true, force: true })
  if (existsSync(join(cacheDir, 'setup.json'))) return JSON.parse(readFileSync(join(cacheDir, 'setup.json'), 'utf8'))
  mkdirSync(cacheRoot, { recursive: true })
  const tmp = join(cacheRoot, `.${key}-${process.pid}`)
  rmSync(tmp, { recursive: true, force: true })
  mkdirSync(tmp, { recursive: true })
  const t0 = performance.now()
  log(`setup: ${DEVICES} devices × ${fmtInt(COMMITS)} commits over 365 days before ${opt.end}; cached in ${cacheDir}`)
  const yearTruths = await buildRemote(
    join(tmp, 'year.git'),
    COMMITS,
    END_MS - 365 * DAY_MS,
    END_MS + 11 * 3_600_000,
    1,
    tmp,
  )
  const day1Truths = await buildRemote(join(tmp, 'day1.git'), 5, END_MS, END_MS + 11 * 3_600_000, 2, tmp)
  log('  repacking the remotes (what the server gc does) …')
  for (const r of ['year.git', 'day1.git']) git('--git-dir', join(tmp, r), 'repack', '-a', '-d', '-q')
  for (const d of readdirSync(tmp)) if (d.startsWith('dry-')) rmSync(join(tmp, d), { recursive: true, force: true })
  const meta = {
    ids,
    now: NOW,
    commits: COMMITS,
    perPart: PER_PART,
    truths: { year: yearTruths, day1: day1Truths },
    buildSeconds: Math.round((performance.now() - t0) / 100) / 10,
  }
  writeFileSync(join(tmp, 'setup.json'), `${JSON.stringify(meta, null, 2)}\n`)
  rmSync(cacheDir, { recursive: true, force: true })
  renameSync(tmp, cacheDir)
  log(`setup built in ${meta.buildSeconds} s`)
  return meta
}

if (opt['build-only']) {
  await ensureLedgers()
  process.exit(0)
}

// ---------------------------------------------------------------------------------------------
// The homes of one ledger (cached per CLI build: `init --remote` of the year takes minutes).

const READER_ID = '0123456789abcdef0123456789abcdef'
const LEDGERS = ['day1', 'year']

/**
 * A reader home (`init --remote`) and device 1's home: a copy of the reader made device 1's
 * (config deviceId, its branch set from what the fetch verified), as `init --remote
 * --continue-device` leaves it, without a second full fetch.
 */
async function ensureHomes(sha) {
  const dir = join(cacheDir, `homes-${sha}`)
  if (existsSync(join(dir, 'done'))) return dir
  for (const d of readdirSync(cacheDir))
    if (d.startsWith('homes-')) rmSync(join(cacheDir, d), { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  for (const L of LEDGERS) {
    const t0 = performance.now()
    const remote = join(dir, `${L}-remote.git`)
    copyTree(join(cacheDir, `${L}.git`), remote)
    const reader = join(dir, `${L}-reader`)
    await run(`init reader (${L})`, ...ours(reader, 'init', '--remote', remote, '--name', 'reader'), {
      env: envFor(READER_ID),
    })
    const device = join(dir, `${L}-device`)
    copyTree(reader, device)
    const cfgPath = join(device, 'config.json')
    const cfg = JSON.parse(readFileSync(cfgPath, 'utf8'))
    cfg.deviceId = ids[0]
    cfg.deviceName = 'device-1'
    delete cfg.installId
    writeFileSync(cfgPath, `${JSON.stringify(cfg, null, 2)}\n`)
    const gd = join(device, 'repo.git')
    git('--git-dir', gd, 'update-ref', `refs/heads/ledger/${ids[0]}`, `refs/remotes/origin/ledger/${ids[0]}`)
    rmSync(remote, { recursive: true, force: true })
    log(`  homes of ${L}: ${((performance.now() - t0) / 1000).toFixed(1)} s`)
  }
  writeFileSync(join(dir, 'done'), '')
  return dir
}

/** `du -sk` in KB and `git count-objects -v` of a repository. */
function repoStats(gitdir) {
  const kb = Number(spawnSync('du', ['-sk', gitdir], { encoding: 'utf8' }).stdout.split('\t')[0])
  const c = Object.fromEntries(
    git('--git-dir', gitdir, 'count-objects', '-v')
      .trim()
      .split('\n')
      .map((l) => l.split(': '))
      .map(([k, v]) => [k, Number(v)]),
  )
  return { duKB: kb, loose: c.count, inPack: c['in-pack'], packs: c.packs, sizeKB: c.size + c['size-pack'] }
}
const fmtStats = (s) =>
  `${fmtInt(s.duKB / 1024)} MB on disk, ${fmtInt(s.loose)} loose objects, ${fmtInt(s.inPack)} in ${s.packs} pack(s)`

/**
 * Device 1's own objects made loose, as 30,000 `record` runs leave them without maintenance:
 * the other devices' objects repacked alone, then device 1's unpacked.
 */
function unpackOwn(gitdir) {
  const own = spawnSync('git', ['--git-dir', gitdir, 'pack-objects', '--revs', '--stdout', '-q'], {
    env: baseEnv,
    input: `refs/heads/ledger/${ids[0]}\n`,
    maxBuffer: 2 ** 31,
  })
  if (own.status !== 0) throw new Error(`pack-objects: ${own.stderr}`)
  const packDir = join(gitdir, 'objects', 'pack')
  const old = readdirSync(packDir).filter((f) => f.startsWith('pack-'))
  const own1 = [`refs/heads/ledger/${ids[0]}`, `refs/remotes/origin/ledger/${ids[0]}`]
  const others = git('--git-dir', gitdir, 'for-each-ref', '--format=%(refname)')
    .split('\n')
    .filter((r) => r && !own1.includes(r))
  const p = spawnSync('git', ['--git-dir', gitdir, 'pack-objects', '--revs', '-q', join(packDir, 'pack')], {
    env: baseEnv,
    input: `${others.join('\n')}\n^${own1[0]}\n`,
    encoding: 'utf8',
  })
  if (p.status !== 0) throw new Error(`pack-objects: ${p.stderr}`)
  for (const f of old) rmSync(join(packDir, f))
  const u = spawnSync('git', ['--git-dir', gitdir, 'unpack-objects', '-q'], { env: baseEnv, input: own.stdout })
  if (u.status !== 0) throw new Error(`unpack-objects: ${u.stderr}`)
  rmSync(join(gitdir, 'objects', 'info', 'commit-graph'), { force: true })
  // The genesis (every branch's root) and device 1's head must be there, loose or packed.
  git('--git-dir', gitdir, 'cat-file', '-e', `${GENESIS}^{commit}`)
  git('--git-dir', gitdir, 'cat-file', '-e', `refs/heads/ledger/${ids[0]}^{tree}`)
}

/** Waits (bounded) until no gc runs in `gitdir`: measuring beside it would measure it too. */
async function gcDone(gitdir) {
  for (let i = 0; i < 36_000 && existsSync(join(gitdir, 'gc.pid')); i++) await new Promise((r) => setTimeout(r, 100))
  if (existsSync(join(gitdir, 'gc.pid'))) throw new Error(`git gc still runs in ${gitdir} after an hour`)
}

// ---------------------------------------------------------------------------------------------
// What each run adds.

/** Run `r`'s 100 responses of device `dev` (1-based), in the hour before NOW, new ids. */
function newResponses(dev, r, n, acc) {
  const rng = makeRng([SEED, dev, r, 0x9e4])
  const t0 = Date.parse(NOW) - 3_600_000 + (r - 1) * 600_000
  const lines = []
  for (let k = 0; k < n; k++)
    lines.push(makeRecord(rng, t0 + Math.floor((k * 500_000) / n) + k, dev, 5_000_000 + r, acc))
  return lines
}

/** One new part on each of devices 2…N in `remote`, written as the writer would (no reseal: same day). */
async function addParts(remote, r, truths, scratch) {
  await fastImport(remote, function* (out) {
    for (let d = 1; d < DEVICES; d++) {
      const head = git('--git-dir', remote, 'rev-parse', `refs/heads/ledger/${ids[d]}`).trim()
      const manifest = JSON.parse(git('--git-dir', remote, 'show', `${head}:devices/${ids[d]}/manifest.json`))
      const acc = zero()
      const stdin = newResponses(d + 1, r, 20, acc)
      const lines = spawnSync(
        NODE,
        [CLI, '--home', join(scratch, `dry-${d}`), 'record', '--stdin', '--source', SOURCE, '--dry-run'],
        {
          env: envFor(ids[d]),
          input: `${stdin.join('\n')}\n`,
          encoding: 'utf8',
        },
      )
        .stdout.split('\n')
        .filter((l) => l.startsWith('{'))
      if (lines.length !== stdin.length) throw new Error(`dry run gave ${lines.length} of ${stdin.length} lines`)
      addInto(truths[d], acc)
      const state = { head: true, from: head, manifest, byDay: new Map(), sealed: null, sealedDays: new Set() }
      const through = manifest.sealed.through
      writeCommits(out, ids[d], [{ atMs: Date.parse(NOW) - 60_000, lines }], state)
      if (state.manifest.sealed.through !== through) throw new Error('a new part of today resealed')
    }
    yield
  })
}

// ---------------------------------------------------------------------------------------------
// The runs.

const meta = await ensureLedgers()
const sha = cliSha(CLI)
log(`homes for CLI build ${sha} …`)
const homesDir = await ensureHomes(sha)
const root = tempDir('ul-bench-year-')
const emptyHome = join(root, 'empty-home')
mkdirSync(emptyHome)
// A full `record` with an empty HOME: no source finds a log (as bench/run.mjs's S cases).
const noSourcesEnv = (id) => {
  const e = envFor(id, { HOME: emptyHome })
  delete e.XDG_CONFIG_HOME
  delete e.XDG_DATA_HOME
  return e
}
const L = {}
const stats = {}
const samples = Object.fromEntries(['Yn', 'Yr', 'Yf', 'Yv', 'Yp', 'Yw'].flatMap((c) => [[c, { day1: [], year: [] }]]))
let failed = false
try {
  for (const name of LEDGERS) {
    const d = join(root, name)
    mkdirSync(d)
    const remote = join(d, 'remote.git')
    copyTree(join(cacheDir, `${name}.git`), remote)
    const reader = join(d, 'reader')
    const device = join(d, 'device')
    copyTree(join(homesDir, `${name}-reader`), reader)
    copyTree(join(homesDir, `${name}-device`), device)
    pointHomeAt(reader, remote)
    pointHomeAt(device, remote)
    L[name] = { remote, reader, device, truths: meta.truths[name].map((t) => ({ ...t })) }
  }
  // The year's device store as 30,000 runs leave it without maintenance, then maintained by the
  // CLI's own housekeeping: a `record` that commits starts it (waited for here).
  const yd = join(L.year.device, 'repo.git')
  // --no-unpack (profiling the runs): the store as `init --remote` left it, packed.
  if (!opt['no-unpack']) {
    log("unpacking device 1's objects in the year store …")
    unpackOwn(yd)
  }
  stats.deviceBefore = repoStats(yd)
  stats.remoteBefore = repoStats(L.year.remote)
  log(`year device store: ${fmtStats(stats.deviceBefore)}`)
  for (const name of LEDGERS) {
    const acc = zero()
    const lines = newResponses(1, 0, 10, acc)
    await run('record (warm-up)', ...ours(L[name].device, 'record', '--stdin', '--source', SOURCE, '--quiet'), {
      env: envFor(ids[0]),
      input: `${lines.join('\n')}\n`,
    })
    addInto(L[name].truths[0], acc)
  }
  const tm = performance.now()
  await gcDone(yd)
  stats.maintenanceWaitSeconds = Math.round((performance.now() - tm) / 100) / 10
  stats.deviceAfter = repoStats(yd)
  log(`after maintenance (${stats.maintenanceWaitSeconds} s): ${fmtStats(stats.deviceAfter)}`)
  // Not measured: the readers fetch the warm-up commit. Device 1's first commit by this CLI converts
  // its v1 manifest (the ledger is built as v1), which a reader then re-digests once, day by day:
  // the runs measure the steady state, not that one conversion.
  for (const name of LEDGERS)
    await run('fetch (warm-up)', ...ours(L[name].reader, 'fetch', '--json'), { env: envFor(READER_ID) })

  // --cpu-prof DIR: every measured CLI run writes a V8 profile under DIR/<case>-<ledger>/ (bench/cpuprofile.mjs).
  const measured = async (label, home, id, args, opts = {}) =>
    measureOk(label, NODE, [...profArgs(label, home), CLI, '--home', home, ...args], { env: opts.env ?? envFor(id) })
  for (let r = 1; r <= RUNS; r++) {
    const order = r % 2 ? LEDGERS : [...LEDGERS].reverse()
    log(`run ${r}/${RUNS} (${order.join(' then ')}), 1-min load ${loadavg()[0].toFixed(2)}`)
    const each = async (fn) => {
      for (const name of order) await fn(name, L[name])
    }
    // Yn: nothing new
    for (let k = 0; k < REPS; k++)
      await each(async (name, l) => {
        samples.Yn[name].push(
          await measured('record (nothing new)', l.device, ids[0], ['record', '--quiet'], {
            env: noSourcesEnv(ids[0]),
          }),
        )
      })
    // Yr: 100 new responses, pushed
    await each(async (name, l) => {
      const acc = zero()
      const lines = newResponses(1, r, 100, acc)
      const m = await measureStdin(l.device, ids[0], lines)
      samples.Yr[name].push(m)
      addInto(l.truths[0], acc)
    })
    // Yf: devices 2…N add a part each (device 1's came with Yr); the reader fetches
    for (const name of LEDGERS) await addParts(L[name].remote, r, L[name].truths, join(root, name))
    await each(async (name, l) => {
      samples.Yf[name].push(await measured('fetch', l.reader, READER_ID, ['fetch', '--json']))
    })
    // Yv: verify (default: from the heads proved last time)
    await each(async (name, l) => {
      samples.Yv[name].push(await measured('verify', l.reader, READER_ID, ['verify']))
    })
    // Yp: warm report
    const report = ['report', 'daily', '--by', 'device', '--json', '--tz', 'UTC']
    await each(async (_name, l) => {
      await measured('report (warm-up)', l.reader, READER_ID, report)
    })
    for (let k = 0; k < REPS; k++)
      await each(async (name, l) => {
        samples.Yp[name].push(await measured('report', l.reader, READER_ID, report))
      })
    const week = [...report, '--since', new Date(Date.parse(NOW) - 6 * 86_400_000).toISOString().slice(0, 10)]
    for (let k = 0; k < REPS; k++)
      await each(async (name, l) => {
        samples.Yw[name].push(await measured('report (7 days)', l.reader, READER_ID, week))
      })
  }
  // The reader's totals against what every device recorded.
  for (const name of LEDGERS) {
    const json = JSON.parse(
      await run(
        'report (check)',
        ...ours(L[name].reader, 'report', 'daily', '--by', 'device', '--json', '--tz', 'UTC', '--since', '2020-01-01'),
        { env: envFor(READER_ID) },
      ),
    )
    const problems = checkReport(json, L[name].truths, ids)
    if (problems.length) {
      failed = true
      log(`${name}: the reader's report is wrong:\n  ${problems.join('\n  ')}`)
    }
  }
  stats.deviceEnd = repoStats(yd)
  stats.remoteEnd = repoStats(L.year.remote)
  stats.readerEnd = repoStats(join(L.year.reader, 'repo.git'))
} finally {
  if (!opt.keep) rmSync(root, { recursive: true, force: true })
  else log(`kept ${root}`)
}

function profArgs(label, home) {
  if (!opt['cpu-prof']) return []
  return [
    '--cpu-prof',
    `--cpu-prof-dir=${join(opt['cpu-prof'], `${label.replace(/\W+/g, '-')}-${basename(dirname(home))}`)}`,
  ]
}

/** `record --stdin` of `lines` with the wall measured (the pipe is fed from a file). */
async function measureStdin(home, id, lines) {
  const f = join(root, `stdin-${process.hrtime.bigint()}.ndjson`)
  writeFileSync(f, `${lines.join('\n')}\n`)
  try {
    return await measureOk(
      'record --stdin',
      'sh',
      [
        '-c',
        `exec "$0" "$@" < "${f}"`,
        NODE,
        ...profArgs('record-stdin', home),
        CLI,
        '--home',
        home,
        'record',
        '--stdin',
        '--source',
        SOURCE,
        '--quiet',
      ],
      {
        env: envFor(id),
      },
    )
  } finally {
    rmSync(f, { force: true })
  }
}

// ---------------------------------------------------------------------------------------------
// Results.

const CASES = {
  Yn: 'record, nothing new',
  Yr: 'record --stdin, 100 new responses (pushed)',
  Yf: 'fetch after 5 × 1 new part',
  Yv: 'verify (default) after that fetch',
  Yp: 'report daily --by device, warm',
  Yw: 'the same, the last 7 days',
}
const wall = (s) => s.wallMs
/** Per run: the median of that run's reps; ratios year/day-1 per run. */
function perRun(xs, reps) {
  const out = []
  for (let i = 0; i < xs.length; i += reps) out.push(median(xs.slice(i, i + reps).map(wall)))
  return out
}
const results = Object.entries(CASES).map(([id, name]) => {
  const reps = id === 'Yn' || id === 'Yp' || id === 'Yw' ? REPS : 1
  const y = perRun(samples[id].year, reps)
  const d = perRun(samples[id].day1, reps)
  const ratios = y.map((v, i) => v / d[i])
  const ratio = median(ratios)
  return {
    id,
    case: name,
    ours: { wallMs: median(y), maxRssKB: median(samples[id].year.map((s) => s.maxRssKB)) },
    ref: { wallMs: median(d), maxRssKB: median(samples[id].day1.map((s) => s.maxRssKB)) },
    reference: 'the same on day 1',
    ratio,
    ratios,
    n: ratios.length,
    goal: { wallRatio: GOAL },
    met: ratio <= GOAL,
  }
})
console.log()
console.log(resultsTable(results, { goal: () => `≤ ${GOAL}×`, met: (r) => (r.met ? 'yes' : 'NO') }))
console.log(`ratios per run: ${results.map((r) => `${r.id} ${r.ratios.map(fmtRatio).join(' ')}`).join('; ')}`)
for (const [k, s] of Object.entries(stats)) if (typeof s === 'object') console.log(`${k}: ${fmtStats(s)}`)
if (opt.out)
  writeJson(opt.out, {
    schema: 'usage-ledger/bench-year@1',
    date: new Date().toISOString(),
    machine,
    cliSha: sha,
    ledger: { devices: DEVICES, commits: COMMITS, perPart: PER_PART, records: DEVICES * COMMITS * PER_PART },
    results,
    stats,
    samples,
  })
process.exitCode = failed ? 1 : 0
