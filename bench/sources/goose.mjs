// Goose for the benchmarks: one `<root>/data/sessions/sessions.db` (GOOSE_PATH_ROOT=<root>) with
// `sessions` sessions in Goose's schema (fixtures/goose), each row its running totals (one record
// each), spread over the 30 days before `end`, left as Goose leaves it (WAL mode, checkpointed).
// Deterministic from `seed`. Written with better-sqlite3, which the bench may load directly.
import fs from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import { makeRng } from '../generate.mjs'

const MODELS = [
  ['anthropic', 'claude-sonnet-4-5-20250929'],
  ['openai', 'gpt-4.1'],
  ['google', 'gemini-2.5-pro'],
  ['anthropic', 'claude-haiku-4-5-20251001'],
]
const SCHEMA = fs
  .readFileSync(new URL('../../fixtures/goose/data/sessions/sessions.db.sql', import.meta.url), 'utf8')
  .split('-- G1:')[0]

export function generate(root, { sessions, seed = 1, end }) {
  const rand = makeRng(seed).next
  const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1))
  const endMs = Date.parse(end)
  const dir = path.join(root, 'data', 'sessions')
  fs.mkdirSync(dir, { recursive: true })
  const db = new Database(path.join(dir, 'sessions.db'))
  db.exec(SCHEMA)
  db.pragma('journal_mode = WAL')
  const insert = db.prepare(
    `INSERT INTO sessions (id, name, working_dir, created_at, updated_at, total_tokens, input_tokens, output_tokens,
       accumulated_total_tokens, accumulated_input_tokens, accumulated_output_tokens, provider_name, model_config_json)
     VALUES (?, 'bench', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  )
  const perDay = new Map()
  db.transaction(() => {
    for (let s = 0; s < sessions; s++) {
      const created = new Date(endMs - int(1, 30 * 86400) * 1000)
      const day = created.toISOString().slice(0, 10)
      const n = (perDay.get(day) ?? 0) + 1
      perDay.set(day, n)
      const sql = (d) => d.toISOString().slice(0, 19).replace('T', ' ')
      const [provider, model] = MODELS[int(0, MODELS.length - 1)]
      const input = int(5000, 400000)
      const output = int(300, 20000)
      const total = input + output + (provider === 'google' ? int(0, 3000) : 0)
      insert.run(
        `${day.replaceAll('-', '')}_${n}`,
        `/home/bench/p${s % 7}`,
        sql(created),
        sql(new Date(created.getTime() + int(60, 7200) * 1000)),
        int(2000, 40000),
        int(1800, 38000),
        int(100, 2000),
        total,
        input,
        output,
        provider,
        JSON.stringify({
          model_name: model,
          context_limit: 200000,
          temperature: null,
          max_tokens: null,
          toolshim: false,
        }),
      )
    }
  })()
  db.close()
  return { env: { GOOSE_PATH_ROOT: root }, files: 1, records: sessions }
}
