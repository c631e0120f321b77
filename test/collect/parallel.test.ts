/**
 * A backlog parsed on worker threads (lib/collect/parallel.ts) gives exactly what the main
 * thread alone gives: the same records in the same order, counts, names and cursors.
 */
import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { fakeEnv } from '../helpers/env.js'
import { copyFixture } from '../helpers/collect.js'
import { Batch, collect, collectInParallel, FILE_SOURCES, type SourceCursors } from '../../lib/collect/index.js'
import type { FileSource } from '../../lib/collect/types.js'
import { claudeCode } from '../../lib/collect/claude-code/index.js'
import { planFiles } from '../../lib/collect/files.js'
import { WORKER_MIN_BYTES, WORKERS_VAR, workersFor } from '../../lib/collect/parallel.js'

const NOW = new Date('2026-11-22T12:00:00.000Z')

/** Two copies of fixtures/claude (every response twice, across files and roots), with a future record and garbage. */
function tree(root: string): { dirs: string; first: string } {
  const a = copyFixture(root, 'claude', 'a')
  const b = copyFixture(root, 'claude', 'b')
  const file = path.join(b, 'projects/-home-ana-src-app/b1f4c2de-7a31-4e0b-9c55-0d2e8f6a1c01.jsonl')
  const line = fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .find((l) => l.includes('"usage"') && l.includes('"type":"assistant"'))!
  fs.appendFileSync(
    file,
    `${line.replace(/"timestamp":"[^"]*"/, '"timestamp":"2026-12-01T00:00:00.000Z"').replace(/"id":"msg_[^"]*"/, '"id":"msg_future"')}\n{"type":"assistant","message":\n`,
  )
  return { dirs: `${a},${b}`, first: file }
}

/** Everything a run leaves: the records in order, the counts, the names, the cursors and stats. */
async function runBoth(
  dirs: string,
  cursors: { one: Record<string, SourceCursors>; par: Record<string, SourceCursors> },
  source: FileSource = claudeCode,
  userHome?: string,
) {
  const one = new Batch(NOW)
  const par = new Batch(NOW)
  const vars = { [source.envVar]: dirs }
  const r1 = collect(fakeEnv(vars, { userHome }), [source], cursors.one, one, 'salt')
  const r2 = await collectInParallel(
    fakeEnv({ ...vars, [WORKERS_VAR]: '2' }, { userHome }),
    [source],
    cursors.par,
    par,
    'salt',
  )
  const state = (b: Batch, r: typeof r1) => ({
    counts: { malformed: b.malformed, duplicates: b.duplicates, future: b.future, latestFuture: b.latestFuture },
    projects: [...b.projectNames],
    sessions: [...b.sessionIds],
    records: b.records(),
    duplicatesAfterReplays: b.duplicates,
    cursors: r.cursors,
    stats: r.stats,
    changed: r.changed,
  })
  return { one: state(one, r1), par: state(par, r2) }
}

t.test('workers read a tree exactly as the main thread does, first run and increment', async (t) => {
  const { dirs, first } = tree(t.testdir({}))
  const a = await runBoth(dirs, { one: {}, par: {} })
  t.ok(a.one.records.length > 10, 'records read')
  t.ok(
    a.one.counts.duplicates > 0 && a.one.counts.future === 1 && a.one.counts.malformed > 0,
    'copies, a future record, garbage',
  )
  t.equal(
    JSON.stringify(a.par),
    JSON.stringify(a.one),
    'same records (same order, same fields), counts, names, cursors',
  )

  // An increment: a cursor with an offset, new lines after it, and an unfinished last line.
  const line = fs
    .readFileSync(first, 'utf8')
    .split('\n')
    .find((l) => l.includes('"usage"') && l.includes('"type":"assistant"'))!
  fs.appendFileSync(first, `${line.replace(/"id":"msg_[^"]*"/, '"id":"msg_later"')}\n${line.slice(0, 40)}`)
  const b = await runBoth(dirs, { one: a.one.cursors, par: a.par.cursors })
  t.equal(b.one.records.length, 1, 'the new line only')
  t.equal(JSON.stringify(b.par), JSON.stringify(b.one), 'the increment alike')
})

t.test("every lines source's fixtures read alike on workers", async (t) => {
  const root = t.testdir({})
  for (const s of FILE_SOURCES.filter((x) => x.kind === 'lines')) {
    const dir = copyFixture(root, s.name === 'claude-code' ? 'claude' : s.name, s.name)
    const r = await runBoth(dir, { one: {}, par: {} }, s, path.join(root, 'empty-home'))
    t.ok(r.one.records.length > 0, `${s.name}: records read`)
    t.equal(JSON.stringify(r.par), JSON.stringify(r.one), `${s.name}: the same`)
  }
})

t.test('a file that cannot be read fails both paths with the same error', async (t) => {
  const root = t.testdir({})
  const dirs = tree(root).dirs
  // A *.jsonl that is a link to a directory: stat works, reading it throws EISDIR.
  fs.symlinkSync(root, path.join(root, 'a/projects/-home-ana-src-app/zz.jsonl'))
  const one = (() => {
    try {
      collect(fakeEnv({ CLAUDE_CONFIG_DIR: dirs }), [claudeCode], {}, new Batch(NOW), '')
    } catch (e) {
      return e as NodeJS.ErrnoException
    }
  })()
  const par = await collectInParallel(
    fakeEnv({ CLAUDE_CONFIG_DIR: dirs, [WORKERS_VAR]: '2' }),
    [claudeCode],
    {},
    new Batch(NOW),
    '',
  ).catch((e: NodeJS.ErrnoException) => e)
  t.ok(one instanceof Error, 'the main thread throws')
  t.ok(par instanceof Error, 'the workers throw')
  t.equal((par as Error).message, one!.message)
  t.equal((par as NodeJS.ErrnoException).code, 'EISDIR')
})

t.test('workers only for a big backlog of a lines source, unless the variable says', async (t) => {
  const { dirs } = tree(t.testdir({}))
  const plan = planFiles(fakeEnv({ CLAUDE_CONFIG_DIR: dirs }), claudeCode, {})
  t.ok(plan.total > 0 && plan.total < WORKER_MIN_BYTES)
  t.equal(workersFor(fakeEnv({}), claudeCode, plan), 0, 'a small backlog: none')
  t.equal(workersFor(fakeEnv({ [WORKERS_VAR]: '3' }), claudeCode, plan), 3, 'forced')
  t.equal(workersFor(fakeEnv({ [WORKERS_VAR]: '0' }), claudeCode, { ...plan, total: 1 << 40 }), 0, 'turned off')
  t.equal(workersFor(fakeEnv({ [WORKERS_VAR]: '2' }), claudeCode, { ...plan, work: [] }), 0, 'nothing to read')
  t.equal(
    workersFor(fakeEnv({ [WORKERS_VAR]: '2' }), { kind: 'documents' }, plan),
    0,
    'documents and databases stay on the main thread',
  )
})
