/**
 * The names behind the hashes (lib/store/names.ts): the machine that recorded a session shows
 * its project's directory name, its id, start, end and models; the map is never committed or
 * pushed, so another machine shows hashes (and the start, end and models, which come from the
 * ledger's rows).
 */
import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { spawnSync } from 'node:child_process'
import { cli } from '../helpers/cli.js'
import { machine } from '../helpers/machine.js'

const ID = { a: 'a1'.repeat(16), b: 'b2'.repeat(16) }
/** A project and session only machine A has: a name that cannot turn up by chance. */
const CWD = '/home/ana/src/zebra-quokka-7'
const SESSION = '5e551011-0bad-4cab-9e11-0123456789ab'

async function ok(args: string[], env: Record<string, string | undefined>) {
  const r = await cli(args, { env })
  if (r.code !== 0) throw new Error(`usage-ledger ${args.join(' ')} exited ${r.code}: ${r.stderr}`)
  return r.stdout
}

function assistant(id: string, ts: string, model: string, output: number): string {
  return JSON.stringify({
    type: 'assistant',
    timestamp: ts,
    sessionId: SESSION,
    cwd: CWD,
    requestId: `req_${id}`,
    isSidechain: false,
    message: {
      id,
      model,
      type: 'message',
      role: 'assistant',
      content: [{ type: 'text', text: 'ok' }],
      usage: { input_tokens: 10, output_tokens: output, cache_read_input_tokens: 100 },
    },
  })
}

/** Every object of a git directory, decompressed, as one string. */
function allObjects(gitdir: string): string {
  const r = spawnSync('git', ['--git-dir', gitdir, 'cat-file', '--batch-all-objects', '--batch'], {
    env: { PATH: process.env.PATH, GIT_CONFIG_NOSYSTEM: '1', HOME: gitdir },
    maxBuffer: 256 << 20,
  })
  if (r.status !== 0) throw new Error(`git cat-file in ${gitdir}: ${r.stderr}`)
  return r.stdout.toString('latin1')
}

type Row = Record<string, unknown>
const report = async (env: Record<string, string | undefined>, args: string[]) =>
  (JSON.parse(await ok(['report', ...args, '--tz', 'UTC', '--json'], env)) as { rows: Row[] }).rows

t.test('names stay on the machine that recorded them; another machine shows hashes', async (t) => {
  const root = t.testdir()
  const remote = path.join(root, 'remote.git')
  spawnSync('git', ['init', '-q', '--bare', remote], {
    env: { PATH: process.env.PATH, GIT_CONFIG_NOSYSTEM: '1', HOME: root },
  })
  const a = machine(root, 'a', { id: ID.a, sources: ['claude'] }),
    b = machine(root, 'b', { id: ID.b, sources: ['codex'] })
  const log = path.join(a.dir, 'claude', 'projects', '-home-ana-src-zebra-quokka-7', `${SESSION}.jsonl`)
  fs.mkdirSync(path.dirname(log), { recursive: true })
  fs.writeFileSync(
    log,
    `${[
      assistant('msg_z1', '2026-11-21T10:05:00.000Z', 'claude-sonnet-4-5-20250929', 500),
      assistant('msg_z2', '2026-11-21T11:40:00.000Z', 'claude-opus-4-1-20250805', 900),
    ].join('\n')}\n`,
  )

  await ok(['init', '--remote', remote], a.env)
  await ok(['record'], a.env)
  await ok(['init', '--remote', remote], b.env)
  await ok(['record'], b.env)
  await ok(['fetch'], a.env)
  await ok(['fetch'], b.env)

  // Machine A: the map holds the names it saw.
  const names = JSON.parse(fs.readFileSync(path.join(a.dir, 'store', 'state', 'names.json'), 'utf8')) as {
    v: number
    projects: Record<string, string>
    sessions: Record<string, string>
  }
  t.equal(names.v, 1, 'a versioned state file')
  t.ok(Object.values(names.projects).includes('zebra-quokka-7'), "the project's directory name, not its path")
  t.ok(Object.values(names.sessions).includes(SESSION), 'the session id')

  // Nothing of it is in any object of the remote, or of either store's repository.
  for (const gitdir of [remote, path.join(a.dir, 'store', 'repo.git'), path.join(b.dir, 'store', 'repo.git')]) {
    const objects = allObjects(gitdir)
    t.ok(
      objects.includes(ID.a) && objects.length > 10_000,
      `${path.relative(root, gitdir)}: the scan reads the ledger's objects`,
    )
    for (const secret of [
      'zebra-quokka',
      SESSION,
      '/home/ana',
      'infra-tools',
      'billing',
      ...Object.values(names.sessions),
    ]) {
      t.notOk(objects.includes(secret), `${path.relative(root, gitdir)} holds no "${secret}"`)
    }
  }

  // A's session report: the project, id, start, end and models of its own session.
  const aSessions = await report(a.env, ['session'])
  const mine = aSessions.find((r) => r.sessionId === SESSION)
  t.match(
    mine,
    {
      projectName: 'zebra-quokka-7',
      start: '2026-11-21T10:00',
      end: '2026-11-21T11:45',
      models: ['claude-opus-4-1-20250805', 'claude-sonnet-4-5-20250929'],
      records: 2,
    },
    'A names its session',
  )
  const hash = mine!.period as string
  const project = mine!.project as string
  t.match(hash, /^[0-9a-f]{16}$/, 'the period stays the session hash')
  const aTable = await ok(['report', 'session', '--tz', 'UTC'], a.env)
  t.match(
    aTable,
    new RegExp(
      `│ ${hash} │ zebra-quokka-7 +│ 2026-11-21 10:00 │ 2026-11-21 11:45 │ claude-opus-4-1-20250805, claude-sonnet-4-5-20250929 +│`,
    ),
    'the table shows the name, start, end and models',
  )
  t.match(
    (await report(a.env, ['--by', 'project'])).find((r) => r.project === project),
    { projectName: 'zebra-quokka-7' },
    '--by project names it too',
  )
  t.match(
    await ok(['report', '--by', 'project', '--tz', 'UTC', '--format', 'markdown'], a.env),
    /\| 2026-11-21 \| zebra-quokka-7 \|/,
    'and the Markdown table',
  )
  t.match(
    await ok(['report', 'session', '--tz', 'UTC', '--format', 'csv'], a.env),
    new RegExp(
      `^${hash},${project},zebra-quokka-7,${SESSION},2026-11-21T10:00,2026-11-21T11:45,claude-opus-4-1-20250805 claude-sonnet-4-5-20250929,2,`,
      'm',
    ),
    'and the CSV',
  )
  const html = await ok(['report', '--by', 'project', '--tz', 'UTC', '--format', 'html'], a.env)
  t.match(html, /<td class="l">zebra-quokka-7<\/td>/, 'and the HTML table')
  t.match(
    await ok(['report', 'session', '--tz', 'UTC', '--format', 'html'], a.env),
    new RegExp(
      `<td class="l">${hash}</td><td class="l">zebra-quokka-7</td><td class="l">2026-11-21 10:00</td><td class="l">2026-11-21 11:45</td><td class="l">claude-opus-4-1-20250805, claude-sonnet-4-5-20250929</td>`,
    ),
    'and the HTML session table',
  )
  // B's codex sessions are unknown to A: hashes there.
  const codexOnA = aSessions.filter((r) => (r.models as string[]).some((m) => m.startsWith('gpt-')))
  t.ok(
    codexOnA.length > 0 && codexOnA.every((r) => r.projectName === undefined && r.sessionId === undefined),
    "A has no names for B's sessions",
  )

  // Machine B: the same session, by its hash, with what the ledger itself says, and no name.
  const theirs = (await report(b.env, ['session'])).find((r) => r.period === hash)
  t.match(
    theirs,
    {
      project,
      start: '2026-11-21T10:00',
      end: '2026-11-21T11:45',
      models: ['claude-opus-4-1-20250805', 'claude-sonnet-4-5-20250929'],
      records: 2,
    },
    'B sees the session, its times and models',
  )
  t.equal(theirs!.projectName, undefined, 'but not its project name')
  t.equal(theirs!.sessionId, undefined, 'nor its id')
  const bTable = await ok(['report', '--by', 'project', '--tz', 'UTC'], b.env)
  t.match(bTable, new RegExp(`│ 2026-11-21 │ ${project} │`), "B's table shows the project hash")
  t.notMatch(bTable, /zebra-quokka|infra-tools|│ app /, "and no name of A's")
  t.match(bTable, /│ billing +│/, 'while B names its own projects')
  t.notMatch(
    await ok(['report', '--by', 'project', '--tz', 'UTC', '--format', 'html'], b.env),
    /zebra-quokka/,
    "B's HTML page has no name of A's either",
  )
})

t.test(
  'config privacy.shareNames: off by default; on, other machines show the project names (never session ids or paths); off again, they no longer do',
  async (t) => {
    const root = t.testdir()
    const remote = path.join(root, 'remote.git')
    spawnSync('git', ['init', '-q', '--bare', remote], {
      env: { PATH: process.env.PATH, GIT_CONFIG_NOSYSTEM: '1', HOME: root },
    })
    const a = machine(root, 'a', { id: ID.a, sources: ['claude'] }),
      b = machine(root, 'b', { id: ID.b })
    const log = path.join(a.dir, 'claude', 'projects', '-home-ana-src-zebra-quokka-7', `${SESSION}.jsonl`)
    fs.mkdirSync(path.dirname(log), { recursive: true })
    fs.writeFileSync(log, `${assistant('msg_z1', '2026-11-21T10:05:00.000Z', 'claude-sonnet-4-5-20250929', 500)}\n`)
    await ok(['init', '--remote', remote], a.env)
    await ok(['init', '--remote', remote], b.env)
    const config = path.join(a.dir, 'store', 'config.json')
    const c = JSON.parse(fs.readFileSync(config, 'utf8')) as Record<string, unknown>
    t.equal((c.privacy as { shareNames?: boolean } | undefined)?.shareNames, undefined, 'init does not turn it on')
    fs.writeFileSync(config, JSON.stringify({ ...c, privacy: { shareNames: 'yes' } }))
    const bad = await cli(['record'], { env: a.env })
    t.equal(bad.code, 2, 'a value that is not true or false is bad input')
    t.match(bad.stderr, /"privacy\.shareNames" must be true or false, not "yes"/)

    fs.writeFileSync(config, JSON.stringify({ ...c, privacy: { shareNames: true } }))
    await ok(['record'], a.env)
    const file = `devices/${ID.a}/names.json`
    const shared = JSON.parse(
      spawnSync('git', ['--git-dir', remote, 'show', `ledger/${ID.a}:${file}`], { encoding: 'utf8' }).stdout,
    ) as { v: number; projects: Record<string, string> }
    t.equal(shared.v, 1)
    t.same(
      Object.values(shared.projects).sort(),
      ['app', 'infra-tools', 'zebra-quokka-7'],
      `the remote's ${file} holds the project names`,
    )
    const objects = allObjects(remote)
    for (const secret of ['/home/ana', SESSION, 'b1f4c2de-7a31-4e0b-9c55-0d2e8f6a1c01'])
      t.notOk(objects.includes(secret), `and the remote holds no "${secret}"`)

    await ok(['fetch'], b.env)
    const verified = await cli(['verify', '--full'], { env: b.env })
    t.equal(verified.code, 0, "B verifies A's branch with its names.json", {
      stdout: verified.stdout,
      stderr: verified.stderr,
    })
    const row = (await report(b.env, ['session'])).find(
      (r) => (r.models as string[]).includes('claude-sonnet-4-5-20250929') && r.projectName === 'zebra-quokka-7',
    )
    t.ok(row, "B shows A's project name in its session report")
    t.equal(row?.sessionId, undefined, "but never A's session id")
    t.match(
      await ok(['report', '--by', 'project', '--tz', 'UTC'], b.env),
      /│ 2026-11-21 │ zebra-quokka-7 +│/,
      'and in its table',
    )

    // Off again: the next commit empties the file; B shows hashes again (history keeps the old file).
    fs.writeFileSync(config, JSON.stringify({ ...c, privacy: { shareNames: false } }))
    fs.appendFileSync(log, `${assistant('msg_z2', '2026-11-21T11:40:00.000Z', 'claude-opus-4-1-20250805', 900)}\n`)
    await ok(['record'], a.env)
    t.same(
      JSON.parse(
        spawnSync('git', ['--git-dir', remote, 'show', `ledger/${ID.a}:${file}`], { encoding: 'utf8' }).stdout,
      ),
      { v: 1, projects: {} },
      'turned off, the next commit empties it',
    )
    await ok(['fetch'], b.env)
    t.equal((await cli(['verify', '--full'], { env: b.env })).code, 0, 'still verifies')
    t.notMatch(await ok(['report', '--by', 'project', '--tz', 'UTC'], b.env), /zebra-quokka/, 'B shows hashes again')
  },
)

t.test('loadNames/addNames: a damaged file is no names; a newer one is left alone', async (t) => {
  const { addNames, loadNames } = await import('../../lib/store/names.js')
  const dir = t.testdir({
    'damaged.json': '{"v":1,"projects":',
    'newer.json': JSON.stringify({ v: 2, projects: { aaaaaaaaaaaaaaaa: 'x' } }),
  })
  const p = new Map([['0123456789abcdef', 'app']]),
    s = new Map([['fedcba9876543210', 'sess-1']])
  t.same(loadNames(path.join(dir, 'none.json')), { v: 1, projects: {}, sessions: {} }, 'missing: empty')
  t.same(loadNames(path.join(dir, 'damaged.json')), { v: 1, projects: {}, sessions: {} }, 'damaged: empty')
  t.ok(addNames(path.join(dir, 'damaged.json'), p, s), 'a damaged file is replaced by what record saw')
  t.same(loadNames(path.join(dir, 'damaged.json')), {
    v: 1,
    projects: { '0123456789abcdef': 'app' },
    sessions: { fedcba9876543210: 'sess-1' },
  })
  t.notOk(addNames(path.join(dir, 'damaged.json'), p, s), 'nothing new: no write')
  const newer = fs.readFileSync(path.join(dir, 'newer.json'), 'utf8')
  t.match(loadNames(path.join(dir, 'newer.json')), { projects: {}, newer: true }, 'newer: no names')
  t.notOk(addNames(path.join(dir, 'newer.json'), p, s), 'and never overwritten')
  t.equal(fs.readFileSync(path.join(dir, 'newer.json'), 'utf8'), newer)
  t.notOk(addNames(path.join(dir, 'empty.json'), new Map(), new Map()), 'nothing seen: no file')
  t.notOk(fs.existsSync(path.join(dir, 'empty.json')))
})
