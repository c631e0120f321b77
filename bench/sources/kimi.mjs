// Kimi CLI / Kimi Code homes for the backfill benchmark: `sessions` sessions, each a
// sessions/<work dir>/<session>/wire.jsonl of StatusUpdate steps (Kimi CLI) or, every third one,
// sessions/<workspace>/<session>/agents/main/wire.jsonl of turn usage.records (Kimi Code), over
// the 30 days before `end`. Deterministic from `seed`.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { makeRng } from '../generate.mjs'

const DAY_MS = 86_400_000

export function generate(root, { sessions, seed = 42, end = '2026-11-20' }) {
  const next = makeRng(seed).next
  const rand = (n) => Math.floor(next() * n)
  const hex = (n) => Array.from({ length: n }, () => '0123456789abcdef'[rand(16)]).join('')
  const endMs = Date.parse(`${end}T00:00:00Z`)
  let records = 0
  for (let i = 0; i < sessions; i++) {
    const code = i % 3 === 2
    const dir = join(root, 'sessions', hex(32), `${hex(8)}-${hex(4)}-${hex(4)}-${hex(4)}-${hex(12)}`)
    const file = code ? join(dir, 'agents', 'main', 'wire.jsonl') : join(dir, 'wire.jsonl')
    let ms = endMs - (1 + rand(30)) * DAY_MS + rand(DAY_MS)
    const lines = [JSON.stringify({ type: 'metadata', protocol_version: code ? '1.4' : '1.3' })]
    for (let step = 0, n = 3 + rand(10); step < n; step++, records++) {
      ms += 2000 + rand(60_000)
      const [io, out, cr] = [200 + rand(8000), 20 + rand(1500), rand(4) ? 1024 * rand(40) : 0]
      lines.push(
        code
          ? JSON.stringify({
              type: 'usage.record',
              agentId: 'main',
              model: rand(2) ? 'kimi-code/kimi-for-coding' : 'kimi-code/k3',
              usage: { inputOther: io, output: out, inputCacheRead: cr, inputCacheCreation: 0 },
              usageScope: 'turn',
              time: ms,
            })
          : JSON.stringify({
              timestamp: ms / 1000,
              message: {
                type: 'StatusUpdate',
                payload: {
                  context_tokens: io + cr,
                  max_context_tokens: 262144,
                  token_usage: { input_other: io, output: out, input_cache_read: cr, input_cache_creation: 0 },
                  message_id: `chatcmpl-${hex(12)}`,
                  plan_mode: false,
                  mcp_status: null,
                },
              },
            }),
      )
    }
    mkdirSync(join(file, '..'), { recursive: true })
    writeFileSync(file, `${lines.join('\n')}\n`)
  }
  return { env: { KIMI_DATA_DIR: root }, files: sessions, records }
}
