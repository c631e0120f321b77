// OpenCode data directories for the benchmarks: <root>/opencode.db with `sessions` sessions of
// 3–12 user/assistant exchanges each over the 30 days before `end`, in the `message` table as
// OpenCode 1.2 writes it (data: the message JSON without id and session id). Deterministic from
// `seed`. Kilo CLI's generator (kilo.mjs) is this one under Kilo's names.
import { mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { makeRng } from '../generate.mjs'

const DAY_MS = 86_400_000
const MODELS = [
  ['anthropic', 'claude-sonnet-4-5'],
  ['anthropic', 'claude-opus-4-5'],
  ['openai', 'gpt-5.2'],
  ['google', 'gemini-3-pro-preview'],
]

export function generateFamily(root, file, envVar, { sessions, seed = 42, end = '2026-11-20' }) {
  const next = makeRng(seed).next
  const rand = (n) => Math.floor(next() * n)
  const b62 = (n) =>
    Array.from({ length: n }, () => '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'[rand(62)]).join('')
  const endMs = Date.parse(`${end}T00:00:00Z`)
  mkdirSync(root, { recursive: true })
  const path = join(root, file)
  rmSync(path, { force: true })
  const db = new Database(path)
  db.exec(`CREATE TABLE message (id text PRIMARY KEY, session_id text NOT NULL, time_created integer NOT NULL,
    time_updated integer NOT NULL, data text NOT NULL);
    CREATE INDEX message_session_idx ON message (session_id);`)
  const insert = db.prepare('INSERT INTO message VALUES (?, ?, ?, ?, ?)')
  let records = 0
  db.transaction(() => {
    for (let i = 0; i < sessions; i++) {
      const session = `ses_${b62(26)}`
      const cwd = `/home/bench/src/project-${rand(20)}`
      let ms = endMs - (1 + rand(30)) * DAY_MS + rand(DAY_MS)
      for (let turn = 0, n = 3 + rand(10); turn < n; turn++) {
        const [providerID, modelID] = MODELS[rand(MODELS.length)]
        const user = { role: 'user', time: { created: ms }, agent: 'build', model: { providerID, modelID } }
        insert.run(`msg_${b62(26)}`, session, ms, ms, JSON.stringify(user))
        ms += 1000 + rand(4000)
        const [input, output, reasoning, read, write] = [
          rand(3000),
          20 + rand(2000),
          providerID === 'anthropic' ? 0 : rand(1500),
          rand(4) ? 1024 * rand(80) : 0,
          rand(3) ? 0 : 256 * rand(40),
        ]
        const done = ms + 2000 + rand(60_000)
        const data = {
          role: 'assistant',
          time: { created: ms, completed: done },
          modelID,
          providerID,
          mode: 'build',
          agent: 'build',
          path: { cwd, root: cwd },
          cost: 0,
          tokens: {
            total: input + output + reasoning + read + write,
            input,
            output,
            reasoning,
            cache: { read, write },
          },
          finish: 'stop',
        }
        insert.run(`msg_${b62(26)}`, session, ms, done, JSON.stringify(data))
        records++
        ms = done + rand(120_000)
      }
    }
  })()
  db.close()
  return { env: { [envVar]: root }, files: 1, records }
}

export const generate = (root, opts) => generateFamily(root, 'opencode.db', 'OPENCODE_DATA_DIR', opts)
