// Grok Build home for the backfill benchmark: `sessions` sessions of several turns, each turn's
// usage per model (`modelUsage`) with Grok's own cost in ticks, plus the chunks around it.
import fs from 'node:fs'
import path from 'node:path'
import { makeRng } from '../generate.mjs'

const MODELS = ['grok-4.5-build', 'grok-code-fast-1']
const DAY = 86_400_000

const rng = (seed) => makeRng(seed).next

export function generate(root, { sessions, seed = 1, end }) {
  const r = rng(seed)
  const int = (n) => Math.floor(r() * n)
  const endMs = Date.parse(end)
  let records = 0
  for (let s = 0; s < sessions; s++) {
    const id = `019f8a10-${(seed % 0xffff).toString(16).padStart(4, '0')}-7e4f-8a1b-${s.toString(16).padStart(12, '0')}`
    const cwd = `/home/dev/src/p${s % 7}`
    const dir = path.join(root, 'sessions', encodeURIComponent(cwd), id)
    fs.mkdirSync(dir, { recursive: true })
    fs.writeFileSync(path.join(dir, 'summary.json'), JSON.stringify({ info: { id, cwd }, current_model_id: MODELS[0] }))
    let t = endMs - (1 + int(30)) * DAY + int(DAY)
    const lines = []
    for (let k = 0, turns = 2 + int(8); k < turns; k++) {
      t += 30_000 + int(900_000)
      const sec = Math.floor(t / 1000)
      lines.push({
        timestamp: sec - 20,
        method: 'session/update',
        params: {
          sessionId: id,
          update: { sessionUpdate: 'user_message_chunk', content: { type: 'text', text: 'go on' } },
        },
      })
      const modelUsage = {}
      for (const m of r() < 0.3 ? MODELS : [MODELS[int(2)]]) {
        const input = 2000 + int(40000)
        const out = 100 + int(3000)
        modelUsage[m] = {
          inputTokens: input,
          outputTokens: out,
          totalTokens: input + out,
          cachedReadTokens: int(input),
          cacheCreationTokens: 0,
          reasoningTokens: int(out),
          costUsdTicks: (input * 2 + out * 15) * 1000,
        }
        records++
      }
      lines.push({
        timestamp: sec,
        method: '_x.ai/session/update',
        params: {
          sessionId: id,
          update: { sessionUpdate: 'turn_completed', stop_reason: 'end_turn', usage: { modelUsage } },
          _meta: { eventId: `${id}-e${k}`, agentTimestampMs: t },
        },
      })
    }
    fs.writeFileSync(path.join(dir, 'updates.jsonl'), lines.map((l) => `${JSON.stringify(l)}\n`).join(''))
  }
  return { env: { GROK_HOME: root }, files: sessions, records }
}
