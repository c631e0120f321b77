// Factory Droid sessions for the backfill benchmark: `sessions` sessions under <root>/<workspace>,
// each a `<uuid>.settings.json` with the session's cumulative tokenUsage (one record each) and its
// `<uuid>.jsonl` transcript, spread over the 30 days before `end`. Deterministic from `seed`.
import fs from 'node:fs'
import path from 'node:path'
import { makeRng } from '../generate.mjs'

const MODELS = ['claude-sonnet-4-5-20250929', 'gpt-5-codex', 'claude-opus-4-5-20251101', 'custom:GLM-4.6-[Z.AI]-0']

const rng = (seed) => makeRng(seed).next

export function generate(root, { sessions, seed = 1, end }) {
  const rand = rng(seed)
  const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1))
  const endMs = Date.parse(end)
  for (let s = 0; s < sessions; s++) {
    const hex = (n) => Array.from({ length: n }, () => int(0, 15).toString(16)).join('')
    const id = `${hex(8)}-${hex(4)}-4${hex(3)}-8${hex(3)}-${hex(12)}`
    const cwd = `/home/bench/p${s % 7}`
    const dir = path.join(root, cwd.replace(/\//g, '-'))
    fs.mkdirSync(dir, { recursive: true })
    const ts = new Date(endMs - int(1, 30 * 86400) * 1000).toISOString()
    const model = MODELS[int(0, MODELS.length - 1)]
    const tokenUsage = { inputTokens: int(1000, 90000), outputTokens: int(500, 20000) }
    Object.assign(tokenUsage, { cacheCreationTokens: int(0, 60000), cacheReadTokens: int(0, 900000) })
    tokenUsage.thinkingTokens = model.startsWith('custom:') ? 0 : int(0, 4000)
    const providerLock = model.startsWith('gpt')
      ? 'openai'
      : model.startsWith('custom:')
        ? 'generic-chat-completion-api'
        : 'anthropic'
    const settings = { assistantActiveTimeMs: int(1000, 900000), model, providerLock }
    Object.assign(settings, { providerLockTimestamp: ts, tokenUsage })
    fs.writeFileSync(path.join(dir, `${id}.settings.json`), JSON.stringify(settings, null, 2))
    const lines = [{ type: 'session_start', id, title: 'bench', owner: 'bench', version: 2, cwd }]
    for (let i = 0, n = int(2, 10); i < n; i++)
      lines.push({ type: 'message', id: `${id}-${i}`, timestamp: ts, message: { role: i % 2 ? 'assistant' : 'user' } })
    fs.writeFileSync(path.join(dir, `${id}.jsonl`), lines.map((l) => `${JSON.stringify(l)}\n`).join(''))
  }
  return { env: { DROID_SESSIONS_DIR: root }, files: sessions, records: sessions }
}
