// Hermes Agent for the benchmarks: one `<root>/state.db` (HERMES_HOME=<root>) with `sessions`
// sessions in Hermes's schema (fixtures/hermes), each row its running totals (one record each),
// spread over the 30 days before `end`, left as Hermes leaves it (WAL mode, checkpointed).
// Deterministic from `seed`. Written with better-sqlite3, which the bench may load directly.
import fs from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import { makeRng } from '../generate.mjs'

const MODELS = [
  ['anthropic', 'claude-sonnet-4-20250514'],
  ['openai-codex', 'gpt-5'],
  ['deepseek', 'deepseek-chat'],
]
const SCHEMA = fs
  .readFileSync(new URL('../../fixtures/hermes/state.db.sql', import.meta.url), 'utf8')
  .split('-- H1:')[0]

export function generate(root, { sessions, seed = 1, end }) {
  const rand = makeRng(seed).next
  const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1))
  const hex = (n) => Array.from({ length: n }, () => int(0, 15).toString(16)).join('')
  const endMs = Date.parse(end)
  fs.mkdirSync(root, { recursive: true })
  const db = new Database(path.join(root, 'state.db'))
  db.exec(SCHEMA)
  db.pragma('journal_mode = WAL')
  const insert = db.prepare(
    `INSERT INTO sessions (id, source, model, started_at, message_count, input_tokens, output_tokens,
       cache_read_tokens, cache_write_tokens, reasoning_tokens, billing_provider, api_call_count)
     VALUES (?, 'cli', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  )
  db.transaction(() => {
    for (let s = 0; s < sessions; s++) {
      const startedMs = endMs - int(1, 30 * 86400) * 1000
      const stamp = new Date(startedMs).toISOString().slice(0, 19).replace(/[-:]/g, '').replace('T', '_')
      const [provider, model] = MODELS[int(0, MODELS.length - 1)]
      const output = int(300, 20000)
      insert.run(
        `${stamp}_${hex(6)}`,
        model,
        startedMs / 1000,
        int(2, 80),
        int(1000, 60000),
        output,
        int(0, 500000),
        provider === 'anthropic' ? int(0, 30000) : 0,
        provider === 'openai-codex' ? int(0, output) : 0,
        provider,
        int(1, 40),
      )
    }
  })()
  db.close()
  return { env: { HERMES_HOME: root }, files: 1, records: sessions }
}
