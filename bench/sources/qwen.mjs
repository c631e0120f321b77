// Qwen Code chats for the backfill benchmark: `<root>/projects/<project>/chats/<sessionId>.jsonl`,
// one user record and one assistant record (OpenAI-path usageMetadata: cached inside the prompt)
// per turn. Deterministic from `seed`; QWEN_DATA_DIR points at `root`.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createHash } from 'node:crypto'

const MODELS = ['qwen3-coder-plus', 'qwen3-coder-flash', 'qwen3-max']
const DAY = 86_400_000

export function generate(root, { sessions, seed = 42, end = '2026-11-20' }) {
  let s = seed >>> 0
  const rnd = (n) => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) % n
  const uuid = (k) => {
    const h = createHash('sha256').update(`qwen/${seed}/${k}`).digest('hex')
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`
  }
  let records = 0
  for (let i = 0; i < sessions; i++) {
    const cwd = `/home/ana/src/p${i % 7}`
    const sessionId = uuid(`s${i}`)
    let t = Date.parse(`${end}T00:00:00Z`) - rnd(30) * DAY - rnd(DAY)
    let parent = null
    const lines = []
    for (let r = 0, n = 3 + rnd(10); r < n; r++) {
      const base = { sessionId, cwd, version: '0.9.2', gitBranch: 'main' }
      const u = {
        uuid: uuid(`s${i}u${r}`),
        parentUuid: parent,
        ...base,
        timestamp: new Date((t += 5_000 + rnd(60_000))).toISOString(),
        type: 'user',
        message: { role: 'user', parts: [{ text: 'go on' }] },
      }
      const prompt = 8_000 + rnd(40_000),
        cached = rnd(2) ? Math.floor(prompt * 0.8) : 0
      const cand = 50 + rnd(2_000),
        model = MODELS[rnd(3)],
        thoughts = model === 'qwen3-max' ? rnd(cand) : 0
      const usageMetadata = {
        promptTokenCount: prompt,
        candidatesTokenCount: cand,
        thoughtsTokenCount: thoughts,
        totalTokenCount: prompt + cand,
        cachedContentTokenCount: cached,
      }
      const a = {
        uuid: uuid(`s${i}a${r}`),
        parentUuid: u.uuid,
        ...base,
        timestamp: new Date((t += 2_000 + rnd(60_000))).toISOString(),
        type: 'assistant',
        message: { role: 'model', parts: [{ text: 'ok' }] },
        usageMetadata,
        model,
      }
      lines.push(u, a)
      parent = a.uuid
      records++
    }
    const dir = join(root, 'projects', cwd.replace(/[^a-zA-Z0-9]/g, '-'), 'chats')
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, `${sessionId}.jsonl`), `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`)
  }
  return { env: { QWEN_DATA_DIR: root }, files: sessions, records }
}
