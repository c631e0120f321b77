import t from 'tap'
import { displayWidth, plural, truncate, wrap } from '../lib/text.js'
import { dirName } from '../lib/collect/types.js'

t.test('plural', async (t) => {
  t.equal(plural(1, 'record'), '1 record')
  t.equal(plural(0, 'record'), '0 records')
  t.equal(plural(2, 'entry', 'entries'), '2 entries')
  t.equal(
    plural(1234, 'token', 'tokens', (n) => n.toLocaleString('en-US')),
    '1,234 tokens',
  )
  t.equal(
    plural(1, 'token', 'tokens', (n) => n.toLocaleString('en-US')),
    '1 token',
  )
})

t.test('displayWidth and truncate count terminal columns', async (t) => {
  t.equal(displayWidth('abc'), 3)
  t.equal(displayWidth('\x1b[36mabc\x1b[39m'), 3, 'colour codes take none')
  t.equal(displayWidth('顧客管理'), 8, 'wide characters take two')
  t.equal(displayWidth('e\u0301'), 1, 'a combining mark takes none')
  t.equal(truncate('abcdefgh', 8), 'abcdefgh', 'fits: unchanged')
  t.equal(truncate('abcdefgh', 5), 'abcd…')
  t.equal(truncate('顧客管理システム', 7), '顧客管…', 'never wider than asked')
  t.ok(displayWidth(truncate('顧客管理システム', 6)) <= 6)
})

t.test('wrap keeps lines within the width', async (t) => {
  const s = 'warning: UNKNOWN_MODEL_PRICE my-local-model-a, my-local-model-b, my-local-model-c, my-local-model-d'
  const lines = wrap(s, 40).split('\n')
  t.ok(lines.length > 1 && lines.every((l) => l.length <= 40), 'every line fits', { lines })
  t.same(lines.join(' ').replace(/\s+/g, ' '), s, 'no word lost')
  t.ok(
    lines.slice(1).every((l) => l.startsWith('  ')),
    'later lines indented',
  )
  t.equal(wrap('short', 40), 'short')
})

t.test('dirName: the directory name of a cwd', async (t) => {
  t.equal(dirName('/home/ana/src/app'), 'app')
  t.equal(dirName('/home/ana/src/app/'), 'app')
  t.equal(dirName('C:\\Users\\ana\\src\\api'), 'api')
  t.equal(dirName('/'), '/')
})

t.test('until: the time left to a later instant', async (t) => {
  const { until } = await import('../lib/text.js')
  const now = new Date('2026-11-22T12:00:00.000Z')
  t.equal(until('2026-11-22T12:45:00.000Z', now), 'in 45 min')
  t.equal(until('2026-11-22T14:10:00.000Z', now), 'in 2 h 10 min')
  t.equal(until('2026-11-22T15:00:00.000Z', now), 'in 3 h')
  t.equal(until('2026-11-26T12:00:00.000Z', now), 'in 4 d')
  t.equal(until('2026-11-22T11:00:00.000Z', now), 'now')
  t.equal(until('garbage', now), 'at an unknown time')
})
