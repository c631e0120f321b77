/**
 * Fuzzed source logs (seeded; the seed is printed, FAULT_SEED=… replays a run): garbage bytes,
 * invalid UTF-8, truncated copies of real lines, 100k-deep JSON, CRLF endings, a 200 MB single
 * line (and a 70 MB unfinished one), files shrunk, cut mid-line, replaced and deleted between
 * runs. Every run exits 0; `record --json` counts exactly the bad lines it read as `malformed`
 * and appends exactly the good lines not recorded before; the totals equal the fixtures'
 * hand-computed ones plus the generated lines' own numbers; a re-run adds nothing.
 *
 * What the reader reads is modelled from DESIGN §5 (per file: inode, size and the offset after
 * the last complete line; a shrunk or replaced file is read again from the start), so the
 * expected `malformed` of each run is exact.
 */
import t, { type Test } from 'tap'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { expected, FIXTURES, isolatedEnv, pick, type Totals } from '../helpers/cli.js'
import { readLines } from '../../lib/collect/files.js'
import { rng } from '../helpers/random.js'
import { addTotals, leaksInFiles, leaksInText, TOKEN, transcript, ul, ZERO, type Run } from './harness.js'

// ---------- seeded randomness ----------
const random = rng()
const SEED = random.seed
t.comment(`fuzz seed ${SEED} (FAULT_SEED=${SEED} replays this run)`)
const rand = random.next
const int = random.int
const pickOne = random.pick
const hex = (n: number) => Array.from({ length: n }, () => Math.floor(rand() * 16).toString(16)).join('')
const uuid = () => `${hex(8)}-${hex(4)}-4${hex(3)}-a${hex(3)}-${hex(12)}`

// ---------- the model of a log file ----------
type Kind = 'good' | 'bad' | 'quiet'
interface Line {
  bytes: Buffer
  kind: Kind
  eol: '\n' | '\r\n' | ''
  /** good lines: what they add, and whether an earlier run recorded them */
  totals?: Totals
  source?: 'claude-code' | 'codex'
  recorded?: boolean
  /** a fixture line: its totals come from expected.json, not from here */
  fixture?: boolean
  /** the length on disk when `bytes` is not kept (the huge lines) */
  size?: number
  what: string
}
const lineLen = (l: Line) => (l.size ?? l.bytes.length) + l.eol.length

class LogFile {
  /** bytes of content() on disk (less after a shrink) */
  size = 0
  /** what the reader keeps (DESIGN §5), as this model predicts it */
  cursor: { ino: number; offset: number; size: number } | null = null
  touched = true
  constructor(
    readonly path: string,
    public lines: Line[],
    readonly source: 'claude-code' | 'codex',
  ) {}
  content(): Buffer {
    return Buffer.concat(this.lines.flatMap((l) => [l.bytes, Buffer.from(l.eol)]))
  }
  write(): void {
    fs.mkdirSync(path.dirname(this.path), { recursive: true })
    const c = this.content()
    fs.writeFileSync(this.path, c)
    this.size = c.length
    this.touched = true
  }
}

const files: LogFile[] = []
const mutated = new Set<string>()
let linesFuzzed = 0

// ---------- lines ----------
const TS_DAYS = ['2026-11-19', '2026-11-20', '2026-11-21']
let tsSeq = 0
const ts = () =>
  `${pickOne(TS_DAYS)}T${String(int(0, 23)).padStart(2, '0')}:${String(int(0, 59)).padStart(2, '0')}:${String(int(0, 59)).padStart(2, '0')}.${String(tsSeq++ % 1000).padStart(3, '0')}Z`
const tot = (input: number, output: number, cacheWrite: number, cacheRead: number): Totals => ({
  records: 1,
  input,
  output,
  cacheWrite,
  cacheRead,
  totalTokens: input + output + cacheWrite + cacheRead,
})

/** A Claude Code assistant line in the layout Claude Code writes (fixtures/FORMATS.md §1). */
function claudeGood(session: string, cwd: string): Line {
  const [i, o, w, r] = [int(1, 5000), int(1, 4000), int(0, 9000), int(0, 90000)]
  const invalidUtf8 = rand() < 0.3
  const obj = {
    parentUuid: uuid(),
    isSidechain: false,
    userType: 'external',
    cwd,
    sessionId: session,
    version: '2.0.37',
    gitBranch: 'main',
    message: {
      model: pickOne(['claude-sonnet-4-5-20250929', 'claude-opus-4-1-20250805', 'claude-haiku-4-5-20251001']),
      id: `msg_01fuzz${hex(18)}`,
      type: 'message',
      role: 'assistant',
      content: [
        { type: 'text', text: `fuzz ${hex(int(0, 300))} @@BIN@@ {"usage":{"input_tokens":999999}} "quoted" \\ end` },
      ],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: {
        input_tokens: i,
        cache_creation_input_tokens: w,
        cache_read_input_tokens: r,
        cache_creation: { ephemeral_5m_input_tokens: w, ephemeral_1h_input_tokens: 0 },
        output_tokens: o,
        service_tier: 'standard',
      },
    },
    requestId: `req_011fuzz${hex(16)}`,
    type: 'assistant',
    uuid: uuid(),
    timestamp: ts(),
  }
  let bytes = Buffer.from(JSON.stringify(obj))
  // Raw invalid UTF-8 inside the text: a reader decodes it to U+FFFD; the usage is untouched.
  const at = bytes.indexOf('@@BIN@@')
  bytes = Buffer.concat([
    bytes.subarray(0, at),
    invalidUtf8 ? Buffer.from([0xff, 0xfe, 0xc3, 0x80, 0xbf, 0xe2, 0x82]) : Buffer.alloc(0),
    bytes.subarray(at + 7),
  ])
  if (invalidUtf8) linesFuzzed++
  return {
    bytes,
    kind: 'good',
    eol: rand() < 0.2 ? '\r\n' : '\n',
    totals: tot(i, o, w, r),
    source: 'claude-code',
    what: invalidUtf8 ? 'claude line with invalid UTF-8 in its text' : 'claude line',
  }
}

const claudeUser = (session: string, cwd: string): Line => ({
  bytes: Buffer.from(
    JSON.stringify({
      parentUuid: null,
      isSidechain: false,
      userType: 'external',
      cwd,
      sessionId: session,
      version: '2.0.37',
      gitBranch: 'main',
      type: 'user',
      message: { role: 'user', content: `do ${hex(20)}` },
      uuid: uuid(),
      timestamp: ts(),
    }),
  ),
  kind: 'quiet',
  eol: '\n',
  what: 'user line',
})

/** A Codex session (fixtures/FORMATS.md §2): meta, turn context, token_count events with running totals. */
class CodexSession {
  readonly id = uuid()
  private total = [0, 0, 0, 0]
  private clock = Date.parse('2026-11-20T10:00:00.000Z') + int(0, 20) * 3_600_000
  private stamp() {
    this.clock += int(1000, 60_000)
    return new Date(this.clock).toISOString()
  }
  head(): Line[] {
    const cwd = `/home/fuzz/${hex(6)}`
    return [
      {
        bytes: Buffer.from(
          JSON.stringify({
            timestamp: this.stamp(),
            type: 'session_meta',
            payload: {
              id: this.id,
              timestamp: new Date(this.clock).toISOString(),
              cwd,
              originator: 'codex_cli_rs',
              cli_version: '0.121.0',
              source: 'cli',
            },
          }),
        ),
        kind: 'quiet',
        eol: '\n',
        what: 'session_meta',
      },
      {
        bytes: Buffer.from(
          JSON.stringify({
            timestamp: this.stamp(),
            type: 'turn_context',
            payload: { cwd, approval_policy: 'on-request', model: 'gpt-5-codex' },
          }),
        ),
        kind: 'quiet',
        eol: '\n',
        what: 'turn_context',
      },
    ]
  }
  event(): Line {
    const input = int(100, 9000),
      cached = int(0, input),
      output = int(1, 3000),
      reasoning = int(0, output)
    const last = [input, cached, output, reasoning]
    this.total = this.total.map((v, i) => v + last[i]!)
    const usage = (u: number[]) => ({
      input_tokens: u[0],
      cached_input_tokens: u[1],
      output_tokens: u[2],
      reasoning_output_tokens: u[3],
      total_tokens: u[0]! + u[2]!,
    })
    const bytes = Buffer.from(
      JSON.stringify({
        timestamp: this.stamp(),
        type: 'event_msg',
        payload: {
          type: 'token_count',
          info: { total_token_usage: usage(this.total), last_token_usage: usage(last), model_context_window: 272000 },
          rate_limits: null,
        },
      }),
    )
    return {
      bytes,
      kind: 'good',
      eol: rand() < 0.2 ? '\r\n' : '\n',
      totals: tot(input - cached, output, 0, cached),
      source: 'codex',
      what: 'token_count',
    }
  }
}

const DEEP = 100_000
/** Lines a reader must skip and count as malformed. */
const BAD: Record<string, () => Buffer> = {
  'printable garbage': () =>
    Buffer.from(`x${Array.from({ length: int(0, 200) }, () => String.fromCharCode(int(32, 126))).join('')}`),
  'random bytes': () =>
    Buffer.from([
      0xff,
      ...Array.from({ length: int(0, 300) }, () => {
        const b = int(0, 255)
        return b === 10 ? 0 : b
      }),
    ]),
  'invalid UTF-8 only': () => Buffer.from(Array.from({ length: int(1, 100) }, () => int(0x80, 0xff))),
  'NUL bytes': () => Buffer.alloc(int(1, 64)),
  '100k unclosed [': () => Buffer.from('['.repeat(DEEP)),
  '100k-deep array (valid JSON, not an object)': () => Buffer.from('['.repeat(DEEP) + ']'.repeat(DEEP)),
  '100k unclosed objects': () => Buffer.from(`${'{"a":'.repeat(DEEP / 2)}0`),
}
/** Valid JSON objects without usage: skipped quietly (not malformed). */
const QUIET: Record<string, (source: 'claude-code' | 'codex') => Buffer> = {
  '100k-deep object': () => Buffer.from(`${'{"a":'.repeat(DEEP / 2)}0${'}'.repeat(DEEP / 2)}`),
  'usage holding a 100k-deep array': (s) =>
    Buffer.from(
      s === 'codex'
        ? `{"type":"event_msg","payload":{"type":"token_count","info":${'['.repeat(DEEP)}${']'.repeat(DEEP)}}}`
        : `{"type":"assistant","message":{"usage":${'['.repeat(DEEP)}${']'.repeat(DEEP)}}}`,
    ),
  'summary line': () => Buffer.from(JSON.stringify({ type: 'summary', summary: 'fuzz', leafUuid: uuid() })),
}

/** A good line cut short: never ends in `}` or blanks, so it cannot pass for a whole object. */
function truncated(from: Line): Buffer {
  let cut = int(1, from.bytes.length - 2)
  while (cut > 1 && [0x7d, 0x20, 0x09, 0x0d].includes(from.bytes[cut - 1]!)) cut--
  return from.bytes.subarray(0, cut)
}

let deepLines = 0
function junk(source: 'claude-code' | 'codex', donors: Line[]): Line {
  linesFuzzed++
  const r = rand()
  if (r < 0.15 && deepLines < 8) {
    deepLines++
    const [what, make] = pickOne(Object.entries(QUIET).filter(([k]) => k !== 'summary line'))
    if (rand() < 0.5) return { bytes: make(source), kind: 'quiet', eol: '\n', what }
    const [bwhat, bmake] = pickOne(Object.entries(BAD).filter(([k]) => /100k/.test(k)))
    return { bytes: bmake(), kind: 'bad', eol: '\n', what: bwhat }
  }
  if (r < 0.25) return { bytes: QUIET['summary line']!(source), kind: 'quiet', eol: '\n', what: 'summary line' }
  if (r < 0.3) return { bytes: Buffer.alloc(0), kind: 'quiet', eol: '\n', what: 'empty line' }
  if (r < 0.55 && donors.length)
    return { bytes: truncated(pickOne(donors)), kind: 'bad', eol: rand() < 0.3 ? '\r\n' : '\n', what: 'truncated line' }
  const [what, make] = pickOne(Object.entries(BAD).filter(([k]) => !/100k/.test(k)))
  return { bytes: make(), kind: 'bad', eol: '\n', what }
}

/** Inserts `n` junk lines at random places among `lines[min..]` (never after an unfinished last line). */
function sprinkle(f: LogFile, n: number, min = 0): void {
  const donors = f.lines.filter((l) => l.kind === 'good' || (l.fixture && l.kind !== 'bad' && l.bytes.length > 10))
  const last = f.lines.length && f.lines[f.lines.length - 1]!.eol === '' ? f.lines.length - 1 : f.lines.length
  for (let k = 0; k < n; k++) f.lines.splice(int(Math.min(min, last), last), 0, junk(f.source, donors))
  mutated.add(f.path)
}

function fixtureFile(p: string, source: 'claude-code' | 'codex'): LogFile {
  const text = fs.readFileSync(p)
  const lines: Line[] = []
  let start = 0
  for (;;) {
    const nl = text.indexOf(10, start)
    const end = nl < 0 ? text.length : nl
    if (nl < 0 && start >= text.length) break
    let bytes = text.subarray(start, end),
      eol: Line['eol'] = nl < 0 ? '' : '\n'
    if (eol && bytes[bytes.length - 1] === 13) {
      bytes = bytes.subarray(0, -1)
      eol = '\r\n'
    }
    let kind: Kind = 'quiet'
    if (bytes.length) {
      try {
        JSON.parse(bytes.toString('utf8'))
      } catch {
        kind = 'bad'
      }
    }
    lines.push({ bytes, kind, eol, fixture: true, what: 'fixture line' })
    if (nl < 0) break
    start = nl + 1
  }
  return new LogFile(p, lines, source)
}

// ---------- what a run should do (DESIGN §5) ----------
interface Expect {
  malformed: number
  appended: number
  totals: Record<string, Totals>
}

const recordedTotals: Record<string, Totals> = { 'claude-code': { ...ZERO }, codex: { ...ZERO } }
let fixturesRecorded = false

/** Walks every file as the incremental reader must, updating the model; returns what the run should report. */
function predict(): Expect {
  let malformed = 0,
    appended = 0
  for (const f of files) {
    let st: fs.Stats
    try {
      st = fs.statSync(f.path)
    } catch {
      f.cursor = null
      continue
    }
    if (f.cursor && !f.touched && f.cursor.ino === st.ino && f.cursor.size === st.size) continue
    const from = !f.cursor || f.cursor.ino !== st.ino || st.size < f.cursor.offset ? 0 : f.cursor.offset
    let pos = 0,
      offset = from
    for (const l of f.lines) {
      const end = pos + lineLen(l)
      if (pos >= from && l.eol && end <= st.size) {
        if (l.kind === 'bad') malformed++
        if (l.kind === 'good' && !l.recorded) {
          l.recorded = true
          appended++
          recordedTotals[l.source!] = addTotals(recordedTotals[l.source!]!, l.totals!)
        }
        offset = end
      }
      pos = end
    }
    f.cursor = { ino: st.ino, offset, size: st.size }
    f.touched = false
  }
  if (!fixturesRecorded) {
    fixturesRecorded = true
    const e = expected()
    appended += e['claude-code'].totals.records + e.codex.totals.records
    recordedTotals['claude-code'] = addTotals(recordedTotals['claude-code']!, e['claude-code'].totals)
    recordedTotals.codex = addTotals(recordedTotals.codex!, e.codex.totals)
  }
  return { malformed, appended, totals: structuredClone(recordedTotals) }
}

// ---------- the tree ----------
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ul-fuzz-'))
t.teardown(() => fs.rmSync(root, { recursive: true, force: true }))
const claudeDir = path.join(root, 'claude'),
  hugeDir = path.join(root, 'claude-huge'),
  codexDir = path.join(root, 'codex')
fs.cpSync(path.join(FIXTURES, 'claude'), claudeDir, { recursive: true })
fs.cpSync(path.join(FIXTURES, 'codex'), codexDir, { recursive: true })
fs.mkdirSync(path.join(root, 'home'), { recursive: true })
const env = isolatedEnv(root, {
  CLAUDE_CONFIG_DIR: `${claudeDir},${hugeDir}`,
  USAGE_LEDGER_DEVICE_ID: 'f0'.repeat(16),
  USAGE_LEDGER_TOKEN: TOKEN,
})

const walk = (d: string): string[] =>
  fs
    .readdirSync(d, { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory() ? walk(path.join(d, e.name)) : e.name.endsWith('.jsonl') ? [path.join(d, e.name)] : [],
    )

const FIXTURE_MALFORMED = (['claude-code', 'codex'] as const).reduce(
  (n, s) => n + (expected()[s] as unknown as { malformedLines: number }).malformedLines,
  0,
)
for (const p of walk(claudeDir)) {
  const f = fixtureFile(p, 'claude-code')
  sprinkle(f, int(1, 6))
  files.push(f)
}
for (const p of walk(codexDir)) {
  const f = fixtureFile(p, 'codex')
  sprinkle(f, int(1, 6), 1)
  files.push(f)
}
t.equal(
  files.reduce((n, f) => n + f.lines.filter((l) => l.fixture && l.kind === 'bad').length, 0),
  FIXTURE_MALFORMED,
  "the model finds the fixtures' own malformed lines",
)

const genClaude: LogFile[] = []
for (let k = 0; k < 5; k++) {
  const session = uuid(),
    cwd = `/home/fuzz/p${k}`
  const lines: Line[] = []
  for (let i = 0, n = int(10, 40); i < n; i++)
    lines.push(rand() < 0.3 ? claudeUser(session, cwd) : claudeGood(session, cwd))
  const f = new LogFile(path.join(claudeDir, 'projects', `-home-fuzz-p${k}`, `${session}.jsonl`), lines, 'claude-code')
  sprinkle(f, int(3, 15))
  files.push(f)
  genClaude.push(f)
}
const genCodex: Array<{ file: LogFile; session: CodexSession }> = []
for (let k = 0; k < 3; k++) {
  const session = new CodexSession()
  const lines = [...session.head()]
  for (let i = 0, n = int(5, 25); i < n; i++) lines.push(session.event())
  const f = new LogFile(
    path.join(codexDir, 'sessions', '2026', '11', '20', `rollout-2026-11-20T10-00-0${k}-${session.id}.jsonl`),
    lines,
    'codex',
  )
  sprinkle(f, int(3, 12), 2)
  files.push(f)
  genCodex.push({ file: f, session })
}
for (const f of files) f.write()

// The 200 MB line (valid JSON, a usage line even) between two good lines, stream-written.
const HUGE = 200 * 1024 * 1024
function writeHuge(p: string, size: number, before: Line, after: Line | null): LogFile {
  fs.mkdirSync(path.dirname(p), { recursive: true })
  const headText =
    '{"type":"assistant","message":{"model":"claude-sonnet-4-5-20250929","id":"msg_01huge' +
    hex(10) +
    '","content":[{"type":"text","text":"'
  const tail =
    '"}],"usage":{"input_tokens":5,"output_tokens":5}},"requestId":"req_huge","timestamp":"2026-11-20T10:00:00.000Z"}'
  const fd = fs.openSync(p, 'w')
  try {
    fs.writeSync(fd, Buffer.concat([before.bytes, Buffer.from(before.eol), Buffer.from(headText)]))
    const chunk = Buffer.alloc(1 << 20, 'x')
    let left = size - headText.length - tail.length
    while (left > 0) {
      const n = Math.min(left, chunk.length)
      fs.writeSync(fd, chunk, 0, n)
      left -= n
    }
    fs.writeSync(fd, tail)
    if (after) fs.writeSync(fd, Buffer.concat([Buffer.from('\n'), after.bytes, Buffer.from(after.eol)]))
  } finally {
    fs.closeSync(fd)
  }
  // The model keeps the huge line as a placeholder of its real length.
  const huge: Line = {
    bytes: Buffer.alloc(0),
    size,
    kind: 'bad',
    eol: after ? '\n' : '',
    what: `${size >> 20} MB line`,
  }
  const f = new LogFile(p, after ? [before, huge, after] : [before, huge], 'claude-code')
  f.size = fs.statSync(p).size
  f.content = () => {
    throw new Error('not kept in memory')
  }
  files.push(f)
  mutated.add(p)
  linesFuzzed++
  return f
}
writeHuge(
  path.join(hugeDir, 'projects', '-home-fuzz-huge', 'huge.jsonl'),
  HUGE,
  claudeGood(uuid(), '/home/fuzz/huge'),
  claudeGood(uuid(), '/home/fuzz/huge'),
)
const unfinished = writeHuge(
  path.join(hugeDir, 'projects', '-home-fuzz-huge', 'unfinished.jsonl'),
  70 * 1024 * 1024,
  claudeGood(uuid(), '/home/fuzz/huge'),
  null,
)

// ---------- runs ----------
interface RecordJson {
  appended: number
  malformed: number
  alreadyRecorded: number
  commit: string | null
}

/** Peak resident memory (VmHWM, MB) of a subprocess, sampled until it exits. */
function watchMemory(): { onSpawn: (pid: number) => void; peak: () => number } {
  let peak = 0
  return {
    onSpawn(pid) {
      const timer = setInterval(() => {
        try {
          const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
          if (m) peak = Math.max(peak, Number(m[1]) / 1024)
        } catch {
          clearInterval(timer)
        }
      }, 10)
    },
    peak: () => peak,
  }
}

async function sourceTotals(): Promise<Record<string, Totals>> {
  const r = await ul(['report', 'monthly', '--json', '--tz', 'UTC', '--by', 'source'], env)
  if (r.code !== 0) throw new Error(r.stderr)
  const out: Record<string, Totals> = { 'claude-code': { ...ZERO }, codex: { ...ZERO } }
  for (const row of JSON.parse(r.stdout).rows as Array<Record<string, unknown>>)
    out[row.source as string] = addTotals(out[row.source as string] ?? ZERO, pick(row))
  return out
}

async function run(t: Test, label: string, memory?: ReturnType<typeof watchMemory>): Promise<void> {
  const want = predict()
  const r: Run = await ul(['record', '--json'], env, { onSpawn: memory?.onSpawn })
  t.equal(r.code, 0, `${label}: record exits 0${r.code === 0 ? '' : `\n${r.stderr}`}`)
  t.equal(r.stderr, '', `${label}: and says nothing on stderr`)
  const j = (r.code === 0 ? JSON.parse(r.stdout) : {}) as RecordJson
  t.equal(j.malformed, want.malformed, `${label}: malformed counts every bad line read, once`)
  t.equal(j.appended, want.appended, `${label}: appended exactly the good lines not recorded before`)
  t.same(await sourceTotals(), want.totals, `${label}: totals per source are exact`)
  const again = await ul(['record', '--json'], env)
  t.match(
    JSON.parse(again.stdout || '{}'),
    { appended: 0, malformed: 0, commit: null },
    `${label}: a re-run adds nothing`,
  )
}

t.test('fuzzed logs: exact records, every bad line counted, nothing added by re-runs', async (t) => {
  t.comment(
    `generated: ${files.length} files, ${files.reduce((n, f) => n + f.lines.length, 0)} lines, ${linesFuzzed} of them fuzzed`,
  )

  const mem = watchMemory()
  await run(t, 'run 1 (everything new, a 200 MB line among it)', mem)
  t.ok(
    mem.peak() > 0 && mem.peak() < 400,
    `run 1 peak memory ${mem.peak().toFixed(0)} MB: the 200 MB line was not held whole`,
  )
  t.comment(`peak resident memory of the run reading the 200 MB line: ${mem.peak().toFixed(0)} MB`)

  // Shrink one generated Claude file mid-line; append good lines, junk and an unfinished line to another.
  const [shrunk, grown] = [genClaude[0]!, genClaude[1]!]
  const cut = int(Math.floor(shrunk.size / 3), shrunk.size - 2)
  fs.truncateSync(shrunk.path, cut)
  shrunk.size = cut
  shrunk.touched = true
  const donorsG = grown.lines.filter((l) => l.kind === 'good')
  const add: Line[] = []
  for (let i = 0; i < 6; i++)
    add.push(rand() < 0.6 ? claudeGood(uuid(), '/home/fuzz/p1') : junk('claude-code', donorsG))
  const pendingLine = claudeGood(uuid(), '/home/fuzz/p1')
  add.push({ ...pendingLine, eol: '' })
  fs.appendFileSync(grown.path, Buffer.concat(add.flatMap((l) => [l.bytes, Buffer.from(l.eol)])))
  grown.lines.push(...add)
  grown.touched = true
  // Replace a Codex file (new inode) by its content plus new events and junk.
  const { file: replaced, session } = genCodex[0]!
  for (let i = 0; i < 4; i++) replaced.lines.push(session.event(), junk('codex', []))
  const tmp = `${replaced.path}.new`
  fs.writeFileSync(tmp, replaced.content())
  fs.renameSync(tmp, replaced.path)
  replaced.size = fs.statSync(replaced.path).size
  replaced.touched = true
  // Delete one: what it held stays recorded.
  const gone = genCodex[1]!.file
  fs.rmSync(gone.path)
  for (const f of [shrunk, grown, replaced, gone]) mutated.add(f.path)
  await run(t, 'run 2 (a file cut mid-line, one grown with an unfinished line, one replaced, one deleted)')

  // Restore the cut file (same inode: the rest appended), finish the unfinished lines.
  fs.appendFileSync(shrunk.path, shrunk.content().subarray(cut))
  shrunk.size = shrunk.content().length
  shrunk.touched = true
  fs.appendFileSync(grown.path, '\n')
  grown.lines[grown.lines.length - 1]!.eol = '\n'
  grown.touched = true
  const after = claudeGood(uuid(), '/home/fuzz/huge')
  fs.appendFileSync(unfinished.path, Buffer.concat([Buffer.from('\n'), after.bytes, Buffer.from(after.eol)]))
  unfinished.lines[1]!.eol = '\n'
  unfinished.lines.push(after)
  unfinished.touched = true
  await run(t, 'run 3 (the cut file restored, the unfinished lines finished, the 70 MB one among them)')

  // Shrink a fixture file to nothing, then give it back its content: read again, nothing new.
  const fixture = files.find((f) => f.source === 'codex' && f.lines.some((l) => l.fixture))!
  fs.truncateSync(fixture.path, 0)
  fixture.size = 0
  fixture.touched = true
  await run(t, 'run 4 (a fixture file emptied)')
  fs.writeFileSync(fixture.path, fixture.content())
  fixture.size = fixture.content().length
  fixture.touched = true
  mutated.add(fixture.path)
  await run(t, 'run 5 (its content back)')

  t.comment(
    `fuzz summary: seed ${SEED}, ${linesFuzzed} lines fuzzed, ${mutated.size} files mutated, ${files.length} files, 5 runs`,
  )
})

t.test('readLines drops a line of maxLine bytes or more without holding it, and resumes after it', async (t) => {
  const max = 16
  const file = path.join(root, 'maxline.txt')
  const body = [
    'a'.repeat(max - 1),
    'b'.repeat(max),
    'c'.repeat(5 * max + 3),
    'd',
    `${'e'.repeat(max - 2)}\r`,
    'f'.repeat(3 * max),
  ]
  fs.writeFileSync(file, body.join('\n')) // the last line is unfinished
  const got: Array<[string, number]> = [],
    skipped: Array<[number, number]> = []
  const end = readLines(
    file,
    0,
    fs.statSync(file).size,
    (l, off) => got.push([l.toString(), off]),
    undefined,
    (off, len) => skipped.push([off, len]),
    max,
  )
  const at = (i: number) => body.slice(0, i).reduce((n, l) => n + l.length + 1, 0)
  t.same(
    got,
    [
      [body[0], 0],
      ['d', at(3)],
      ['e'.repeat(max - 2), at(4)],
    ],
    'lines under maxLine are read, CR stripped',
  )
  t.same(
    skipped,
    [
      [at(1), max],
      [at(2), 5 * max + 3],
    ],
    'longer ones are reported once, with their offset and length',
  )
  t.equal(end, at(5), 'an unfinished over-long last line is not consumed')
  fs.appendFileSync(file, '\ng\n')
  const more: string[] = [],
    skipped2: number[] = []
  t.equal(
    readLines(
      file,
      end,
      fs.statSync(file).size,
      (l) => more.push(l.toString()),
      undefined,
      (off) => skipped2.push(off),
      max,
    ),
    fs.statSync(file).size,
  )
  t.same([more, skipped2], [['g'], [at(5)]], 'once finished it is skipped once, and the next line read')
})

t.test('the token is in no output and no file of the fuzz runs', async (t) => {
  t.same(leaksInText(transcript), [])
  t.same(leaksInFiles(path.join(root, 'store')).hits, [])
  t.same(leaksInFiles(path.join(root, 'home')).hits, [])
})
