/**
 * Issue 7: nothing recorded is lost or doubled when `record` runs race on one store.
 * test/cli/concurrency.test.ts races 8 runs over 4 rounds with one hand-made line kind; this
 * races 8 runs over 10 rounds on sources that grow between rounds in every real shape
 * (test/helpers/sources.ts), checking after every round the exact totals against an
 * independent expectation, the ledger's append-only history and `git fsck --strict`.
 */
import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { cli, copyFixtures, expected, isolatedEnv, sumDays } from '../helpers/cli.js'
import { rng } from '../helpers/random.js'
import { SourceLog, Truth } from '../helpers/sources.js'
import {
  fsckProblems,
  historyProblems,
  ledgerLines,
  partsAt,
  partsChanged,
  reportDays,
  tempDir,
} from '../helpers/ledger-checks.js'

const DEVICE = 'c7'.repeat(16)
const REF = `refs/heads/ledger/${DEVICE}`
const ROUNDS = 10
const RUNNERS = 8

for (const backend of ['system', 'iso'] as const) {
  t.test(`${RUNNERS} concurrent record runs × ${ROUNDS} rounds on growing sources (${backend})`, async (t) => {
    const rnd = rng()
    t.comment(`seed ${rnd.seed} (FAULT_SEED=${rnd.seed} replays it)`)
    const dir = tempDir(t, 'concurrency')
    copyFixtures(dir)
    const env = isolatedEnv(dir, { USAGE_LEDGER_DEVICE_ID: DEVICE })
    const gitdir = path.join(dir, 'store/repo.git')
    const exp = expected()
    const fixtureRecords = exp['claude-code'].totals.records + exp.codex.totals.records
    const truth = new Truth(sumDays(exp['claude-code'].days, exp.codex.days))
    const log = new SourceLog(dir, rnd, truth, { start: '2026-11-21T20:00:00.000Z', fixtureFiles: true })

    let ledgerTotal = 0
    let prevParts = new Map<string, string>()
    let commits = 0
    for (let round = 0; round < ROUNDS; round++) {
      const snap = truth.snapshot()
      log.step(rnd.int(8, 30))
      if (round === ROUNDS - 1) log.settle() // every unfinished line completed before the last round
      const want = truth.changedSince(snap) + (round === 0 ? fixtureRecords : 0)

      const runs = await Promise.all(
        Array.from({ length: RUNNERS }, () => cli(['--git', backend, 'record', '--json'], { env })),
      )
      const codes = runs.map((r) => r.code)
      t.same(codes, Array(RUNNERS).fill(0), `round ${round}: every run exits 0\n${runs.map((r) => r.stderr).join('')}`)
      const outs = runs.map((r) => JSON.parse(r.stdout) as { appended: number; commit: string | null })
      const appended = outs.reduce((n, o) => n + o.appended, 0)
      t.equal(appended, want, `round ${round}: every new or better copy appended exactly once`)
      const made = outs.filter((o) => o.commit).length
      t.equal(made, want ? 1 : 0, `round ${round}: one commit when there was something new`)
      commits += made
      ledgerTotal += appended

      const rep = await reportDays(env)
      t.same(rep.days, truth.days(), `round ${round}: report totals exact per UTC day`)
      t.same(await fsckProblems(gitdir), [], `round ${round}: git fsck --strict clean`)
      const hist = await historyProblems(gitdir, REF)
      t.same(hist.problems, [], `round ${round}: history is append-only`)
      t.equal(hist.commits, commits, `round ${round}: one commit per round with new data`)
      const parts = await partsAt(gitdir, REF)
      t.same(partsChanged(prevParts, parts), [], `round ${round}: no earlier part changed or disappeared`)
      prevParts = parts
      const ledger = await ledgerLines(gitdir, REF)
      t.same(ledger.problems, [], `round ${round}: no copy written twice`)
      t.equal(ledger.lines, ledgerTotal, `round ${round}: ledger lines = what the runs said they appended`)
      t.notOk(fs.existsSync(path.join(dir, 'store/state/lock')), `round ${round}: no lock left behind`)
    }
    t.comment(
      `${backend}: ${ROUNDS * RUNNERS} runs, ${log.lines} lines appended (${log.usageLines} with usage), ${commits} commits, ${ledgerTotal} ledger lines, ${truth.totals().records} records`,
    )
  })
}
