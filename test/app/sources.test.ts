import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { recordUsage } from '../../lib/app/record.js'
import { heldBySource, listSources } from '../../lib/app/query/sources.js'
import { emptyRowView, type Rows, type RowView } from '../../lib/report/aggregate.js'
import { Store } from '../../lib/store/store.js'
import { copyFixtures } from '../helpers/cli.js'
import { fakeEnv } from '../helpers/env.js'

const ID = 'a1'.repeat(16)
const run = { sources: [] as string[], stdin: false, push: false, dryRun: false }

t.test('sources: every registered source, found or where it looked, and what the ledger holds', async (t) => {
  const dir = t.testdir()
  copyFixtures(dir)
  const home = path.join(dir, 'store')
  const vars = { USAGE_LEDGER_DEVICE_ID: ID, CLAUDE_CONFIG_DIR: path.join(dir, 'claude') }
  const env = fakeEnv(vars, { userHome: path.join(dir, 'home') })
  const open = (e = env) => Store.open(e, { home, git: 'iso' })

  // Before any record: no store is made, the files are found, nothing is recorded.
  let store = open()
  const before = await listSources(store)
  await store.close()
  t.equal(before.store, false)
  t.notOk(fs.existsSync(home), 'listing sources creates no store')
  t.same(
    before.sources.map((s) => s.name),
    [
      'claude-code',
      'codex',
      'gemini',
      'qwen',
      'copilot',
      'amp',
      'droid',
      'pi',
      'kimi',
      'codebuff',
      'openclaw',
      'grok',
      'antigravity',
      'zcode',
      'openclaw-db',
      'goose',
      'hermes',
      'opencode',
      'kilo',
      'cliproxy',
      'stdin',
    ],
    'the file sources in registry order, the queue, then stdin',
  )
  t.match(before.sources[0], {
    title: 'Claude Code',
    kind: 'lines',
    envVar: 'CLAUDE_CONFIG_DIR',
    found: true,
    places: [path.join(dir, 'claude', 'projects')],
    files: 7,
    records: 0,
    newest: null,
  })
  t.match(before.sources.at(-2), { name: 'cliproxy', kind: 'queue', found: false, looksIn: [], records: 0 })
  // CODEX_HOME unset: ~/.codex, which is not there.
  t.match(before.sources[1], {
    found: false,
    envVar: 'CODEX_HOME',
    looksIn: [path.join(dir, 'home/.codex/sessions'), path.join(dir, 'home/.codex/archived_sessions')],
    places: [],
    files: 0,
  })

  store = open()
  await recordUsage(store, run)
  await store.close()
  // Then codex is pointed at its fixture and recorded, and another tool sends one record.
  const withCodex = fakeEnv({ ...vars, CODEX_HOME: path.join(dir, 'codex') }, { userHome: path.join(dir, 'home') })
  store = open(withCodex)
  await recordUsage(store, run)
  await store.close()
  const line = '{"ts":"2026-11-21T23:59:00Z","model":"m-1","input":5}\n'
  const piped = fakeEnv(vars, { userHome: path.join(dir, 'home'), stdin: line })
  store = open(piped)
  await recordUsage(store, { ...run, sources: ['mytool'], stdin: true })
  await store.close()

  store = open(withCodex)
  const after = await listSources(store)
  await store.close()
  t.equal(after.store, true)
  const byName = new Map(after.sources.map((s) => [s.name, s]))
  const [claude, codex, stdin] = ['claude-code', 'codex', 'stdin'].map((n) => byName.get(n))
  t.match(byName.get('gemini'), { found: false, records: 0, newest: null }, 'a source with nothing here')
  // fixtures/expected.json: 17 Claude Code records (newest 16:40:05.522Z), 11 Codex (newest 09:33:20.987Z).
  t.match(claude, { records: 17, thisDevice: 17, newest: '2026-11-21T16:40:05.522Z' })
  t.match(codex, {
    found: true,
    files: 4,
    places: [path.join(dir, 'codex/sessions'), path.join(dir, 'codex/archived_sessions')],
    records: 11,
    thisDevice: 11,
    newest: '2026-11-21T09:33:20.987Z',
  })
  // A record CLIProxyAPI's queue gave is the queue's, not another tool's through stdin.
  const fromQueue = '{"ts":"2026-11-21T23:58:00Z","model":"m-2","input":7}\n'
  store = open(fakeEnv(vars, { userHome: path.join(dir, 'home'), stdin: fromQueue }))
  await recordUsage(store, { ...run, sources: ['cliproxy'], stdin: true })
  await store.close()
  const queueEnv = fakeEnv(
    { ...vars, USAGE_LEDGER_CLIPROXY_URL: 'redis://127.0.0.1:8317' },
    { userHome: path.join(dir, 'home') },
  )
  store = open(queueEnv)
  const withQueue = new Map((await listSources(store)).sources.map((s) => [s.name, s]))
  await store.close()
  t.match(withQueue.get('cliproxy'), {
    kind: 'queue',
    envVar: 'USAGE_LEDGER_CLIPROXY_URL',
    found: true,
    places: ['redis://127.0.0.1:8317'],
    records: 1,
  })
  t.same(withQueue.get('stdin')!.names, ['mytool'], 'the queue is not among the names of stdin')
  t.match(stdin, {
    kind: 'stdin',
    envVar: null,
    found: true,
    names: ['mytool'],
    records: 1,
    thisDevice: 1,
    newest: '2026-11-21T23:59:00.000Z',
  })
})

t.test('heldBySource: per source, records of every device and of this one, and the newest instant', async (t) => {
  const row = (quarter: number, dim: number, records: number, last: number): RowView => ({
    ...emptyRowView(),
    ms: quarter * 900_000,
    dim,
    records,
    first: last - 1000,
    last,
  })
  const me = 'a'.repeat(32)
  const other = 'b'.repeat(32)
  const ms = (iso: string) => Date.parse(iso)
  const list = [
    row(1, 0, 3, ms('2026-11-20T10:05:00Z')),
    row(2, 1, 4, ms('2026-11-20T23:59:59Z')),
    row(3, 0, 2, ms('2026-11-21T00:10:00Z')),
    row(3, 2, 1, ms('2026-11-21T08:00:00Z')),
  ]
  const rows: Rows = {
    dims: [`${me}\tcodex\tgpt-5\t\t\t`, `${other}\tcodex\tgpt-5\t\t\t`, `${other}\tmytool\tm\t\t\t`].map((d) =>
      d.split('\t'),
    ),
    unknownModels: [],
    each: (visit) => list.forEach(visit),
  }
  const held = heldBySource(rows, me)
  t.same(held.get('codex'), { records: 9, thisDevice: 5, newest: '2026-11-21T00:10:00.000Z' })
  t.same(held.get('mytool'), { records: 1, thisDevice: 0, newest: '2026-11-21T08:00:00.000Z' })
  t.equal(held.get('claude-code'), undefined)
})
