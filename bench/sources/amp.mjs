// Amp threads for the backfill benchmark: `sessions` threads under <root>/threads, each one
// JSON document with 3-12 assistant responses (usage on the messages, Amp's current schema),
// spread over the 30 days before `end`. Deterministic from `seed`.
import fs from 'node:fs'
import path from 'node:path'
import { makeRng } from '../generate.mjs'

const MODELS = ['claude-sonnet-4-5-20250929', 'claude-opus-4-5-20251101', 'claude-haiku-4-5-20251001']

const rng = (seed) => makeRng(seed).next

export function generate(root, { sessions, seed = 1, end }) {
  const rand = rng(seed)
  const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1))
  const endMs = Date.parse(end)
  const dir = path.join(root, 'threads')
  fs.mkdirSync(dir, { recursive: true })
  let records = 0
  for (let s = 0; s < sessions; s++) {
    const hex = (n) => Array.from({ length: n }, () => int(0, 15).toString(16)).join('')
    const id = `T-${hex(8)}-${hex(4)}-7${hex(3)}-a${hex(3)}-${hex(12)}`
    let ms = endMs - int(1, 30 * 86400) * 1000
    const messages = [{ role: 'user', messageId: 0, content: [{ type: 'text', text: 'task' }] }]
    const model = MODELS[int(0, MODELS.length - 1)]
    for (let i = 0, n = int(3, 12); i < n; i++) {
      ms += int(5, 300) * 1000
      const usage = { model, inputTokens: int(1, 40), outputTokens: int(20, 3000) }
      Object.assign(usage, { cacheCreationInputTokens: int(0, 20000), cacheReadInputTokens: int(0, 150000) })
      usage.timestamp = new Date(ms).toISOString()
      const content = [{ type: 'text', text: 'done' }]
      messages.push({ role: 'assistant', messageId: 2 * i + 1, content, state: { type: 'complete' }, usage })
      messages.push({ role: 'user', messageId: 2 * i + 2, content: [{ type: 'text', text: 'go on' }] })
      records++
    }
    const env = { initial: { trees: [{ displayName: `p${s % 7}`, uri: `file:///home/bench/p${s % 7}` }] } }
    fs.writeFileSync(path.join(dir, `${id}.json`), JSON.stringify({ v: messages.length, id, env, messages }, null, 2))
  }
  return { env: { AMP_DATA_DIR: root }, files: sessions, records }
}
