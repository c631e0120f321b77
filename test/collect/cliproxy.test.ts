/**
 * CLIProxyAPI's usage queue, the reader: payloads (in the proxy's exact JSON, v6.10 and v7) to
 * records, the spool, and the queue client against a real redis-server (RPUSH/LPOP for the queue,
 * PUBLISH/SUBSCRIBE for the stream).
 */
import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import {
  cliproxyRecord,
  cliproxyUrl,
  parseQueueUrl,
  isControlPayload,
  semanticsOf,
  spoolEntry,
  type SpoolEntry,
} from '../../lib/collect/cliproxy/index.js'
import { Spool } from '../../lib/collect/cliproxy/spool.js'
import { drainQueue, followQueue } from '../../lib/collect/cliproxy/queue.js'
import type { LedgerRecord } from '../../lib/ledger/record.js'
import { isLedgerError } from '../../lib/errors.js'
import { fakeEnv } from '../helpers/env.js'
import { hash16, recordIdOf } from '../helpers/collect.js'
import { fakeProxy, KEY, PAYLOADS, redisMissing, startRedis, until } from '../helpers/redis.js'
import { expected } from '../helpers/cli.js'

const records = (salt = '') =>
  PAYLOADS.map((raw) => {
    const e = spoolEntry(raw, salt)
    if (e === 'malformed') throw new Error('fixture payload malformed')
    const r = cliproxyRecord(e, salt)
    if (r === 'malformed') throw new Error('fixture record malformed')
    return r
  })

t.test('every payload shape becomes the hand-computed record', async (t) => {
  const rs = records()
  const want: Array<Partial<LedgerRecord>> = [
    // v7 Claude, token_breakdown complete: cache outside input.
    {
      ts: '2026-11-20T09:15:02.123Z',
      model: 'claude-sonnet-4-5',
      input: 1200,
      output: 300,
      cacheWrite: 800,
      cacheRead: 5000,
    },
    // v7 Codex (OpenAI-style: input 10000 includes the 8000 cached), breakdown complete.
    { ts: '2026-11-20T12:40:10.500Z', model: 'gpt-5-codex', input: 2000, output: 700, cacheRead: 8000, reasoning: 200 },
    // v7 OpenAI-compatible, breakdown inconsistent: `tokens` read OpenAI-style; +01:00 moves it a day back.
    { ts: '2026-11-20T23:30:00.000Z', model: 'ds-chat', input: 2000, output: 400, cacheRead: 1000 },
    // v7 Gemini, failed (429): kept, flagged.
    { ts: '2026-11-21T08:05:44.000Z', model: 'gemini-2.5-pro', input: 1500, output: 0, failed: true },
    // v6.10 Codex (no breakdown, no alias): cached_tokens inside input_tokens.
    { ts: '2026-11-21T02:00:00.250Z', model: 'gpt-5', input: 1000, output: 600, cacheRead: 4000, reasoning: 100 },
    // v6.10 Claude: cached_tokens outside input_tokens.
    { ts: '2026-11-21T12:30:15.750Z', model: 'claude-opus-4-1-20250805', input: 50, output: 900, cacheRead: 20000 },
  ]
  for (const [i, w] of want.entries()) {
    t.match(rs[i], { source: 'cliproxy', cacheWrite: 0, ...w }, `payload ${i + 1}`)
    t.equal(rs[i]!.id, recordIdOf('cliproxy', PAYLOADS[i]!.trim()), 'the id is the hash of the raw payload')
  }
  t.equal(rs.filter((r) => r.failed).length, 1, 'only the failed call is flagged')
  t.notOk(rs[0]!.reasoning, 'no reasoning key when there was none')
  // Sessions are upstream credentials (auth_index), projects the client API keys, both hashed.
  t.equal(rs[0]!.session, hash16('cliproxy/auth\x001'))
  t.equal(rs[0]!.session, rs[5]!.session, 'auth_index 1 is one session')
  t.equal(rs[0]!.project, hash16('cliproxy/api-key\x00sk-client-alpha-0001'))
  t.equal(rs[2]!.project, rs[3]!.project, 'one client key, one project')
  t.not(rs[0]!.project, rs[2]!.project)

  const exp = expected() as unknown as { cliproxy: { totals: Record<string, number>; reasoning: number } }
  const sum = (k: 'input' | 'output' | 'cacheWrite' | 'cacheRead') => rs.reduce((n, r) => n + r[k], 0)
  t.same(
    { input: sum('input'), output: sum('output'), cacheWrite: sum('cacheWrite'), cacheRead: sum('cacheRead') },
    {
      input: exp.cliproxy.totals.input,
      output: exp.cliproxy.totals.output,
      cacheWrite: exp.cliproxy.totals.cacheWrite,
      cacheRead: exp.cliproxy.totals.cacheRead,
    },
    'fixtures/expected.json totals',
  )
  t.equal(
    rs.reduce((n, r) => n + (r.reasoning ?? 0), 0),
    exp.cliproxy.reasoning,
  )

  // A salt changes every hash, never the id.
  const salted = records('pepper')
  t.equal(salted[0]!.id, rs[0]!.id)
  t.not(salted[0]!.project, rs[0]!.project)
})

t.test('the spool entry keeps what a record needs and never the API key', async (t) => {
  for (const raw of PAYLOADS) {
    const e = spoolEntry(raw, '') as SpoolEntry
    const text = JSON.stringify(e)
    t.notMatch(text, /sk-client/, 'no API key')
    t.notMatch(text, /client_ip|user_agent|response_headers|request_id/, 'no client metadata')
  }
  t.equal(spoolEntry('not json', ''), 'malformed')
  t.equal(spoolEntry('[1,2]', ''), 'malformed')
  // Same payload, with the whitespace a transport may add: one id.
  t.equal((spoolEntry(` ${PAYLOADS[0]}\n`, '') as SpoolEntry).id, (spoolEntry(PAYLOADS[0]!, '') as SpoolEntry).id)
  t.equal(cliproxyRecord({ id: 'a'.repeat(32), timestamp: 'yesterday' }, ''), 'malformed', 'no valid time')
})

t.test("control payloads and CLIProxyAPI's provider semantics", async (t) => {
  t.ok(isControlPayload('{"support_refresh":true}'))
  t.ok(isControlPayload('{"refresh":true}'))
  t.notOk(isControlPayload(PAYLOADS[0]!))
  t.notOk(isControlPayload('{"refresh":true,"model":"x"}'))
  t.equal(semanticsOf('claude', 'ClaudeExecutor'), 'independent')
  t.equal(semanticsOf('codex', 'CodexExecutor'), 'subset')
  t.equal(semanticsOf('openai-compatibility', 'OpenAICompatExecutor'), 'subset')
  t.equal(semanticsOf('gemini-cli', 'GeminiCLIExecutor'), 'separate-reasoning')
  t.equal(semanticsOf('unknown', 'unknown'), 'unknown')
  // Gemini (v6.10): cache inside input, reasoning outside output.
  const r = cliproxyRecord(
    {
      id: 'b'.repeat(32),
      timestamp: '2026-11-21T10:00:00Z',
      provider: 'gemini',
      model: 'gemini-2.5-pro',
      tokens: { input_tokens: 900, output_tokens: 100, reasoning_tokens: 50, cached_tokens: 300, total_tokens: 1050 },
    },
    '',
  ) as LedgerRecord
  t.match(r, { input: 600, cacheRead: 300, output: 150, reasoning: 50 })
})

t.test('where the queue is: env over config; keys and credentials in URLs refused', async (t) => {
  const env = (vars: Record<string, string> = {}) => fakeEnv(vars)
  t.equal(cliproxyUrl(env(), {}), null)
  t.same(cliproxyUrl(env({ USAGE_LEDGER_CLIPROXY_URL: 'redis://127.0.0.1:8317' }), {}), {
    host: '127.0.0.1',
    port: 8317,
    hostPort: '127.0.0.1:8317',
    url: 'redis://127.0.0.1:8317',
  })
  t.same(cliproxyUrl(env({ USAGE_LEDGER_CLIPROXY_URL: 'redis://[::1]' }), {}), {
    host: '::1',
    port: 8317,
    hostPort: '[::1]:8317',
    url: 'redis://[::1]:8317',
  })
  t.same(cliproxyUrl(env(), { sources: { cliproxy: { url: 'redis://proxy.lan' } } })?.url, 'redis://proxy.lan:8317')
  t.same(
    cliproxyUrl(env({ USAGE_LEDGER_CLIPROXY_URL: 'redis://a:1' }), { sources: { cliproxy: { url: 'redis://b:2' } } })
      ?.host,
    'a',
  )
  const code = (f: () => unknown) => {
    try {
      f()
      return 'none'
    } catch (e) {
      return isLedgerError(e) ? `${e.kind}:${e.code}` : String(e)
    }
  }
  t.equal(
    code(() => cliproxyUrl(env({ USAGE_LEDGER_CLIPROXY_URL: 'http://x:1' }), {})),
    'usage:CLIPROXY_URL',
  )
  t.equal(
    code(() => cliproxyUrl(env({ USAGE_LEDGER_CLIPROXY_URL: 'not a url' }), {})),
    'usage:CLIPROXY_URL',
  )
  t.equal(
    code(() => cliproxyUrl(env({ USAGE_LEDGER_CLIPROXY_URL: 'redis://:secret@h:1' }), {})),
    'usage:CLIPROXY_KEY_REFUSED',
  )
  t.equal(
    code(() => cliproxyUrl(env(), { sources: { cliproxy: { url: 'redis://h:1', key: 'secret' } } })),
    'usage:CLIPROXY_KEY_REFUSED',
  )
})

t.test('the spool: appended entries survive until done; a torn line is skipped; a newer one stops', async (t) => {
  const state = t.testdir()
  const spool = new Spool(state)
  t.notOk(spool.pending())
  const es = PAYLOADS.map((p) => spoolEntry(p, '') as SpoolEntry)
  await spool.append(es.slice(0, 2))
  t.ok(spool.pending())
  const taken = await spool.take()
  t.equal(taken.entries.length, 2)
  // Appended while a commit holds the taken segment: goes to a new active file.
  await spool.append(es.slice(2, 3))
  const again = await spool.take()
  t.equal(again.entries.length, 3, 'the unfinished segment is read again, with the new one')
  spool.done(again.files)
  t.notOk(spool.pending(), 'nothing left once done')

  await spool.append(es.slice(3, 4))
  fs.appendFileSync(spool.activeFile, '{"v":1,"e":{"id":"tor')
  const torn = await spool.take()
  t.equal(torn.entries.length, 1)
  t.equal(torn.torn, 1, 'the torn line is counted, not read')
  spool.done(torn.files)

  fs.writeFileSync(spool.activeFile, '{"v":2,"e":{}}\n')
  await t.rejects(spool.take(), { code: 'STATE_TOO_NEW' })
  t.ok(spool.pending(), 'and the file is kept')
  t.same(
    fs.readdirSync(path.join(state, 'cliproxy')).filter((n) => n.endsWith('.lock')),
    [],
    'the spool lock is not left behind',
  )
})

const missing = redisMissing()

t.test(
  'drainQueue: LPOP usage 1000 until empty, in order; bad key and no server are clear errors',
  { skip: missing ?? false },
  async (t) => {
    const server = await startRedis(t.testdir())
    t.teardown(() => server.stop())
    const r = server.client()
    const many = Array.from({ length: 2500 }, (_, i) =>
      PAYLOADS[i % PAYLOADS.length]!.replace('"latency_ms":', `"n":${i},"latency_ms":`),
    )
    await r.rpush('usage', ...many)
    const addr = parseQueueUrl(server.url, 'test')
    const batches: number[] = []
    const got: string[] = []
    const n = await drainQueue(addr, KEY, async (ps) => {
      batches.push(ps.length)
      got.push(...ps)
    })
    t.equal(n, 2500)
    t.same(batches, [1000, 1000, 500], 'batches of 1000')
    t.same(got, many, 'oldest first, nothing lost')
    t.equal(await r.llen('usage'), 0)
    t.equal(await drainQueue(addr, KEY, async () => {}), 0, 'an empty queue')
    await t.rejects(
      drainQueue(addr, 'wrong-key', async () => {}),
      { code: 'CLIPROXY_AUTH' },
    )
    const closed = parseQueueUrl('redis://127.0.0.1:1', 'test')
    await t.rejects(
      drainQueue(closed, KEY, async () => {}),
      { code: 'CLIPROXY_UNREACHABLE', message: /ECONNREFUSED/ },
    )
  },
)

t.test(
  'followQueue: SUBSCRIBE usage, messages in order, and a resubscribe after the server restarts',
  { skip: missing ?? false },
  async (t) => {
    const server = await startRedis(t.testdir())
    t.teardown(() => server.stop())
    const addr = parseQueueUrl(server.url, 'test')
    const got: string[] = []
    let subscribed = 0
    let downs = 0
    const f = followQueue(addr, KEY, {
      message: (m) => got.push(m),
      subscribed: async () => {
        subscribed++
      },
      down: () => {
        downs++
      },
      fatal: (e) => t.fail(e.message),
    })
    t.teardown(() => f.stop())
    await until('subscribed', () => subscribed === 1)
    const pub = server.client()
    await pub.publish('usage', '{"support_refresh":true}')
    await pub.publish('usage', PAYLOADS[0]!)
    await until('two messages', () => got.length === 2)
    t.same(got, ['{"support_refresh":true}', PAYLOADS[0]], 'control payloads too: the caller drops them')

    await server.stop()
    await until('noticed the server went away', () => downs > 0)
    await server.start()
    await until('subscribed again', () => subscribed === 2)
    const pub2 = server.client()
    await pub2.publish('usage', PAYLOADS[1]!)
    await until('the message after the restart', () => got.length === 3)
    t.equal(got[2], PAYLOADS[1])
    f.stop()

    let fatal: Error | null = null
    const bad = followQueue(addr, 'wrong-key', {
      message: () => {},
      subscribed: async () => {},
      down: () => t.fail('a refused key is not retried'),
      fatal: (e) => {
        fatal = e
      },
    })
    await until('the refused key', () => fatal !== null)
    bad.stop()
    t.match(fatal, { code: 'CLIPROXY_AUTH' })
  },
)

t.test(
  'the client sends CLIProxyAPI nothing but AUTH, LPOP and SUBSCRIBE (a stand-in of its RESP handler)',
  async (t) => {
    const proxy = await fakeProxy([...PAYLOADS])
    t.teardown(() => proxy.close())
    const got: string[] = []
    t.equal(
      await drainQueue(proxy.addr, KEY, async (ps) => {
        got.push(...ps)
      }),
      6,
    )
    t.same(got, PAYLOADS, 'an empty array ends the drain')
    t.same(proxy.log, ['AUTH', 'LPOP', 'LPOP'])
    await t.rejects(
      drainQueue(proxy.addr, 'wrong', async () => {}),
      { code: 'CLIPROXY_AUTH' },
    )

    proxy.log.length = 0
    const messages: string[] = []
    let subscribed = 0
    const f = followQueue(proxy.addr, KEY, {
      message: (m) => messages.push(m),
      subscribed: async () => {
        subscribed++
      },
      down: () => {},
      fatal: (e) => t.fail(e.message),
    })
    await until('subscribed', () => subscribed === 1 && proxy.subscribers() === 1)
    proxy.publish(PAYLOADS[0]!)
    await until('two messages', () => messages.length === 2)
    t.same(messages, ['{"support_refresh":true}', PAYLOADS[0]], 'the control payload first, as the proxy sends it')
    f.stop()
    await until('gone', () => proxy.subscribers() === 0)
    t.same(proxy.log, ['AUTH', 'SUBSCRIBE'], 'no INFO, CLIENT, SELECT, PING or QUIT')
  },
)

t.test('the collector interval: --interval, else config sources.cliproxy.interval, else 60 s', async (t) => {
  const { Store } = await import('../../lib/store/store.js')
  const { collectInterval } = await import('../../lib/app/cliproxy.js')
  const home = t.testdir()
  const open = () => Store.open(fakeEnv({}), { home })
  t.equal(collectInterval(open()), 60)
  t.equal(collectInterval(open(), 5), 5)
  fs.writeFileSync(path.join(home, 'config.json'), JSON.stringify({ v: 1, sources: { cliproxy: { interval: 300 } } }))
  t.equal(collectInterval(open()), 300)
  t.equal(collectInterval(open(), 2), 2, 'the option wins')
  fs.writeFileSync(
    path.join(home, 'config.json'),
    JSON.stringify({ v: 1, sources: { cliproxy: { interval: 'soon' } } }),
  )
  t.throws(() => collectInterval(open()), { code: 'BAD_INTERVAL' })
})
