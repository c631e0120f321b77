// Gemini CLI chats for the backfill benchmark: `<root>/<project>/chats/session-*.jsonl` as
// gemini-cli writes them (a metadata line; each gemini message appended twice, first without its
// tokens, then with them). Deterministic from `seed`; GEMINI_DATA_DIR points at `root`.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createHash } from 'node:crypto'

const MODELS = ['gemini-2.5-pro', 'gemini-2.5-flash', 'gemini-3-pro-preview']
const DAY = 86_400_000

export function generate(root, { sessions, seed = 42, end = '2026-11-20' }) {
  let s = seed >>> 0
  const rnd = (n) => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) % n
  const uuid = (k) => {
    const h = createHash('sha256').update(`gemini/${seed}/${k}`).digest('hex')
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`
  }
  let records = 0
  for (let i = 0; i < sessions; i++) {
    const project = `p${i % 7}`
    const id = uuid(`s${i}`)
    let t = Date.parse(`${end}T00:00:00Z`) - rnd(30) * DAY - rnd(DAY)
    const start = new Date(t).toISOString()
    const lines = [
      {
        sessionId: id,
        projectHash: uuid(project).replace(/-/g, ''),
        startTime: start,
        lastUpdated: start,
        kind: 'main',
      },
    ]
    for (let r = 0, n = 3 + rnd(10); r < n; r++) {
      t += 5_000 + rnd(120_000)
      const ts = new Date(t).toISOString()
      lines.push({ id: uuid(`s${i}u${r}`), timestamp: ts, type: 'user', content: [{ text: 'go on' }] })
      const input = 8_000 + rnd(40_000),
        cached = rnd(2) ? Math.floor(input * 0.8) : 0
      const output = 50 + rnd(2_000),
        thoughts = rnd(1_500)
      const msg = {
        id: uuid(`s${i}m${r}`),
        timestamp: ts,
        type: 'gemini',
        content: 'ok',
        thoughts: [],
        tokens: null,
        model: MODELS[rnd(3)],
      }
      lines.push(msg, {
        ...msg,
        tokens: { input, output, cached, thoughts, tool: 0, total: input + output + thoughts },
      })
      lines.push({ $set: { lastUpdated: ts } })
      records++
    }
    const dir = join(root, project, 'chats')
    mkdirSync(dir, { recursive: true })
    writeFileSync(
      join(dir, `session-${start.slice(0, 16).replace(/:/g, '-')}-${id.slice(0, 8)}.jsonl`),
      `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`,
    )
  }
  return { env: { GEMINI_DATA_DIR: root }, files: sessions, records }
}
