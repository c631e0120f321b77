/**
 * Checks for fault tests, all with asynchronous child processes (./spawn.ts). Each check returns its problems as strings (empty = clean) so a test can assert
 * them with one t.same(…, []) and print what went wrong.
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { cli, pick, type Totals } from './cli.js'
import { gitA, gitAsync, gitEnv } from './spawn.js'

/**
 * A fresh directory under the system temp dir, removed after a passing test (kept and named
 * after a failing one). Unlike t.testdir(), whose path is fixed per test name under the
 * working tree, two runs of the same file at once (a shared checkout) never share it.
 */
export function tempDir(
  t: { teardown(f: () => void): void; passing(): boolean; comment(...m: unknown[]): void },
  name: string,
): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `ul-${name}-`))
  t.teardown(() => {
    if (t.passing()) fs.rmSync(dir, { recursive: true, force: true })
    else t.comment(`kept ${dir}`)
  })
  return dir
}

/**
 * `git fsck --strict`: problems are a non-zero exit or anything it says (errors, warnings) but
 * dangling objects and git's notices (a bare store's HEAD names a `main` that only a remote has).
 */
export async function fsckProblems(gitdir: string): Promise<string[]> {
  const r = await gitAsync(gitdir, ['fsck', '--strict', '--no-progress', '--no-dangling'])
  const problems: string[] = []
  if (r.code !== 0) problems.push(`git fsck --strict exited ${r.code} in ${gitdir}`)
  for (const l of `${r.stderr}\n${r.stdout}`.split('\n')) if (l.trim() && !l.startsWith('notice: ')) problems.push(l)
  return problems
}

const EMPTY_TREE = '4b825dc642cb6eb9a060e54bf8d69288fbee4904'
/** A part, or a limits part (DESIGN §2: the same rules, numbered in its own day directory). */
const PART_RE = /^devices\/([0-9a-f]{32})\/((?:limits\/)?\d{4}-\d{2})\/(\d{4}-\d{2}-\d{2})\/(\d{6})\.ndjson$/

/**
 * The append-only shape of a ledger branch (DESIGN §2): linear; every commit adds at least one
 * part, numbered next in its day, and otherwise only (re)writes manifest.json and device.json
 * of its own device; no part is ever modified or deleted.
 */
export async function historyProblems(gitdir: string, ref: string): Promise<{ commits: number; problems: string[] }> {
  const out = await gitA(gitdir, [
    'log',
    '--reverse',
    '--raw',
    '--no-renames',
    '--root',
    '--no-abbrev',
    '--format=C %H %T %P',
    ref,
  ])
  const problems: string[] = []
  const device = ref.slice(ref.lastIndexOf('/') + 1)
  const partsPerDay = new Map<string, number>()
  let commits = 0
  let cur: { oid: string; parts: number } | null = null
  const endCommit = () => {
    if (cur && cur.parts === 0) problems.push(`commit ${cur.oid} adds no part`)
  }
  for (const line of out.split('\n')) {
    if (line.startsWith('C ')) {
      endCommit()
      const [, oid, tree, ...parents] = line.split(' ').filter(Boolean)
      // The genesis the branch starts from (an empty root commit) is no device commit.
      if (!parents.length && tree === EMPTY_TREE) {
        cur = null
        continue
      }
      commits++
      if (parents.length > 1) problems.push(`commit ${oid} is a merge`)
      cur = { oid: oid!, parts: 0 }
      continue
    }
    if (!line.startsWith(':')) continue
    const [meta, file] = line.split('\t') as [string, string]
    const status = meta.split(' ')[4]!
    const m = PART_RE.exec(file)
    if (m) {
      if (m[1] !== device) problems.push(`${cur!.oid}: ${file} is outside this device's directory`)
      if (status !== 'A') {
        problems.push(
          `${cur!.oid}: part ${file} was ${status === 'M' ? 'modified' : status === 'D' ? 'deleted' : status}`,
        )
        continue
      }
      const dayDir = `${m[2]}/${m[3]}`
      const n = (partsPerDay.get(dayDir) ?? 0) + 1
      partsPerDay.set(dayDir, n)
      if (Number(m[4]) !== n) problems.push(`${cur!.oid}: part ${file} added as number ${Number(m[4])}, expected ${n}`)
      cur!.parts++
    } else if (file === `devices/${device}/manifest.json` || file === `devices/${device}/device.json`) {
      if (status !== 'A' && status !== 'M') problems.push(`${cur!.oid}: ${file} ${status}`)
    } else {
      problems.push(`${cur!.oid}: unexpected change ${status} ${file}`)
    }
  }
  endCommit()
  return { commits, problems }
}

/** Part path → blob oid at `ref`. */
export async function partsAt(gitdir: string, ref: string): Promise<Map<string, string>> {
  const out = await gitA(gitdir, ['ls-tree', '-r', '--full-tree', ref])
  const parts = new Map<string, string>()
  for (const line of out.split('\n')) {
    const [meta, file] = line.split('\t')
    if (file && PART_RE.test(file)) parts.set(file, meta!.split(' ')[2]!)
  }
  return parts
}

/** What changed in `before`'s parts at `after`: missing or different blobs (must be none). */
export function partsChanged(before: Map<string, string>, after: Map<string, string>): string[] {
  const problems: string[] = []
  for (const [p, oid] of before) {
    const now = after.get(p)
    if (now === undefined) problems.push(`part ${p} disappeared`)
    else if (now !== oid) problems.push(`part ${p} changed: ${oid} -> ${now}`)
  }
  return problems
}

/**
 * Every ledger line of `ref`; a problem for each id written twice with the same total (a
 * doubled write: writers append a copy only when it beats what is recorded).
 */
export async function ledgerLines(gitdir: string, ref: string): Promise<{ lines: number; problems: string[] }> {
  // Records only: a limits part holds readings (DESIGN §4a), which no run counts as appended.
  const oids = [...(await partsAt(gitdir, ref))].filter(([p]) => !p.includes('/limits/')).map(([, oid]) => oid)
  if (!oids.length) return { lines: 0, problems: [] }
  const r = await new Promise<Buffer>((resolve, reject) => {
    const child = spawn('git', ['cat-file', '--batch'], { env: gitEnv(gitdir), stdio: ['pipe', 'pipe', 'inherit'] })
    const chunks: Buffer[] = []
    child.stdout.on('data', (b: Buffer) => chunks.push(b))
    child.on('error', reject)
    child.on('close', (code) =>
      code === 0 ? resolve(Buffer.concat(chunks)) : reject(new Error(`git cat-file exited ${code}`)),
    )
    child.stdin.end(`${oids.join('\n')}\n`)
  })
  const seen = new Map<string, Set<string>>()
  const problems: string[] = []
  let lines = 0
  for (let pos = 0; pos < r.length; ) {
    const nl = r.indexOf(10, pos)
    const [oid, type, size] = r.toString('utf8', pos, nl).split(' ')
    if (type !== 'blob') throw new Error(`cat-file: ${oid} is ${type}`)
    const body = r.toString('utf8', nl + 1, nl + 1 + Number(size))
    pos = nl + 1 + Number(size) + 1
    for (const l of body.split('\n')) {
      if (!l) continue
      lines++
      const rec = JSON.parse(l) as {
        id: string
        ts: string
        input: number
        output: number
        cacheWrite: number
        cacheRead: number
      }
      const total = rec.input + rec.output + rec.cacheWrite + rec.cacheRead
      // An equal copy with an earlier ts is appended once (the dedupe rule keeps the earliest).
      const s = seen.get(rec.id) ?? new Set<string>()
      if (s.has(`${total}@${rec.ts}`)) problems.push(`id ${rec.id} written twice with total ${total} and ts ${rec.ts}`)
      s.add(`${total}@${rec.ts}`)
      seen.set(rec.id, s)
    }
  }
  return { lines, problems }
}

/** `report daily --json --tz UTC` as day → totals, plus the grand totals. */
export async function reportDays(
  env: Record<string, string | undefined>,
  extra: string[] = [],
): Promise<{ days: Record<string, Totals>; totals: Totals }> {
  const r = await cli(['report', 'daily', '--json', '--tz', 'UTC', ...extra], { env })
  if (r.code !== 0) throw new Error(`report exited ${r.code}: ${r.stderr}`)
  const j = JSON.parse(r.stdout) as { rows: Array<Record<string, unknown>>; totals: Record<string, unknown> }
  return { days: Object.fromEntries(j.rows.map((row) => [row.period as string, pick(row)])), totals: pick(j.totals) }
}
