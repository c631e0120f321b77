/**
 * The dedupe rule end to end (issue 11, item 9): among copies of one response with equal totals
 * the earliest `ts` wins, then the device that committed it first; never file names, read order
 * or the lower device id. Every machine, the incremental index and `index --rebuild` agree.
 */
import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { spawnSync } from 'node:child_process'
import { cli, expected, FIXTURES, pick, sumByDevice, type Totals } from '../helpers/cli.js'
import { machine } from '../helpers/machine.js'

/** `low` sorts before `high`: the old rule gave every tie to `low`. */
const ID = { low: 'a1'.repeat(16), high: 'b2'.repeat(16), reader: 'c3'.repeat(16) }

interface Device {
  env: Record<string, string | undefined>
  dir: string
}

async function ok(args: string[], d: Device) {
  const r = await cli(args, { env: d.env })
  if (r.code !== 0) throw new Error(`${args.join(' ')} exited ${r.code}: ${r.stderr}`)
  return r
}

async function reportJson(d: Device, args: string[]) {
  return JSON.parse((await ok(['report', ...args, '--json', '--tz', 'UTC'], d)).stdout) as {
    rows: Array<Record<string, unknown>>
    totals: Record<string, unknown>
    warnings: Array<Record<string, unknown>>
    dedupe: { duplicateLines: number; crossDevice: number; devices: Array<Record<string, unknown>> }
  }
}

async function byDevice(d: Device): Promise<Record<string, Totals>> {
  return sumByDevice((await reportJson(d, ['monthly', '--by', 'device'])).rows)
}

/** day → device → records, from the daily report. */
async function daysByDevice(d: Device): Promise<Record<string, Record<string, number>>> {
  const out: Record<string, Record<string, number>> = {}
  for (const row of (await reportJson(d, ['daily', '--by', 'device'])).rows)
    (out[row.period as string] ??= {})[row.device as string] = row.records as number
  return out
}

function assistantLine(id: string, ts: string, sessionId: string): string {
  return JSON.stringify({
    parentUuid: null,
    isSidechain: false,
    userType: 'external',
    cwd: '/home/ana/src/app',
    sessionId,
    version: '1.0.70',
    message: {
      model: 'claude-sonnet-4-5-20250929',
      id,
      type: 'message',
      role: 'assistant',
      content: [{ type: 'text', text: 'ok' }],
      usage: { input_tokens: 3, cache_creation_input_tokens: 100, cache_read_input_tokens: 1000, output_tokens: 40 },
    },
    requestId: `req_${id}`,
    type: 'assistant',
    uuid: `${id}-u`,
    timestamp: ts,
  })
}

/**
 * A session and its resumed copy: the resume re-stamped the copied lines with the resume time
 * (seen with Claude Code 1.0.70), so each response has two copies with equal totals a day apart.
 */
const ORIGINAL = `${['msg_01', 'msg_02', 'msg_03']
  .map((id, i) => assistantLine(id, `2026-11-20T23:5${i}:00.000Z`, 'sess-original'))
  .join('\n')}\n`
const RESUMED =
  ['msg_01', 'msg_02', 'msg_03'].map((id) => assistantLine(id, '2026-11-21T09:00:00.000Z', 'sess-resumed')).join('\n') +
  '\n'

function writeSession(root: string, file: string, text: string): void {
  fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true })
  fs.writeFileSync(path.join(root, file), text)
}

t.test('renaming a source file between runs moves no response between days; read order never decides', async (t) => {
  const root = t.testdir()
  // Two config dirs are read in CLAUDE_CONFIG_DIR order, so "renaming" a file from one into the
  // other flips the order the copies are read in, on any file system.
  const one = path.join(root, 'c1'),
    two = path.join(root, 'c2')
  const FILE = 'projects/-home-ana-src-app/s.jsonl'
  writeSession(one, FILE, ORIGINAL)
  writeSession(two, FILE.replace('s.jsonl', 'r.jsonl'), RESUMED)
  const first = machine(root, 'first', {
    id: ID.low,
    env: { USAGE_LEDGER_NOW: '2026-11-22T12:00:00.000Z', USAGE_LEDGER_TOKEN: '', CLAUDE_CONFIG_DIR: `${one},${two}` },
  })
  await ok(['record'], first)
  const want = { '2026-11-20': { [ID.low]: 3 } }
  t.same(await daysByDevice(first), want, "the earliest copies count (the original session's day)")

  // Swap the files between the two dirs: the re-stamped copies are now read first.
  fs.renameSync(path.join(one, FILE), path.join(root, 'tmp.jsonl'))
  fs.renameSync(path.join(two, FILE.replace('s.jsonl', 'r.jsonl')), path.join(one, FILE.replace('s.jsonl', 'r.jsonl')))
  fs.renameSync(path.join(root, 'tmp.jsonl'), path.join(two, FILE))
  const again = JSON.parse((await ok(['record', '--json'], first)).stdout)
  t.equal(again.appended, 0, 'reading the renamed files again appends nothing')
  t.same(await daysByDevice(first), want, 'no response moved days')

  const fresh = machine(root, 'fresh', {
    id: ID.low,
    env: { USAGE_LEDGER_NOW: '2026-11-22T12:00:00.000Z', USAGE_LEDGER_TOKEN: '', CLAUDE_CONFIG_DIR: `${one},${two}` },
  })
  await ok(['record'], fresh)
  t.same(await daysByDevice(fresh), want, 'a store reading the files in the other order holds the same days')

  // The copies arriving in separate runs, the re-stamped ones first: the earlier ones still win.
  const later = machine(root, 'later', {
    id: ID.low,
    env: {
      USAGE_LEDGER_NOW: '2026-11-22T12:00:00.000Z',
      USAGE_LEDGER_TOKEN: '',
      CLAUDE_CONFIG_DIR: path.join(root, 'c3'),
    },
  })
  writeSession(path.join(root, 'c3'), 'projects/p/r.jsonl', RESUMED)
  await ok(['record'], later)
  t.same(await daysByDevice(later), { '2026-11-21': { [ID.low]: 3 } })
  writeSession(path.join(root, 'c3'), 'projects/p/s.jsonl', ORIGINAL)
  const r = JSON.parse((await ok(['record', '--json'], later)).stdout)
  t.equal(r.appended, 3, 'the earlier copies are appended')
  t.equal(r.alreadyRecorded, 0)
  t.same(await daysByDevice(later), want, 'and counted on their own day, as in a one-shot read')
  const reread = JSON.parse((await ok(['record', '--json', '--source', 'claude-code'], later)).stdout)
  t.equal(reread.appended, 0, 're-reading never grows the ledger')
})

t.test("a new machine with a copy of ~/.claude never takes over the original machine's records", async (t) => {
  const root = t.testdir()
  const bare = path.join(root, 'remote.git')
  spawnSync('git', ['init', '--bare', '--quiet', bare])
  // The original machine (the higher id) records first; the new one (the lower id) a day later.
  const original = machine(root, 'original', {
    id: ID.high,
    env: { USAGE_LEDGER_NOW: '2026-11-22T12:00:00.000Z', USAGE_LEDGER_TOKEN: '' },
  })
  const copy = machine(root, 'copy', {
    id: ID.low,
    env: { USAGE_LEDGER_NOW: '2026-11-23T12:00:00.000Z', USAGE_LEDGER_TOKEN: '' },
  })
  const reader = machine(root, 'reader', {
    id: ID.reader,
    env: { USAGE_LEDGER_NOW: '2026-11-23T13:00:00.000Z', USAGE_LEDGER_TOKEN: '' },
  })
  fs.cpSync(path.join(FIXTURES, 'claude'), path.join(original.dir, 'claude'), { recursive: true })
  await ok(['init', '--remote', bare, '--name', 'laptop'], original)
  await ok(['record'], original)
  fs.cpSync(path.join(original.dir, 'claude'), path.join(copy.dir, 'claude'), { recursive: true })
  await ok(['init', '--remote', bare, '--name', 'new-box'], copy)
  await ok(['record'], copy)
  await ok(['init', '--remote', bare], reader)
  await ok(['fetch'], original)

  const exp = expected()['claude-code'].totals
  for (const [label, m] of [
    ['a third machine', reader],
    ['the copying machine', copy],
    ['the original machine', original],
  ] as const) {
    t.same(await byDevice(m), { [ID.high]: exp }, `${label}: every record counts for the original machine`)
    const rep = await reportJson(m, ['daily'])
    t.same(pick(rep.totals), exp, `${label}: each response once`)
    const w = rep.warnings.filter((x) => x.code === 'DUPLICATE_ACROSS_DEVICES')
    t.equal(w.length, 1, `${label}: one duplicates warning`)
    t.same(
      w[0]!.devices,
      [
        { id: ID.low, name: 'new-box', records: exp.records, counted: 0 },
        { id: ID.high, name: 'laptop', records: exp.records, counted: exp.records },
      ],
      `${label}: it names both devices and how many records each holds and counts`,
    )
    t.same(rep.dedupe.devices, w[0]!.devices)
  }
  const table = await ok(['report', '--tz', 'UTC'], reader)
  const lines = table.stdout.split('\n').filter((l) => l.includes('more than one device'))
  t.equal(lines.length, 1, 'the table says it once')
  t.match(
    lines[0],
    new RegExp(
      `${exp.records} responses were recorded on more than one device \\(new-box holds ${exp.records}, 0 counted for it; laptop holds ${exp.records}, ${exp.records} counted for it\\)`,
    ),
  )

  const before = await daysByDevice(reader)
  await ok(['index', '--rebuild'], reader)
  t.same(await daysByDevice(reader), before, 'index --rebuild gives the incremental result')
})

t.test(
  'equal-total copies with different ts: the earliest ts wins on every machine, whoever recorded first',
  async (t) => {
    const root = t.testdir()
    const bare = path.join(root, 'remote.git')
    spawnSync('git', ['init', '--bare', '--quiet', bare])
    // The lower id records the re-stamped copies first; the higher id the originals a day later.
    const resumed = machine(root, 'resumed', {
      id: ID.low,
      env: { USAGE_LEDGER_NOW: '2026-11-22T12:00:00.000Z', USAGE_LEDGER_TOKEN: '' },
    })
    const orig = machine(root, 'orig', {
      id: ID.high,
      env: { USAGE_LEDGER_NOW: '2026-11-23T12:00:00.000Z', USAGE_LEDGER_TOKEN: '' },
    })
    writeSession(path.join(resumed.dir, 'claude'), 'projects/p/r.jsonl', RESUMED)
    writeSession(path.join(orig.dir, 'claude'), 'projects/p/s.jsonl', ORIGINAL)
    await ok(['init', '--remote', bare], resumed)
    await ok(['record'], resumed)
    await ok(['init', '--remote', bare], orig)
    await ok(['record'], orig)
    // The resumed machine learns of the other one by a plain fetch: its index grows incrementally.
    t.same(await daysByDevice(resumed), { '2026-11-21': { [ID.low]: 3 } }, 'before the fetch: its own copies')
    await ok(['fetch'], resumed)
    const want = { '2026-11-20': { [ID.high]: 3 } }
    t.same(await daysByDevice(resumed), want, 'after the fetch: the earliest copies, on their day (incremental index)')
    t.same(await daysByDevice(orig), want, 'the other machine agrees')
    await ok(['index', '--rebuild'], resumed)
    t.same(await daysByDevice(resumed), want, 'and so does index --rebuild')
  },
)
