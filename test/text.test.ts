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

t.test('duration: the two largest units of a span', async (t) => {
  const { duration } = await import('../lib/text.js')
  const min = 60_000
  t.equal(duration(45 * min), '45 min')
  t.equal(duration(130 * min), '2 h 10 min')
  t.equal(duration(180 * min), '3 h')
  t.equal(duration(4 * 1440 * min), '4 d')
  t.equal(duration(6 * 1440 * min + 61 * min), '6 d 1 h')
  t.equal(duration(-5 * min), '0 s', 'a span that has passed is none')
})
