// OpenClaw's agent databases for the benchmarks: `agents/<agent>/agent/openclaw-agent.sqlite`
// (transcript_events, written with better-sqlite3 in WAL mode as OpenClaw keeps it) in the state
// dir that bench/sources/openclaw.mjs fills with JSONL transcripts: OPENCLAW_DIR names that one
// dir for both stores, so these are written beside it (`<root>/../openclaw`; this generator runs
// first, and the JSONL one only adds files). `sessions` sessions only in the databases (as a newer
// OpenClaw writes them): a header, a model_change, user and assistant events. Deterministic from `seed`.
import { mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { createHash } from 'node:crypto'
import Database from 'better-sqlite3'

const MODELS = [
  ['anthropic', 'claude-opus-4-5'],
  ['anthropic', 'claude-sonnet-4-5'],
  ['openai-codex', 'gpt-5.2'],
]
const DAY = 86_400_000

export function generate(root, { sessions, seed = 42, end = '2026-11-20' }) {
  let s = (seed ^ 0x5eed) >>> 0
  const rnd = (n) => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) % n
  const hex = (k, n) => createHash('sha256').update(`openclaw-db/${seed}/${k}`).digest('hex').slice(0, n)
  const state = join(root, '..', 'openclaw')
  const dbs = new Map()
  const open = (agent) => {
    if (dbs.has(agent)) return dbs.get(agent)
    const dir = join(state, 'agents', agent, 'agent')
    mkdirSync(dir, { recursive: true })
    const file = join(dir, 'openclaw-agent.sqlite')
    for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true })
    const db = new Database(file)
    db.pragma('journal_mode = WAL')
    db.exec(`CREATE TABLE sessions (session_id TEXT NOT NULL PRIMARY KEY, session_key TEXT NOT NULL,
        created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL) STRICT;
      CREATE TABLE transcript_events (session_id TEXT NOT NULL, seq INTEGER NOT NULL, event_json TEXT NOT NULL,
        created_at INTEGER NOT NULL, PRIMARY KEY (session_id, seq)) STRICT`)
    db.exec('BEGIN')
    const add = db.prepare('INSERT INTO transcript_events VALUES (?, ?, ?, ?)')
    const session = db.prepare('INSERT INTO sessions VALUES (?, ?, ?, ?)')
    dbs.set(agent, { db, add, session })
    return dbs.get(agent)
  }
  let records = 0
  for (let i = 0; i < sessions; i++) {
    const agent = ['main', 'ops', 'research'][i % 3]
    const { add, session } = open(agent)
    const h = hex(`s${i}`, 32)
    const id = `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`
    let t = Date.parse(`${end}T00:00:00Z`) - rnd(30) * DAY - rnd(DAY)
    const [provider, model] = MODELS[rnd(3)]
    const at = (ms) => new Date(ms).toISOString()
    session.run(id, `agent:${agent}:bench-${i}`, t, t)
    let seq = 0
    const put = (o, ms) => add.run(id, seq++, JSON.stringify(o), ms)
    put({ type: 'session', version: 3, id, timestamp: at(t), cwd: `/home/bench/.openclaw/workspace-${agent}` }, t)
    let parentId = hex(`s${i}m`, 8)
    put({ type: 'model_change', id: parentId, parentId: null, timestamp: at(t + 1), provider, modelId: model }, t + 1)
    for (let r = 0, n = 3 + rnd(10); r < n; r++) {
      t += 5_000 + rnd(120_000)
      const uid = hex(`s${i}u${r}`, 8)
      put(
        { type: 'message', id: uid, parentId, timestamp: at(t), message: { role: 'user', content: [], timestamp: t } },
        t,
      )
      const input = 1 + rnd(3_000),
        output = 50 + rnd(2_000),
        cacheRead = rnd(120_000),
        cacheWrite = rnd(10_000)
      const usage = { input, output, cacheRead, cacheWrite, totalTokens: input + output + cacheRead + cacheWrite }
      usage.cost = { total: (input * 5 + output * 25) / 1e6 }
      const done = t + 3_000 + rnd(20_000)
      parentId = hex(`s${i}a${r}`, 8)
      const message = { role: 'assistant', content: [], provider, model, usage, stopReason: 'stop', timestamp: t + 10 }
      put({ type: 'message', id: parentId, parentId: uid, timestamp: at(done), message }, done)
      records++
    }
  }
  for (const { db } of dbs.values()) {
    db.exec('COMMIT')
    db.close()
  }
  return { env: {}, files: dbs.size, records }
}
