/**
 * CLIProxyAPI's usage queue end to end, against a real redis-server standing in for the proxy:
 * `record --source cliproxy` drains it; `collect cliproxy` follows it (backlog, stream, control
 * payloads, a server restart, SIGTERM); a collector killed with SIGKILL after it popped and before
 * its commit loses nothing and doubles nothing; the client API key never reaches the store.
 */
import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { BIN, cli, git, isolatedEnv, startCli } from '../helpers/cli.js'
import { run } from '../helpers/spawn.js'
import { fakeProxy, freePort, KEY, PAYLOADS, redisMissing, startRedis, subscribers, until } from '../helpers/redis.js'
import { Spool } from '../../lib/collect/cliproxy/spool.js'
import { spoolEntry, type SpoolEntry } from '../../lib/collect/cliproxy/index.js'
import { expected } from '../helpers/cli.js'

const missing = redisMissing()
const PART_RE = /^devices\/[0-9a-f]{32}\/\d{4}-\d{2}\/(\d{4}-\d{2}-\d{2})\/\d{6}\.ndjson$/

interface Line {
  id: string
  ts: string
  model: string
  input: number
  output: number
  cacheWrite: number
  cacheRead: number
  reasoning?: number
  failed?: true
}

/** Every ledger line of the store's device branches, with its part's day. */
function ledger(store: string): Array<Line & { day: string }> {
  const gitdir = path.join(store, 'repo.git')
  if (!fs.existsSync(path.join(gitdir, 'HEAD'))) return []
  const refs = git(gitdir, ['for-each-ref', '--format=%(refname)', 'refs/heads/ledger/']).split('\n').filter(Boolean)
  const out: Array<Line & { day: string }> = []
  for (const ref of refs) {
    for (const row of git(gitdir, ['ls-tree', '-r', '--full-tree', ref]).split('\n')) {
      const [meta, file] = row.split('\t')
      const m = file ? PART_RE.exec(file) : null
      if (!m) continue
      for (const l of git(gitdir, ['cat-file', 'blob', meta!.split(' ')[2]!]).split('\n'))
        if (l) out.push({ ...(JSON.parse(l) as Line), day: m[1]! })
    }
  }
  return out
}

type Totals = {
  records: number
  input: number
  output: number
  cacheWrite: number
  cacheRead: number
  totalTokens: number
}
function totals(lines: Line[]): Totals {
  const s = { records: 0, input: 0, output: 0, cacheWrite: 0, cacheRead: 0, totalTokens: 0 }
  for (const l of lines) {
    s.records++
    s.input += l.input
    s.output += l.output
    s.cacheWrite += l.cacheWrite
    s.cacheRead += l.cacheRead
    s.totalTokens += l.input + l.output + l.cacheWrite + l.cacheRead
  }
  return s
}
const byDay = (lines: Array<Line & { day: string }>) => {
  const days: Record<string, Line[]> = {}
  for (const l of lines) (days[l.day] ??= []).push(l)
  return Object.fromEntries(Object.entries(days).map(([d, ls]) => [d, totals(ls)]))
}

const EXP = (expected() as unknown as { cliproxy: { days: Record<string, Totals>; totals: Totals; failed: Totals } })
  .cliproxy

/** Every file of the store, git objects decompressed (the ledger's lines, the spool, state). */
function storeText(store: string): string {
  const texts: string[] = []
  for (const e of fs.readdirSync(store, { recursive: true, withFileTypes: true })) {
    if (e.isFile() && !e.parentPath.includes(`${path.sep}objects`))
      texts.push(fs.readFileSync(path.join(e.parentPath, e.name), 'latin1'))
  }
  const gitdir = path.join(store, 'repo.git')
  texts.push(git(gitdir, ['cat-file', '--batch-all-objects', '--batch']))
  return texts.join('\n')
}

function setup(dir: string, port: number, extra: Record<string, string | undefined> = {}) {
  const env = isolatedEnv(dir, {
    USAGE_LEDGER_CLIPROXY_URL: `redis://127.0.0.1:${port}`,
    USAGE_LEDGER_CLIPROXY_KEY: KEY,
    ...extra,
  })
  fs.mkdirSync(env.HOME!, { recursive: true })
  return { dir, env, store: env.USAGE_LEDGER_HOME! }
}

/** The collector as a process, its stderr watched. */
function collector(env: Record<string, string | undefined>, args: string[] = []) {
  const p = startCli(['collect', 'cliproxy', '--no-push', ...args], { env, watchdogMs: 120_000 })
  let err = ''
  p.child.stderr!.on('data', (b: Buffer) => {
    err += b.toString('utf8')
  })
  return { ...p, stderr: () => err }
}

t.test(
  'record --source cliproxy drains the queue: exact totals, failed kept, re-delivery folds',
  { skip: missing ?? false },
  async (t) => {
    const root = t.testdir()
    const server = await startRedis(path.join(root, 'redis'))
    t.teardown(() => server.stop())
    const r = server.client()
    const { env, store } = setup(path.join(root, 'machine'), server.port)
    // The proxy's own control payload and a line that is no JSON come along.
    await r.rpush('usage', ...PAYLOADS.slice(0, 3), '{"refresh":true}', 'garbage{', ...PAYLOADS.slice(3))
    const run = await cli(['record', '--source', 'cliproxy', '--json'], { env })
    t.equal(run.code, 0, run.stderr)
    const j = JSON.parse(run.stdout) as {
      appended: number
      malformed: number
      sources: Record<string, Record<string, number>>
    }
    t.equal(j.appended, 6)
    t.match(j.sources.cliproxy, { popped: 8, spooled: 6, malformed: 1 })
    t.equal(await r.llen('usage'), 0, 'the queue is empty')
    const lines = ledger(store)
    t.same(byDay(lines), EXP.days, 'per UTC day, exact')
    t.same(totals(lines), EXP.totals)
    t.same(totals(lines.filter((l) => l.failed)), EXP.failed, 'the failed call is kept, flagged')
    t.same(
      fs.readdirSync(path.join(store, 'state/cliproxy')).filter((n) => n.endsWith('.ndjson')),
      [],
      'the spool is empty',
    )

    // The same payloads delivered again (a proxy retry, another drainer's copy): nothing new.
    await r.rpush('usage', ...PAYLOADS)
    const again = await cli(['record', '--source', 'cliproxy', '--json'], { env })
    t.equal(again.code, 0, again.stderr)
    t.match(JSON.parse(again.stdout), { appended: 0, alreadyRecorded: 6 })
    t.equal(ledger(store).length, 6)

    // A plain `record` drains it too when a URL is configured.
    const later = PAYLOADS[0]!.replace('2026-11-20T09:15:02.123456789Z', '2026-11-21T09:15:02Z')
    await r.rpush('usage', later)
    const full = await cli(['record', '--json'], { env })
    t.equal(full.code, 0, full.stderr)
    t.match(JSON.parse(full.stdout), { appended: 1 })

    t.notMatch(storeText(store), /sk-client-(alpha|beta)/, 'the client API keys are nowhere in the store')
    t.notMatch(storeText(store), new RegExp(KEY), 'nor the management key')
  },
)

t.test(
  'the management key from git credential helper; bad URL, bad key, key in argv or config',
  { skip: missing ?? false },
  async (t) => {
    const root = t.testdir()
    const server = await startRedis(path.join(root, 'redis'))
    t.teardown(() => server.stop())
    const { dir, env, store } = setup(path.join(root, 'machine'), server.port, { USAGE_LEDGER_CLIPROXY_KEY: undefined })
    const creds = path.join(dir, 'git-credentials')
    fs.writeFileSync(creds, `redis://usage-ledger:${KEY}@127.0.0.1%3a${server.port}\n`)
    fs.writeFileSync(path.join(dir, 'gitconfig'), `[credential]\n\thelper = store --file=${creds}\n`)
    const withHelper = { ...env, GIT_CONFIG_GLOBAL: path.join(dir, 'gitconfig') }
    await server.client().rpush('usage', PAYLOADS[0]!)
    const ok = await cli(['record', '--source', 'cliproxy'], { env: withHelper })
    t.equal(ok.code, 0, ok.stderr)
    t.equal(ledger(store).length, 1, "the key came from git's credential helper")

    const oneLine = (s: string) => s.trim().split('\n').length === 1
    const noKey = await cli(['record', '--source', 'cliproxy'], { env })
    t.equal(noKey.code, 2, 'no key: usage error')
    t.match(
      noKey.stderr,
      /no management key for CLIProxyAPI at redis:\/\/127\.0\.0\.1:\d+: set USAGE_LEDGER_CLIPROXY_KEY/,
    )
    t.ok(oneLine(noKey.stderr))

    const wrong = await cli(['record', '--source', 'cliproxy'], { env: { ...env, USAGE_LEDGER_CLIPROXY_KEY: 'nope' } })
    t.equal(wrong.code, 1, 'a refused key: operational error (1)')
    t.match(wrong.stderr, /^usage-ledger: CLIProxyAPI at redis:\/\/127\.0\.0\.1:\d+ refused the management key/)
    t.ok(oneLine(wrong.stderr))
    t.notMatch(wrong.stderr, /nope/, 'the key is not repeated')

    const bad = await cli(['record', '--source', 'cliproxy'], {
      env: { ...env, USAGE_LEDGER_CLIPROXY_URL: 'http://127.0.0.1:1' },
    })
    t.equal(bad.code, 2, 'a bad URL: usage error (2)')
    t.match(bad.stderr, /USAGE_LEDGER_CLIPROXY_URL "http:\/\/127\.0\.0\.1:1" must be redis:\/\/HOST:PORT/)
    t.ok(oneLine(bad.stderr))

    const down = await cli(['record', '--source', 'cliproxy'], {
      env: { ...env, USAGE_LEDGER_CLIPROXY_KEY: KEY, USAGE_LEDGER_CLIPROXY_URL: 'redis://127.0.0.1:1' },
    })
    t.equal(down.code, 1, 'nothing listening: operational error (1)')
    t.match(down.stderr, /cannot reach CLIProxyAPI's usage queue at redis:\/\/127\.0\.0\.1:1 \(ECONNREFUSED\)/)

    const collectWrong = await cli(['collect', 'cliproxy'], { env: { ...env, USAGE_LEDGER_CLIPROXY_KEY: 'nope' } })
    t.equal(collectWrong.code, 1, 'the collector stops at a refused key (no retry: the proxy bans after 5)')
    t.match(collectWrong.stderr, /^usage-ledger: CLIProxyAPI at redis:\/\/127\.0\.0\.1:\d+ refused the management key/)
    t.ok(oneLine(collectWrong.stderr), collectWrong.stderr)

    for (const args of [
      ['collect', 'cliproxy', '--key', 'secret'],
      ['record', '--source', 'cliproxy', '--key', 'secret'],
    ]) {
      const argv = await cli(args, { env })
      t.equal(argv.code, 2, args.join(' '))
      t.match(argv.stderr, /^usage-ledger: --key is refused: .*USAGE_LEDGER_CLIPROXY_KEY/, args.join(' '))
      t.ok(oneLine(argv.stderr), argv.stderr)
      t.notMatch(argv.stderr, /secret/)
    }

    const none = await cli(['record', '--source', 'cliproxy'], {
      env: { ...env, USAGE_LEDGER_CLIPROXY_URL: undefined },
    })
    t.equal(none.code, 2)
    t.match(none.stderr, /no CLIProxyAPI queue configured: set USAGE_LEDGER_CLIPROXY_URL/)

    fs.writeFileSync(
      path.join(store, 'config.json'),
      JSON.stringify({
        ...JSON.parse(fs.readFileSync(path.join(store, 'config.json'), 'utf8')),
        sources: { cliproxy: { key: 'x' } },
      }),
    )
    const inConfig = await cli(['collect', 'cliproxy'], { env })
    t.equal(inConfig.code, 2)
    t.match(inConfig.stderr, /config sources\.cliproxy\.key is refused/)
  },
)

t.test(
  'collect cliproxy: backlog, stream, control payloads, a server restart, SIGTERM',
  { skip: missing ?? false },
  async (t) => {
    const root = t.testdir()
    const server = await startRedis(path.join(root, 'redis'))
    t.teardown(() => server.stop())
    let r = server.client()
    const { env, store } = setup(path.join(root, 'machine'), server.port)
    await r.rpush('usage', PAYLOADS[0]!, PAYLOADS[1]!)
    const c = collector(env, ['--interval', '1'])
    t.teardown(() => c.child.kill('SIGKILL'))
    await until('subscribed', async () => (await subscribers(r)) === 1 && /subscribed to/.test(c.stderr()))
    t.match(c.stderr(), /2 queued records taken/, 'the backlog is drained after subscribing')
    await r.publish('usage', '{"support_refresh":true}')
    await r.publish('usage', PAYLOADS[2]!)
    await r.publish('usage', '{"refresh":true}')
    await until('three records committed', () => ledger(store).length === 3)

    // The server goes away and comes back on the same port: the collector resubscribes.
    await server.stop()
    await server.start()
    r = server.client()
    await until('subscribed again', async () => (await subscribers(r)) === 1)
    await r.publish('usage', PAYLOADS[3]!)
    // Queued while the collector was not subscribed: drained after its next subscribe (forced here).
    await r.rpush('usage', PAYLOADS[4]!)
    await r.call('CLIENT', 'KILL', 'TYPE', 'pubsub')
    await until('the backlog after resubscribing', async () => (await r.llen('usage')) === 0)
    await until('subscribed once more', async () => (await subscribers(r)) === 1)
    await r.publish('usage', PAYLOADS[5]!)
    // SIGTERM: what is spooled is committed, exit 0.
    await until('the last one spooled or committed', () => {
      const spool = path.join(store, 'state/cliproxy')
      const spooled = fs.existsSync(spool)
        ? fs
            .readdirSync(spool)
            .filter((n) => n.endsWith('.ndjson'))
            .reduce((n, f) => n + fs.readFileSync(path.join(spool, f), 'utf8').split('\n').filter(Boolean).length, 0)
        : 0
      return ledger(store).length + spooled === 6
    })
    c.child.kill('SIGTERM')
    const done = await c.done
    t.equal(done.code, 0, c.stderr())
    t.match(c.stderr(), /stopped: 6 records recorded/)
    t.match(c.stderr(), /retrying in/, 'the lost connection was said')
    const lines = ledger(store)
    t.same(byDay(lines), EXP.days, 'every record once, exact per day')
    t.notMatch(storeText(store), /sk-client-(alpha|beta)/)
  },
)

t.test(
  'a collector killed after it popped and before its commit: nothing lost, nothing doubled',
  { skip: missing ?? false },
  async (t) => {
    const root = t.testdir()
    const server = await startRedis(path.join(root, 'redis'))
    t.teardown(() => server.stop())
    const r = server.client()
    const { env, store } = setup(path.join(root, 'machine'), server.port)
    await r.rpush('usage', ...PAYLOADS)
    // A long interval: the records are popped and spooled, the commit is an hour away.
    const first = collector(env, ['--interval', '3600'])
    const spoolFile = path.join(store, 'state/cliproxy/spool.ndjson')
    await until(
      'all six spooled',
      () => fs.existsSync(spoolFile) && fs.readFileSync(spoolFile, 'utf8').split('\n').filter(Boolean).length === 6,
    )
    t.equal(await r.llen('usage'), 0, 'popped from the queue')
    first.child.kill('SIGKILL')
    const killed = await first.done
    t.equal(killed.signal, 'SIGKILL')
    t.equal(ledger(store).length, 0, 'killed before any commit')

    // The next collector commits the spool before anything else.
    const second = collector(env, ['--interval', '3600'])
    t.teardown(() => second.child.kill('SIGKILL'))
    await until('the spool committed', () => ledger(store).length === 6)
    await until('subscribed', async () => (await subscribers(r)) === 1)
    second.child.kill('SIGTERM')
    t.equal((await second.done).code, 0)
    const lines = ledger(store)
    t.same(byDay(lines), EXP.days, 'exact per day: nothing lost')
    t.equal(new Set(lines.map((l) => l.id)).size, 6, 'nothing doubled')

    // Killed after the commit and before the spool let go: the same entries are spooled again.
    const spool = new Spool(path.join(store, 'state'))
    await spool.append(PAYLOADS.map((p) => spoolEntry(p, '') as SpoolEntry))
    const run = await cli(['record', '--source', 'cliproxy', '--json'], { env })
    t.equal(run.code, 0, run.stderr)
    t.match(JSON.parse(run.stdout), { appended: 0, alreadyRecorded: 6 })
    t.equal(ledger(store).length, 6, 'their ids fold: still six lines')
    t.notOk(spool.pending(), 'and the spool is empty')
  },
)

t.test(
  'record loads the Redis client only when a queue is configured; an unreachable one only warns',
  { skip: missing ?? false },
  async (t) => {
    const root = t.testdir()
    const server = await startRedis(path.join(root, 'redis'))
    t.teardown(() => server.stop())
    const { env } = setup(path.join(root, 'machine'), server.port)
    const list = path.join(root, 'required.txt')
    const hook = path.join(root, 'hook.cjs')
    fs.writeFileSync(
      hook,
      `process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(list)}, Object.keys(require.cache).join('\\n')))`,
    )
    const record = async (vars: Record<string, string | undefined>) => {
      const r = await run(
        'env',
        ['-u', 'NODE_OPTIONS', process.execPath, '--require', hook, BIN, 'record', '--no-push'],
        {
          env: { ...env, ...vars },
          stdin: 'ignore',
        },
      )
      return { ...r, redis: /node_modules[\\/]ioredis[\\/]/.test(fs.readFileSync(list, 'utf8')) }
    }
    const without = await record({ USAGE_LEDGER_CLIPROXY_URL: undefined, USAGE_LEDGER_CLIPROXY_KEY: undefined })
    t.equal(without.code, 0, without.stderr)
    t.notOk(without.redis, 'no queue configured: ioredis is never loaded')
    const withQueue = await record({})
    t.equal(withQueue.code, 0, withQueue.stderr)
    t.ok(withQueue.redis, 'a queue configured: it is (so the check above sees it)')
    const down = await record({ USAGE_LEDGER_CLIPROXY_URL: 'redis://127.0.0.1:1' })
    t.equal(down.code, 0, 'a run over every source does not fail for the queue')
    t.match(down.stderr, /warning: cliproxy: cannot reach CLIProxyAPI's usage queue at redis:\/\/127\.0\.0\.1:1/)
  },
)

t.test('against a stand-in of CLIProxyAPI itself, record and collect send only AUTH, LPOP and SUBSCRIBE', async (t) => {
  const proxy = await fakeProxy(PAYLOADS.slice(0, 3))
  t.teardown(() => proxy.close())
  const { env, store } = setup(path.join(t.testdir(), 'machine'), proxy.addr.port)
  const rec = await cli(['record', '--source', 'cliproxy'], { env })
  t.equal(rec.code, 0, rec.stderr)
  t.equal(ledger(store).length, 3)
  t.same([...new Set(proxy.log)], ['AUTH', 'LPOP'])

  proxy.log.length = 0
  const c = collector(env, ['--interval', '1'])
  t.teardown(() => c.child.kill('SIGKILL'))
  await until('subscribed', () => proxy.subscribers() === 1 && /subscribed to/.test(c.stderr()))
  proxy.publish(PAYLOADS[3]!)
  proxy.publish('{"refresh":true}')
  proxy.publish(PAYLOADS[4]!)
  proxy.publish(PAYLOADS[5]!)
  await until('six records committed', () => ledger(store).length === 6)
  c.child.kill('SIGTERM')
  t.equal((await c.done).code, 0, c.stderr())
  t.same(byDay(ledger(store)), EXP.days)
  t.same([...new Set(proxy.log)].sort(), ['AUTH', 'LPOP', 'SUBSCRIBE'], 'nothing the proxy does not speak')
})

t.test(
  'a collector started before its proxy waits for it; record beside a running collector',
  { skip: missing ?? false },
  async (t) => {
    const root = t.testdir()
    const port = await freePort()
    const { env, store } = setup(path.join(root, 'machine'), port)
    const c = collector(env, ['--interval', '3600'])
    t.teardown(() => c.child.kill('SIGKILL'))
    await until('the first retry said', () => /cannot reach CLIProxyAPI's usage queue .*; retrying in/.test(c.stderr()))
    const server = await startRedis(path.join(root, 'redis'), port)
    t.teardown(() => server.stop())
    const r = server.client()
    await until('subscribed once the proxy is up', async () => (await subscribers(r)) === 1)
    for (const p of PAYLOADS.slice(0, 3)) await r.publish('usage', p)
    const spoolFile = path.join(store, 'state/cliproxy/spool.ndjson')
    const spooled = () =>
      fs.existsSync(spoolFile) ? fs.readFileSync(spoolFile, 'utf8').split('\n').filter(Boolean).length : 0
    await until('three spooled by the collector', () => spooled() === 3)
    // cron's `record` while the collector runs: it commits what the collector spooled.
    const rec = await cli(['record', '--source', 'cliproxy', '--json'], { env })
    t.equal(rec.code, 0, rec.stderr)
    t.match(JSON.parse(rec.stdout), { appended: 3 })
    for (const p of PAYLOADS.slice(3)) await r.publish('usage', p)
    await until('the rest spooled in a new file', () => spooled() === 3)
    c.child.kill('SIGTERM')
    t.equal((await c.done).code, 0, c.stderr())
    const lines = ledger(store)
    t.same(byDay(lines), EXP.days, 'every record once')
    t.equal(new Set(lines.map((l) => l.id)).size, lines.length)
  },
)

t.test('record --source cliproxy with the queue out of reach still commits the spool, then fails', async (t) => {
  const { env, store } = setup(path.join(t.testdir(), 'machine'), await freePort())
  const spool = new Spool(path.join(store, 'state'))
  await spool.append(PAYLOADS.map((p) => spoolEntry(p, '') as SpoolEntry))
  const r = await cli(['record', '--source', 'cliproxy'], { env })
  t.equal(r.code, 1)
  t.equal(r.stderr.trim().split('\n').length, 1, 'one line')
  t.match(
    r.stderr,
    /usage-ledger: cannot reach CLIProxyAPI's usage queue at redis:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/,
  )
  t.same(byDay(ledger(store)), EXP.days, 'what was spooled is in the ledger')
  t.notOk(spool.pending(), 'and out of the spool')
})
