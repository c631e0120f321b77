import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { loadCursors, saveCursors } from '../../lib/collect/cursors.js'
import { LedgerError } from '../../lib/errors.js'
import type { SourceCursors } from '../../lib/collect/types.js'

const sample: Record<string, SourceCursors> = {
  'claude-code': {
    '/home/ana/.claude/projects/p/s.jsonl': {
      dev: 2049,
      ino: 1234567,
      size: 8979,
      mtimeMs: 1795082400184.5,
      offset: 8979,
    },
  },
  codex: {
    '/home/ana/.codex/sessions/2026/11/19/r.jsonl': {
      dev: 2049,
      ino: 7654321,
      size: 7929,
      mtimeMs: 1795082400000,
      offset: 7000,
      ctx: { session: 's', model: 'gpt-5', prev: [1, 2, 3, 4], replay: false },
    },
  },
}

t.test('round trip', async (t) => {
  const dir = t.testdir({})
  const file = path.join(dir, 'state', 'cursors.json')
  t.same(loadCursors(file), {}, 'missing file → {}')
  saveCursors(file, sample)
  t.same(loadCursors(file), sample)
  const raw = JSON.parse(fs.readFileSync(file, 'utf8'))
  t.equal(raw.v, 1)
  t.same(raw.sources, sample)
  t.same(fs.readdirSync(path.dirname(file)), ['cursors.json'], 'no temp files')
  saveCursors(file, {})
  t.same(loadCursors(file), {}, 'overwritten')
})

t.test('a damaged cursors.json costs a re-read, never an error', async (t) => {
  const dir = t.testdir({
    'trunc.json': '{"v":1,"sources":{"claude-code":{',
    'empty.json': '',
    'garbage.json': '\0\0\0',
  })
  t.same(loadCursors(path.join(dir, 'trunc.json')), {})
  t.same(loadCursors(path.join(dir, 'empty.json')), {})
  t.same(loadCursors(path.join(dir, 'garbage.json')), {})
})

t.test('written by a newer version', async (t) => {
  const dir = t.testdir({ 'new.json': JSON.stringify({ v: 2, sources: {} }) })
  let err: unknown
  try {
    loadCursors(path.join(dir, 'new.json'))
  } catch (e) {
    err = e
  }
  t.ok(err instanceof LedgerError)
  t.equal((err as LedgerError).code, 'STATE_TOO_NEW')
  t.equal((err as LedgerError).kind, 'input')
})
