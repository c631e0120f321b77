/**
 * Bad input everywhere: unknown flags and commands, bad dates and zones, bad choices, malformed
 * config.json, a home on a read-only mount, a full disk (a small tmpfs). Every failure is one
 * line with its exit code (2 usage/input, 1 operational) and no stack; nothing already recorded
 * is lost (totals before == after), and a later run with a writable home and free space records
 * the rest exactly, leaving a store that `verify --full` and `git fsck --strict` accept.
 */
import t, { type Test } from 'tap'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { expected, type Totals } from '../helpers/cli.js'
import {
  addTotals,
  failsWithOneLine,
  leaksInFiles,
  leaksInText,
  storeTotals,
  succeeded,
  TOKEN,
  transcript,
  ul,
} from './harness.js'
import { fsckProblems, tempDir } from '../helpers/ledger-checks.js'
import { type Machine, machine } from '../helpers/machine.js'

const ID = 'e5'.repeat(16)
const FIXTURE_TOTALS = addTotals(expected()['claude-code'].totals, expected().codex.totals)
/** Every machine of this file lives under here (searched for the token at the end). */
const ROOT = tempDir(t, 'input')
const dirOf = (name: string) => fs.mkdtempSync(path.join(ROOT, `${name}-`))

/** A machine with the fixtures recorded. */
async function recorded(t: Test, root: string, name: string): Promise<Machine> {
  const m = machine(root, name, { id: ID, sources: ['claude', 'codex'], env: { USAGE_LEDGER_TOKEN: TOKEN } })
  succeeded(t, await ul(['record'], m.env), `${name}: the fixtures recorded`)
  t.same(await storeTotals(m.env), FIXTURE_TOTALS, `${name}: exactly`)
  return m
}

/** `n` new Claude Code usage lines in a new session file, and what they add. */
function newUsage(m: Machine, n: number, seed: number): Totals {
  const dir = path.join(m.dir, 'claude', 'projects', `-home-input-${seed}`)
  fs.mkdirSync(dir, { recursive: true })
  let want: Totals = { records: 0, input: 0, output: 0, cacheWrite: 0, cacheRead: 0, totalTokens: 0 }
  const lines: string[] = []
  for (let i = 0; i < n; i++) {
    const input = 1 + ((i * 7919 + seed) % 1000),
      output = 1 + ((i * 104729 + seed) % 900)
    lines.push(
      JSON.stringify({
        type: 'assistant',
        cwd: '/home/input',
        sessionId: `s-${seed}`,
        timestamp: `2026-11-${19 + (i % 3)}T${String(i % 24).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}:00.000Z`,
        message: {
          model: 'claude-sonnet-4-5-20250929',
          id: `msg_input_${seed}_${i}`,
          content: [],
          usage: {
            input_tokens: input,
            output_tokens: output,
            cache_creation_input_tokens: 0,
            cache_read_input_tokens: 0,
          },
        },
        requestId: `req_${seed}_${i}`,
      }),
    )
    want = addTotals(want, { records: 1, input, output, totalTokens: input + output })
  }
  fs.writeFileSync(path.join(dir, `s-${seed}.jsonl`), `${lines.join('\n')}\n`)
  return want
}

t.test('bad usage: exit 2, one line, nothing written', async (t) => {
  const m = await recorded(t, dirOf('usage'), 'usage')
  const before = await storeTotals(m.env)
  const cases: Array<[string[], RegExp]> = [
    [['report', '--bogus'], /Unknown argument: bogus.*--help/],
    [['recrod'], /Unknown argument: recrod.*--help/],
    [[], /name a command/],
    [['report', '--since', '2026-13-45'], /--since "2026-13-45" is not a date; use YYYY-MM-DD/],
    [['report', '--until', '2026-02-30'], /--until "2026-02-30" is not a date/],
    [['report', 'weekly', '--since', 'yesterday'], /--since "yesterday" is not a date/],
    [['report', '--since', '2026-11-21', '--until', '2026-11-01'], /--since 2026-11-21 is after --until 2026-11-01/],
    [['report', '--tz', 'Mars/Olympus'], /unknown time zone "Mars\/Olympus".*IANA/],
    [['report', '--tz', ''], /unknown time zone ""/],
    [['status', '--tz', 'Mars/Olympus'], /Unknown argument: tz/],
    [['report', '--by', 'planet'], /--by planet: group by one of/],
    [['report', '--format', 'yaml'], /Invalid values: Argument: format, Given: "yaml"/],
    [['report', '--cost', 'free'], /Argument: cost, Given: "free"/],
    [['--git', 'svn', 'status'], /Argument: git, Given: "svn"/],
    [['report', '--device', 'nope'], /no device "nope" in the ledger/],
    [['record', '--source', 'nope'], /unknown source "nope"; known: claude-code, codex/],
    [['record', '--stdin'], /record --stdin needs exactly one --source/],
    [['init', '--device-id', 'xyz'], /device id "xyz" must be 32 lowercase hex/],
    [['init', '--remote', ''], /the remote URL is empty/],
    [['init', '--remote', 'https://me:hunter2@example.invalid/l.git'], /carries credentials/],
    [['devices', 'rename'], /devices rename needs the new name/],
    [['verify', '--device', 'zzz'], /--device zzz: no such device/],
    [['fetch'], /no remote is set.*init --remote URL/],
    [['push'], /no remote is set.*init --remote URL/],
  ]
  for (const [args, what] of cases) {
    const r = await ul(args, m.env)
    failsWithOneLine(t, r, 2, what, args.join(' ') || '(no command)')
    t.notMatch(r.stderr, /hunter2/, `${args.join(' ')}: a password given on the command line is not echoed`)
  }

  // A bad stdin batch: the documented exception, one line and then every bad line; nothing recorded.
  const bad = await ul(['record', '--stdin', '--source', 'x'], m.env, {
    input:
      '{"ts":"2026-13-45T00:00:00Z","model":"m","input":1}\nnot json\n{"ts":"2026-11-20T10:00:00Z","model":"m","input":1}\n',
  })
  t.equal(bad.code, 2, 'a bad stdin batch is bad input')
  t.match(
    bad.stderr,
    /^usage-ledger: 2 bad lines on stdin; nothing was recorded: fix them and send the batch again\n {2}stdin line 1: .*\n {2}stdin line 2: not valid JSON\n$/,
  )
  t.same(await storeTotals(m.env), before, 'nothing was recorded or lost')
})

t.test('malformed config.json: exit 2, one line naming the file; fixed, nothing was lost', async (t) => {
  const m = await recorded(t, dirOf('config'), 'config')
  const before = await storeTotals(m.env)
  const cfg = path.join(m.dir, 'store', 'config.json')
  const good = fs.readFileSync(cfg, 'utf8')
  const configs: Array<[string, RegExp]> = [
    ['{"v":1,', /config\.json is not valid JSON \(.*\); fix or delete it/],
    ['', /config\.json is not valid JSON/],
    ['\u0000\u00ff garbage', /config\.json is not valid JSON/],
    ['[]', /config\.json must hold a JSON object; fix or delete it/],
    ['null', /must hold a JSON object/],
    ['{"v":99}', /written by a newer usage-ledger \(config v99\); upgrade usage-ledger/],
    ['{"v":1,"remote":42}', /config\.json: "remote" must be a string, not 42; fix or delete it/],
    ['{"v":1,"deviceName":{"a":1}}', /"deviceName" must be a string/],
    ['{"v":1,"timezone":["UTC"]}', /"timezone" must be a string/],
    ['{"v":1,"git":{"backend":"svn"}}', /unknown git backend "svn"/],
  ]
  for (const [text, what] of configs) {
    fs.writeFileSync(cfg, text)
    for (const cmd of [['record'], ['report', '--json']])
      failsWithOneLine(t, await ul(cmd, m.env), 2, what, `config ${JSON.stringify(text)}: ${cmd.join(' ')}`)
  }
  // One broken file through every command.
  fs.writeFileSync(cfg, '{"v":1,')
  for (const cmd of [
    ['status'],
    ['push'],
    ['fetch'],
    ['devices'],
    ['verify'],
    ['index'],
    ['record', '--stdin', '--source', 'x'],
    ['init'],
  ]) {
    failsWithOneLine(
      t,
      await ul(cmd, m.env, { input: '{"ts":"2026-11-20T10:00:00Z","model":"m","input":1}\n' }),
      2,
      /config\.json is not valid JSON/,
      `broken config: ${cmd.join(' ')}`,
    )
  }
  // Values only some commands use: the ones that use them refuse, one line.
  fs.writeFileSync(cfg, '{"v":1,"timezone":"Mars/Olympus","prices":{"gpt-5":{"input":"free"}}}')
  failsWithOneLine(
    t,
    await ul(['report'], m.env),
    2,
    /unknown time zone "Mars\/Olympus"|prices\.gpt-5/,
    'bad timezone and prices: report',
  )
  failsWithOneLine(
    t,
    await ul(['report', '--tz', 'UTC'], m.env),
    2,
    /prices\.gpt-5.*input must be a non-negative number/,
    'bad prices: report --tz UTC',
  )
  fs.writeFileSync(cfg, good)
  t.same(await storeTotals(m.env), before, 'config fixed: every record is still there')
  const extra = newUsage(m, 5, 1)
  succeeded(t, await ul(['record'], m.env))
  t.same(await storeTotals(m.env), addTotals(before, extra), 'and recording goes on exactly')
})

/** Runs `sh -c` as root; false when the kernel or the sandbox refuses. */
const sh = (cmd: string) => spawnSync('sh', ['-c', cmd], { encoding: 'utf8' })
function canMount(): string | null {
  if (process.platform !== 'linux') return 'mount tests need Linux'
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ul-mount-probe-'))
  const r = sh(`mount -t tmpfs -o size=64k tmpfs '${dir}' && mount -o remount,ro '${dir}' && umount '${dir}'`)
  fs.rmSync(dir, { recursive: true, force: true })
  return r.status === 0
    ? null
    : `mount is not permitted here (${(r.stderr || 'not root').trim().split('\n')[0]}); run as root with CAP_SYS_ADMIN to test read-only and full disks`
}
const mountSkip = canMount()

/** Totals of a store read from a copy (a full or read-only store may not let report refresh its index). */
async function snapshotTotals(m: Machine): Promise<Totals> {
  const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'ul-snapshot-'))
  try {
    fs.cpSync(path.join(m.dir, 'store'), path.join(copy, 'store'), { recursive: true })
    return await storeTotals({ ...m.env, USAGE_LEDGER_HOME: path.join(copy, 'store') })
  } finally {
    fs.rmSync(copy, { recursive: true, force: true })
  }
}

t.test(
  'a home on a read-only mount: one line, exit 1; writable again, the rest is recorded exactly',
  { skip: mountSkip ?? false },
  async (t) => {
    const m = await recorded(t, dirOf('readonly'), 'readonly')
    const before = await storeTotals(m.env)
    const store = path.join(m.dir, 'store')
    const extra = newUsage(m, 40, 2)
    const mounted = sh(`mount --bind '${store}' '${store}' && mount -o remount,bind,ro '${store}'`)
    t.equal(mounted.status, 0, `read-only bind mount: ${mounted.stderr}`)
    t.teardown(() => {
      sh(`umount '${store}' 2>/dev/null || umount -l '${store}' 2>/dev/null`)
    })
    t.throws(
      () => fs.writeFileSync(path.join(store, 'probe'), 'x'),
      { code: 'EROFS' },
      'the store is read-only, even for root',
    )

    for (const cmd of [
      ['record'],
      ['record', '--stdin', '--source', 'x'],
      ['--git', 'iso', 'record'],
      ['devices', 'rename', 'laptop'],
      ['verify', '--full'],
      ['index', '--rebuild'],
    ]) {
      failsWithOneLine(
        t,
        await ul(cmd, m.env, { input: '{"ts":"2026-11-20T10:00:00Z","model":"m","input":1}\n' }),
        1,
        /read-only.*(writable|--home)/i,
        `read-only: ${cmd.join(' ')}`,
      )
    }
    succeeded(t, await ul(['status'], m.env), 'status reads a read-only store')
    t.same(await storeTotals(m.env), before, 'report reads a read-only store; nothing lost')

    t.equal(sh(`umount '${store}'`).status, 0, 'writable again')
    succeeded(t, await ul(['record'], m.env))
    t.same(await storeTotals(m.env), addTotals(before, extra), 'the rest is recorded exactly')
    succeeded(t, await ul(['verify', '--full'], m.env), 'the store verifies')
  },
)

t.test(
  'a full disk (a small tmpfs): one line, exit 1, nothing lost; with space, the rest exactly, a sound store',
  { skip: mountSkip ?? false },
  async (t) => {
    const root = dirOf('full')
    let failures = 0,
      cases = 0
    for (const backend of ['system', 'iso'] as const) {
      for (const marginKb of [0, 8, 24, 64]) {
        cases++
        const label = `${backend}, ${marginKb} KiB free`
        const m = await recorded(t, root, `${backend}-${marginKb}`)
        const store = path.join(m.dir, 'store')
        const before = await storeTotals(m.env)
        // The store moves onto a tmpfs just big enough for it plus the margin.
        const kept = path.join(m.dir, 'store-kept')
        fs.renameSync(store, kept)
        fs.mkdirSync(store)
        const used = Number(sh(`du -sk '${kept}'`).stdout.split('\t')[0])
        const r0 = sh(`mount -t tmpfs -o size=${used + marginKb}k tmpfs '${store}' && cp -a '${kept}/.' '${store}/'`)
        t.equal(r0.status, 0, `${label}: tmpfs: ${r0.stderr}`)
        t.teardown(() => {
          sh(`umount '${store}' 2>/dev/null || umount -l '${store}' 2>/dev/null`)
        })
        fs.rmSync(kept, { recursive: true })
        const extra = newUsage(m, 6000, 10 + cases)

        const r = await ul(['--git', backend, 'record'], m.env)
        if (r.code === 0) {
          t.comment(`${label}: there was room after all`)
        } else {
          failures++
          failsWithOneLine(t, r, 1, /(ENOSPC|No space left).*disk is full: free some space/, `${label}: record`)
          // The disk may fill before the commit (nothing new) or after it, while the run writes its caches
          // (the known-ids cache, the cursors): then its records are in, and the next run reads the sources
          // again and adds nothing twice. Either way nothing recorded before is lost.
          const now = await snapshotTotals(m)
          if (JSON.stringify(now) === JSON.stringify(before)) t.pass(`${label}: nothing already recorded is lost`)
          else t.same(now, addTotals(before, extra), `${label}: committed before the disk filled; nothing lost`)
          const again = await ul(['--git', backend, 'record', '--stdin', '--source', 'x'], m.env, {
            input: '{"ts":"2026-11-20T10:00:00Z","model":"m","input":1}\n',
          })
          if (again.code !== 0) failsWithOneLine(t, again, 1, /disk is full/, `${label}: record --stdin`)
          else Object.assign(extra, addTotals(extra, { records: 1, input: 1, totalTokens: 1 }))
        }
        t.equal(sh(`mount -o remount,size=64m '${store}'`).status, 0, `${label}: space freed`)
        succeeded(t, await ul(['--git', backend, 'record'], m.env), `${label}: record with space`)
        t.same(await storeTotals(m.env), addTotals(before, extra), `${label}: the rest is recorded exactly`)
        succeeded(t, await ul(['--git', backend, 'verify', '--full'], m.env), `${label}: verify --full`)
        t.same(await fsckProblems(path.join(store, 'repo.git')), [], `${label}: git fsck --strict of the store`)
        t.same(leaksInFiles(store).hits, [], `${label}: the token is in no file of the store`)
        sh(`umount '${store}'`)
      }
    }
    t.ok(failures >= 4, `the disk filled up in ${failures} of ${cases} cases`)
    t.comment(`full disk: ${failures} of ${cases} record runs hit ENOSPC`)
  },
)

t.test('no output and no file of these runs holds the token', async (t) => {
  t.same(leaksInText(transcript), [], `${transcript.length} outputs`)
  const { files, hits } = leaksInFiles(ROOT)
  t.same(hits, [], `the token is in none of ${files} files of these machines`)
})
