// OpenClaw transcripts for the backfill benchmark: `<root>/agents/<agent>/sessions/<id>.jsonl`
// (pi's session lines: a header, a `model_change`, user and assistant messages whose usage is
// pi-ai's and whose model the `model_change` names); every third session is a `/reset` archive
// `<id>.jsonl.reset.<ts>`. Deterministic from `seed`; OPENCLAW_DIR points at `root`.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createHash } from 'node:crypto'

const MODELS = [
  ['anthropic', 'claude-opus-4-5'],
  ['anthropic', 'claude-sonnet-4-5'],
  ['openai-codex', 'gpt-5.2'],
]
const DAY = 86_400_000

export function generate(root, { sessions, seed = 42, end = '2026-11-20' }) {
  let s = seed >>> 0
  const rnd = (n) => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) % n
  const hex = (k, n) => createHash('sha256').update(`openclaw/${seed}/${k}`).digest('hex').slice(0, n)
  const uuid = (k) => {
    const h = hex(k, 32)
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`
  }
  let records = 0
  for (let i = 0; i < sessions; i++) {
    const agent = ['main', 'ops', 'research'][i % 3]
    const id = uuid(`s${i}`)
    let t = Date.parse(`${end}T00:00:00Z`) - rnd(30) * DAY - rnd(DAY)
    const [provider, model] = MODELS[rnd(3)]
    const at = (ms) => new Date(ms).toISOString()
    const lines = [
      { type: 'session', version: 3, id, timestamp: at(t), cwd: `/home/bench/.openclaw/workspace-${agent}` },
      { type: 'model_change', id: hex(`s${i}m`, 8), parentId: null, timestamp: at(t + 1), provider, modelId: model },
    ]
    let parentId = lines[1].id
    for (let r = 0, n = 3 + rnd(10); r < n; r++) {
      t += 5_000 + rnd(120_000)
      const user = { type: 'message', id: hex(`s${i}u${r}`, 8), parentId, timestamp: at(t) }
      user.message = { role: 'user', content: [{ type: 'text', text: 'go on' }], timestamp: t }
      const input = 1 + rnd(3_000),
        output = 50 + rnd(2_000),
        cacheRead = rnd(120_000),
        cacheWrite = rnd(10_000)
      const usage = { input, output, cacheRead, cacheWrite, totalTokens: input + output + cacheRead + cacheWrite }
      usage.cost = { input: 0, output: 0, cacheRead: 0, cacheWrite: 0, total: (input * 5 + output * 25) / 1e6 }
      const message = {
        role: 'assistant',
        content: [{ type: 'text', text: 'ok' }],
        usage,
        stopReason: 'stop',
        timestamp: t + 10,
      }
      const reply = {
        type: 'message',
        id: hex(`s${i}a${r}`, 8),
        parentId: user.id,
        timestamp: at(t + 3_000 + rnd(20_000)),
        message,
      }
      lines.push(user, reply)
      parentId = reply.id
      records++
    }
    const dir = join(root, 'agents', agent, 'sessions')
    mkdirSync(dir, { recursive: true })
    const name = i % 3 === 2 ? `${id}.jsonl.reset.${at(t + 60_000).replace(/:/g, '-')}` : `${id}.jsonl`
    writeFileSync(join(dir, name), `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`)
  }
  return { env: { OPENCLAW_DIR: root }, files: sessions, records }
}
