/**
 * `verify` against real stores tampered with through git's own plumbing: every check of
 * DESIGN §8 must name its finding and exit 3; the untouched ledger must exit 0.
 */
import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import zlib from 'node:zlib'
import { spawnSync } from 'node:child_process'
import { cli, copyFixtures, git, isolatedEnv } from '../helpers/cli.js'
import { machine } from '../helpers/machine.js'
import { startGitServer } from '../helpers/git-server.js'
// Asynchronous git: this process serves the remote, so a blocking spawn would deadlock it.
import { gitA } from '../helpers/spawn.js'
import { GENESIS_OID } from '../../lib/git/genesis.js'

const ME = 'a1'.repeat(16)
const OTHER = 'b2'.repeat(16)
const TOKEN = 'verify-test-token'

interface Finding {
  code: string
  severity: string
  device: string
  commit: string | null
  path: string | null
  line: number | null
  detail: string
}
interface Verdict {
  id: string
  head: string
  tree: string
  records: number
  from: string | null
  checked: { commits: number; parts: number; records: number; trees: number }
  index: string
}
interface VerifyJson {
  schema: string
  ok: boolean
  mode: string
  merged: { tree: string }
  devices: Verdict[]
  findings: Finding[]
}

async function verifyJson(
  env: Record<string, string | undefined>,
  extra: string[] = [],
): Promise<{ code: number; json: VerifyJson; stderr: string }> {
  const r = await cli(['verify', '--json', ...extra], { env })
  let json: VerifyJson
  try {
    json = JSON.parse(r.stdout) as VerifyJson
  } catch {
    throw new Error(`verify printed no JSON (exit ${r.code}): ${r.stderr}`)
  }
  return { code: r.code, json, stderr: r.stderr }
}

/** One recorded store (the Claude and Codex fixtures), copied afresh for every tamper. */
const base = t.testdir()
copyFixtures(base)
const baseEnv = isolatedEnv(base, { USAGE_LEDGER_DEVICE_ID: ME })

function storeCopy(t: { testdir(): string }): { env: Record<string, string | undefined>; gitdir: string; dir: string } {
  const dir = t.testdir()
  fs.cpSync(base, dir, { recursive: true })
  return { env: isolatedEnv(dir, { USAGE_LEDGER_DEVICE_ID: ME }), gitdir: path.join(dir, 'store/repo.git'), dir }
}

const ref = `refs/heads/ledger/${ME}`
const dir = `devices/${ME}`

/** A commit on top of the device head made with git plumbing: files set (content) or deleted (null). */
function tamperCommit(gitdir: string, files: Record<string, string | null>, branch = ref): string {
  const index = path.join(gitdir, 'tamper-index')
  const withIndex = (args: string[], input?: string) => gitIndexed(gitdir, index, args, input)
  const head = git(gitdir, ['rev-parse', branch]).trim()
  withIndex(['read-tree', head])
  const info: string[] = []
  for (const [p, content] of Object.entries(files)) {
    if (content === null)
      info.push(`0 ${'0'.repeat(40)}\t${p}`) // mode 0 removes the entry
    else {
      const file = path.join(gitdir, 'tamper-blob')
      fs.writeFileSync(file, content)
      info.push(`100644 ${git(gitdir, ['hash-object', '-w', file]).trim()}\t${p}`)
    }
  }
  withIndex(['update-index', '--index-info'], `${info.join('\n')}\n`)
  const tree = withIndex(['write-tree']).trim()
  const commit = withIndex(['commit-tree', tree, '-p', head, '-m', 'tamper']).trim()
  git(gitdir, ['update-ref', branch, commit, head])
  fs.rmSync(index, { force: true })
  return commit
}

function gitIndexed(gitdir: string, index: string, args: string[], input = ''): string {
  const r = spawnSync('git', args, {
    env: {
      PATH: process.env.PATH,
      GIT_DIR: gitdir,
      GIT_INDEX_FILE: index,
      GIT_CONFIG_NOSYSTEM: '1',
      HOME: gitdir,
      GIT_AUTHOR_NAME: 'x',
      GIT_AUTHOR_EMAIL: 'x@x',
      GIT_COMMITTER_NAME: 'x',
      GIT_COMMITTER_EMAIL: 'x@x',
    },
    input,
    encoding: 'utf8',
  })
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`)
  return r.stdout
}

const show = (gitdir: string, p: string) => git(gitdir, ['show', `${ref}:${p}`])
const parts = (gitdir: string) =>
  git(gitdir, ['ls-tree', '-r', '--name-only', ref, dir])
    .split('\n')
    .filter((p) => p.endsWith('.ndjson'))
const codes = (j: VerifyJson) => j.findings.map((f) => f.code)

t.before(async () => {
  const r = await cli(['record', '--no-push'], { env: baseEnv })
  if (r.code !== 0) throw new Error(r.stderr)
})

t.test('an untouched ledger verifies: exit 0, default and full, with the merged tree oid', async (t) => {
  const { env, gitdir } = storeCopy(t)
  const first = await verifyJson(env)
  t.equal(first.code, 0, first.stderr)
  t.equal(first.json.schema, 'usage-ledger/verify@1')
  t.same(first.json.findings, [])
  const d = first.json.devices[0]!
  t.equal(d.head, git(gitdir, ['rev-parse', ref]).trim(), 'the device head is printed')
  t.equal(d.tree, git(gitdir, ['rev-parse', `${ref}:${dir}`]).trim(), 'and its directory tree')
  t.ok(
    d.checked.parts === parts(gitdir).length && d.checked.records === d.records,
    'the first run reads every part and record',
  )
  t.equal(
    git(gitdir, ['rev-list', '--max-parents=0', ref]).trim(),
    GENESIS_OID,
    'the branch starts from the shared genesis',
  )
  t.equal(d.checked.commits, 1, 'one record commit checked: the genesis is the start, not a device commit')
  const full = await verifyJson(env, ['--full'])
  t.equal(full.code, 0)
  t.equal(full.json.mode, 'full')
  t.equal(full.json.merged.tree, first.json.merged.tree)
  const human = await cli(['verify'], { env })
  t.equal(human.code, 0)
  t.match(human.stdout, /^merged tree [0-9a-f]{40}$/m)
  t.match(human.stdout, /^ok: 1 device verified/m)
  t.equal(git(gitdir, ['fsck', '--strict']).trim(), '', 'git agrees')
})

t.test('a ledger from before the genesis (its first device commit is the root) still verifies', async (t) => {
  const { env, gitdir } = storeCopy(t)
  const head = git(gitdir, ['rev-parse', ref]).trim()
  const root = gitIndexed(gitdir, '', ['commit-tree', `${head}^{tree}`, '-m', 'record: an old root commit']).trim()
  git(gitdir, ['update-ref', ref, root, head])
  t.equal(git(gitdir, ['rev-list', '--max-parents=0', ref]).trim(), root, 'no genesis in this history')
  const full = await verifyJson(env, ['--full'])
  t.equal(full.code, 0, JSON.stringify(full.json.findings))
  t.same(full.json.findings, [])
  t.equal(full.json.devices[0]!.checked.commits, 1, 'its root commit is a device commit, checked like any other')
})

t.test(
  "the index's day trees against the head: current, then INDEX_MISMATCH naming a day the index read elsewhere",
  async (t) => {
    const { env, dir: home } = storeCopy(t)
    t.equal((await cli(['index'], { env })).code, 0)
    const full = await verifyJson(env, ['--full'])
    t.equal(full.code, 0, full.stderr)
    t.equal(full.json.devices[0]!.index, 'current')
    // A month's meta file says which tree each day was read from: make one day's entry wrong.
    const indexDir = path.join(home, 'store', 'index')
    const metaFile = fs.readdirSync(indexDir).find((f) => f.endsWith('.meta.json'))!
    const meta = JSON.parse(fs.readFileSync(path.join(indexDir, metaFile), 'utf8'))
    const day = Object.keys(meta.devices[ME].days).sort()[0]!
    meta.devices[ME].days[day][0] = '0'.repeat(40)
    fs.writeFileSync(path.join(indexDir, metaFile), JSON.stringify(meta))
    const r = await verifyJson(env, ['--full'])
    t.equal(r.code, 3)
    t.same(codes(r.json), ['INDEX_MISMATCH'])
    t.match(r.json.findings[0], { path: `${dir}/${day.slice(0, 7)}/${day}`, detail: /built from tree 000000000000/ })
  },
)

t.test('the default mode reads only what changed since the last proof', async (t) => {
  const { env } = storeCopy(t)
  t.equal((await verifyJson(env)).code, 0)
  const again = await verifyJson(env)
  t.same(
    again.json.devices[0]!.checked,
    { commits: 0, parts: 0, records: 0, trees: again.json.devices[0]!.checked.trees },
    'nothing new: nothing re-read',
  )
  const rec = await cli(['record', '--stdin', '--source', 'x', '--no-push'], {
    env,
    input: `${JSON.stringify({ ts: '2026-11-22T10:00:00Z', model: 'gpt-5', input: 5 })}\n`,
  })
  t.equal(rec.code, 0, rec.stderr)
  const after = await verifyJson(env)
  t.equal(after.code, 0, JSON.stringify(after.json.findings))
  t.match(after.json.devices[0]!.checked, { commits: 1, parts: 1, records: 1 }, 'one new commit, part and record')
})

t.test('a commit that rewrites an existing part', async (t) => {
  const { env, gitdir } = storeCopy(t)
  t.equal((await verifyJson(env)).code, 0)
  const victim = parts(gitdir)[0]!
  const text = show(gitdir, victim)
  const commit = tamperCommit(gitdir, {
    [victim]: text.replace(/"output":(\d+)/, (_m, n) => `"output":${Number(n) + 1000}`),
  })
  const { code, json } = await verifyJson(env)
  t.equal(code, 3)
  t.match(json.findings, [{ code: 'PART_CHANGED', device: ME, commit, path: victim, severity: 'error' }])
})

t.test('a commit that deletes a part', async (t) => {
  const { env, gitdir } = storeCopy(t)
  const victim = parts(gitdir)[1]!
  const commit = tamperCommit(gitdir, { [victim]: null })
  const { code, json } = await verifyJson(env)
  t.equal(code, 3)
  t.match(json.findings, [{ code: 'PART_REMOVED', commit, path: victim }])
})

t.test("a commit that touches another device's directory", async (t) => {
  const { env, gitdir } = storeCopy(t)
  const p = `devices/${OTHER}/2026-11/2026-11-20/000001.ndjson`
  const commit = tamperCommit(gitdir, { [p]: show(gitdir, parts(gitdir)[0]!) })
  const { code, json } = await verifyJson(env)
  t.equal(code, 3)
  t.match(json.findings, [{ code: 'OUTSIDE_DEVICE_DIR', device: ME, commit, path: p }])
})

t.test('a part with a record whose ts is outside its day', async (t) => {
  const { env, gitdir } = storeCopy(t)
  const victim = parts(gitdir)[0]!
  const day = victim.split('/')[3]!
  const lines = show(gitdir, victim).trimEnd().split('\n')
  // A new part of that day holding a copy of a record moved to the next month.
  const moved = lines[0]!.replace(/"ts":"\d{4}-\d{2}-\d{2}/, '"ts":"2027-01-15')
  const newPart = victim.replace(/\d{6}\.ndjson$/, '000099.ndjson')
  tamperCommit(gitdir, { [newPart]: `${moved}\n` })
  const { code, json } = await verifyJson(env)
  t.equal(code, 3)
  t.match(
    json.findings.find((f) => f.code === 'RECORD_OUTSIDE_DAY'),
    { path: newPart, line: 1, detail: new RegExp(`not in the part's day ${day}`) },
  )
})

t.test('a manifest whose counts lie', async (t) => {
  const { env, gitdir } = storeCopy(t)
  const m = JSON.parse(show(gitdir, `${dir}/manifest.json`))
  m.records += 1
  const commit = tamperCommit(gitdir, { [`${dir}/manifest.json`]: `${JSON.stringify(m, null, 2)}\n` })
  const { code, json } = await verifyJson(env)
  t.equal(code, 3)
  t.same(codes(json), ['MANIFEST_COUNTS'])
  t.match(json.findings[0], {
    commit,
    path: `${dir}/manifest.json`,
    detail: /^records says \d+; the parts hold \d+ lines$/,
  })

  const { env: env2, gitdir: gitdir2 } = storeCopy({ testdir: () => fs.mkdtempSync(path.join(base, '..', 'second-')) })
  const m2 = JSON.parse(show(gitdir2, `${dir}/manifest.json`))
  const day = Object.keys(m2.days)[0]!
  m2.days[day].records -= 1
  m2.records -= 1
  tamperCommit(gitdir2, { [`${dir}/manifest.json`]: `${JSON.stringify(m2, null, 2)}\n` })
  const second = await verifyJson(env2)
  t.equal(second.code, 3)
  t.match(
    second.json.findings,
    [{ code: 'MANIFEST_COUNTS', detail: new RegExp(`^days\\.${day} says`) }],
    "a day's count too",
  )
})

t.test('a sealed digest that does not match the records', async (t) => {
  const { env, gitdir } = storeCopy(t)
  t.equal((await verifyJson(env)).code, 0)
  const m = JSON.parse(show(gitdir, `${dir}/manifest.json`))
  t.ok(m.seal.records > 0, 'the fixtures lie before the sealed day')
  const day = Object.keys(m.days).find((d) => m.days[d].digest)!
  m.days[day].digest = m.days[day].digest.replace(/^./, (c: string) => (c === '0' ? '1' : '0'))
  tamperCommit(gitdir, { [`${dir}/manifest.json`]: `${JSON.stringify(m, null, 2)}\n` })
  const { code, json } = await verifyJson(env)
  t.equal(code, 3)
  t.same(codes(json), ['SEALED_MISMATCH', 'SEALED_MISMATCH'], 'the default mode recomputes a day whose digest moved')
  t.match(json.findings, [{ detail: new RegExp(`^days\\.${day}\\.digest .* of ${day}:`) }, { detail: /^seal\.root/ }])
})

t.test('a corrupted object in the store is found by --full', async (t) => {
  const { env, gitdir } = storeCopy(t)
  t.equal((await verifyJson(env)).code, 0, 'proved once')
  const victim = parts(gitdir)[0]!
  const oid = git(gitdir, ['rev-parse', `${ref}:${victim}`]).trim()
  const file = path.join(gitdir, 'objects', oid.slice(0, 2), oid.slice(2))
  const text = show(gitdir, victim)
  // Same size, other bytes: a bit flip that still inflates.
  const flipped = text.replace(/"input":(\d)/, (_m, d) => `"input":${(Number(d) + 1) % 10}`)
  t.not(flipped, text)
  fs.chmodSync(file, 0o644)
  fs.writeFileSync(
    file,
    zlib.deflateSync(Buffer.concat([Buffer.from(`blob ${Buffer.byteLength(flipped)}\0`), Buffer.from(flipped)])),
  )
  t.equal((await verifyJson(env)).code, 0, 'the default mode does not re-read proved parts')
  const { code, json } = await verifyJson(env, ['--full'])
  t.equal(code, 3)
  t.match(json.findings, [{ code: 'OBJECT_HASH_MISMATCH', path: victim, detail: new RegExp(oid) }])

  // Bytes that do not even inflate.
  fs.writeFileSync(file, Buffer.from('not zlib at all'))
  const broken = await verifyJson(env, ['--full'])
  t.equal(broken.code, 3)
  t.ok(codes(broken.json).includes('OBJECT_UNREADABLE'), `an unreadable object is named: ${codes(broken.json)}`)
})

t.test('--device and --transcript', async (t) => {
  const { env, dir: home } = storeCopy(t)
  const bad = await cli(['verify', '--device', 'nope'], { env })
  t.equal(bad.code, 2)
  t.match(bad.stderr, /^usage-ledger: --device nope: no such device/)
  const dirOut = path.join(home, 'transcripts')
  const r = await verifyJson(env, ['--device', 'this', '--transcript', dirOut])
  t.equal(r.code, 0)
  const lines = fs
    .readFileSync(path.join(dirOut, `${ME}.tsv`), 'utf8')
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
  t.equal(lines.length, r.json.devices[0]!.records, 'a fingerprint per record')
  t.same(lines, [...lines].sort(), 'sorted, so two machines diff line by line')
  t.match(lines[0], /^[0-9a-f]{32}\t[0-9a-f]{16}\t\d{4}-\d{2}-\d{2}T[^\t]+Z\t[^\t]+(\t\d+){4}$/)
})

t.test(
  'three devices over HTTP: the same merged tree everywhere; a rewrite caught by a fresh machine through a witness',
  async (t) => {
    const root = t.testdir()
    const server = await startGitServer({ root: path.join(root, 'srv'), token: TOKEN })
    t.teardown(() => server.close())
    const bare = server.createBare('ledger')
    const url = server.repoUrl('ledger')
    const ids = ['c1'.repeat(16), 'd2'.repeat(16), 'e3'.repeat(16)]
    const machines = ids.map(
      (id, i) => machine(root, `m${i}`, { id, sources: ['claude', 'codex'], env: { USAGE_LEDGER_TOKEN: TOKEN } }).env,
    )
    const ok = async (args: string[], env: Record<string, string | undefined>, input?: string) => {
      const r = await cli(args, { env, input })
      if (r.code !== 0) throw new Error(`${args.join(' ')}: ${r.code} ${r.stderr}`)
      return r
    }
    for (const [i, env] of machines.entries()) {
      await ok(['init', '--remote', url], env)
      if (i === 2)
        await ok(
          ['record', '--stdin', '--source', 'x'],
          env,
          `${JSON.stringify({ ts: '2026-11-21T09:00:00Z', model: 'gpt-5', input: 100, output: 10 })}\n`,
        )
      else await ok(['record', '--source', i === 0 ? 'claude-code' : 'codex'], env)
    }
    for (const env of machines) await ok(['fetch'], env)
    const merged: string[] = []
    for (const env of machines) {
      const v = await verifyJson(env)
      t.equal(v.code, 0, JSON.stringify(v.json.findings))
      t.equal(v.json.devices.length, 3)
      merged.push(v.json.merged.tree)
      const status = JSON.parse((await ok(['status', '--json'], env)).stdout)
      t.equal(
        status.merged?.tree,
        v.json.merged.tree,
        `verify's merged tree is the merged branch's tree (${JSON.stringify(status.merged)})`,
      )
    }
    t.equal(new Set(merged).size, 1, `every device prints the same merged tree oid ${merged[0]}`)

    // Device 0 witnesses device 1's head in its next commit, then device 1's branch is rewritten on the server.
    await ok(
      ['record', '--stdin', '--source', 'y'],
      machines[0]!,
      `${JSON.stringify({ ts: '2026-11-22T08:00:00Z', model: 'gpt-5', input: 1 })}\n`,
    )
    const victim = `refs/heads/ledger/${ids[1]}`
    const oldHead = (await gitA(bare, ['rev-parse', victim])).trim()
    const tree = (await gitA(bare, ['rev-parse', `${victim}^{tree}`])).trim()
    const forged = (
      await gitA(bare, ['-c', 'user.name=x', '-c', 'user.email=x@x', 'commit-tree', tree, '-m', 'forged history'])
    ).trim()
    await gitA(bare, ['update-ref', victim, forged, oldHead])

    const freshDir = path.join(root, 'fresh')
    fs.mkdirSync(path.join(freshDir, 'home'), { recursive: true })
    const fresh = isolatedEnv(freshDir, { USAGE_LEDGER_DEVICE_ID: 'f4'.repeat(16), USAGE_LEDGER_TOKEN: TOKEN })
    const init = await cli(['init', '--remote', url], { env: fresh })
    t.equal(init.code, 3, "the fresh machine's fetch refuses the rewritten branch")
    const v = await verifyJson(fresh)
    t.equal(v.code, 3, 'and verify fails on it')
    t.match(v.json.findings, [
      {
        code: 'WITNESS_MISSING',
        device: ids[1],
        severity: 'error',
        detail: new RegExp(`device ${ids[0]} saw ${ids[1]} at ${oldHead.slice(0, 12)}`),
      },
    ])
  },
)

t.test('fetch checks what it brings in: a pushed commit that rewrites a part fails the fetch', async (t) => {
  const root = t.testdir()
  const bare = path.join(root, 'remote.git')
  spawnSync('git', ['init', '--bare', '--quiet', bare])
  const a = isolatedEnv(path.join(root, 'a'), { USAGE_LEDGER_DEVICE_ID: ME })
  const bDir = path.join(root, 'b')
  copyFixtures(bDir)
  const b = isolatedEnv(bDir, { USAGE_LEDGER_DEVICE_ID: OTHER })
  for (const [env, args] of [
    [b, ['init', '--remote', bare]],
    [b, ['record']],
    [a, ['init', '--remote', bare]],
  ] as const) {
    const r = await cli([...args], { env })
    t.equal(r.code, 0, r.stderr)
  }
  const branch = `refs/heads/ledger/${OTHER}`
  const victim = git(bare, ['ls-tree', '-r', '--name-only', branch, `devices/${OTHER}`])
    .split('\n')
    .find((p) => p.endsWith('.ndjson'))!
  const text = git(bare, ['show', `${branch}:${victim}`])
  tamperCommit(bare, { [victim]: text.replace(/"output":(\d+)/, (_m, n) => `"output":${Number(n) * 10}`) }, branch)
  const f = await cli(['fetch', '--json'], { env: a })
  t.equal(f.code, 3, 'an integrity failure')
  t.match(JSON.parse(f.stdout).findings, [{ code: 'PART_CHANGED', device: OTHER, path: victim }])
})
