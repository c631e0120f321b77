import t from 'tap'
import { Counters, type Totals } from '../../lib/collect/counters.js'

t.test('successive totals of a counter become what each added', async (t) => {
  const c = new Counters(undefined)
  t.same(c.advance('s1:m', [100, 10, 0, 50, 2]), [100, 10, 0, 50, 2], 'the first total is all new')
  t.equal(c.advance('s1:m', [100, 10, 0, 50, 2]), null, 'the same total again adds nothing')
  t.same(c.advance('s1:m', [130, 25, 5, 80, 2]), [30, 15, 5, 30, 0], 'a grown total adds the growth')
  t.same(c.advance('s2:m', [7, 1, 0, 0, 0]), [7, 1, 0, 0, 0], 'another counter starts at zero')
})

t.test('a counter that went down started over', async (t) => {
  const c = new Counters(undefined)
  c.advance('k', [100, 10, 0, 0, 0])
  t.same(c.advance('k', [20, 5, 0, 0, 0]), [20, 5, 0, 0, 0], 'what it shows now is new')
  t.same(c.advance('k', [25, 5, 0, 0, 0]), [5, 0, 0, 0, 0])
})

t.test('the totals reached ride in the cursor ctx and are read back', async (t) => {
  const c = new Counters(undefined)
  c.advance('k', [10, 2, 0, 0, 0])
  const saved = JSON.parse(JSON.stringify(c.reached))
  const again = new Counters(saved)
  t.equal(again.advance('k', [10, 2, 0, 0, 0] as Totals), null)
  t.same(again.advance('k', [11, 2, 0, 0, 0]), [1, 0, 0, 0, 0])
  t.same(new Counters('garbage').reached, {}, 'a ctx that is not an object starts empty')
  t.same(new Counters([1, 2]).reached, {})
})
