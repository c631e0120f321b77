/**
 * The writer's bytes do not change with how it builds them: a sequence of runs (a backfill over
 * sealed days and today, late and better copies on sealed days, a day's rollover, a v1 manifest
 * converted) gives, run by run, the device directory's tree oid that the writer of 2026-12-07
 * (a25941b, which held every day's lines until the seal) gave. A tree oid names every byte of
 * every part, of the manifest (counts, months, day digests, root) and of device.json.
 */
import t from 'tap'
import path from 'node:path'
import type { GitBackend } from '../../lib/git/backend.js'
import { readEntryAt } from '../../lib/git/tree.js'
import { deviceDir, ledgerRef } from '../../lib/ledger/paths.js'
import { appendRecords, asV1, commitManifest, device, headManifest, history, newRepo, rec } from '../helpers/seals.js'

const dev = device('d')

async function deviceTree(git: GitBackend): Promise<string> {
  const head = (await git.readRef(ledgerRef(dev.id)))!
  return (await readEntryAt(git, (await git.readCommit(head)).tree, deviceDir(dev.id)))!.oid
}

t.test('run by run, the device directory is the one the writer of a25941b wrote', async (t) => {
  const dir = t.testdir()
  const git = await newRepo(dir)
  const known = path.join(dir, 'known')
  const trees: string[] = []
  const results: Array<[number, number, Array<[string, number]>]> = []
  const run = async (records: ReturnType<typeof history>, now: string) => {
    const r = await appendRecords(git, dev, known, records, new Date(now))
    results.push([r.appended, r.alreadyRecorded, [...r.parts]])
    trees.push(await deviceTree(git))
  }
  // A backfill: ten days, the last one today (open), with sidechain copies and other models.
  const backfill = history(10)
  for (let d = 1; d <= 10; d++)
    backfill.push(
      rec(`s${d}`, `2026-11-${String(d).padStart(2, '0')}T23:59:59.999Z`, {
        sidechain: true,
        model: 'other',
        output: d,
      }),
    )
  await run(backfill, '2026-11-10T12:00:00Z')
  // Late records on sealed days, a better copy of a recorded id, a worse one, today's.
  await run(
    [
      rec('late', '2026-11-04T21:00:00.000Z', { output: 7 }),
      rec('h5-1', '2026-11-05T11:00:00.000Z', { output: 500 }),
      rec('h6-1', '2026-11-06T11:00:00.000Z', { output: 1 }),
      rec('today', '2026-11-10T13:00:00.000Z'),
    ],
    '2026-11-10T14:00:00Z',
  )
  // The rollover: yesterday sealed, two new days.
  await run([rec('next', '2026-11-11T01:00:00.000Z'), rec('after', '2026-11-12T01:00:00.000Z')], '2026-11-12T02:00:00Z')
  // A v1 manifest (an old writer's) converted by the next commit.
  await commitManifest(git, dev.id, await asV1(git, dev.id, await headManifest(git, dev.id)))
  await run([rec('v1', '2026-11-03T05:00:00.000Z')], '2026-11-12T03:00:00Z')
  t.same(results, [
    [
      40,
      0,
      [
        ['2026-11-01', 4],
        ['2026-11-02', 4],
        ['2026-11-03', 4],
        ['2026-11-04', 4],
        ['2026-11-05', 4],
        ['2026-11-06', 4],
        ['2026-11-07', 4],
        ['2026-11-08', 4],
        ['2026-11-09', 4],
        ['2026-11-10', 4],
      ],
    ],
    [
      3,
      1,
      [
        ['2026-11-04', 1],
        ['2026-11-05', 1],
        ['2026-11-10', 1],
      ],
    ],
    [
      2,
      0,
      [
        ['2026-11-11', 1],
        ['2026-11-12', 1],
      ],
    ],
    [1, 0, [['2026-11-03', 1]]],
  ])
  t.same(trees, [
    '7520e7df5f2a964a5da10feea9a0ff57fe6df4dc',
    '3f820875799dc3287ba8d20e3d83df6cfca453d6',
    '47363c81a85feb6665224f9fb0dd1e3fd70f3bbf',
    '5871139cf97fe768aaeea1bb9882afbc458c525e',
  ])
  await git.close()
})
