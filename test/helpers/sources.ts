/**
 * Growing source logs for fault tests: Claude Code transcripts and Codex rollouts in the real
 * formats of fixtures/FORMATS.md, appended the way the tools write them (streaming copies,
 * resumed sessions, lines without message.id, re-emitted and total-only Codex events,
 * unfinished last lines, model switches, lines that carry no usage, malformed lines).
 *
 * `Truth` is the independent expectation: it never calls our code. Every usage line appended
 * tells it the response's key, timestamp and four counts as the generator chose them, and it
 * keeps the largest copy per key (DESIGN §4) — nothing else.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { Rng } from './random.js'
import type { Totals } from './cli.js'

export interface Counts {
  input: number
  output: number
  cacheWrite: number
  cacheRead: number
}

const zero = (): Totals => ({ records: 0, input: 0, output: 0, cacheWrite: 0, cacheRead: 0, totalTokens: 0 })

/** What the ledger must add up to: per response key the copy with the most tokens, by UTC day. */
export class Truth {
  private readonly best = new Map<string, { day: string; c: Counts; total: number }>()

  /** `base`: per-day totals known beforehand (the fixtures' expected.json). */
  constructor(private readonly base: Record<string, Totals> = {}) {}

  add(key: string, ts: string, c: Counts): void {
    const total = c.input + c.output + c.cacheWrite + c.cacheRead
    const cur = this.best.get(key)
    if (cur && cur.total >= total) return
    this.best.set(key, { day: ts.slice(0, 10), c: { ...c }, total })
  }

  days(): Record<string, Totals> {
    const out: Record<string, Totals> = {}
    for (const [day, t] of Object.entries(this.base)) out[day] = { ...t }
    for (const { day, c, total } of this.best.values()) {
      const d = (out[day] ??= zero())
      d.records++
      d.input += c.input
      d.output += c.output
      d.cacheWrite += c.cacheWrite
      d.cacheRead += c.cacheRead
      d.totalTokens += total
    }
    return Object.fromEntries(
      Object.keys(out)
        .sort()
        .map((k) => [k, out[k]!]),
    )
  }

  totals(): Totals {
    const t = zero()
    for (const d of Object.values(this.days())) for (const k of Object.keys(t) as Array<keyof Totals>) t[k] += d[k]
    return t
  }

  /** key → best total now; with `changedSince`, how many ledger lines a run must append. */
  snapshot(): Map<string, number> {
    return new Map([...this.best].map(([k, v]) => [k, v.total]))
  }

  changedSince(snap: Map<string, number>): number {
    let n = 0
    for (const [k, v] of this.best) if (snap.get(k) !== v.total) n++
    return n
  }
}

interface Line {
  text: string
  done?: () => void
}
interface Pending {
  tail: string
  done?: () => void
}

interface ClaudeFile {
  path: string
  session: string
  cwd: string
  pending: Pending | null
  deferred: Line[]
  parent: string | null
}
interface CodexFile {
  path: string
  session: string
  cwd: string
  total: [number, number, number, number]
  pending: Pending | null
  lastToken: Record<string, unknown> | null
}

const CWDS = ['/home/ana/src/app', '/home/ana/src/infra-tools', '/home/ana/src/web', '/home/ana/src/api']
const CLAUDE_MODELS = ['claude-sonnet-4-5-20250929', 'claude-haiku-4-5-20251001', 'claude-opus-4-1-20250805']
const CODEX_MODELS = ['gpt-5-codex', 'gpt-5']
const RATE_LIMITS = {
  primary: { used_percent: 14.0, window_minutes: 300, resets_at: 1795108200 },
  secondary: { used_percent: 41.0, window_minutes: 10080, resets_at: 1795459800 },
}
const TEXTS = [
  'Added the limiter before `validate(loginSchema)`; the window is 60 s.',
  'The config has "usage":{"input_tokens":1} in a comment, which is just text.',
  'Tests pass: 42 passed, 0 failed.\nNext: wire the retry budget into the client.',
  'Renamed `fetchAll` to `fetchPage` and kept a deprecated alias {for now}.',
]

export interface SourceLogOptions {
  /** Where the generated clock starts (ISO). */
  start: string
  /** Append to the fixtures' own files too (they must have been copied under `root`). */
  fixtureFiles?: boolean
}

/**
 * One machine's growing logs under `root` (`root/claude` is CLAUDE_CONFIG_DIR, `root/codex`
 * is CODEX_HOME, as isolatedEnv lays them out).
 */
export class SourceLog {
  /** Complete lines appended (any kind). */
  lines = 0
  /** Complete lines appended that carry usage (copies and re-emissions included). */
  usageLines = 0
  private clock: number
  private readonly claude: ClaudeFile[] = []
  private readonly codex: CodexFile[] = []
  /** Final Claude assistant lines written, for resume copies and copies to another machine. */
  private readonly finals: Array<{
    obj: Record<string, unknown>
    key: string
    ts: string
    c: Counts
    written: boolean
  }> = []

  constructor(
    readonly root: string,
    private readonly rnd: Rng,
    private readonly truth: Truth,
    opts: SourceLogOptions,
  ) {
    this.clock = Date.parse(opts.start)
    if (opts.fixtureFiles) this.adoptFixtures()
  }

  /** Appends `n` random events (each one write to one file). */
  step(n = 1): void {
    for (let i = 0; i < n; i++) {
      if (this.rnd.chance(0.55)) this.claudeEvent()
      else this.codexEvent()
    }
  }

  /** Completes every unfinished line and delivers every deferred final copy. */
  settle(): void {
    for (const f of this.claude) if (f.pending || f.deferred.length) this.write(f, f.deferred.splice(0), false)
    for (const f of this.codex) if (f.pending) this.write(f, [], false)
  }

  /** Recent final Claude lines, to be copied verbatim onto another machine (a synced ~/.claude). */
  recentFinals(n: number): Array<Record<string, unknown>> {
    return this.finals
      .filter((f) => f.written)
      .slice(-n)
      .map((f) => f.obj)
  }

  /** Writes lines copied from another machine's transcripts into a new session file here. */
  importClaude(objs: Array<Record<string, unknown>>): void {
    if (!objs.length) return
    const f = this.newClaudeFile(String(objs[0]!.cwd))
    this.write(
      f,
      objs.map((o) => {
        const copy = { ...o, sessionId: f.session }
        const m = o.message as { id: string; usage: Record<string, unknown> }
        return this.usageLine(copy, `c:${m.id}:${String(o.requestId)}`, String(o.timestamp), claudeCounts(m.usage))
      }),
      false,
    )
  }

  // --- Claude Code -------------------------------------------------------------------------

  private adoptFixtures(): void {
    const projects = path.join(this.root, 'claude', 'projects')
    // Main transcripts whose last line is complete (e4b96c32 ends unfinished on purpose).
    for (const [dir, session, cwd] of [
      ['-home-ana-src-app', 'b1f4c2de-7a31-4e0b-9c55-0d2e8f6a1c01', '/home/ana/src/app'],
      ['-home-ana-src-infra-tools', 'd3a85b21-6c53-4a9e-b2f4-4a0c3d8e6f03', '/home/ana/src/infra-tools'],
    ] as const) {
      const p = path.join(projects, dir, `${session}.jsonl`)
      if (fs.existsSync(p)) this.claude.push({ path: p, session, cwd, pending: null, deferred: [], parent: null })
    }
    const cx = path.join(
      this.root,
      'codex',
      'sessions',
      '2026',
      '11',
      '19',
      'rollout-2026-11-19T10-00-00-01a1f33f-b1b8-7531-baee-cb359a08c614.jsonl',
    )
    if (fs.existsSync(cx)) {
      // Continue its running total: the last total_token_usage in the file.
      let total: [number, number, number, number] = [0, 0, 0, 0]
      for (const line of fs.readFileSync(cx, 'utf8').split('\n')) {
        if (!line) continue
        const o = JSON.parse(line) as {
          type: string
          payload: { type?: string; info?: { total_token_usage?: Record<string, number> } | null }
        }
        const u =
          o.type === 'event_msg' && o.payload.type === 'token_count' ? o.payload.info?.total_token_usage : undefined
        if (u) total = [u.input_tokens!, u.cached_input_tokens!, u.output_tokens!, u.reasoning_output_tokens!]
      }
      this.codex.push({
        path: cx,
        session: '01a1f33f-b1b8-7531-baee-cb359a08c614',
        cwd: '/home/ana/src/api',
        total,
        pending: null,
        lastToken: null,
      })
    }
  }

  /** The generated clock: when the latest line was written, what a record run right after sees as now. */
  get now(): string {
    return new Date(this.clock).toISOString()
  }

  private tick(maxSeconds = 900): string {
    this.clock += this.rnd.int(5, maxSeconds) * 1000 + this.rnd.int(0, 999)
    return new Date(this.clock).toISOString()
  }

  private uuid(): string {
    const h = this.rnd.hex(32)
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${'89ab'[this.rnd.int(0, 3)]}${h.slice(17, 20)}-${h.slice(20)}`
  }

  private newClaudeFile(cwd = this.rnd.pick(CWDS)): ClaudeFile {
    const session = this.uuid()
    const dir = path.join(this.root, 'claude', 'projects', cwd.replace(/[^A-Za-z0-9]/g, '-'))
    fs.mkdirSync(dir, { recursive: true })
    const f: ClaudeFile = {
      path: path.join(dir, `${session}.jsonl`),
      session,
      cwd,
      pending: null,
      deferred: [],
      parent: null,
    }
    this.claude.push(f)
    return f
  }

  private envelope(f: ClaudeFile, sidechain = false): Record<string, unknown> {
    return {
      parentUuid: f.parent,
      isSidechain: sidechain,
      userType: 'external',
      cwd: f.cwd,
      sessionId: f.session,
      version: '2.0.37',
      gitBranch: 'main',
    }
  }

  private userLine(f: ClaudeFile, ts: string): Line {
    const uuid = this.uuid()
    const text = JSON.stringify({
      ...this.envelope(f),
      type: 'user',
      message: { role: 'user', content: this.rnd.pick(TEXTS) },
      uuid,
      timestamp: ts,
    })
    f.parent = uuid
    return { text }
  }

  /** A line that carries usage: counted once complete, and told to the truth. */
  private usageLine(obj: Record<string, unknown>, key: string, ts: string, c: Counts, then?: () => void): Line {
    return {
      text: JSON.stringify(obj),
      done: () => {
        this.usageLines++
        this.truth.add(key, ts, c)
        then?.()
      },
    }
  }

  /**
   * A subagent transcript of `f`'s session (`<session>/subagents/agent-<id>.jsonl`): replays of
   * main responses already written (same message.id, the same or another requestId: never
   * counted again, the main copy wins) and the subagent's own responses (counted, sidechain).
   */
  private subagentEvent(f: ClaudeFile): void {
    const agent = `a${this.rnd.hex(6)}`
    const dir = path.join(path.dirname(f.path), f.session, 'subagents')
    fs.mkdirSync(dir, { recursive: true })
    const g: ClaudeFile = {
      path: path.join(dir, `agent-${agent}.jsonl`),
      session: f.session,
      cwd: f.cwd,
      pending: null,
      deferred: [],
      parent: null,
    }
    fs.writeFileSync(
      path.join(dir, `agent-${agent}.meta.json`),
      JSON.stringify({
        toolUseId: `toolu_01${this.rnd.hex(20)}`,
        agentType: 'general-purpose',
        description: 'Search the code',
      }),
    )
    const side = { agentId: agent, slug: 'quiet-sorting-heron' }
    const lines: Line[] = []
    for (const x of this.rnd.shuffle(this.finals.filter((x) => x.written)).slice(0, this.rnd.int(0, 2))) {
      const o = x.obj as { requestId: string; message: unknown; timestamp: string }
      const replay = {
        ...this.envelope(g, true),
        ...side,
        message: o.message,
        requestId: this.rnd.chance(0.5) ? o.requestId : `req_011C${this.rnd.hex(20)}`,
        type: 'assistant',
        uuid: this.uuid(),
        timestamp: o.timestamp,
      }
      lines.push({
        text: JSON.stringify(replay),
        done: () => {
          this.usageLines++
        },
      })
    }
    for (let i = this.rnd.int(1, 2); i > 0; i--) {
      const ts = this.tick(120)
      const { usage, c } = this.randomUsage(false)
      const id = `msg_01${this.rnd.hex(22)}`,
        req = `req_011C${this.rnd.hex(20)}`
      const obj = this.assistant(g, {
        id,
        req,
        model: 'claude-haiku-4-5-20251001',
        ts,
        usage,
        content: [{ type: 'tool_use', id: `toolu_01${this.rnd.hex(20)}`, name: 'Grep', input: { pattern: 'redis' } }],
        stop: 'tool_use',
        side,
      })
      lines.push(this.usageLine(obj, `c:${id}:${req}`, ts, c))
    }
    this.write(g, lines, false)
  }

  /** `side`: agentId and slug of a sidechain line, which come before its message. */
  private assistant(
    f: ClaudeFile,
    o: {
      id?: string
      req?: string
      model: string
      ts: string
      usage: Record<string, unknown>
      content: unknown[]
      stop: string | null
      old?: boolean
      side?: Record<string, string>
    },
  ): Record<string, unknown> {
    const uuid = this.uuid()
    const message: Record<string, unknown> = { model: o.model }
    if (o.id) message.id = o.id
    Object.assign(message, {
      type: 'message',
      role: 'assistant',
      content: o.content,
      stop_reason: o.stop,
      stop_sequence: null,
      usage: o.usage,
    })
    const obj: Record<string, unknown> = {
      ...this.envelope(f, Boolean(o.side)),
      ...(o.old ? { version: '1.0.51' } : {}),
      ...o.side,
      message,
    }
    if (o.req) obj.requestId = o.req
    if (o.old) {
      obj.costUSD = Math.round(this.rnd.next() * 1e4) / 1e4 + 0.0001
      obj.durationMs = this.rnd.int(500, 30000)
    }
    Object.assign(obj, { type: 'assistant', uuid, timestamp: o.ts })
    f.parent = uuid
    return obj
  }

  private randomUsage(old: boolean): { usage: Record<string, unknown>; c: Counts } {
    const input = this.rnd.int(1, 40),
      cacheRead = this.rnd.chance(0.8) ? this.rnd.int(0, 200000) : 0
    const w5 = this.rnd.chance(0.7) ? this.rnd.int(0, 8000) : 0,
      w1 = this.rnd.chance(0.2) ? this.rnd.int(1, 4000) : 0
    const output = this.rnd.int(20, 4000)
    const usage: Record<string, unknown> = old
      ? {
          input_tokens: input,
          cache_creation_input_tokens: w5 + w1,
          cache_read_input_tokens: cacheRead,
          output_tokens: output,
          service_tier: 'standard',
        }
      : {
          input_tokens: input,
          cache_creation_input_tokens: w5 + w1,
          cache_read_input_tokens: cacheRead,
          cache_creation: { ephemeral_5m_input_tokens: w5, ephemeral_1h_input_tokens: w1 },
          output_tokens: output,
          service_tier: 'standard',
        }
    return { usage, c: { input, output, cacheWrite: w5 + w1, cacheRead } }
  }

  private claudeEvent(): void {
    if (!this.claude.length || this.rnd.chance(0.12)) this.newClaudeFile()
    const f = this.rnd.pick(this.claude)
    const lines: Line[] = []
    // Finals held back by an earlier event on this file arrive now (or later).
    if (f.deferred.length && this.rnd.chance(0.6)) lines.push(...f.deferred.splice(0))
    let ts = this.tick()
    const roll = this.rnd.next()
    if (roll < 0.06) {
      // A gateway line without message.id or requestId: keyed on file and line, never deduped.
      const { usage, c } = this.randomUsage(false)
      const obj = this.assistant(f, {
        model: this.rnd.pick(CLAUDE_MODELS),
        ts,
        usage,
        content: [{ type: 'text', text: this.rnd.pick(TEXTS) }],
        stop: 'end_turn',
      })
      lines.push(this.usageLine(obj, `c:nokey:${this.rnd.hex(24)}`, ts, c))
    } else if (roll < 0.12 && this.finals.some((x) => x.written)) {
      // A resumed session: a new file copying earlier responses verbatim, sessionId rewritten.
      const g = this.newClaudeFile(f.cwd)
      const copies = this.rnd.shuffle(this.finals.filter((x) => x.written)).slice(0, this.rnd.int(1, 3))
      this.write(
        g,
        copies.map((x) => this.usageLine({ ...x.obj, sessionId: g.session }, x.key, x.ts, x.c)),
        false,
      )
      return
    } else if (roll < 0.16) {
      lines.push({
        text: JSON.stringify({ type: 'summary', summary: this.rnd.pick(TEXTS).slice(0, 40), leafUuid: this.uuid() }),
      })
    } else if (roll < 0.2) {
      const obj = this.assistant(f, {
        id: this.uuid(),
        model: '<synthetic>',
        ts,
        content: [{ type: 'text', text: 'No response requested.' }],
        stop: 'stop_sequence',
        usage: {
          input_tokens: 0,
          output_tokens: 0,
          cache_creation_input_tokens: 0,
          cache_read_input_tokens: 0,
          server_tool_use: { web_search_requests: 0, web_fetch_requests: 0 },
          service_tier: null,
          cache_creation: { ephemeral_1h_input_tokens: 0, ephemeral_5m_input_tokens: 0 },
        },
      })
      lines.push({ text: JSON.stringify({ ...obj, isApiErrorMessage: false }) })
    } else if (roll < 0.22) {
      lines.push({ text: '<<<<<<< HEAD' })
    } else if (roll < 0.28) {
      this.subagentEvent(f)
      return
    } else {
      // A response: a prompt, maybe partial streaming copies, then the final copy.
      // a late record for a sealed day
      if (this.rnd.chance(0.03)) ts = new Date(this.clock - this.rnd.int(1, 3) * 86400_000).toISOString()
      lines.push(this.userLine(f, new Date(Date.parse(ts) - this.rnd.int(2000, 60000)).toISOString()))
      const old = this.rnd.chance(0.08)
      const id = `msg_01${this.rnd.hex(22)}`,
        req = `req_011C${this.rnd.hex(20)}`
      const model = this.rnd.pick(CLAUDE_MODELS)
      const { usage, c } = this.randomUsage(old)
      const key = `c:${id}:${req}`
      const partials = this.rnd.chance(0.4) ? this.rnd.int(1, 2) : 0
      let pts = Date.parse(ts)
      for (let i = 0; i < partials; i++) {
        const pu = { ...usage, output_tokens: this.rnd.int(1, 3) }
        const ptsIso = new Date(pts).toISOString()
        const content =
          i === 0
            ? [{ type: 'thinking', thinking: 'Let me look at the route first.', signature: `EqMB${this.rnd.hex(16)}` }]
            : [{ type: 'tool_use', id: `toolu_01${this.rnd.hex(20)}`, name: 'Grep', input: { pattern: 'limit' } }]
        lines.push(
          this.usageLine(
            this.assistant(f, { id, req, model, ts: ptsIso, usage: pu, content, stop: null, old }),
            key,
            ptsIso,
            { ...c, output: pu.output_tokens as number },
          ),
        )
        pts += this.rnd.int(200, 20000)
      }
      const fts = new Date(pts).toISOString()
      const obj = this.assistant(f, {
        id,
        req,
        model,
        ts: fts,
        usage,
        content: [{ type: 'text', text: this.rnd.pick(TEXTS) }],
        stop: 'end_turn',
        old,
      })
      const entry = { obj, key, ts: fts, c, written: false }
      const final = this.usageLine(obj, key, fts, c, () => {
        entry.written = true
      })
      this.finals.push(entry)
      if (this.finals.length > 64) this.finals.shift()
      // Sometimes the final copy is written only by a later event: a run records the partial first.
      if (partials && this.rnd.chance(0.35)) f.deferred.push(final)
      else lines.push(final)
    }
    this.write(f, lines, this.rnd.chance(0.12))
  }

  // --- Codex --------------------------------------------------------------------------------

  private uuidV7(ms: number): string {
    const h = ms.toString(16).padStart(12, '0') + this.rnd.hex(20)
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-7${h.slice(13, 16)}-${'89ab'[this.rnd.int(0, 3)]}${h.slice(17, 20)}-${h.slice(20, 32)}`
  }

  private turnContext(f: CodexFile, ts: string, model: string): Line {
    const d = ts.slice(0, 10)
    return {
      text: JSON.stringify({
        timestamp: ts,
        type: 'turn_context',
        payload: {
          turn_id: this.uuidV7(Date.parse(ts)),
          cwd: f.cwd,
          current_date: d,
          timezone: 'UTC',
          approval_policy: 'on-request',
          sandbox_policy: {
            type: 'workspace-write',
            network_access: false,
            exclude_tmpdir_env_var: false,
            exclude_slash_tmp: false,
          },
          model,
          effort: 'medium',
          summary: 'auto',
        },
      }),
    }
  }

  private newCodexFile(): CodexFile {
    const ts = this.tick(60)
    const ms = Date.parse(ts)
    const session = this.uuidV7(ms)
    const d = new Date(ms).toISOString()
    const dir = path.join(this.root, 'codex', 'sessions', d.slice(0, 4), d.slice(5, 7), d.slice(8, 10))
    fs.mkdirSync(dir, { recursive: true })
    const name = `rollout-${d.slice(0, 10)}T${d.slice(11, 19).replace(/:/g, '-')}-${session}.jsonl`
    const cwd = this.rnd.pick(CWDS)
    const f: CodexFile = {
      path: path.join(dir, name),
      session,
      cwd,
      total: [0, 0, 0, 0],
      pending: null,
      lastToken: null,
    }
    this.codex.push(f)
    const meta = {
      timestamp: ts,
      type: 'session_meta',
      payload: {
        id: session,
        timestamp: new Date(ms - 50).toISOString(),
        cwd,
        originator: 'codex_cli_rs',
        cli_version: '0.121.0',
        instructions: null,
        source: 'cli',
        model_provider: 'openai',
        git: { commit_hash: this.rnd.hex(40), branch: 'main', repository_url: 'git@github.com:ana/api.git' },
      },
    }
    const envCtx = {
      timestamp: new Date(ms + 5).toISOString(),
      type: 'response_item',
      payload: {
        type: 'message',
        role: 'user',
        content: [{ type: 'input_text', text: `<environment_context>\n  <cwd>${cwd}</cwd>\n</environment_context>` }],
      },
    }
    this.write(
      f,
      [
        { text: JSON.stringify(meta) },
        { text: JSON.stringify(envCtx) },
        this.turnContext(f, this.tick(60), this.rnd.pick(CODEX_MODELS)),
      ],
      false,
    )
    return f
  }

  private codexEvent(): void {
    if (!this.codex.length || this.rnd.chance(0.08)) this.newCodexFile()
    const f = this.rnd.pick(this.codex)
    const lines: Line[] = []
    const ts = this.tick()
    const roll = this.rnd.next()
    if (roll < 0.08) {
      lines.push(this.turnContext(f, ts, this.rnd.pick(CODEX_MODELS)))
      lines.push({
        text: JSON.stringify({
          timestamp: ts,
          type: 'event_msg',
          payload: { type: 'user_message', message: this.rnd.pick(TEXTS), images: [] },
        }),
      })
    } else if (roll < 0.13) {
      lines.push({
        text: JSON.stringify({
          timestamp: ts,
          type: 'event_msg',
          payload: { type: 'token_count', info: null, rate_limits: RATE_LIMITS },
        }),
      })
    } else if (roll < 0.22 && f.lastToken) {
      // Re-emitted: the same info again a moment later; the total did not advance, so no record.
      lines.push({
        text: JSON.stringify({ ...f.lastToken, timestamp: ts }),
        done: () => {
          this.usageLines++
        },
      })
    } else {
      if (this.rnd.chance(0.5)) {
        lines.push({
          text: JSON.stringify({
            timestamp: ts,
            type: 'response_item',
            payload: {
              type: 'function_call',
              name: 'shell',
              arguments: JSON.stringify({ command: ['bash', '-lc', 'rg -n "retry" src'], workdir: f.cwd }),
              call_id: `call_${this.rnd.hex(24)}`,
            },
          }),
        })
      }
      const input = this.rnd.int(500, 60000),
        cached = this.rnd.chance(0.8) ? this.rnd.int(0, input) : 0
      const output = this.rnd.int(10, 5000),
        reasoning = this.rnd.chance(0.7) ? this.rnd.int(0, output) : 0
      const t = f.total
      const total: [number, number, number, number] = [t[0] + input, t[1] + cached, t[2] + output, t[3] + reasoning]
      f.total = total
      const usage = (u: number[]) => ({
        input_tokens: u[0],
        cached_input_tokens: u[1],
        output_tokens: u[2],
        reasoning_output_tokens: u[3],
        total_tokens: u[0]! + u[2]!,
      })
      const info: Record<string, unknown> = { total_token_usage: usage(total) }
      // Older builds write totals only; the record is then the difference to the previous total.
      if (this.rnd.chance(0.85)) info.last_token_usage = usage([input, cached, output, reasoning])
      info.model_context_window = 272000
      const obj = { timestamp: ts, type: 'event_msg', payload: { type: 'token_count', info, rate_limits: RATE_LIMITS } }
      f.lastToken = obj
      lines.push(
        this.usageLine(obj, `x:${f.session}:${total.join(':')}`, ts, {
          input: input - cached,
          output,
          cacheWrite: 0,
          cacheRead: cached,
        }),
      )
    }
    this.write(f, lines, this.rnd.chance(0.12))
  }

  // --- writing ------------------------------------------------------------------------------

  /**
   * Appends `lines` to `f` in one write; first the rest of its unfinished line, if any. With
   * `split`, the last line is cut short (the tool is still writing it): its rest comes with the
   * next write to the file, and only then does it count.
   */
  private write(f: { path: string; pending: Pending | null }, lines: Line[], split: boolean): void {
    let out = ''
    const done: Array<(() => void) | undefined> = []
    if (f.pending) {
      out += f.pending.tail
      done.push(f.pending.done)
      f.pending = null
    }
    lines.forEach((l, i) => {
      if (split && i === lines.length - 1) {
        const cut = this.rnd.int(1, l.text.length) // up to the whole line without its newline
        out += l.text.slice(0, cut)
        f.pending = { tail: `${l.text.slice(cut)}\n`, done: l.done }
      } else {
        out += `${l.text}\n`
        done.push(l.done)
      }
    })
    if (!out) return
    fs.appendFileSync(f.path, out)
    for (const d of done) {
      this.lines++
      d?.()
    }
  }
}

function claudeCounts(u: Record<string, unknown>): Counts {
  const cc = u.cache_creation as { ephemeral_5m_input_tokens: number; ephemeral_1h_input_tokens: number } | undefined
  return {
    input: u.input_tokens as number,
    output: u.output_tokens as number,
    cacheWrite: cc
      ? cc.ephemeral_5m_input_tokens + cc.ephemeral_1h_input_tokens
      : (u.cache_creation_input_tokens as number),
    cacheRead: u.cache_read_input_tokens as number,
  }
}
