import t from 'tap'
import { fakeEnv } from '../helpers/env.js'
import { collectOnce, copyFixture, sumBy, sha256, recordIdOf } from '../helpers/collect.js'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Env } from '../../lib/env.js'
import { Batch, type SourceCursors } from '../../lib/collect/index.js'
import { claudeCode, claudeConfigDirs, claudeRecord, SOURCE } from '../../lib/collect/claude-code/index.js'
import type { LedgerRecord } from '../../lib/ledger/record.js'
import { beatsRecorded } from '../../lib/ledger/dedupe.js'
import type { Collected } from '../../lib/collect/types.js'

const FIXTURES = fileURLToPath(new URL('../../fixtures/', import.meta.url))
const expected = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'expected.json'), 'utf8'))
const EXP = expected['claude-code']

const P1 = 'projects/-home-ana-src-app'
const P2 = 'projects/-home-ana-src-infra-tools'
const S1 = `${P1}/b1f4c2de-7a31-4e0b-9c55-0d2e8f6a1c01.jsonl`
const S4 = `${P2}/e4b96c32-7d64-4baf-83a5-5b1d4e9f7a04.jsonl`
const S5 = `${P2}/f5ca7d43-8e75-4cb0-94b6-6c2e5fa08b05.jsonl`
const JSONL_FILES = 7

const idOf = (nativeKey: string) => recordIdOf('claude-code', nativeKey)

/** A fresh copy of fixtures/claude under `root` (a t.testdir()); returns its path. */
const copyClaude = (root: string, name = 'claude') => copyFixture(root, 'claude', name)

const run = (env: Env, cursors: Record<string, SourceCursors> = {}) => collectOnce(env, claudeCode, cursors)

const total = (records: LedgerRecord[]) =>
  sumBy(records, () => 'all').all ?? { records: 0, input: 0, output: 0, cacheWrite: 0, cacheRead: 0, totalTokens: 0 }

t.test('full read of fixtures/claude matches expected.json', async (t) => {
  const dir = copyClaude(t.testdir({}))
  const { records, batch, stats } = run(fakeEnv({ CLAUDE_CONFIG_DIR: dir }))

  t.same(
    sumBy(records, (r) => r.ts.slice(0, 10)),
    EXP.days,
    'per UTC day',
  )
  t.same(total(records), EXP.totals, 'totals')
  t.same(
    sumBy(records, (r) => r.model),
    EXP.models,
    'per model',
  )
  t.equal(stats.malformed, EXP.malformedLines, 'malformed lines (stats)')
  t.equal(batch.malformed, 3, 'malformed lines (batch)')
  t.equal(stats.files, JSONL_FILES, 'every *.jsonl found, the .meta.json ignored')
  t.equal(stats.read, JSONL_FILES)
  t.equal(stats.unchanged, 0)
  t.equal(batch.duplicates, EXP.extras.supersededUsageLines, 'superseded usage lines counted as duplicates')
  t.equal(records.length, 17)
  t.equal(new Set(records.map((r) => r.id)).size, records.length, 'ids unique')

  t.notOk(
    records.some((r) => r.model === '<synthetic>'),
    'no <synthetic> record',
  )
  t.notOk(
    records.some((r) => r.input + r.output + r.cacheWrite + r.cacheRead === 0),
    'no zero record',
  )

  // Every record of expected.json, field by field.
  const byId = new Map(records.map((r) => [r.id, r]))
  for (const e of EXP.records) {
    const r = e.nativeKey ? byId.get(idOf(e.nativeKey)) : records.find((x) => x.ts === e.ts)
    t.ok(r, `${e.label} present`)
    if (!r) continue
    t.equal(r.ts, e.ts, `${e.label} ts`)
    t.equal(r.model, e.model, `${e.label} model`)
    t.same(
      [r.input, r.output, r.cacheWrite, r.cacheRead],
      [e.input, e.output, e.cacheWrite, e.cacheRead],
      `${e.label} tokens`,
    )
    t.equal(r.cacheWrite1h, e.cacheWrite1h, `${e.label} cacheWrite1h`)
    t.equal(r.speed, e.speed, `${e.label} speed`)
    t.equal(r.costUSD, e.costUSD, `${e.label} costUSD`)
    t.equal(r.sidechain, e.sidechain, `${e.label} sidechain`)
    t.equal(r.source, 'claude-code')
    t.equal(r.v, 1)
    t.match(r.id, /^[0-9a-f]{32}$/)
    t.match(r.session, /^[0-9a-f]{16}$/, `${e.label} session hashed`)
    t.match(r.project, /^[0-9a-f]{16}$/, `${e.label} project hashed`)
  }

  // Extras.
  t.equal(
    records.reduce((n, r) => n + (r.cacheWrite1h ?? 0), 0),
    EXP.extras.cacheWrite1h,
    'cacheWrite1h sum',
  )
  t.equal(records.filter((r) => r.sidechain).length, EXP.extras.sidechainRecords, 'sidechain records')
  t.equal(records.filter((r) => r.speed === 'fast').length, EXP.extras.fastRecords, 'fast records')
  t.equal(
    records.reduce((n, r) => n + (r.costUSD ?? 0), 0),
    EXP.extras.costUSDReported,
    'costUSD reported',
  )

  // Sidechain replay of A6 (same key) dropped; the kept copy is the non-sidechain one.
  const a6 = byId.get(idOf('msg_01EVw47C7oMwoiwjkXRhas1m:req_011Ck2XggdGjmzxpqr1xUhF4'))
  t.ok(a6)
  t.equal(a6?.sidechain, undefined, 'A6 kept without the sidechain flag')
  t.notOk(a6 && 'sidechain' in a6, 'sidechain key absent on A6')
  // Sidechain replay of A8 under another requestId dropped (message.id-level rule).
  t.notOk(
    byId.has(idOf('msg_01KeeryDokhGYoEYgGMKRAb8:req_011CCHHoMdeRQBGyikoNDPVs')),
    'A8 sidechain copy with another requestId dropped',
  )
  const a8 = byId.get(idOf('msg_01KeeryDokhGYoEYgGMKRAb8:req_011CqYhu3GVW9BdNixDGj5zK'))
  t.ok(a8 && !a8.sidechain, 'A8 non-sidechain copy kept')

  // Streaming: A1 written with output 1, 1, 311 → the largest copy wins.
  const a1 = byId.get(idOf('msg_01sXnanrgEw2HdmVQx4Jf4kj:req_011CCoK2fYZNLtccE41FFX4B'))
  t.equal(a1?.output, 311, 'streaming duplicate keeps the largest output')

  // Lines without message.id: both count, with distinct ids.
  const noId = records.filter((r) => r.input === 310 && r.output === 57)
  t.equal(noId.length, EXP.extras.recordsWithoutMessageId, 'two id-less lines → two records')
  t.not(noId[0]?.id, noId[1]?.id)

  // The unfinished last line of S4 is not consumed.
  t.notOk(byId.has(idOf(EXP.afterCompletingUnfinished.newRecord.nativeKey)), 'A14 (unfinished) not read')
})

t.test('file reading order does not change the result', async (t) => {
  // Read the subagent files before the session files by pointing at two config dirs in that order.
  const root = t.testdir({})
  const dir = copyClaude(root)
  const base = run(fakeEnv({ CLAUDE_CONFIG_DIR: dir })).records
  const only = (name: string, keep: (p: string) => boolean) => {
    const d = path.join(root, name)
    fs.cpSync(dir, d, { recursive: true, filter: (src) => fs.statSync(src).isDirectory() || keep(src) })
    return d
  }
  const subs = only('subs', (p) => p.includes('/subagents/'))
  const rest = only('rest', (p) => !p.includes('/subagents/'))
  t.equal(
    claudeCode.discover(fakeEnv({ CLAUDE_CONFIG_DIR: `${subs},${rest}` }))[0]?.path.includes('/subagents/'),
    true,
    'a subagent file is read first',
  )
  const key = (rs: LedgerRecord[]) => rs.map((r) => `${r.id}${r.sidechain ? 's' : ''}`).sort()
  for (const [name, dirs] of [
    ['subagents first', `${subs},${rest}`],
    ['sessions first', `${rest},${subs}`],
  ] as const) {
    const rev = run(fakeEnv({ CLAUDE_CONFIG_DIR: dirs })).records
    t.same(
      sumBy(rev, (r) => r.ts.slice(0, 10)),
      EXP.days,
      `${name}: days`,
    )
    t.equal(rev.filter((r) => r.sidechain).length, 3, `${name}: still 3 sidechain records (A6 not flagged)`)
    t.same(key(rev), key(base), `${name}: same ids and sidechain flags`)
  }
})

t.test('two config dirs holding the same files do not double count', async (t) => {
  const root = t.testdir({})
  const a = copyClaude(root, 'a')
  const b = copyClaude(root, 'b')
  const { records } = run(fakeEnv({ CLAUDE_CONFIG_DIR: `${a},${b}` }))
  t.equal(records.length, 17, 'keys are relative to the config dir, so copies fold (id-less lines too)')
  t.same(total(records), EXP.totals)
})

t.test('incremental: a second run with the cursors reads nothing', async (t) => {
  const dir = copyClaude(t.testdir({}))
  const env = fakeEnv({ CLAUDE_CONFIG_DIR: dir })
  const first = run(env)
  t.equal(Object.keys(first.cursors[SOURCE]!).length, JSONL_FILES)
  const s4 = first.cursors[SOURCE]![path.join(dir, S4)]!
  t.ok(s4, 'cursor for S4')
  const s4size = fs.statSync(path.join(dir, S4)).size
  t.equal(s4.size, s4size)
  t.ok(s4.offset < s4size, 'S4 offset stops before the unfinished line')
  t.equal(
    s4size - s4.offset,
    Buffer.byteLength(fs.readFileSync(path.join(dir, S4), 'utf8').split('\n').pop()!),
    'offset = just after the last newline',
  )
  const s5 = first.cursors[SOURCE]![path.join(dir, S5)]!
  t.equal(s5.offset, fs.statSync(path.join(dir, S5)).size, 'complete file: offset = size')

  const second = run(env, first.cursors)
  t.same(second.records, [], 'nothing new')
  t.equal(second.stats.files, JSONL_FILES)
  t.equal(second.stats.unchanged, JSONL_FILES, 'every file unchanged')
  t.equal(second.stats.read, 0)
  t.equal(second.stats.bytes, 0)
  t.equal(second.stats.malformed, 0, 'malformed lines are not counted again')
  t.same(second.cursors, first.cursors)
})

t.test('an unchanged file is not opened', async (t) => {
  const dir = copyClaude(t.testdir({}))
  const env = fakeEnv({ CLAUDE_CONFIG_DIR: dir })
  const file = path.join(dir, S4)
  const fixed = new Date('2026-11-21T15:00:00.000Z')
  fs.utimesSync(file, fixed, fixed)
  const first = run(env)
  const cur = first.cursors[SOURCE]![file]!
  t.equal(cur.mtimeMs, fixed.getTime())

  // Same size, different bytes: the unfinished line loses one character and gains its newline.
  const before = fs.readFileSync(file, 'utf8')
  const after = `${before.replace('I will add', 'I will ad')}\n`
  t.equal(Buffer.byteLength(after), Buffer.byteLength(before), 'same size')
  const ino = fs.statSync(file).ino
  fs.writeFileSync(file, after)
  t.equal(fs.statSync(file).ino, ino, 'same inode')
  fs.utimesSync(file, cur.mtimeMs / 1000, cur.mtimeMs / 1000)
  t.equal(fs.statSync(file).mtimeMs, cur.mtimeMs, 'mtime restored')

  const opened: string[] = []
  const origOpen = fs.openSync
  fs.openSync = ((p: fs.PathLike, ...rest: unknown[]) => {
    opened.push(String(p))
    return (origOpen as (...a: unknown[]) => number)(p, ...rest)
  }) as typeof fs.openSync
  let second: ReturnType<typeof run>
  try {
    second = run(env, first.cursors)
  } finally {
    fs.openSync = origOpen
  }
  t.same(second.records, [], 'no new records: the changed bytes were not read')
  t.equal(second.stats.unchanged, JSONL_FILES)
  t.same(opened, [], 'no file was opened')

  // Now the mtime moves: the file is read from the cursor's offset and the completed line counts.
  fs.utimesSync(file, fixed.getTime() / 1000 + 60, fixed.getTime() / 1000 + 60)
  const third = run(env, second.cursors)
  t.equal(third.records.length, 1, 'one record once the mtime changed')
  t.equal(third.records[0]?.id, idOf(EXP.afterCompletingUnfinished.newRecord.nativeKey))
  t.equal(third.stats.read, 1)
  t.equal(third.stats.unchanged, JSONL_FILES - 1)
})

t.test('appending a complete line yields exactly that record', async (t) => {
  const dir = copyClaude(t.testdir({}))
  const env = fakeEnv({ CLAUDE_CONFIG_DIR: dir })
  const first = run(env)
  const line = {
    parentUuid: null,
    isSidechain: false,
    cwd: '/home/ana/src/infra-tools',
    sessionId: 'f5ca7d43-8e75-4cb0-94b6-6c2e5fa08b05',
    message: {
      model: 'claude-sonnet-4-5-20250929',
      id: 'msg_new',
      usage: { input_tokens: 11, output_tokens: 22, cache_creation_input_tokens: 33, cache_read_input_tokens: 44 },
    },
    requestId: 'req_new',
    type: 'assistant',
    timestamp: '2026-11-22T01:02:03.004Z',
  }
  const file = path.join(dir, S5)
  const sizeBefore = fs.statSync(file).size
  fs.appendFileSync(file, `${JSON.stringify(line)}\n`)
  const second = run(env, first.cursors)
  t.equal(second.records.length, 1)
  const r = second.records[0]!
  t.equal(r.id, idOf('msg_new:req_new'))
  t.same([r.input, r.output, r.cacheWrite, r.cacheRead], [11, 22, 33, 44])
  t.equal(r.ts, '2026-11-22T01:02:03.004Z')
  t.equal(second.stats.read, 1)
  t.equal(second.stats.unchanged, JSONL_FILES - 1)
  t.equal(second.stats.bytes, Buffer.byteLength(`${JSON.stringify(line)}\n`), 'only the appended bytes were read')
  t.equal(second.cursors[SOURCE]![file]!.offset, sizeBefore + Buffer.byteLength(`${JSON.stringify(line)}\n`))
})

t.test('the unfinished last line is read once, after its newline arrives', async (t) => {
  const dir = copyClaude(t.testdir({}))
  const env = fakeEnv({ CLAUDE_CONFIG_DIR: dir })
  const first = run(env)
  const A = EXP.afterCompletingUnfinished
  t.notOk(first.records.some((r) => r.id === idOf(A.newRecord.nativeKey)))

  const file = path.join(dir, S4)
  fs.appendFileSync(file, '\n')
  const second = run(env, first.cursors)
  t.equal(second.records.length, 1, 'exactly one new record')
  const r = second.records[0]!
  t.equal(r.id, idOf(A.newRecord.nativeKey))
  t.equal(r.ts, A.newRecord.ts)
  t.equal(r.model, A.newRecord.model)
  t.same(
    [r.input, r.output, r.cacheWrite, r.cacheRead],
    [A.newRecord.input, A.newRecord.output, A.newRecord.cacheWrite, A.newRecord.cacheRead],
  )
  t.equal(second.stats.read, 1)
  t.equal(second.stats.malformed, 0)

  const third = run(env, second.cursors)
  t.same(third.records, [], 'not read a second time')
  t.equal(third.stats.unchanged, JSONL_FILES)

  // Union of both runs = expected after completing.
  const all = [...first.records, ...second.records]
  t.same(sumBy(all, (r) => r.ts.slice(0, 10))['2026-11-21'], A.days['2026-11-21'])
  t.same(total(all), A.totals)
  t.same(sumBy(all, (r) => r.model)['claude-sonnet-4-5-20250929'], A.models['claude-sonnet-4-5-20250929'])

  // And a fresh full read gives the same.
  const fresh = run(env).records
  t.same(total(fresh), A.totals)
  t.same(
    sumBy(fresh, (r) => r.ts.slice(0, 10)),
    { ...EXP.days, ...A.days },
  )
})

t.test('a file that shrank is read again from the start', async (t) => {
  const dir = copyClaude(t.testdir({}))
  const env = fakeEnv({ CLAUDE_CONFIG_DIR: dir })
  const first = run(env)
  const file = path.join(dir, S1)
  const lines = fs.readFileSync(file, 'utf8').split('\n')
  // First 4 lines: the user prompt and the three streaming copies of A1.
  const head = `${lines.slice(0, 4).join('\n')}\n`
  fs.writeFileSync(file, head)
  const second = run(env, first.cursors)
  t.equal(second.stats.read, 1)
  t.equal(second.stats.bytes, Buffer.byteLength(head), 'read from offset 0')
  t.equal(second.records.length, 1)
  t.equal(second.records[0]?.id, idOf('msg_01sXnanrgEw2HdmVQx4Jf4kj:req_011CCoK2fYZNLtccE41FFX4B'))
  t.equal(second.records[0]?.output, 311)
  t.equal(second.cursors[SOURCE]![file]!.offset, Buffer.byteLength(head))
})

t.test('a replaced file (new inode) is read again from the start', async (t) => {
  const dir = copyClaude(t.testdir({}))
  const env = fakeEnv({ CLAUDE_CONFIG_DIR: dir })
  const first = run(env)
  const file = path.join(dir, S5)
  const cur = first.cursors[SOURCE]![file]!
  const tmp = `${file}.new`
  fs.writeFileSync(tmp, fs.readFileSync(file)) // same bytes, same size
  fs.renameSync(tmp, file)
  fs.utimesSync(file, new Date(cur.mtimeMs), new Date(cur.mtimeMs))
  const st = fs.statSync(file)
  t.not(st.ino, cur.ino, 'new inode')
  t.equal(st.size, cur.size, 'same size')
  const second = run(env, first.cursors)
  t.equal(second.stats.read, 1)
  t.equal(second.stats.bytes, st.size, 'whole file read')
  t.equal(second.records.length, 1)
  t.equal(
    second.records[0]?.id,
    idOf('msg_01rCBGngRTNTJtDFMGX1MfyC:req_011CXtRdmoX4A9DQRDtkuzEB'),
    'A15 again (dedupe makes this harmless)',
  )
  t.equal(second.cursors[SOURCE]![file]!.ino, st.ino)
})

t.test('discovery precedence', async (t) => {
  const root = t.testdir({
    a: { projects: { p: { 'x.jsonl': '' } } },
    b: { projects: { p: { 'y.jsonl': '', 'note.json': '{}' } } },
    home: { '.claude': { projects: { p: { 'h.jsonl': '' } } } },
    xdg: { claude: { projects: { p: { 'g.jsonl': '' } } } },
  })
  const home = path.join(root, 'home')

  t.test('CLAUDE_CONFIG_DIR comma list wins, missing dirs skipped, relative paths from cwd', async (t) => {
    const env = fakeEnv(
      {
        CLAUDE_CONFIG_DIR: `${path.join(root, 'a')}, b ,${path.join(root, 'missing')},`,
        XDG_CONFIG_HOME: path.join(root, 'xdg'),
      },
      { userHome: home, cwd: root },
    )
    t.same(claudeConfigDirs(env), [path.join(root, 'a'), path.join(root, 'b')])
    t.same(
      claudeCode
        .discover(env)
        .map((f) => path.relative(root, f.path))
        .sort(),
      ['a/projects/p/x.jsonl', 'b/projects/p/y.jsonl'],
    )
    t.same(
      claudeCode
        .discover(env)
        .map((f) => f.root)
        .sort(),
      [path.join(root, 'a'), path.join(root, 'b')],
    )
  })

  t.test('else $XDG_CONFIG_HOME/claude and ~/.claude', async (t) => {
    const env = fakeEnv({ XDG_CONFIG_HOME: path.join(root, 'xdg') }, { userHome: home })
    t.same(claudeConfigDirs(env), [path.join(root, 'xdg', 'claude'), path.join(home, '.claude')])
    t.same(
      claudeCode
        .discover(env)
        .map((f) => path.basename(f.path))
        .sort(),
      ['g.jsonl', 'h.jsonl'],
    )
  })

  t.test('XDG_CONFIG_HOME unset → ~/.config/claude', async (t) => {
    const h = t.testdir({ '.config': { claude: { projects: { 'c.jsonl': '' } } }, '.claude': { projects: {} } })
    const env = fakeEnv({}, { userHome: h })
    t.same(claudeConfigDirs(env), [path.join(h, '.config', 'claude'), path.join(h, '.claude')])
    t.same(
      claudeCode.discover(env).map((f) => path.basename(f.path)),
      ['c.jsonl'],
    )
  })

  t.test('~/.claude symlinked to $XDG_CONFIG_HOME/claude counts once', async (t) => {
    const h = t.testdir({ xdg: {} })
    const real = path.join(h, 'xdg', 'claude')
    fs.cpSync(path.join(FIXTURES, 'claude'), real, { recursive: true })
    fs.symlinkSync(real, path.join(h, '.claude'))
    const env = fakeEnv({ XDG_CONFIG_HOME: path.join(h, 'xdg') }, { userHome: h })
    t.same(claudeConfigDirs(env), [real])
    t.equal(claudeCode.discover(env).length, JSONL_FILES)
    const { records } = run(env)
    t.same(total(records), EXP.totals)

    // The other way round: the XDG dir is the link.
    const h2 = path.join(h, 'second')
    fs.mkdirSync(path.join(h2, 'xdg'), { recursive: true })
    fs.cpSync(path.join(FIXTURES, 'claude'), path.join(h2, '.claude'), { recursive: true })
    fs.symlinkSync(path.join(h2, '.claude'), path.join(h2, 'xdg', 'claude'))
    const env2 = fakeEnv({ XDG_CONFIG_HOME: path.join(h2, 'xdg') }, { userHome: h2 })
    t.equal(claudeConfigDirs(env2).length, 1)
    t.equal(claudeCode.discover(env2).length, JSONL_FILES)
  })

  t.test('nothing configured and nothing there → no files', async (t) => {
    const env = fakeEnv({}, { userHome: t.testdir({}) })
    t.same(claudeConfigDirs(env), [])
    t.same(claudeCode.discover(env), [])
  })
})

t.test('claudeRecord', async (t) => {
  const base = {
    timestamp: '2026-11-19T10:41:55.760Z',
    requestId: 'req_1',
    sessionId: 'b1f4c2de-7a31-4e0b-9c55-0d2e8f6a1c01',
    cwd: '/home/ana/src/app',
    message: {
      id: 'msg_1',
      model: 'claude-sonnet-4-5-20250929',
      usage: {
        input_tokens: 3,
        output_tokens: 1208,
        cache_creation_input_tokens: 5231,
        cache_read_input_tokens: 16890,
        cache_creation: { ephemeral_5m_input_tokens: 1024, ephemeral_1h_input_tokens: 4207 },
      },
    },
  }
  const clone = () => JSON.parse(JSON.stringify(base))

  t.test('cache_creation split', async (t) => {
    const r = claudeRecord(base, 'k', '')!
    t.equal(r.cacheWrite, 5231)
    t.equal(r.cacheWrite1h, 4207)
    t.equal(r.input, 3)
    t.equal(r.output, 1208)
    t.equal(r.cacheRead, 16890)
    t.equal(r.id, idOf('msg_1:req_1'))
    t.equal(r.ts, '2026-11-19T10:41:55.760Z')
    t.equal(r.source, 'claude-code')
    const o = clone()
    o.message.usage.cache_creation_input_tokens = 999999 // ignored when the split is present
    o.message.usage.cache_creation = { ephemeral_5m_input_tokens: 100, ephemeral_1h_input_tokens: 50 }
    const r2 = claudeRecord(o, 'k', '')!
    t.equal(r2.cacheWrite, 150, 'cacheWrite = 5m + 1h')
    t.equal(r2.cacheWrite1h, 50)
    const o3 = clone()
    o3.message.usage.cache_creation = { ephemeral_5m_input_tokens: 100, ephemeral_1h_input_tokens: 0 }
    const r3 = claudeRecord(o3, 'k', '')!
    t.equal(r3.cacheWrite, 100)
    t.notOk('cacheWrite1h' in r3, 'no cacheWrite1h when zero')
  })

  t.test('no split: cacheWrite from cache_creation_input_tokens', async (t) => {
    const o = clone()
    delete o.message.usage.cache_creation
    const r = claudeRecord(o, 'k', '')!
    t.equal(r.cacheWrite, 5231)
    t.notOk('cacheWrite1h' in r)
  })

  t.test('costUSD kept as reported', async (t) => {
    const o = clone()
    o.costUSD = 0.1982
    t.equal(claudeRecord(o, 'k', '')!.costUSD, 0.1982)
    t.notOk('costUSD' in claudeRecord(base, 'k', '')!)
  })

  t.test('usage.speed', async (t) => {
    const o = clone()
    o.message.usage.speed = 'fast'
    t.equal(claudeRecord(o, 'k', '')!.speed, 'fast')
    o.message.usage.speed = 'standard'
    t.notOk('speed' in claudeRecord(o, 'k', '')!, 'standard → no speed key')
  })

  t.test('project and session are 16-hex hashes, never the path', async (t) => {
    const r = claudeRecord(base, 'k', '')!
    t.equal(r.project, sha256('usage-ledger/project/v1\0' + '/home/ana/src/app').slice(0, 16))
    t.equal(r.session, sha256(`usage-ledger/project/v1\0${base.sessionId}`).slice(0, 16))
    const s = JSON.stringify(r)
    t.notOk(s.includes('/home/ana'), 'no path in the record')
    t.notOk(s.includes(base.sessionId), 'no raw session id in the record')
    const salted = claudeRecord(base, 'k', 'pepper')!
    t.equal(
      salted.project,
      sha256('usage-ledger/project/v1\0pepper/home/ana/src/app').slice(0, 16),
      'salt goes between prefix and value',
    )
    t.not(salted.project, r.project)
    t.equal(salted.id, r.id, 'salt does not change the id')
  })

  t.test('sidechain flag', async (t) => {
    const o = clone()
    o.isSidechain = true
    t.equal(claudeRecord(o, 'k', '')!.sidechain, true)
    o.isSidechain = false
    t.notOk('sidechain' in claudeRecord(o, 'k', '')!)
  })

  t.test('keys', async (t) => {
    const o = clone()
    delete o.requestId
    t.equal(claudeRecord(o, 'k', '')!.id, idOf('msg_1:'), 'missing requestId is a key of its own')
    delete o.message.id
    t.equal(
      claudeRecord(o, 'projects/p/s.jsonl@123', '')!.id,
      idOf('projects/p/s.jsonl@123'),
      'no message.id → line key',
    )
  })

  t.test('not records', async (t) => {
    const syn = clone()
    syn.message.model = '<synthetic>'
    t.equal(claudeRecord(syn, 'k', ''), null, '<synthetic>')
    const zero = clone()
    zero.message.usage = {
      input_tokens: 0,
      output_tokens: 0,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
    }
    t.equal(claudeRecord(zero, 'k', ''), null, 'all zero')
    const noUsage = clone()
    delete noUsage.message.usage
    t.equal(claudeRecord(noUsage, 'k', ''), null, 'no usage')
    const badTs = clone()
    badTs.timestamp = 'yesterday'
    t.equal(claudeRecord(badTs, 'k', ''), null, 'bad timestamp')
    t.equal(claudeRecord({}, 'k', ''), null, 'empty object')
  })
})

t.test('a subagent transcript that appears in a later run', async (t) => {
  // Run 1 sees the session files; the subagent transcripts are written afterwards (run 2).
  const root = t.testdir({})
  const dir = copyClaude(root)
  const subDir = path.join(dir, P1, 'c27e9a10-5b42-4f8d-a1e3-3f9b2c7d5e02')
  fs.renameSync(subDir, path.join(root, 'later'))
  const env = fakeEnv({ CLAUDE_CONFIG_DIR: dir })
  const first = run(env)
  t.equal(first.records.length, 14, 'run 1: 17 minus SC1, SC2, SC3')
  fs.renameSync(path.join(root, 'later'), subDir)
  const second = run(env, first.cursors)
  t.equal(second.stats.read, 2, 'only the two subagent files are read')

  // What a writer keeps: per id, the non-sidechain copy first, then the largest (DESIGN §5).
  const best = new Map<string, LedgerRecord>()
  for (const r of [...first.records, ...second.records]) {
    const cur = best.get(r.id)
    if (
      !cur ||
      (cur.sidechain && !r.sidechain) ||
      (!!cur.sidechain === !!r.sidechain && total([r]).totalTokens > total([cur]).totalTokens)
    )
      best.set(r.id, r)
  }
  const all = [...best.values()]
  t.ok(
    second.records.some((r) => r.id === idOf('msg_01H2VaVXevnbBrs4KssoRwFk:req_011CwgSYak4bWLuP5Cr2fAWz')),
    'SC1 recorded in run 2',
  )
  t.equal(
    best.get(idOf('msg_01EVw47C7oMwoiwjkXRhas1m:req_011Ck2XggdGjmzxpqr1xUhF4'))?.sidechain,
    undefined,
    'A6 keeps its non-sidechain copy (same id)',
  )
  // Across runs only the writer knows A8 was recorded; the collector hands the replay over
  // with its message so the writer can drop it (test/cli/record.test.ts checks the totals).
  const replay = second.records.find((r) => r.id === idOf('msg_01KeeryDokhGYoEYgGMKRAb8:req_011CCHHoMdeRQBGyikoNDPVs'))
  t.match(
    replay,
    { sidechain: true, copy: { of: 'msg_01KeeryDokhGYoEYgGMKRAb8', replay: true } },
    'the replay of A8 carries its message id for the writer',
  )
  t.ok(all.length > 0)
})

t.test('parser: any valid line layout gives the record a full JSON.parse gives', async (t) => {
  const viaParser = (line: string) => {
    const b = new Batch()
    const p = claudeCode.parser({ path: '/r/projects/p/s.jsonl', root: '/r' }, undefined, b, '')
    p.line(Buffer.from(line), 0)
    // The copied message rides along for the writer; the record itself is what is compared.
    return { records: b.records().map(({ copy: _copy, ...r }) => r), malformed: b.malformed }
  }
  const usage = {
    input_tokens: 5,
    cache_creation_input_tokens: 30,
    cache_read_input_tokens: 40,
    cache_creation: { ephemeral_5m_input_tokens: 10, ephemeral_1h_input_tokens: 20 },
    output_tokens: 7,
    service_tier: 'standard',
    speed: 'fast',
  }
  const line = {
    parentUuid: 'p',
    isSidechain: true,
    cwd: '/w',
    sessionId: 's',
    message: {
      model: 'claude-sonnet-4-5-20250929',
      id: 'msg_1',
      type: 'message',
      role: 'assistant',
      content: [{ type: 'text', text: 'say \\"usage\\":{ and "message":{ and "content": here' }],
      stop_reason: 'end_turn',
      usage,
    },
    requestId: 'req_1',
    costUSD: 0.01,
    type: 'assistant',
    timestamp: '2026-11-21T10:00:00.000Z',
  }
  const want = claudeRecord(line, 'projects/p/s.jsonl@0', '')!
  t.equal(want.id, idOf('msg_1:req_1'))
  t.equal(want.speed, 'fast')
  t.equal(want.sidechain, true)

  const same = (text: string, msg: string, extra?: { todo: string }) => {
    const got = viaParser(text)
    t.same(
      got,
      { records: [claudeRecord(JSON.parse(text), 'projects/p/s.jsonl@0', '')], malformed: 0 },
      msg,
      extra ?? {},
    )
  }
  same(JSON.stringify(line), 'compact, as Claude Code writes it')
  t.same(viaParser(JSON.stringify(line)).records, [want])
  same(JSON.stringify({ ...line, message: { ...line.message, content: 'plain string content' } }), 'string content')
  same(
    JSON.stringify({ ...line, message: { id: 'msg_1', model: 'claude-haiku-4-5', usage, content: [] } }),
    'content after usage',
  )
  same(
    JSON.stringify({ toolUseResult: { message: { content: 'x' } }, ...line }),
    'a nested "message" key before the message',
  )
  same(
    JSON.stringify({
      ...line,
      message: {
        type: 'message',
        role: 'assistant',
        content: [{ type: 'text', text: 'hi' }],
        model: 'claude-sonnet-4-5-20250929',
        id: 'msg_1',
        usage,
      },
    }),
    'model and id after content',
  )
  same(JSON.stringify(line, null, 1).replace(/\n/g, ''), 'valid JSON with spaces after colons')
})

// Claude Code ≥ 2.1 writes each line of a running subagent into the parent's transcript too,
// inside a `progress` line (`data.type: "agent_progress"`); the layout below is that of real
// 2.1.39 transcripts (the subagent's message, requestId, uuid and timestamp under
// `data.message`; the parent's sessionId, cwd and isSidechain:false on the envelope).
t.test('agent_progress: each subagent response counts once, from progress lines, its own file, or both', async (t) => {
  const SESSION = '7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f'
  const AGENT = 'a4e91b7'
  const CWD = '/home/ana/src/app'
  const PROJ = 'projects/-home-ana-src-app'
  const env0 = {
    parentUuid: null,
    isSidechain: false,
    userType: 'external',
    cwd: CWD,
    sessionId: SESSION,
    version: '2.1.39',
    gitBranch: 'main',
    slug: 'quiet-river',
  }
  const usage = (i: number, o: number, cw: number, cr: number) => ({
    input_tokens: i,
    cache_creation_input_tokens: cw,
    cache_read_input_tokens: cr,
    cache_creation: { ephemeral_5m_input_tokens: cw, ephemeral_1h_input_tokens: 0 },
    output_tokens: o,
    service_tier: 'standard',
    inference_geo: 'not_available',
  })
  const message = (
    id: string,
    model: string,
    u: object,
    content: object[] = [
      { type: 'tool_use', id: 'toolu_x', name: 'Read', input: { file_path: '/home/ana/src/app/a.ts' } },
    ],
  ) => ({
    model,
    id,
    type: 'message',
    role: 'assistant',
    content,
    stop_reason: null,
    stop_sequence: null,
    usage: u,
    context_management: null,
  })
  // A subagent response as its own file holds it, and as the parent's progress line carries it.
  const sub = (id: string | undefined, req: string | undefined, ts: string, uuid: string, u: object) => {
    const m = message(id ?? '', 'claude-haiku-4-5-20251001', u) as Record<string, unknown>
    if (!id) delete m.id
    return {
      ...env0,
      isSidechain: true,
      agentId: AGENT,
      message: m,
      ...(req ? { requestId: req } : {}),
      type: 'assistant',
      uuid,
      timestamp: ts,
    }
  }
  const progress = (line: ReturnType<typeof sub>, ts: string, uuid: string) => {
    const { message: m, requestId, uuid: inner, timestamp } = line as Record<string, unknown>
    return {
      ...env0,
      type: 'progress',
      data: {
        message: { type: 'assistant', timestamp, message: m, ...(requestId ? { requestId } : {}), uuid: inner },
        normalizedMessages: [],
        type: 'agent_progress',
        prompt: 'Find where the rate limiter is configured.',
        agentId: AGENT,
      },
      toolUseID: 'agent_msg_01Xq',
      parentToolUseID: 'toolu_01Task',
      uuid,
      timestamp: ts,
    }
  }
  const main = {
    ...env0,
    message: message('msg_main', 'claude-sonnet-4-5-20250929', usage(3, 120, 2000, 15000), [
      {
        type: 'tool_use',
        id: 'toolu_01Task',
        name: 'Task',
        input: { subagent_type: 'Explore', prompt: 'Find where the rate limiter is configured.' },
      },
    ]),
    requestId: 'req_main',
    type: 'assistant',
    uuid: 'u-main',
    timestamp: '2026-11-20T10:00:00.000Z',
  }
  // S1 streamed as two content-block copies; S2 once; S3 (the final answer) is only in the file; S4 has no message.id.
  const s1a = sub('msg_sub1', 'req_sub1', '2026-11-20T10:00:02.100Z', 'u-s1a', usage(3, 3, 13522, 0))
  const s1b = sub('msg_sub1', 'req_sub1', '2026-11-20T10:00:02.600Z', 'u-s1b', usage(3, 3, 13522, 0))
  const s2 = sub('msg_sub2', 'req_sub2', '2026-11-20T10:00:05.000Z', 'u-s2', usage(7, 25, 557, 13522))
  const s3 = sub('msg_sub3', 'req_sub3', '2026-11-20T10:00:09.000Z', 'u-s3', usage(0, 410, 475, 14079))
  const s4 = sub(undefined, undefined, '2026-11-20T10:00:07.000Z', 'u-s4', usage(5, 9, 0, 100))
  const hook = {
    ...env0,
    type: 'progress',
    data: { type: 'hook_progress', hookEvent: 'PostToolUse', hookName: 'PostToolUse:Read', command: 'true' },
    parentToolUseID: 'toolu_x',
    toolUseID: 'toolu_x',
    uuid: 'u-hook',
    timestamp: '2026-11-20T10:00:03.000Z',
  }
  const userProgress = progress(
    {
      ...s2,
      type: 'user',
      message: {
        role: 'user',
        content: [
          {
            tool_use_id: 'toolu_x',
            type: 'tool_result',
            content: 'export const limiter = rateLimit({ windowMs: 60000 })',
          },
        ],
      },
    } as never,
    '2026-11-20T10:00:04.000Z',
    'p-user',
  )
  const jsonl = (lines: object[]) => `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`
  const parentLines = [
    main,
    progress(s1a, '2026-11-20T10:00:02.101Z', 'p1a'),
    hook,
    progress(s1b, '2026-11-20T10:00:02.601Z', 'p1b'),
    userProgress,
    progress(s2, '2026-11-20T10:00:05.001Z', 'p2'),
    progress(s4, '2026-11-20T10:00:07.001Z', 'p4'),
  ]
  const parentPlain = [main, hook]
  const subLines = [s1a, s1b, s2, s4, s3]

  const tree = (root: string, name: string, parent: object[], withSubFile: boolean) => {
    const dir = path.join(root, name)
    fs.mkdirSync(path.join(dir, PROJ, SESSION, 'subagents'), { recursive: true })
    fs.writeFileSync(path.join(dir, PROJ, `${SESSION}.jsonl`), jsonl(parent))
    if (withSubFile)
      fs.writeFileSync(path.join(dir, PROJ, SESSION, 'subagents', `agent-${AGENT}.jsonl`), jsonl(subLines))
    return dir
  }
  const root = t.testdir({})
  const strip = (rs: Collected[]) => new Map(rs.map((r) => [r.id, r]))
  const S1 = idOf('msg_sub1:req_sub1'),
    S2 = idOf('msg_sub2:req_sub2'),
    S3 = idOf('msg_sub3:req_sub3'),
    MAIN = idOf('msg_main:req_main')

  // 1. Only the progress lines (the subagent's own file is absent).
  const onlyProgress = run(fakeEnv({ CLAUDE_CONFIG_DIR: tree(root, 'progress', parentLines, false) }))
  const p = strip(onlyProgress.records)
  t.equal(onlyProgress.stats.malformed, 0, 'progress lines are not malformed')
  t.same(
    [...p.keys()].sort(),
    [MAIN, S1, S2, idOf(`${PROJ}/${SESSION}.jsonl@${Buffer.byteLength(jsonl(parentLines.slice(0, 6)))}`)].sort(),
    'the main response, S1 and S2 by message.id:requestId, the id-less S4 by its line',
  )
  // Two streaming copies with equal usage: the earliest ts wins (issue 11, item 9: never read order).
  t.match(
    p.get(S1),
    {
      ts: '2026-11-20T10:00:02.100Z',
      model: 'claude-haiku-4-5-20251001',
      input: 3,
      output: 3,
      cacheWrite: 13522,
      cacheRead: 0,
      sidechain: true,
      copy: { of: 'msg_sub1', replay: true },
    },
    "S1 from the subagent's own timestamp and usage, flagged sidechain",
  )
  t.match(p.get(S2), { input: 7, output: 25, cacheWrite: 557, cacheRead: 13522, sidechain: true })
  t.equal(p.get(S1)?.session, p.get(MAIN)?.session, "the parent's session")
  t.equal(p.get(S1)?.project, p.get(MAIN)?.project, "the parent's project")
  t.equal(p.get(MAIN)?.sidechain, undefined, 'the main response is not a sidechain')
  t.equal(onlyProgress.batch.duplicates, 1, 'the second streaming copy of S1')

  // 2. Only the subagent's file (older versions wrote no progress usage).
  const onlyFile = strip(run(fakeEnv({ CLAUDE_CONFIG_DIR: tree(root, 'file', parentPlain, true) })).records)
  t.same([...onlyFile.keys()].filter((id) => id !== MAIN && [S1, S2, S3].includes(id)).sort(), [S1, S2, S3].sort())
  t.equal(onlyFile.size, 5, 'main, S1, S2, S3 and the id-less S4')

  // 3. Both: every response once, and the same record whichever place it was read from.
  const both = run(fakeEnv({ CLAUDE_CONFIG_DIR: tree(root, 'both', parentLines, true) }))
  const b = strip(both.records)
  t.equal(b.size, 5, 'main, S1, S2, S3, S4: nothing counted twice')
  t.equal(
    both.records.filter((r) => r.input === 5 && r.output === 9).length,
    1,
    'the id-less S4 counts once: from its own file, which exists',
  )
  for (const id of [S1, S2]) {
    const { ts: _a, ...fromProgress } = p.get(id)!
    const { ts: _b, ...fromFile } = onlyFile.get(id)!
    t.same(
      fromProgress,
      fromFile,
      `${id === S1 ? 'S1' : 'S2'}: the progress copy and the file copy are one record (id, tokens, model, session, project, sidechain)`,
    )
    const { ts: _c, ...kept } = b.get(id)!
    t.same(kept, fromFile, 'and read from both places it is that record')
  }
  t.same(
    sumBy(both.records, () => 'all'),
    sumBy([...onlyFile.values()], () => 'all'),
    'both = the file alone',
  )

  // 4. Across runs: progress lines first, the subagent's file later. What the writer keeps
  // (beatsRecorded over the ids of run 1) adds only S3 and the file's id-less line.
  const dir = tree(root, 'later', parentLines, false)
  const env = fakeEnv({ CLAUDE_CONFIG_DIR: dir })
  const first = run(env)
  fs.writeFileSync(path.join(dir, PROJ, SESSION, 'subagents', `agent-${AGENT}.jsonl`), jsonl(subLines))
  const second = run(env, first.cursors)
  t.equal(second.stats.read, 1, 'only the new file is read')
  const recorded = new Map(
    first.records.map((r) => [
      r.id,
      { total: r.input + r.output + r.cacheWrite + r.cacheRead, sidechain: !!r.sidechain },
    ]),
  )
  const appended = second.records.filter((r) => beatsRecorded(r, recorded.get(r.id)))
  t.same(
    appended.map((r) => r.id).sort(),
    [
      S3,
      idOf(`${PROJ}/${SESSION}/subagents/agent-${AGENT}.jsonl@${Buffer.byteLength(jsonl(subLines.slice(0, 3)))}`),
    ].sort(),
    'S1 and S2 are already recorded under the same id; only S3 and the id-less line of the file are new',
  )
  // (The id-less S4 cannot be matched across its two places: once the file exists, a re-read
  // of the parent no longer counts it from the progress line.)
  const reread = run(env)
  t.notOk(
    reread.records.some(
      (r) => r.id === idOf(`${PROJ}/${SESSION}.jsonl@${Buffer.byteLength(jsonl(parentLines.slice(0, 6)))}`),
    ),
    'with the file present the id-less progress copy is left to it',
  )

  // The other order: the file first, the progress lines later — nothing new for the writer.
  const dir2 = tree(root, 'later2', parentPlain, true)
  const env2 = fakeEnv({ CLAUDE_CONFIG_DIR: dir2 })
  const f1 = run(env2)
  fs.writeFileSync(path.join(dir2, PROJ, `${SESSION}.jsonl`), jsonl(parentLines))
  const f2 = run(env2, f1.cursors)
  const rec2 = new Map(
    f1.records.map((r) => [r.id, { total: r.input + r.output + r.cacheWrite + r.cacheRead, sidechain: !!r.sidechain }]),
  )
  t.same(
    f2.records.filter((r) => beatsRecorded(r, rec2.get(r.id))),
    [],
    'the progress copies add nothing',
  )
})

t.test('a byte-order mark before the first line of a transcript', async (t) => {
  const line = {
    parentUuid: null,
    isSidechain: false,
    userType: 'external',
    cwd: '/home/ana/src/app',
    sessionId: 'b1f4c2de-7a31-4e0b-9c55-0d2e8f6a1c01',
    version: '2.0.37',
    gitBranch: 'main',
    message: {
      model: 'claude-sonnet-4-5-20250929',
      id: 'msg_bom',
      type: 'message',
      role: 'assistant',
      content: [{ type: 'text', text: 'ok' }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: {
        input_tokens: 4,
        cache_creation_input_tokens: 10,
        cache_read_input_tokens: 20,
        output_tokens: 30,
        service_tier: 'standard',
      },
    },
    requestId: 'req_bom',
    type: 'assistant',
    uuid: 'u1',
    timestamp: '2026-11-20T10:00:00.000Z',
  }
  const dir = t.testdir({ projects: { p: { 's.jsonl': `\uFEFF${JSON.stringify(line)}\n` } } })
  const { records, stats } = run(fakeEnv({ CLAUDE_CONFIG_DIR: dir }))
  t.equal(stats.malformed, 0, 'line 1 is not malformed')
  t.same(
    records.map((r) => [r.id, r.input, r.output, r.cacheWrite, r.cacheRead]),
    [[idOf('msg_bom:req_bom'), 4, 30, 10, 20]],
  )
})
