// Copilot CLI home for the backfill benchmark: `sessions` session-state files, each resumed a few
// times; every `session.shutdown` carries the session's running totals per model (the real shape).
import fs from 'node:fs'
import path from 'node:path'
import { makeRng } from '../generate.mjs'

const MODELS = ['claude-sonnet-4.5', 'gpt-5', 'gpt-5-mini']
const DAY = 86_400_000

const rng = (seed) => makeRng(seed).next

export function generate(root, { sessions, seed = 1, end }) {
  const r = rng(seed)
  const int = (n) => Math.floor(r() * n)
  const endMs = Date.parse(end)
  let records = 0
  for (let s = 0; s < sessions; s++) {
    const id = `${(seed * 1e6 + s).toString(16).padStart(8, '0')}-0b7d-4e55-9a61-${s.toString(16).padStart(12, '0')}`
    const dir = path.join(root, 'session-state', id)
    fs.mkdirSync(dir, { recursive: true })
    let t = endMs - (1 + int(30)) * DAY + int(DAY)
    const lines = [{ type: 'session.start', data: { sessionId: id, context: { cwd: `/home/dev/src/p${s % 7}` } } }]
    lines[0].id = `${id}-0`
    lines[0].timestamp = new Date(t).toISOString()
    const totals = {}
    for (let k = 0, resumes = 1 + int(3); k < resumes; k++) {
      t += 600_000 + int(7_200_000)
      const used = MODELS.filter(() => r() < 0.6)
      if (!used.length) used.push(MODELS[int(MODELS.length)])
      for (const m of used) {
        const u = (totals[m] ??= {
          inputTokens: 0,
          outputTokens: 0,
          cacheReadTokens: 0,
          cacheWriteTokens: 0,
          reasoningTokens: 0,
        })
        const read = 4000 + int(60000)
        const write = int(4000)
        u.inputTokens += read + write + 500 + int(8000)
        u.cacheReadTokens += read
        u.cacheWriteTokens += write
        const reasoning = int(800)
        u.outputTokens += reasoning + 100 + int(3000)
        u.reasoningTokens += reasoning
        records++
      }
      const modelMetrics = Object.fromEntries(
        Object.entries(totals).map(([m, u]) => [m, { requests: { count: k + 1, cost: k + 1 }, usage: { ...u } }]),
      )
      lines.push({
        type: 'user.message',
        data: { content: 'next step' },
        id: `${id}-u${k}`,
        timestamp: new Date(t - 300_000).toISOString(),
      })
      lines.push({
        type: 'session.shutdown',
        data: { shutdownType: 'routine', modelMetrics },
        id: `${id}-s${k}`,
        timestamp: new Date(t).toISOString(),
      })
    }
    fs.writeFileSync(path.join(dir, 'events.jsonl'), lines.map((l) => `${JSON.stringify(l)}\n`).join(''))
  }
  return { env: { COPILOT_HOME: root }, files: sessions, records }
}
