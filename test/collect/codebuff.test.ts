import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { fakeEnv } from '../helpers/env.js'
import { collectOnce, copyFixture, hash16, byTs, sameSumsAsExpected } from '../helpers/collect.js'
import { cli, FIXTURES, isolatedEnv, pick } from '../helpers/cli.js'
import { chatIdTime, codebuff, messageUsage, usageOf } from '../../lib/collect/codebuff/index.js'

const EXP = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'expected.json'), 'utf8')).codebuff

const C1 = 'projects/api/chats/2026-11-16T23-41-07.512Z/chat-messages.json'
const C2 = 'projects/api/chats/2026-11-17T14-05-00.004Z/chat-messages.json'
const C4 = 'projects/site/chats/2026-11-18T09-00-00.000Z/chat-messages.json'

const run = (dir: string, cursors = {}) => collectOnce(fakeEnv({ CODEBUFF_DATA_DIR: dir }), codebuff, cursors)
const readJson = (p: string) => JSON.parse(fs.readFileSync(p, 'utf8')) as Array<Record<string, unknown>>

t.test('full read of fixtures/codebuff matches expected.json', async (t) => {
  const dir = copyFixture(t.testdir({}), 'codebuff')
  const { records, batch, stats } = run(dir)
  sameSumsAsExpected(t, records, EXP)
  t.equal(records.length, 6)
  t.equal(stats.files, 4)
  t.equal(stats.read, 3, 'the cut-off chat keeps no cursor')
  t.equal(stats.malformed, EXP.malformedFiles)
  t.equal(batch.duplicates, 0)
  const rs = records.sort(byTs)
  t.same(
    rs.map((r) => [r.ts, r.input, r.output, r.cacheWrite, r.cacheRead]),
    [
      ['2026-11-16T23:57:48.201Z', 4210, 388, 12288, 0],
      ['2026-11-17T00:02:15.933Z', 1630, 912, 2048, 12288],
      ['2026-11-17T14:06:31.470Z', 3104, 1410, 0, 6016],
      ['2026-11-17T14:09:02.118Z', 2816, 655, 0, 9088],
      ['2026-11-17T14:12:40.000Z', 820, 444, 0, 0],
      ['2026-11-18T08:30:12.250Z', 2500, 300, 0, 1000],
    ],
    'prompt_tokens less their cached part; totalTokens fills output; the chat id dates a message without time',
  )
  t.equal(
    EXP.extras.ccusageDays['2026-11-17'].totalTokens - EXP.days['2026-11-17'].totalTokens,
    EXP.extras.cachedInPromptTokens,
    'ccusage counts the 6016+9088 cached prompt tokens twice',
  )
  for (const r of rs) {
    t.equal(r.source, 'codebuff')
    t.notOk('costUSD' in r, 'credits are not dollars')
  }
  t.equal(rs[0]!.session, hash16('api/2026-11-16T23-41-07.512Z'))
  t.equal(rs[0]!.project, hash16('api'))
  t.equal(batch.projectNames.get(hash16('api')), 'api')
  t.equal(batch.sessionIds.get(rs[0]!.session!), '2026-11-16T23-41-07.512Z')
  const text = JSON.stringify(records)
  for (const raw of ['api', 'site', '2026-11-16T23-41', 'ai-1794873468201', 'manicode']) {
    t.notOk(text.includes(raw), `no raw ${raw} in any record`)
  }
})

t.test('a rewritten chat adds exactly its new message; re-reading adds nothing', async (t) => {
  const dir = copyFixture(t.testdir({}), 'codebuff')
  const first = run(dir)
  const again = run(dir, first.cursors)
  t.equal(again.records.length, 0, 'with the cursors: unchanged files are not opened')
  t.equal(again.stats.malformed, 1, 'the cut-off chat is tried again')
  t.same(
    run(dir)
      .records.map((r) => r.id)
      .sort(),
    first.records.map((r) => r.id).sort(),
    'without them: the same ids',
  )
  // The CLI rewrites the whole array: a user turn and the answer appended, the earlier message
  // re-serialised (here with its usage keys reordered and a UI flag added).
  const file = path.join(dir, C1)
  const msgs = readJson(file)
  msgs[1] = { ...msgs[1], metadata: { ...(msgs[1]!.metadata as object) }, isCollapsed: true }
  msgs.push(
    { id: 'user-1794873900000', variant: 'user', content: 'thanks', timestamp: '2026-11-17T00:05:00.000Z' },
    {
      id: 'ai-1794873911250',
      variant: 'ai',
      content: 'ok',
      timestamp: '2026-11-17T00:05:11.250Z',
      metadata: {
        model: 'anthropic/claude-sonnet-4.5',
        usage: { inputTokens: 40, outputTokens: 12, cacheReadInputTokens: 14336 },
      },
    },
  )
  fs.writeFileSync(file, JSON.stringify(msgs, null, 2))
  const more = run(dir, first.cursors)
  t.same(
    more.records.map((r) => [r.ts, r.input, r.output, r.cacheRead]),
    [
      ['2026-11-16T23:57:48.201Z', 4210, 388, 0],
      ['2026-11-17T00:02:15.933Z', 1630, 912, 12288],
      ['2026-11-17T00:05:11.250Z', 40, 12, 14336],
    ],
    'the document is read whole',
  )
  const known = new Set(first.records.map((r) => r.id))
  t.same(
    more.records.filter((r) => !known.has(r.id)).map((r) => r.ts),
    ['2026-11-17T00:05:11.250Z'],
    'only the new message has a new id',
  )
  // Completing the cut-off chat: it is read now, and its one answer counts.
  const cut = path.join(dir, C4)
  const whole = fs.readFileSync(path.join(FIXTURES, 'codebuff', C4), 'utf8')
  t.throws(() => JSON.parse(whole), 'the fixture really is cut off')
  fs.writeFileSync(
    cut,
    JSON.stringify([
      {
        id: 'user-1794992400100',
        variant: 'user',
        content: 'rename the footer links',
        timestamp: '2026-11-18T09:00:00.100Z',
      },
      {
        id: 'ai-1794992411000',
        variant: 'ai',
        content: 'Done.',
        timestamp: '2026-11-18T09:00:11.000Z',
        metadata: { model: 'google/gemini-2.5-pro', usage: { input_tokens: 900, output_tokens: 120 } },
      },
    ]),
  )
  const done = run(dir, more.cursors)
  t.same(
    done.records.map((r) => [r.ts, r.input, r.output]),
    [['2026-11-18T09:00:11.000Z', 900, 120]],
  )
  t.equal(done.stats.malformed, 0)
})

t.test('usage keys and where they are found', async (t) => {
  t.same(
    usageOf({ prompt_tokens: 750, completion_tokens: 80, prompt_tokens_details: { cached_tokens: 100 } }),
    { input: 650, output: 80, cacheWrite: 0, cacheRead: 100, extra: 0, model: undefined },
    'OpenAI style: the cached part is taken out of input',
  )
  t.same(
    usageOf({ promptTokens: 300, completionTokens: 5, promptTokensDetails: { cachedTokens: 200 } }),
    { input: 100, output: 5, cacheWrite: 0, cacheRead: 200, extra: 0, model: undefined },
    'camelCase too',
  )
  t.same(
    usageOf({ inputTokens: 100, outputTokens: 50, cacheCreationInputTokens: 20, cacheReadInputTokens: 10 }),
    { input: 100, output: 50, cacheWrite: 20, cacheRead: 10, extra: 0, model: undefined },
    'Anthropic style: input is without cache already',
  )
  t.same(usageOf({ totalTokens: 789 }).extra, 789, 'only a total: all of it unexplained (becomes output)')
  t.same(usageOf({ inputTokens: 10, outputTokens: 5, totalTokens: 30 }).extra, 15)
  const m = messageUsage({
    metadata: {
      runState: {
        sessionState: {
          mainAgentState: {
            messageHistory: [
              { role: 'assistant', providerOptions: { codebuff: { usage: { inputTokens: 4242, outputTokens: 99 } } } },
              { role: 'user', providerOptions: {} },
              { role: 'assistant', providerOptions: { codebuff: { model: 'openai/gpt-5.1' } } },
            ],
          },
        },
      },
    },
  })
  t.same([m.input, m.output, m.model], [4242, 99, 'openai/gpt-5.1'], 'run state: newest turn first, gaps filled')
  const first = messageUsage({
    metadata: { model: 'x', usage: { inputTokens: 5 }, codebuff: { usage: { inputTokens: 7, outputTokens: 3 } } },
  })
  t.same([first.input, first.output, first.model], [5, 3, 'x'], 'metadata.usage first, then codebuff.usage fills')
  t.equal(chatIdTime('2026-11-18T08-30-12.250Z'), '2026-11-18T08:30:12.250Z')
  t.equal(chatIdTime('test-chat-123'), null)
})

t.test('messages without a usable time; ids without a message id', async (t) => {
  const dir = t.testdir({})
  const chat = (id: string, msgs: unknown[]) => {
    const p = path.join(dir, 'projects', 'p', 'chats', id, 'chat-messages.json')
    fs.mkdirSync(path.dirname(p), { recursive: true })
    fs.writeFileSync(p, JSON.stringify(msgs))
    return p
  }
  const usage = { model: 'm', usage: { inputTokens: 10, outputTokens: 1 } }
  chat('named-chat', [
    { variant: 'ai', timestamp: '11/17/26, 9:12 AM', metadata: usage },
    { variant: 'ai', timestamp: 1794924391, metadata: usage },
    { role: 'assistant', createdAt: 1794924391470, metadata: usage },
  ])
  const first = run(dir)
  t.same(
    first.records.map((r) => r.ts).sort(),
    ['2026-11-17T14:06:31.000Z', '2026-11-17T14:06:31.470Z'],
    'a local-time string and no chat-id time: skipped and counted; epoch s and ms read',
  )
  t.equal(first.stats.malformed, 1)
  t.equal(new Set(first.records.map((r) => r.id)).size, 2, 'id-less messages keyed by their place')
  const notArray = chat('2026-11-17T00-00-00.000Z', [])
  fs.writeFileSync(notArray, '{"messages":[]}')
  t.equal(run(dir).stats.malformed, 2, 'a file that is not an array is malformed')
})

t.test('places: the variable replaces the defaults; a `projects` dir is taken as is', async (t) => {
  const root = t.testdir({})
  const a = path.join(root, 'a')
  fs.mkdirSync(path.dirname(path.join(a, C2)), { recursive: true })
  fs.copyFileSync(path.join(FIXTURES, 'codebuff', C2), path.join(a, C2))
  const env = fakeEnv({ CODEBUFF_DATA_DIR: `${path.join(a, 'projects')},${path.join(root, 'b')}` }, { userHome: root })
  t.same(codebuff.looksIn(env), [path.join(a, 'projects'), path.join(root, 'b', 'projects')])
  t.equal(collectOnce(env, codebuff).records.length, 3)
  t.same(codebuff.looksIn(fakeEnv({}, { userHome: '/home/ana' })), [
    '/home/ana/.config/manicode/projects',
    '/home/ana/.config/manicode-dev/projects',
    '/home/ana/.config/manicode-staging/projects',
  ])
  for (const platform of ['darwin', 'win32'] as const) {
    const e = fakeEnv({ XDG_CONFIG_HOME: '/elsewhere', APPDATA: '/appdata' }, { userHome: '/u/ana' })
    e.platform = platform
    t.same(
      codebuff.looksIn(e)[0],
      path.join('/u/ana', '.config', 'manicode', 'projects'),
      `${platform}: ~/.config/manicode too (os.homedir(); XDG and APPDATA are not used by Codebuff)`,
    )
  }
})

t.test('record then report through the CLI', async (t) => {
  const dir = t.testdir({})
  const data = copyFixture(dir, 'codebuff')
  const env = isolatedEnv(dir, { USAGE_LEDGER_DEVICE_ID: 'c'.repeat(32), CODEBUFF_DATA_DIR: data })
  const rec = await cli(['record', '--no-push', '--source', 'codebuff'], { env })
  t.equal(rec.code, 0, rec.stderr)
  const r = await cli(['report', 'daily', '--json', '--tz', 'UTC', '--source', 'codebuff'], { env })
  t.equal(r.code, 0, r.stderr)
  const rows = (JSON.parse(r.stdout) as { rows: Array<Record<string, unknown>> }).rows
  t.same(Object.fromEntries(rows.map((row) => [row.period, pick(row)])), EXP.days)
})
