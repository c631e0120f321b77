// Codebuff config dirs for the backfill benchmark: `sessions` chats, each
// projects/<project>/chats/<chatId>/chat-messages.json (the whole array, as the CLI writes it) of
// user and assistant messages with `metadata.usage` (Anthropic-style keys, so ccusage and
// usage-ledger count the same), over the 30 days before `end`. Deterministic from `seed`.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { makeRng } from '../generate.mjs'

const DAY_MS = 86_400_000
const MODELS = ['anthropic/claude-sonnet-4.5', 'openai/gpt-5.1', 'google/gemini-2.5-pro']

export function generate(root, { sessions, seed = 42, end = '2026-11-20' }) {
  const next = makeRng(seed).next
  const rand = (n) => Math.floor(next() * n)
  const endMs = Date.parse(`${end}T00:00:00Z`)
  let records = 0
  for (let i = 0; i < sessions; i++) {
    let ms = endMs - (1 + rand(30)) * DAY_MS + rand(DAY_MS)
    const chatId = new Date(ms).toISOString().replace(/:/g, '-')
    const msgs = []
    for (let turn = 0, n = 2 + rand(8); turn < n; turn++, records++) {
      ms += 5000 + rand(120_000)
      msgs.push({ id: `user-${ms}`, variant: 'user', content: 'go on', timestamp: new Date(ms).toISOString() })
      ms += 3000 + rand(90_000)
      const usage = {
        inputTokens: 100 + rand(6000),
        outputTokens: 20 + rand(2000),
        cacheCreationInputTokens: rand(3) ? 0 : 512 * rand(20),
        cacheReadInputTokens: 1024 * rand(30),
      }
      msgs.push({
        id: `ai-${ms}`,
        variant: 'ai',
        content: 'Done.',
        timestamp: new Date(ms).toISOString(),
        credits: 1 + rand(5),
        metadata: { model: MODELS[rand(3)], usage },
      })
    }
    const dir = join(root, 'projects', `project-${i % 7}`, 'chats', chatId)
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, 'chat-messages.json'), `${JSON.stringify(msgs, null, 2)}\n`)
  }
  return { env: { CODEBUFF_DATA_DIR: root }, files: sessions, records }
}
