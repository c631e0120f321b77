import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { cli, copyFixtures, expected, git, isolatedEnv, pick, sumDays, type Totals } from '../helpers/cli.js'
import { GENESIS_OID } from '../../lib/git/genesis.js'

const DEVICE = 'c'.repeat(32)
const FILE = 'claude/projects/-home-ana-src-app/b1f4c2de-7a31-4e0b-9c55-0d2e8f6a1c01.jsonl'

function line(id: string, ts: string, output: number): string {
  return JSON.stringify({
    isSidechain: false,
    cwd: '/home/ana/src/app',
    sessionId: 's1',
    type: 'assistant',
    timestamp: ts,
    requestId: `req_${id}`,
    message: {
      id,
      model: 'claude-haiku-4-5-20251001',
      usage: { input_tokens: 1, output_tokens: output, cache_creation_input_tokens: 0, cache_read_input_tokens: 10 },
    },
  })
}

for (const backend of ['system', 'iso'] as const) {
  t.test(`8 concurrent record runs on one store (${backend}): nothing lost, nothing doubled`, async (t) => {
    const dir = t.testdir()
    copyFixtures(dir)
    const env = isolatedEnv(dir, { USAGE_LEDGER_DEVICE_ID: DEVICE })
    const gitdir = path.join(dir, 'store/repo.git')
    const exp = expected()
    const want = sumDays(exp['claude-code'].days, exp.codex.days)
    let extra = 0
    for (let round = 0; round < 4; round++) {
      if (round > 0) {
        // The sources grow between rounds.
        const lines = `${Array.from({ length: 5 }, (_, i) =>
          line(`msg_r${round}_${i}`, `2026-11-22T0${round}:0${i}:00.000Z`, 100 + i),
        ).join('\n')}\n`
        fs.appendFileSync(path.join(dir, FILE), lines)
        extra += 5
      }
      const runs = await Promise.all(
        Array.from({ length: 8 }, () => cli(['--git', backend, 'record', '--json'], { env })),
      )
      for (const r of runs) t.equal(r.code, 0, r.stderr)
      const appended = runs.map((r) => JSON.parse(r.stdout).appended as number).reduce((a, b) => a + b, 0)
      t.equal(
        appended,
        round === 0 ? exp['claude-code'].totals.records + exp.codex.totals.records : 5,
        `round ${round}: every new record appended exactly once`,
      )
    }
    const rep = JSON.parse((await cli(['report', '--json', '--tz', 'UTC'], { env })).stdout) as {
      rows: Array<Record<string, unknown>>
      totals: Totals
    }
    const days = Object.fromEntries(rep.rows.map((r) => [r.period, pick(r)]))
    const extraDay = days['2026-11-22']
    delete days['2026-11-22']
    t.same(days, want, 'fixture days exact')
    t.same(extraDay, {
      records: extra,
      input: extra,
      output: 3 * (100 + 101 + 102 + 103 + 104),
      cacheWrite: 0,
      cacheRead: 10 * extra,
      totalTokens: extra * 11 + 3 * 510,
    })
    // Lines in the ledger = records: no copy of any response was written twice.
    const parts = git(gitdir, ['ls-tree', '-r', '--name-only', `refs/heads/ledger/${DEVICE}`])
      .split('\n')
      .filter((p) => p.endsWith('.ndjson'))
    const ids = parts.flatMap((p) =>
      git(gitdir, ['show', `refs/heads/ledger/${DEVICE}:${p}`])
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).id as string),
    )
    t.equal(new Set(ids).size, ids.length, 'no id written twice')
    t.equal(
      git(gitdir, ['rev-list', '--count', `refs/heads/ledger/${DEVICE}`, `^${GENESIS_OID}`]).trim(),
      '4',
      'one commit per round with new data',
    )
    git(gitdir, ['fsck', '--strict'])
    t.notOk(fs.existsSync(path.join(dir, 'store/state/lock')), 'no lock left behind')
  })
}
