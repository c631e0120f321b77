/**
 * A device branch that fails the checks never reaches the index, a report or a witness
 * (issue 11, item 1). The remote is the real HTTP test server; the tampering is plain git: a
 * bare clone of the remote, commits made with git's plumbing, pushed WITHOUT forcing. Report
 * totals must stay those of the last good head every time: on the observing store, on a fresh
 * machine (`init --remote`) and on a native clone (`--repo`), until the branch is good again or
 * `fetch --accept-rewrite` takes it.
 */
import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { cli, copyFixtures, isolatedEnv } from '../../helpers/cli.js'
import { startGitServer } from '../../helpers/git-server.js'
import { gitA, run } from '../../helpers/spawn.js'

const TOKEN = 'trust-test-token'
const B = 'b2'.repeat(16) // the device whose branch is tampered with
const A = 'a1'.repeat(16) // the observer
const branch = `refs/heads/ledger/${B}`
const dir = `devices/${B}`
const auth = ['-c', `http.extraHeader=Authorization: Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}`]

interface Totals {
  records: number
  output: number
  totalTokens: number
  costUSD: number
}
interface Warning {
  code: string
  device?: string
  head?: string
  good?: string | null
  findings?: Array<{ code: string }>
}

async function ok(args: string[], env: Record<string, string | undefined>, input?: string) {
  const r = await cli(args, { env, input })
  if (r.code !== 0) throw new Error(`${args.join(' ')} exited ${r.code}: ${r.stderr}`)
  return r
}

async function reportOf(
  env: Record<string, string | undefined>,
  extra: string[] = [],
): Promise<{ totals: Totals; warnings: Warning[]; stderr: string; code: number }> {
  const r = await cli([...extra, 'report', 'monthly', '--json'], { env })
  const j = JSON.parse(r.stdout) as { totals: Totals; warnings: Warning[] }
  return { totals: j.totals, warnings: j.warnings, stderr: r.stderr, code: r.code }
}

const totalsOf = (x: Totals) => ({
  records: x.records,
  output: x.output,
  totalTokens: x.totalTokens,
  costUSD: x.costUSD,
})

/** The attacker: a bare clone of the remote over HTTP, written with git plumbing. */
class Attacker {
  constructor(
    readonly gitdir: string,
    readonly url: string,
  ) {}

  static async clone(gitdir: string, url: string): Promise<Attacker> {
    const r = await run('git', [...auth, 'clone', '--quiet', '--bare', url, gitdir], {
      env: { PATH: process.env.PATH, GIT_CONFIG_NOSYSTEM: '1', HOME: path.dirname(gitdir) },
    })
    if (r.code !== 0) throw new Error(r.stderr)
    return new Attacker(gitdir, url)
  }

  git = (args: string[], input?: string) =>
    gitA(this.gitdir, [...auth, '-c', 'user.name=x', '-c', 'user.email=x@x', ...args], input)

  async sync(): Promise<string> {
    await this.git(['fetch', '--quiet', 'origin', `+${branch}:${branch}`])
    return (await this.git(['rev-parse', branch])).trim()
  }

  async parts(): Promise<string[]> {
    return (await this.git(['ls-tree', '-r', '--name-only', branch, dir]))
      .split('\n')
      .filter((p) => p.endsWith('.ndjson'))
  }

  show = async (p: string) => this.git(['show', `${branch}:${p}`])

  /** A tree: the branch head's, with `files` set (content) or deleted (null). */
  async tree(files: Record<string, string | null>): Promise<string> {
    const index = path.join(this.gitdir, 'tamper-index')
    fs.rmSync(index, { force: true })
    const withIndex = async (args: string[], input?: string) => {
      const r = await run('git', args, {
        env: {
          PATH: process.env.PATH,
          GIT_DIR: this.gitdir,
          GIT_INDEX_FILE: index,
          GIT_CONFIG_NOSYSTEM: '1',
          HOME: this.gitdir,
        },
        input,
      })
      if (r.code !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`)
      return r.stdout
    }
    await withIndex(['read-tree', branch])
    const info: string[] = []
    for (const [p, content] of Object.entries(files)) {
      if (content === null) info.push(`0 ${'0'.repeat(40)}\t${p}`)
      else info.push(`100644 ${(await this.git(['hash-object', '-w', '--stdin'], content)).trim()}\t${p}`)
    }
    await withIndex(['update-index', '--index-info'], `${info.join('\n')}\n`)
    return (await withIndex(['write-tree'])).trim()
  }

  /** A commit on top of the head, pushed without --force. */
  async commit(files: Record<string, string | null>, parents?: string[]): Promise<string> {
    const tree = await this.tree(files)
    const head = (await this.git(['rev-parse', branch])).trim()
    const commit = (
      await this.git(['commit-tree', tree, ...(parents ?? [head]).flatMap((p) => ['-p', p]), '-m', 'tampered'])
    ).trim()
    await this.git(['update-ref', branch, commit, head])
    await this.git(['push', '--quiet', 'origin', `${branch}:${branch}`]) // not forced
    return commit
  }
}

t.test('a tampered device branch is quarantined everywhere until it is good again or accepted', async (t) => {
  const root = t.testdir()
  const server = await startGitServer({ root: path.join(root, 'srv'), token: TOKEN })
  t.teardown(() => server.close())
  const bare = server.createBare('ledger')
  const url = server.repoUrl('ledger')
  const bDir = path.join(root, 'b')
  copyFixtures(bDir)
  const b = isolatedEnv(bDir, { USAGE_LEDGER_DEVICE_ID: B, USAGE_LEDGER_TOKEN: TOKEN })
  const aDir = path.join(root, 'a')
  fs.mkdirSync(path.join(aDir, 'home'), { recursive: true })
  const a = isolatedEnv(aDir, { USAGE_LEDGER_DEVICE_ID: A, USAGE_LEDGER_TOKEN: TOKEN })
  await ok(['init', '--remote', url], b)
  await ok(['record'], b)
  await ok(['init', '--remote', url], a)
  // A records after its fetch: its manifest witnesses B's good head.
  await ok(
    ['record', '--stdin', '--source', 'x'],
    a,
    `${JSON.stringify({ ts: '2026-11-22T08:00:00Z', model: 'gpt-5', input: 10, output: 1 })}\n`,
  )
  const good = await reportOf(a)
  t.equal(good.code, 0)
  t.same(
    good.warnings.filter((w) => w.code === 'DEVICE_QUARANTINED'),
    [],
  )
  const goodTotals = totalsOf(good.totals)
  t.ok(goodTotals.records > 20, 'both fixtures recorded')

  // A native clone that follows every device (--repo mode), proved once while good.
  const clone = path.join(root, 'clone')
  const cl = await run('git', [...auth, 'clone', '--quiet', url, clone], {
    env: { PATH: process.env.PATH, GIT_CONFIG_NOSYSTEM: '1', HOME: root },
  })
  t.equal(cl.code, 0, cl.stderr)
  const cloneGit = path.join(clone, '.git')
  const nativeFetch = () =>
    gitA(cloneGit, [
      ...auth,
      'fetch',
      '--quiet',
      '--force',
      'origin',
      'refs/heads/ledger/*:refs/remotes/origin/ledger/*',
    ])
  await nativeFetch()
  const cloneEnv = isolatedEnv(path.join(root, 'c'), { USAGE_LEDGER_TOKEN: TOKEN })
  t.same(totalsOf((await reportOf(cloneEnv, ['--repo', clone])).totals), goodTotals, 'the clone sums the same')

  const attacker = await Attacker.clone(path.join(root, 'attacker.git'), url)
  const goodHead = await attacker.sync()

  const tampers: Array<[string, (x: Attacker) => Promise<string>, string[]]> = [
    [
      'edit a part',
      async (x) => {
        const p = (await x.parts())[0]!
        return x.commit({ [p]: (await x.show(p)).replace(/"output":(\d+)/g, (_m, n) => `"output":${Number(n) * 10}`) })
      },
      ['PART_CHANGED'],
    ],
    ['delete a part', async (x) => x.commit({ [(await x.parts())[1]!]: null }), ['PART_REMOVED']],
    [
      'add a file outside the device directory',
      async (x) => {
        const p = (await x.parts())[0]!
        return x.commit({ [p.replace(B, 'c3'.repeat(16))]: await x.show(p) })
      },
      ['OUTSIDE_DEVICE_DIR'],
    ],
    [
      'edit the manifest',
      async (x) => {
        const m = JSON.parse(await x.show(`${dir}/manifest.json`))
        m.records += 5
        return x.commit({ [`${dir}/manifest.json`]: `${JSON.stringify(m, null, 2)}\n` })
      },
      ['MANIFEST_COUNTS'],
    ],
    [
      'push a commit whose parent is not the old head, without forcing',
      async (x) => {
        // A forged history with more output, merged over the old head so the push fast-forwards.
        const p = (await x.parts())[0]!
        const tree = await x.tree({
          [p]: (await x.show(p)).replace(/"output":(\d+)/g, (_m, n) => `"output":${Number(n) * 10}`),
        })
        const forged = (await x.git(['commit-tree', tree, '-m', 'forged root'])).trim()
        return x.commit(
          { [p]: (await x.show(p)).replace(/"output":(\d+)/g, (_m, n) => `"output":${Number(n) * 10}`) },
          [forged, goodHead],
        )
      },
      ['NON_LINEAR_HISTORY'],
    ],
  ]

  for (const [n, [name, tamper, codes]] of tampers.entries()) {
    await t.test(name, async (t) => {
      const goodTotals = totalsOf((await reportOf(a)).totals)
      const bad = await tamper(attacker)
      t.not(bad, goodHead)

      // The observing store: exit 3, quarantined, totals unchanged — on every later run too.
      for (const round of [1, 2]) {
        const f = await cli(['fetch', '--json'], { env: a })
        t.equal(f.code, 3, `fetch ${round} exits 3`)
        const fj = JSON.parse(f.stdout)
        t.match(fj.quarantined, [{ id: B, head: bad, good: goodHead }], `fetch ${round} names the quarantined head`)
        for (const c of codes)
          t.ok(
            fj.findings.some((x: { code: string; device: string }) => x.code === c && x.device === B),
            `fetch ${round} finds ${c}: ${fj.findings.map((x: { code: string }) => x.code)}`,
          )
        const rep = await reportOf(a)
        t.same(totalsOf(rep.totals), goodTotals, `report ${round}: the totals of the last good head`)
        t.match(
          rep.warnings.find((w) => w.code === 'DEVICE_QUARANTINED'),
          { device: B, head: bad, good: goodHead },
          `report ${round} warns in warnings[]`,
        )
        t.match(
          rep.stderr,
          new RegExp(`warning: device ${B}: the remote head ${bad.slice(0, 12)} failed the checks`),
          `report ${round} prints a warning line`,
        )
        const st = await cli(['status', '--json'], { env: a })
        t.equal(st.code, 0)
        t.match(JSON.parse(st.stdout).warnings, [{ code: 'DEVICE_QUARANTINED', device: B }], `status ${round} warns`)
        const v = await cli(['verify', '--json'], { env: a })
        t.equal(v.code, 3, `verify ${round} exits 3`)
        const vj = JSON.parse(v.stdout)
        t.equal(
          vj.devices.find((d: { id: string }) => d.id === B).head,
          goodHead,
          'verify checks the good head, not the quarantined one',
        )
        t.ok(vj.findings.some((x: { code: string }) => x.code === 'QUARANTINED'))
      }
      t.equal(
        (await gitA(path.join(aDir, 'store/repo.git'), ['rev-parse', branch])).trim(),
        goodHead,
        'the device branch stays at the good head',
      )

      // Not a witness: A's next commit publishes the good head, never the forged one.
      await ok(
        ['record', '--stdin', '--source', 'x'],
        a,
        `${JSON.stringify({ ts: `2026-11-22T09:0${n}:00Z`, model: 'gpt-5', input: 1, output: 1 })}\n`,
      )
      const aManifest = JSON.parse(await gitA(bare, ['show', `refs/heads/ledger/${A}:devices/${A}/manifest.json`]))
      t.equal(aManifest.seen[B], goodHead, 'the witness is the good head')
      const expected = totalsOf((await reportOf(a)).totals)

      // A fresh machine: its data of B is B's last good head.
      const fDir = path.join(root, `fresh-${codes[0]}`)
      fs.mkdirSync(path.join(fDir, 'home'), { recursive: true })
      const fresh = isolatedEnv(fDir, { USAGE_LEDGER_DEVICE_ID: 'f4'.repeat(16), USAGE_LEDGER_TOKEN: TOKEN })
      const init = await cli(['init', '--remote', url], { env: fresh })
      t.equal(init.code, 3, `init --remote on a fresh machine exits 3: ${init.stderr}`)
      const fr = await reportOf(fresh)
      t.same(totalsOf(fr.totals), expected, 'a fresh machine sums the last good head')
      t.match(fr.warnings, [{ code: 'DEVICE_QUARANTINED', device: B, head: bad }])
      t.equal((await cli(['fetch'], { env: fresh })).code, 3, 'and keeps saying so')

      // A native clone after a plain `git fetch` moved its tracking ref to the bad head.
      await nativeFetch()
      const cr = await reportOf(cloneEnv, ['--repo', clone])
      t.same(totalsOf(cr.totals), expected, 'the clone sums the last good head')
      t.match(cr.warnings, [{ code: 'DEVICE_QUARANTINED', device: B, head: bad }], 'and warns')
      t.equal((await cli(['--repo', clone, 'verify'], { env: cloneEnv })).code, 3, 'verify --repo exits 3')
      t.equal((await cli(['--repo', clone, 'fetch'], { env: cloneEnv })).code, 3, 'fetch --repo exits 3')
      t.same(totalsOf((await reportOf(cloneEnv, ['--repo', clone])).totals), expected, 'still after fetch --repo')

      // The branch returns to the good head (an admin resets it): everything is quiet again.
      await gitA(bare, ['update-ref', branch, goodHead])
      await attacker.sync()
      t.equal((await cli(['fetch'], { env: a })).code, 0, 'fetch exits 0 once the branch is good again')
      const back = await reportOf(a)
      t.same(
        back.warnings.filter((w) => w.code === 'DEVICE_QUARANTINED'),
        [],
        'no more warning',
      )
      t.same(totalsOf(back.totals), expected)
      t.equal((await cli(['verify'], { env: a })).code, 0, 'verify exits 0')
      await nativeFetch()
      t.same(
        (await reportOf(cloneEnv, ['--repo', clone])).warnings.filter((w) => w.code === 'DEVICE_QUARANTINED'),
        [],
        'the clone is quiet again',
      )
    })
  }

  await t.test('a good descendant of the last good head is taken', async (t) => {
    await ok(
      ['record', '--stdin', '--source', 'y'],
      b,
      `${JSON.stringify({ ts: '2026-11-22T10:00:00Z', model: 'gpt-5', input: 7, output: 3 })}\n`,
    )
    const before = (await reportOf(a)).totals
    t.equal((await cli(['fetch'], { env: a })).code, 0)
    const after = (await reportOf(a)).totals
    t.equal(after.records, before.records + 1, "B's honest new record counts")
    await attacker.sync()
  })

  await t.test('fetch --accept-rewrite is the only way in, and says exactly what it accepts', async (t) => {
    const head = (await gitA(bare, ['rev-parse', branch])).trim()
    const x = attacker
    const p = (await x.parts())[0]!
    const bad = await x.commit({
      [p]: (await x.show(p)).replace(/"output":(\d+)/g, (_m, n) => `"output":${Number(n) * 10}`),
    })
    const before = totalsOf((await reportOf(a)).totals)
    t.equal((await cli(['fetch'], { env: a })).code, 3)
    const acc = await cli(['fetch', '--accept-rewrite', B], { env: a })
    t.equal(acc.code, 0, acc.stderr)
    t.match(acc.stderr, new RegExp(`accepted ${B}: old head ${head}, new head ${bad}, with \\d+ findings?:`))
    t.match(acc.stderr, /PART_CHANGED/)
    const after = totalsOf((await reportOf(a)).totals)
    t.ok(after.output > before.output, 'the accepted head counts now')
    t.equal((await cli(['fetch'], { env: a })).code, 0, 'the next fetch is quiet')
    t.equal((await cli(['verify'], { env: a })).code, 0, 'verify names it as accepted, not as an error')
    const full = await cli(['verify', '--full', '--json'], { env: a })
    t.equal(full.code, 0, full.stdout)
    t.match(JSON.parse(full.stdout).findings, [
      { code: 'PART_CHANGED', severity: 'warning', detail: /accepted by fetch --accept-rewrite/ },
    ])
  })
})
