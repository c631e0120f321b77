import t from 'tap'
import {
  accountOfClaudeConfig,
  claudeConfigFile,
  parseStatuslineInput,
  statuslineReading,
  statuslineWindows,
  type StatuslineInput,
} from '../../../lib/collect/claude-code/statusline.js'
import { accountHash, UNKNOWN_ACCOUNT } from '../../../lib/ledger/limits.js'

/** The windows of `rate_limits` as the readings the statusline spools (taken at `ts`). */
const statuslineReadings = (input: StatuslineInput | null, ts: string, account: string) =>
  statuslineWindows(input).flatMap((w) => statuslineReading(w, ts, account) ?? [])

t.test('the input: JSON objects only; rate_limits as readings, each window on its own', async (t) => {
  t.equal(parseStatuslineInput(''), null)
  t.equal(parseStatuslineInput('{"model":'), null, 'torn')
  t.equal(parseStatuslineInput('[1]'), null, 'not an object')
  const input = parseStatuslineInput(
    JSON.stringify({
      rate_limits: {
        five_hour: { used_percentage: 12.345, resets_at: Date.parse('2026-11-22T14:00:00Z') / 1000 },
        seven_day: null,
      },
    }),
  )
  t.same(
    statuslineReadings(input, '2026-11-22T12:00:00.000Z', UNKNOWN_ACCOUNT).map((r) => [
      r.window,
      r.usedPercent,
      r.resetsAt,
    ]),
    [['5h', 12.35, '2026-11-22T14:00:00.000Z']],
  )
  const bad = parseStatuslineInput(
    JSON.stringify({ rate_limits: { five_hour: { used_percentage: 'x' }, seven_day: { used_percentage: 7 } } }),
  )
  t.match(statuslineReadings(bad, '2026-11-22T12:00:00.000Z', UNKNOWN_ACCOUNT), [{ window: '7d', usedPercent: 7 }])
  t.equal(
    statuslineReadings(bad, '2026-11-22T12:00:00.000Z', UNKNOWN_ACCOUNT).length,
    1,
    'a window without a number is none',
  )
  t.same(statuslineReadings(parseStatuslineInput('{}'), '2026-11-22T12:00:00.000Z', UNKNOWN_ACCOUNT), [])
})

t.test("Claude Code's config file and the account in it, hashed", async (t) => {
  t.equal(claudeConfigFile({}, '/home/ana'), '/home/ana/.claude.json')
  t.equal(
    claudeConfigFile({ CLAUDE_CONFIG_DIR: '/cfg/a,/cfg/b' }, '/home/ana'),
    '/cfg/a/.claude.json',
    'the first entry',
  )
  const text = JSON.stringify({
    projects: { '/w': { history: [{ display: 'what is "oauthAccount": {"accountUuid":"fake"}' }] } },
    oauthAccount: { emailAddress: 'a}b@example.com', accountUuid: 'real-uuid', organizationName: 'A "quoted" {org}' },
  })
  t.equal(accountOfClaudeConfig(text), accountHash('real-uuid'), 'the object, not the words in a string')
  t.equal(accountOfClaudeConfig('{"numStartups":1}'), null)
  t.equal(accountOfClaudeConfig('{"oauthAccount":{"accountUuid":'), null, 'torn')
})
