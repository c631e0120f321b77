// pi-agent sessions for the backfill benchmark: `<root>/--<cwd>--/<ts>_<uuid>.jsonl` as pi's
// SessionManager writes them (a `session` header, entries with id/parentId, assistant messages
// with pi-ai's usage). Every fifth session is a `/fork` of the one before: its header names the
// parent's real path and it first copies the parent's entries verbatim (not new records).
// Deterministic from `seed`; PI_AGENT_DIR points at `root`.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createHash } from 'node:crypto'

const MODELS = [
  ['anthropic-messages', 'anthropic', 'claude-sonnet-4-5'],
  ['anthropic-messages', 'anthropic', 'claude-opus-4-5'],
  ['openai-responses', 'openai', 'gpt-5.1-codex'],
]
const DAY = 86_400_000

export function generate(root, { sessions, seed = 42, end = '2026-11-20' }) {
  let s = seed >>> 0
  const rnd = (n) => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) % n
  const hex = (k, n) => createHash('sha256').update(`pi/${seed}/${k}`).digest('hex').slice(0, n)
  const uuid = (k) => {
    const h = hex(k, 32)
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`
  }
  let records = 0
  let prev = null // { file, entries, t }
  for (let i = 0; i < sessions; i++) {
    const fork = prev && i % 5 === 4 ? prev : null
    const cwd = fork ? fork.cwd : `/home/bench/p${i % 7}`
    const dir = join(root, `--${cwd.slice(1).replace(/\//g, '-')}--`)
    let t = fork ? fork.t + 60_000 : Date.parse(`${end}T00:00:00Z`) - rnd(30) * DAY - rnd(DAY)
    const id = uuid(`s${i}`)
    const header = { type: 'session', version: 3, id, timestamp: new Date(t).toISOString(), cwd }
    if (fork) header.parentSession = fork.file
    const entries = fork ? [...fork.entries] : []
    let parentId = entries.length ? entries[entries.length - 1].id : null
    const [api, provider, model] = MODELS[rnd(3)]
    for (let r = 0, n = 3 + rnd(10); r < n; r++) {
      t += 5_000 + rnd(120_000)
      const user = { type: 'message', id: hex(`s${i}u${r}`, 8), parentId, timestamp: new Date(t).toISOString() }
      user.message = { role: 'user', content: [{ type: 'text', text: 'go on' }], timestamp: t }
      const input = 1 + rnd(40),
        output = 50 + rnd(3_000),
        cacheRead = rnd(150_000),
        cacheWrite = rnd(20_000)
      const usage = { input, output, cacheRead, cacheWrite, totalTokens: input + output + cacheRead + cacheWrite }
      usage.cost = { input: 0, output: 0, cacheRead: 0, cacheWrite: 0, total: (input * 3 + output * 15) / 1e6 }
      const done = t + 2_000 + rnd(30_000)
      const message = { role: 'assistant', content: [{ type: 'text', text: 'ok' }], api, provider, model, usage }
      Object.assign(message, { stopReason: 'stop', timestamp: t + 10 })
      const reply = {
        type: 'message',
        id: hex(`s${i}a${r}`, 8),
        parentId: user.id,
        timestamp: new Date(done).toISOString(),
        message,
      }
      entries.push(user, reply)
      parentId = reply.id
      t = done
      records++
    }
    mkdirSync(dir, { recursive: true })
    const file = join(dir, `${header.timestamp.replace(/[:.]/g, '-')}_${id}.jsonl`)
    writeFileSync(file, `${[header, ...entries].map((l) => JSON.stringify(l)).join('\n')}\n`)
    prev = { file, entries, t, cwd }
  }
  return { env: { PI_AGENT_DIR: root }, files: sessions, records }
}
