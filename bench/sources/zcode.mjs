// ZCode's usage database for the benchmarks: one `<root>/cli/db/db.sqlite` (model_usage and
// session, written with better-sqlite3 in WAL mode as ZCode keeps it) holding `sessions` sessions
// of 3 to 12 requests each over the 30 days before `end`; every seventh request failed ('error',
// no tokens). Deterministic from `seed`; ZCODE_HOME points at `root`.
import { mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { makeRng } from '../generate.mjs'

const DAY_MS = 86_400_000
const MODELS = ['GLM-5.3', 'GLM-4.6', 'GLM-4.5-Air']

export function generate(root, { sessions, seed = 42, end = '2026-11-20' }) {
  const next = makeRng(seed).next
  const rand = (n) => Math.floor(next() * n)
  const dir = join(root, 'cli', 'db')
  mkdirSync(dir, { recursive: true })
  const file = join(dir, 'db.sqlite')
  for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true })
  const db = new Database(file)
  db.pragma('journal_mode = WAL')
  db.exec(`CREATE TABLE session (id TEXT PRIMARY KEY, parent_id TEXT, directory TEXT, path TEXT, title TEXT,
      version TEXT, time_created INTEGER, time_updated INTEGER, time_archived INTEGER);
    CREATE TABLE model_usage (id TEXT PRIMARY KEY, session_id TEXT, turn_id TEXT, provider_id TEXT, model_id TEXT,
      status TEXT, started_at INTEGER, completed_at INTEGER, input_tokens INTEGER, output_tokens INTEGER,
      reasoning_tokens INTEGER, cache_creation_input_tokens INTEGER, cache_read_input_tokens INTEGER,
      computed_total_tokens INTEGER)`)
  const addSession = db.prepare('INSERT INTO session (id, directory, path, title, time_created) VALUES (?, ?, ?, ?, ?)')
  const addUsage = db.prepare('INSERT INTO model_usage VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)')
  const endMs = Date.parse(`${end}T00:00:00Z`)
  let records = 0
  db.transaction(() => {
    for (let i = 0, n = 0; i < sessions; i++) {
      const sid = `sess_bench_${seed}_${i}`
      let ms = endMs - (1 + rand(30)) * DAY_MS + rand(DAY_MS)
      addSession.run(sid, `/home/bench/src/project-${i % 17}`, `/home/bench/src/project-${i % 17}`, `task ${i}`, ms)
      for (let r = 0, k = 3 + rand(10); r < k; r++, n++) {
        ms += 2000 + rand(60_000)
        const failed = n % 7 === 6
        const cr = failed ? 0 : 1024 * rand(40)
        const cw = failed || rand(4) ? 0 : 256 * rand(8)
        const input = failed ? 0 : cr + cw + 200 + rand(8000)
        const output = failed ? 0 : 20 + rand(1500)
        addUsage.run(
          `mu_${seed}_${n}`,
          sid,
          `turn_${r}`,
          'builtin:zai-coding-plan',
          MODELS[rand(3)],
          failed ? 'error' : 'completed',
          ms,
          ms + 1000 + rand(20_000),
          input,
          output,
          cw,
          cr,
          input + output,
        )
        if (!failed) records++
      }
    }
  })()
  db.close()
  return { env: { ZCODE_HOME: root }, files: 1, records }
}
