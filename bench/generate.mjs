#!/usr/bin/env node
// Generator of realistic Claude Code config dirs for the benchmark and the parity check.
//
//   node bench/generate.mjs --out DIR [--size small|medium|large] [--files N] [--responses N]
//                           [--seed N] [--end YYYY-MM-DD]
//
// Writes DIR/projects/<project-dir>/<session-uuid>.jsonl and
// DIR/projects/<project-dir>/<session-uuid>/subagents/agent-<id>.jsonl in Claude Code's
// transcript format, plus DIR/bench-meta.json (outside projects/, so no reader scans it) with
// what was generated and the ground truth: per UTC day token sums of the unique responses,
// largest copy of each one winning (DESIGN §4).
//
// Hazards included on purpose: one response written as several lines (one per content block,
// earlier lines with fewer output_tokens), resumed sessions that start with copies of the
// previous session's last lines, sidechain responses in subagents files, `<synthetic>` API-error
// lines with zero usage, a few malformed lines and one file whose last line is unfinished.
//
// Deterministic: the same options give byte-identical trees. Files are written in ~1 MB chunks,
// so memory stays low whatever the size.
import {
  closeSync,
  mkdirSync,
  openSync,
  readSync,
  fstatSync,
  readdirSync,
  statSync,
  utimesSync,
  writeFileSync,
  writeSync,
  existsSync,
} from 'node:fs'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { pathToFileURL } from 'node:url'
import { createHash } from 'node:crypto'

export const GENERATOR_VERSION = 1

export const SIZES = {
  small: { files: 50, responses: 5_000 },
  medium: { files: 250, responses: 40_000 },
  large: { files: 1_000, responses: 200_000 },
}

export const DEFAULT_END = '2026-11-20'
export const DEFAULT_SEED = 42
const WINDOW_DAYS = 60
const DAY_MS = 86_400_000

const MODELS = {
  sonnet: 'claude-sonnet-4-5-20250929',
  opus: 'claude-opus-4-1-20250805',
  haiku: 'claude-haiku-4-5-20251001',
}
const VERSIONS = ['2.0.14', '2.0.22', '2.0.28', '2.0.31', '2.0.37', '2.0.42', '2.0.50']
const BRANCHES = [
  'main',
  'main',
  'main',
  'develop',
  'feat/auth-refresh',
  'fix/flaky-test',
  'chore/deps',
  'feat/export-csv',
]
const PROJECT_NAMES = [
  'webapp',
  'api-server',
  'infra',
  'mobile-client',
  'data-pipeline',
  'docs-site',
  'billing',
  'auth-service',
  'cli-tools',
  'ml-experiments',
  'dotfiles',
  'design-system',
  'search-indexer',
  'notifications',
  'scheduler',
  'payments',
  'analytics',
  'admin-panel',
  'etl-jobs',
  'gateway',
  'storage',
  'monorepo',
  'blog',
  'homelab',
  'game-engine',
  'compiler',
  'parser-kit',
  'crm',
  'inventory',
  'chat-bot',
]
const WORDS = (
  'the a to of and in is it for that this with on as be are we can you will not by from at or an ' +
  'function const return import export class interface type async await error value result test file ' +
  'config update handle request response user data index state props query build cache token stream ' +
  'parse write read path module string number boolean array object map set promise callback event ' +
  'should now fix add remove check run make sure let me look see need also then first next update ' +
  'component router schema migration table column field record service client server handler worker'
).split(' ')
const B62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
const HEX = '0123456789abcdef'

// ---------------------------------------------------------------------------------------------
// Deterministic PRNG (sfc32, 128-bit state, so the streams of different sessions never overlap;
// a 32-bit counter generator like mulberry32 made two sessions replay each other's message ids)
// and helpers. `seed` is a number (expanded with splitmix32) or four uint32 words.

function splitmix32(x) {
  return () => {
    x = (x + 0x9e3779b9) | 0
    let z = x
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
    return (z ^ (z >>> 16)) >>> 0
  }
}

export function makeRng(seed) {
  let a, b, c, d
  if (Array.isArray(seed)) [a, b, c, d] = seed
  else {
    const sm = splitmix32(Number(seed) >>> 0)
    a = sm()
    b = sm()
    c = sm()
    d = sm()
  }
  const next = () => {
    a |= 0
    b |= 0
    c |= 0
    d |= 0
    const t = (((a + b) | 0) + d) | 0
    d = (d + 1) | 0
    a = b ^ (b >>> 9)
    b = (c + (c << 3)) | 0
    c = (c << 21) | (c >>> 11)
    c = (c + t) | 0
    return (t >>> 0) / 4294967296
  }
  for (let i = 0; i < 12; i++) next()
  const rng = {
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)), // inclusive
    chance: (p) => next() < p,
    pick: (arr) => arr[Math.floor(next() * arr.length)],
    // log-normal with the given median and spread (sigma of the underlying normal)
    logn: (median, sigma) => median * Math.exp(sigma * gauss(next)),
    exp: (mean) => -mean * Math.log(1 - next()),
    str: (alphabet, n) => {
      let s = ''
      for (let i = 0; i < n; i++) s += alphabet[Math.floor(next() * alphabet.length)]
      return s
    },
    uuid: () => {
      const h = rng.str(HEX, 32)
      return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${'89ab'[Math.floor(next() * 4)]}${h.slice(17, 20)}-${h.slice(20)}`
    },
    seed: () => [0, 1, 2, 3].map(() => Math.floor(next() * 4294967296)),
  }
  return rng
}

function gauss(next) {
  const u = 1 - next()
  const v = next()
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
}

const seedFrom = (s) => createHash('sha256').update(String(s)).digest().readUInt32LE(0)

// A fixed ASCII corpus with code-ish punctuation (quotes, backslashes, newlines, tabs), so JSON
// escaping costs what it costs on real transcripts. Content is sliced from it.
function makeCorpus(rng, size = 1 << 17) {
  const parts = []
  let n = 0
  while (n < size) {
    const r = rng.next()
    let w
    if (r < 0.8) w = `${rng.pick(WORDS)} `
    else if (r < 0.86) w = '\n'
    else if (r < 0.89) w = '\n    '
    else if (r < 0.92) w = `"${rng.pick(WORDS)}" `
    else if (r < 0.94) w = `${rng.pick(WORDS)}(${rng.pick(WORDS)}) {\n\t`
    else if (r < 0.96) w = `${rng.pick(WORDS)}.${rng.pick(WORDS)} = ${rng.int(0, 9999)};\n`
    else if (r < 0.97) w = `'${rng.pick(WORDS)}\\n' `
    else if (r < 0.985) w = `}\n`
    else w = `// ${rng.pick(WORDS)} ${rng.pick(WORDS)}\n`
    parts.push(w)
    n += w.length
  }
  return parts.join('')
}

// ---------------------------------------------------------------------------------------------
// Buffered synchronous writer (~1 MB chunks).

class Writer {
  constructor(path, flags = 'w') {
    this.path = path
    this.fd = openSync(path, flags)
    this.buf = []
    this.len = 0
    this.bytes = 0
    this.lines = 0
  }
  raw(s) {
    this.buf.push(s)
    this.len += s.length
    this.bytes += s.length // the corpus and all ids are ASCII
    if (this.len >= 1 << 20) this.flush()
  }
  line(s) {
    this.lines++
    this.raw(`${s}\n`)
  }
  flush() {
    if (this.len === 0) return
    writeSync(this.fd, this.buf.join(''))
    this.buf = []
    this.len = 0
  }
  close() {
    this.flush()
    closeSync(this.fd)
  }
}

// ---------------------------------------------------------------------------------------------
// Truth (what a correct reader must sum) keyed by UTC day.

class Truth {
  constructor({ checkKeys = false } = {}) {
    this.days = new Map()
    this.responses = 0
    this.keys = checkKeys ? new Set() : null
  }
  add(ts, u, key) {
    if (this.keys) {
      if (this.keys.has(key)) throw new Error(`generator bug: response key ${key} generated twice`)
      this.keys.add(key)
    }
    const day = ts.slice(0, 10)
    let d = this.days.get(day)
    if (!d) this.days.set(day, (d = { records: 0, input: 0, output: 0, cacheWrite: 0, cacheRead: 0, cacheWrite1h: 0 }))
    d.records++
    d.input += u.input_tokens
    d.output += u.output_tokens
    d.cacheWrite += u.cache_creation_input_tokens
    d.cacheRead += u.cache_read_input_tokens
    d.cacheWrite1h += u.cache_creation.ephemeral_1h_input_tokens
    this.responses++
  }
  toJSON() {
    const days = {}
    const totals = { records: 0, input: 0, output: 0, cacheWrite: 0, cacheRead: 0, cacheWrite1h: 0 }
    for (const day of [...this.days.keys()].sort()) {
      const d = this.days.get(day)
      days[day] = { ...d, totalTokens: d.input + d.output + d.cacheWrite + d.cacheRead }
      for (const k of Object.keys(totals)) totals[k] += d[k]
    }
    totals.totalTokens = totals.input + totals.output + totals.cacheWrite + totals.cacheRead
    return { days, totals }
  }
}

// ---------------------------------------------------------------------------------------------
// Session writer: emits user prompts, assistant responses (one line per content block), tool
// results, and the occasional synthetic / malformed / summary / snapshot line.

const iso = (ms) => new Date(ms).toISOString()

class Session {
  /**
   * @param {object} o
   *  rng, corpus, writer, truth (or null), sessionId, cwd, version, gitBranch, model, alt model,
   *  sidechain, agentId, t0 (ms), gaps (Float64Array of per-response gaps in ms, optional),
   *  cache1h (bool), parentUuid, ctx (context tokens so far)
   */
  constructor(o) {
    Object.assign(this, o)
    this.t = o.t0
    this.parentUuid = o.parentUuid ?? null
    this.ctx = o.ctx ?? 0
    this.pendingNew = 0 // tokens added to the context since the last response (become cache writes)
    this.ring = o.ring ?? null // last valid lines, for resumed sessions
    this.responses = 0
    this.lastTs = o.t0
  }

  text(min, max, median) {
    const len = Math.max(min, Math.min(max, Math.round(this.rng.logn(median, 0.8))))
    const c = this.corpus
    const off = this.rng.int(0, c.length - len - 1)
    return c.slice(off, off + len)
  }

  head(type) {
    // key order as Claude Code writes it
    const o = {
      parentUuid: this.parentUuid,
      isSidechain: !!this.sidechain,
      userType: 'external',
      cwd: this.cwd,
      sessionId: this.sessionId,
      version: this.version,
      gitBranch: this.gitBranch,
    }
    if (this.agentId) o.agentId = this.agentId
    o.type = type
    return o
  }

  emit(obj, { malformedOk = true } = {}) {
    const s = JSON.stringify(obj)
    this.writer.line(s)
    if (this.ring) {
      this.ring.push(s)
      if (this.ring.length > 150) this.ring.shift()
    }
    // a few malformed lines: a truncated extra copy (a crash mid-write, then the line again)
    if (malformedOk && this.rng.chance(1 / 5000)) this.writer.line(s.slice(0, this.rng.int(10, s.length - 2)))
  }

  userPrompt() {
    const uuid = this.rng.uuid()
    const o = this.head('user')
    o.message = { role: 'user', content: this.text(20, 4000, 180) }
    if (this.rng.chance(0.1)) o.isMeta = false
    o.uuid = uuid
    o.timestamp = iso(this.t)
    if (!this.sidechain) o.thinkingMetadata = { level: 'high', disabled: false, triggers: [] }
    this.emit(o)
    this.parentUuid = uuid
    this.pendingNew += Math.round(this.rng.logn(250, 0.9))
  }

  toolUse(name) {
    const id = `toolu_01${this.rng.str(B62, 22)}`
    const file = `${this.cwd}/src/${this.rng.pick(WORDS)}/${this.rng.pick(WORDS)}.ts`
    let input
    switch (name) {
      case 'Read':
        input = { file_path: file }
        break
      case 'Edit':
        input = { file_path: file, old_string: this.text(20, 3000, 200), new_string: this.text(20, 3000, 260) }
        break
      case 'Write':
        input = { file_path: file, content: this.text(200, 12000, 1300) }
        break
      case 'Bash':
        input = {
          command: `npm run ${this.rng.pick(WORDS)} -- --${this.rng.pick(WORDS)}`,
          description: this.text(10, 80, 40),
        }
        break
      case 'Grep':
        input = { pattern: this.rng.pick(WORDS), path: this.cwd, output_mode: 'content', '-n': true }
        break
      case 'Glob':
        input = { pattern: `**/*${this.rng.pick(WORDS)}*.ts` }
        break
      case 'TodoWrite':
        input = {
          todos: [0, 1, 2].map(() => ({
            content: this.text(10, 120, 50),
            status: 'pending',
            activeForm: this.text(10, 120, 50),
          })),
        }
        break
      default:
        input = {
          description: this.text(10, 80, 40),
          prompt: this.text(100, 3000, 600),
          subagent_type: 'general-purpose',
        }
    }
    return { type: 'tool_use', id, name, input }
  }

  toolResult(tu) {
    const uuid = this.rng.uuid()
    const o = this.head('user')
    let content
    let toolUseResult
    switch (tu.name) {
      case 'Read': {
        content = this.text(100, 24000, 850)
        toolUseResult = {
          type: 'text',
          file: {
            filePath: tu.input.file_path,
            content,
            numLines: content.split('\n').length,
            startLine: 1,
            totalLines: content.split('\n').length,
          },
        }
        break
      }
      case 'Bash': {
        content = this.text(10, 12000, 260)
        toolUseResult = { stdout: content, stderr: '', interrupted: false, isImage: false }
        break
      }
      case 'Edit': {
        content =
          `The file ${tu.input.file_path} has been updated. Here's the result of running \`cat -n\` on a snippet of the edited file:\n` +
          this.text(50, 3000, 350)
        toolUseResult = {
          filePath: tu.input.file_path,
          oldString: tu.input.old_string,
          newString: tu.input.new_string,
          originalFile: null,
          structuredPatch: [],
          userModified: false,
          replaceAll: false,
        }
        break
      }
      default: {
        content = this.text(10, 6000, 300)
        toolUseResult = { type: 'text', content }
      }
    }
    o.message = { role: 'user', content: [{ tool_use_id: tu.id, type: 'tool_result', content }] }
    o.uuid = uuid
    o.timestamp = iso(this.t)
    o.toolUseResult = toolUseResult
    this.emit(o)
    this.parentUuid = uuid
    this.pendingNew += Math.round(content.length / 3.5)
  }

  /** One billed response: 1–3 content blocks, one line each; returns the tool_use block if any. */
  response({ endOfTurn }) {
    const rng = this.rng
    const model = this.altModel && rng.chance(0.15) ? this.altModel : this.model
    const msgId = `msg_01${rng.str(B62, 22)}`
    const requestId = `req_011C${rng.str(B62, 20)}`

    // usage: the cached prefix is read, what was added since the last call is written to cache
    let cacheRead, cacheWrite, input
    if (this.ctx === 0) {
      cacheWrite = rng.int(3000, 9000)
      cacheRead = rng.chance(0.7) ? rng.int(11000, 16000) : 0
      this.ctx = cacheWrite + cacheRead
    } else {
      cacheRead = this.ctx
      cacheWrite = this.pendingNew + rng.int(0, 200)
      this.ctx += cacheWrite
    }
    input = rng.chance(0.9) ? rng.int(1, 12) : rng.int(13, 4000)
    const output = Math.max(1, Math.min(32000, Math.round(rng.logn(endOfTurn ? 420 : 180, 1.0))))
    this.pendingNew = output
    if (this.ctx > 155000) this.ctx = rng.int(18000, 30000) // auto-compact
    const w1h = this.cache1h ? cacheWrite : 0
    const mkUsage = (out) => ({
      input_tokens: input,
      cache_creation_input_tokens: cacheWrite,
      cache_read_input_tokens: cacheRead,
      cache_creation: { ephemeral_5m_input_tokens: cacheWrite - w1h, ephemeral_1h_input_tokens: w1h },
      output_tokens: out,
      service_tier: 'standard',
    })

    const blocks = []
    if (model !== MODELS.haiku && rng.chance(0.12))
      blocks.push({ type: 'thinking', thinking: this.text(50, 6000, 420), signature: rng.str(`${B62}+/`, 340) })
    let tool = null
    if (!endOfTurn) {
      if (rng.chance(0.55)) blocks.push({ type: 'text', text: this.text(10, 2000, 160) })
      const name = this.sidechain
        ? rng.pick(['Read', 'Read', 'Grep', 'Glob', 'Bash'])
        : rng.pick([
            'Read',
            'Read',
            'Read',
            'Edit',
            'Edit',
            'Bash',
            'Bash',
            'Grep',
            'Glob',
            'TodoWrite',
            'Write',
            'Task',
          ])
      tool = this.toolUse(name)
      blocks.push(tool)
    } else {
      blocks.push({ type: 'text', text: this.text(20, 5000, 400) })
    }

    // one line per block; earlier lines carry a partial output count (streaming)
    let finalTs = this.t
    blocks.forEach((block, i) => {
      const last = i === blocks.length - 1
      const out = last ? output : Math.max(1, Math.floor((output * (i + 1)) / (blocks.length + 1)) - 1)
      const uuid = rng.uuid()
      const o = this.head('assistant')
      o.message = {
        model,
        id: msgId,
        type: 'message',
        role: 'assistant',
        content: [block],
        stop_reason: last ? (tool ? 'tool_use' : 'end_turn') : null,
        stop_sequence: null,
        usage: mkUsage(out),
      }
      o.requestId = requestId
      o.uuid = uuid
      o.timestamp = iso(this.t)
      this.emit(o)
      this.parentUuid = uuid
      finalTs = this.t
      if (!last) this.t += rng.int(200, 4000)
    })
    if (this.truth) this.truth.add(iso(finalTs), mkUsage(output), `${msgId}:${requestId}`)
    this.lastTs = finalTs
    this.responses++
    return tool
  }

  synthetic() {
    const uuid = this.rng.uuid()
    const o = this.head('assistant')
    o.message = {
      id: this.rng.uuid(),
      container: null,
      model: '<synthetic>',
      role: 'assistant',
      stop_reason: 'stop_sequence',
      stop_sequence: '',
      type: 'message',
      usage: {
        input_tokens: 0,
        output_tokens: 0,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
        server_tool_use: { web_search_requests: 0, web_fetch_requests: 0 },
        service_tier: null,
        cache_creation: { ephemeral_1h_input_tokens: 0, ephemeral_5m_input_tokens: 0 },
      },
      content: [
        {
          type: 'text',
          text: this.rng.pick([
            'API Error: 529 {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}',
            'API Error: Request timed out.',
            'No response requested.',
          ]),
        },
      ],
    }
    o.isApiErrorMessage = true
    o.uuid = uuid
    o.timestamp = iso(this.t)
    this.emit(o, { malformedOk: false })
    this.parentUuid = uuid
  }

  snapshot() {
    this.writer.line(
      JSON.stringify({
        type: 'file-history-snapshot',
        messageId: this.rng.uuid(),
        snapshot: { messageId: this.rng.uuid(), trackedFileBackups: {}, timestamp: iso(this.t) },
        isSnapshotUpdate: false,
      }),
    )
  }

  /**
   * Writes `count` responses. `gaps[i]` is the wall-clock gap before response i (ms); turns of a
   * few responses each start with a user prompt; tool_use responses are followed by results.
   */
  run(count, gaps) {
    const rng = this.rng
    let left = count
    let i = 0
    while (left > 0) {
      const turnLen = Math.min(left, Math.max(1, Math.round(rng.logn(5, 0.8))))
      if (i > 0 || !this.sidechain) {
        if (!this.sidechain && rng.chance(0.3)) this.snapshot()
        this.userPrompt()
      }
      for (let k = 0; k < turnLen; k++, i++) {
        this.t += gaps ? gaps[i] : rng.int(2000, 30000)
        if (!this.sidechain && rng.chance(0.004)) {
          this.synthetic()
          this.t += rng.int(1000, 5000)
        }
        const tool = this.response({ endOfTurn: k === turnLen - 1 })
        if (tool) {
          this.t += rng.int(50, 3000)
          this.toolResult(tool)
        }
      }
      left -= turnLen
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Planning: projects, sessions, subagents, timing.

function planTree({ files, responses, seed, end }) {
  const rng = makeRng(seed)
  const endMs = Date.parse(`${end}T00:00:00Z`)
  const startMs = endMs - WINDOW_DAYS * DAY_MS

  const nProjects = Math.max(3, Math.min(PROJECT_NAMES.length * 4, Math.round(files / 25)))
  const projects = []
  for (let p = 0; p < nProjects; p++) {
    const base =
      PROJECT_NAMES[p % PROJECT_NAMES.length] +
      (p >= PROJECT_NAMES.length ? `-${Math.floor(p / PROJECT_NAMES.length) + 1}` : '')
    const user = rng.pick(['alice', 'dev', 'alice'])
    const cwd = `/home/${user}/${rng.pick(['src', 'code', 'work'])}/${base}`
    projects.push({ cwd, dir: cwd.replace(/[^a-zA-Z0-9]/g, '-'), weight: 1 / (p + 1) ** 0.8 })
  }
  const wsum = projects.reduce((a, p) => a + p.weight, 0)
  const pickProject = () => {
    let x = rng.next() * wsum
    for (const p of projects) if ((x -= p.weight) <= 0) return p
    return projects[projects.length - 1]
  }

  // files: ~18% subagent files, the rest main sessions
  const nSub = files >= 5 ? Math.round(files * 0.18) : 0
  const nMain = Math.max(1, files - nSub)
  const subCounts = []
  for (let s = 0; s < nSub; s++) subCounts.push(rng.int(8, 60))
  let subTotal = subCounts.reduce((a, b) => a + b, 0)
  const subBudget = Math.floor(responses * 0.12)
  if (subTotal > subBudget) {
    const f = subBudget / subTotal
    for (let s = 0; s < nSub; s++) subCounts[s] = Math.max(1, Math.floor(subCounts[s] * f))
    subTotal = subCounts.reduce((a, b) => a + b, 0)
  }
  const mainBudget = Math.max(nMain, responses - subTotal)
  const weights = []
  for (let s = 0; s < nMain; s++) weights.push(Math.exp(1.0 * gauss(rng.next)))
  const wtot = weights.reduce((a, b) => a + b, 0)
  const mainCounts = weights.map((w) => Math.max(1, Math.floor((w / wtot) * mainBudget)))
  let diff = mainBudget - mainCounts.reduce((a, b) => a + b, 0)
  for (let s = 0; diff > 0; s = (s + 1) % nMain, diff--) mainCounts[s]++

  const sessions = []
  for (let s = 0; s < nMain; s++) {
    const count = mainCounts[s]
    // gaps: seconds within a turn, minutes between turns, now and then hours (sessions span days)
    const gaps = new Float64Array(count)
    let dur = 0
    for (let i = 0; i < count; i++) {
      const r = rng.next()
      const g = r < 0.8 ? rng.int(2000, 40000) : r < 0.995 ? rng.int(30000, 900000) : rng.int(3600000, 36000000)
      gaps[i] = g
      dur += g + 6000 // + streaming/tool time inside a response
    }
    const span = endMs - startMs - 120000
    if (dur > span * 0.8) {
      const f = (span * 0.8) / dur
      for (let i = 0; i < count; i++) gaps[i] = Math.floor(gaps[i] * f)
      dur = span * 0.8
    }
    const t0 = startMs + Math.floor(rng.next() * (span - dur))
    const model = rng.chance(0.2) ? MODELS.opus : MODELS.sonnet
    sessions.push({
      project: pickProject(),
      sessionId: rng.uuid(),
      count,
      gaps,
      t0,
      seed: rng.seed(),
      model,
      altModel: rng.chance(0.25) ? (model === MODELS.opus ? MODELS.sonnet : MODELS.opus) : null,
      version: rng.pick(VERSIONS),
      gitBranch: rng.pick(BRANCHES),
      cache1h: rng.chance(0.3),
      resumed: false,
      subagents: [],
    })
  }
  sessions.sort((a, b) => a.t0 - b.t0)
  // resumed sessions: ~10% of those with an earlier session in the same project
  const seenProject = new Set()
  for (const s of sessions) {
    if (seenProject.has(s.project) && rng.chance(0.1)) s.resumed = true
    seenProject.add(s.project)
  }
  for (let k = 0; k < nSub; k++) {
    const parent = sessions[Math.floor(rng.next() * sessions.length)]
    parent.subagents.push({
      agentId: rng.str(HEX, 8),
      count: subCounts[k],
      seed: rng.seed(),
      model: rng.chance(0.5) ? MODELS.haiku : parent.model,
    })
  }
  // the file whose last line is unfinished: an early session (never the newest one)
  const unfinished = sessions.length > 2 ? Math.floor(rng.next() * (sessions.length - 1)) : -1
  return { projects, sessions, startMs, endMs, unfinished }
}

// ---------------------------------------------------------------------------------------------
// Public API.

/**
 * Generates a tree into `out`. Returns the meta object (also written to out/bench-meta.json).
 * @param {{out: string, size?: string, files?: number, responses?: number, seed?: number, end?: string, log?: (s:
 * string) => void}} opts
 */
export function generate(opts) {
  const t0 = performance.now()
  const size = opts.size ?? 'small'
  if (!SIZES[size] && (opts.files == null || opts.responses == null)) throw new Error(`unknown size ${size}`)
  const files = Number(opts.files ?? SIZES[size].files)
  const responses = Number(opts.responses ?? SIZES[size].responses)
  const seed = Number(opts.seed ?? DEFAULT_SEED)
  const end = opts.end ?? DEFAULT_END
  if (!/^\d{4}-\d{2}-\d{2}$/.test(end)) throw new Error(`--end must be YYYY-MM-DD, got ${end}`)
  const out = resolve(opts.out)
  const log = opts.log ?? (() => {})

  const plan = planTree({ files, responses, seed, end })
  const corpus = makeCorpus(makeRng(seed ^ 0x5bd1e995))
  const truth = new Truth({ checkKeys: true })
  const rings = new Map() // project dir -> last lines of its latest session (for resumes)
  let bytes = 0
  let lines = 0
  let nFiles = 0
  let lastLog = performance.now()

  mkdirSync(join(out, 'projects'), { recursive: true })
  plan.sessions.forEach((s, idx) => {
    const rng = makeRng(s.seed)
    const pdir = join(out, 'projects', s.project.dir)
    mkdirSync(pdir, { recursive: true })
    const path = join(pdir, `${s.sessionId}.jsonl`)
    const w = new Writer(path)
    const prevRing = rings.get(s.project.dir)
    if (rng.chance(0.25)) {
      w.line(
        JSON.stringify({
          type: 'summary',
          summary: `${rng.pick(WORDS)} ${rng.pick(WORDS)} ${rng.pick(WORDS)}`,
          leafUuid: rng.uuid(),
        }),
      )
    }
    if (s.resumed && prevRing?.lines.length) {
      // a resumed session starts with copies of the previous session's last lines
      const n = rng.int(Math.min(10, prevRing.lines.length), prevRing.lines.length)
      for (const line of prevRing.lines.slice(-n))
        w.line(line.replace(`"sessionId":"${prevRing.sessionId}"`, `"sessionId":"${s.sessionId}"`))
    }
    const ring = []
    const sess = new Session({
      rng,
      corpus,
      writer: w,
      truth,
      sessionId: s.sessionId,
      cwd: s.project.cwd,
      version: s.version,
      gitBranch: s.gitBranch,
      model: s.model,
      altModel: s.altModel,
      sidechain: false,
      t0: s.t0,
      cache1h: s.cache1h,
      ring,
    })
    sess.run(s.count, s.gaps)
    if (idx === plan.unfinished) {
      // Claude Code was writing when the tree was copied: an unfinished last line, no newline
      w.raw(
        '{"parentUuid":"' +
          rng.uuid() +
          '","isSidechain":false,"userType":"external","cwd":"' +
          s.project.cwd +
          '","sessionId":"' +
          s.sessionId +
          '","version":"' +
          s.version +
          '","message":{"model":"' +
          s.model +
          '","id":"msg_01' +
          rng.str(B62, 22) +
          '","type":"message","role":"assistant","content":[{"type":"text","text":"Let me',
      )
    }
    w.close()
    utimesSync(path, new Date(sess.lastTs), new Date(sess.lastTs))
    rings.set(s.project.dir, { sessionId: s.sessionId, lines: ring })
    bytes += w.bytes
    lines += w.lines
    nFiles++

    // subagents: sidechain transcripts inside the parent's time span
    for (const a of s.subagents) {
      const arng = makeRng(a.seed)
      const sdir = join(pdir, s.sessionId, 'subagents')
      mkdirSync(sdir, { recursive: true })
      const apath = join(sdir, `agent-${a.agentId}.jsonl`)
      const aw = new Writer(apath)
      const span = Math.max(60000, sess.lastTs - s.t0)
      const gaps = new Float64Array(a.count).map(() => arng.int(1000, 15000))
      let total = 0
      for (const g of gaps) total += g + 12000 // + streaming and tool time, generously
      // inside the parent's span, never past the end of the window
      const start = Math.min(s.t0 + Math.floor(arng.next() * span * 0.9), plan.endMs - 120000 - total)
      const sub = new Session({
        rng: arng,
        corpus,
        writer: aw,
        truth,
        sessionId: s.sessionId,
        cwd: s.project.cwd,
        version: s.version,
        gitBranch: s.gitBranch,
        model: a.model,
        altModel: null,
        sidechain: true,
        agentId: a.agentId,
        t0: start,
        cache1h: false,
      })
      // the Task prompt opens the transcript
      const o = sub.head('user')
      o.message = { role: 'user', content: sub.text(100, 3000, 600) }
      o.uuid = arng.uuid()
      o.timestamp = iso(start)
      aw.line(JSON.stringify(o))
      sub.parentUuid = o.uuid
      sub.run(a.count, gaps)
      aw.close()
      utimesSync(apath, new Date(sub.lastTs), new Date(sub.lastTs))
      bytes += aw.bytes
      lines += aw.lines
      nFiles++
    }
    if (performance.now() - lastLog > 5000) {
      lastLog = performance.now()
      log(`  generated ${nFiles} files, ${truth.responses} responses, ${(bytes / 1e6).toFixed(0)} MB`)
    }
  })

  const t = truth.toJSON()
  const late = Object.keys(t.days).filter((d) => d >= end)
  if (late.length) throw new Error(`generator bug: responses on ${late.join(', ')}, not before --end ${end}`)
  const meta = {
    generator: GENERATOR_VERSION,
    size: opts.files != null || opts.responses != null ? 'custom' : size,
    seed,
    end,
    window: { from: iso(plan.startMs).slice(0, 10), to: end },
    files: nFiles,
    responses: truth.responses,
    lines,
    bytes,
    seconds: Math.round((performance.now() - t0) / 100) / 10,
    days: t.days,
    totals: t.totals,
  }
  writeFileSync(join(out, 'bench-meta.json'), `${JSON.stringify(meta, null, 1)}\n`)
  return meta
}

/** The newest `<session>.jsonl` (by mtime) directly inside a project dir, not a subagent file. */
export function newestSessionFile(dir) {
  let best = null
  const root = join(dir, 'projects')
  for (const p of readdirSync(root, { withFileTypes: true })) {
    if (!p.isDirectory()) continue
    for (const f of readdirSync(join(root, p.name), { withFileTypes: true })) {
      if (!f.isFile() || !f.name.endsWith('.jsonl')) continue
      const path = join(root, p.name, f.name)
      const m = statSync(path).mtimeMs
      if (!best || m > best.m) best = { path, m }
    }
  }
  return best?.path ?? null
}

// Reads the last complete JSON line of a file that has a sessionId (its session context).
function lastContext(path) {
  const fd = openSync(path, 'r')
  try {
    const size = fstatSync(fd).size
    const len = Math.min(size, 256 * 1024)
    const buf = Buffer.alloc(len)
    readSync(fd, buf, 0, len, size - len)
    const text = buf.toString('utf8')
    const lines = text.split('\n')
    lines.pop() // after the last newline: empty or unfinished
    for (let i = lines.length - 1; i >= 0; i--) {
      try {
        const o = JSON.parse(lines[i])
        if (o?.sessionId && o.cwd) return { o, endsWithNewline: text.endsWith('\n') || size === 0 }
      } catch {
        /* malformed or cut at the window start */
      }
    }
    return { o: null, endsWithNewline: text.endsWith('\n') || size === 0 }
  } finally {
    closeSync(fd)
  }
}

/**
 * Appends `n` new complete assistant responses (with their prompts and tool results, timestamps
 * just before `nowIso`) to a session file: `opts.file`, else the newest session file of `dir`.
 * A missing `opts.file` is created as a new session (in `opts.cwd`, default /home/alice/src/bench).
 * Returns {file, responses, bytes, truth} where truth is the per-day sum of what was added.
 */
export function appendResponses(dir, n, nowIso = new Date().toISOString(), opts = {}) {
  const file = opts.file ?? newestSessionFile(dir)
  if (!file) throw new Error(`no session file under ${join(dir, 'projects')}`)
  const nowMs = Date.parse(nowIso)
  if (!Number.isFinite(nowMs)) throw new Error(`bad nowIso ${nowIso}`)
  let ctx = null
  let size = 0
  if (existsSync(file)) {
    size = statSync(file).size
    const { o, endsWithNewline } = lastContext(file)
    if (!endsWithNewline) throw new Error(`${file} ends with an unfinished line; refusing to append after it`)
    ctx = o
  }
  // unique, yet deterministic for a given file state and time
  const rng = makeRng(seedFrom(`${file}\0${size}\0${nowIso}\0${n}`))
  const cwd = ctx?.cwd ?? opts.cwd ?? '/home/alice/src/bench'
  const sessionId = ctx?.sessionId ?? file.match(/([0-9a-f-]{36})\.jsonl$/)?.[1] ?? rng.uuid()
  const corpus = makeCorpus(makeRng(seedFrom(`corpus\0${nowIso}`)), 1 << 15)
  const truth = new Truth()
  const w = new Writer(file, 'a')
  // the responses end just before now: spread them over the last ~n*8 seconds
  const gaps = new Float64Array(n).fill(2000)
  const sess = new Session({
    rng,
    corpus,
    writer: w,
    truth,
    sessionId,
    cwd,
    version: ctx?.version ?? VERSIONS[VERSIONS.length - 1],
    gitBranch: ctx?.gitBranch ?? 'main',
    model: ctx?.message?.model && ctx.message.model !== '<synthetic>' ? ctx.message.model : MODELS.sonnet,
    altModel: null,
    sidechain: false,
    t0: nowMs - n * 9000 - 10000,
    cache1h: false,
    parentUuid: ctx?.uuid ?? null,
    ctx: rng.int(20000, 60000),
  })
  sess.run(n, gaps)
  w.close()
  return { file, responses: truth.responses, bytes: w.bytes, truth: truth.toJSON() }
}

// ---------------------------------------------------------------------------------------------
// CLI.

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      size: { type: 'string', default: 'small' },
      files: { type: 'string' },
      responses: { type: 'string' },
      seed: { type: 'string', default: String(DEFAULT_SEED) },
      end: { type: 'string', default: DEFAULT_END },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help || !values.out) {
    console.error(
      'usage: node bench/generate.mjs --out DIR [--size small|medium|large] [--files N] [--responses N] [--seed N] [--end YYYY-MM-DD]',
    )
    process.exit(values.help ? 0 : 2)
  }
  if (!SIZES[values.size]) {
    console.error(`unknown --size ${values.size} (small, medium, large)`)
    process.exit(2)
  }
  if (existsSync(join(values.out, 'projects')) && readdirSync(join(values.out, 'projects')).length) {
    console.error(`${values.out}/projects is not empty; choose a new --out`)
    process.exit(2)
  }
  const meta = generate({
    out: values.out,
    size: values.size,
    files: values.files != null ? Number(values.files) : undefined,
    responses: values.responses != null ? Number(values.responses) : undefined,
    seed: Number(values.seed),
    end: values.end,
    log: (s) => console.error(s),
  })
  console.log(
    `generated ${values.out}: ${meta.files} files, ${meta.responses} responses, ${meta.lines} lines, ` +
      `${(meta.bytes / 1e6).toFixed(1)} MB, ${Object.keys(meta.days).length} days (${meta.window.from}..${meta.end}, end exclusive) in ${meta.seconds} s`,
  )
}
