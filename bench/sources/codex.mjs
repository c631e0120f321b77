// A generated Codex home for the source benchmarks (bench/run.mjs S1, S2): rollout files in the
// format of fixtures/FORMATS.md §2, `sessions/YYYY/MM/DD/rollout-<ts>-<id>.jsonl`, each a
// `session_meta`, turns of `turn_context`, messages, tool calls and `token_count` events that
// carry the running total and the turn's last usage (some re-emitted unchanged, as Codex does).
//
//   generate(root, { sessions, seed, end }) → { env: { CODEX_HOME: root }, files, records }
//
// `records`: the token_count events that advance a session's total (what each reader counts).
// Deterministic: the same options give the same tree.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { makeRng } from '../generate.mjs'

const MODELS = ['gpt-5-codex', 'gpt-5-codex', 'gpt-5']
const WORDS =
  'the invoice job query index cache retry timeout worker batch render page stream buffer config route handler test'.split(
    ' ',
  )

export function generate(root, { sessions = 20, seed = 42, end = '2026-11-20' } = {}) {
  const rng = makeRng(seed ^ 0xc0de)
  const endMs = Date.parse(`${end}T23:59:59Z`)
  const text = (n) => Array.from({ length: n }, () => rng.pick(WORDS)).join(' ')
  let records = 0
  for (let s = 0; s < sessions; s++) {
    let t = endMs - rng.int(0, 30 * 86_400_000)
    const id = rng.uuid()
    const iso = () => new Date(t).toISOString()
    const day = iso().slice(0, 10)
    const cwd = `/home/ana/src/${rng.pick(WORDS)}-${rng.int(1, 9)}`
    const lines = []
    const line = (type, payload) => lines.push(JSON.stringify({ timestamp: iso(), type, payload }))
    line('session_meta', {
      id,
      timestamp: iso(),
      cwd,
      originator: 'codex_cli_rs',
      cli_version: '0.121.0',
      source: 'cli',
    })
    const total = {
      input_tokens: 0,
      cached_input_tokens: 0,
      output_tokens: 0,
      reasoning_output_tokens: 0,
      total_tokens: 0,
    }
    const tokenCount = (last) =>
      line('event_msg', {
        type: 'token_count',
        info: { total_token_usage: { ...total }, last_token_usage: last, model_context_window: 272000 },
        rate_limits: { primary: { used_percent: rng.int(1, 90), window_minutes: 300 } },
      })
    const model = rng.pick(MODELS)
    for (let turn = rng.int(3, 12); turn > 0; turn--) {
      t += rng.int(5_000, 600_000)
      line('turn_context', { turn_id: rng.uuid(), cwd, model, effort: 'medium', summary: 'auto' })
      line('event_msg', { type: 'user_message', message: text(rng.int(5, 40)), images: [] })
      for (let step = rng.int(1, 4); step > 0; step--) {
        t += rng.int(1_000, 60_000)
        line('response_item', {
          type: 'function_call',
          name: 'shell',
          arguments: JSON.stringify({ command: ['bash', '-lc', text(6)] }),
        })
        line('response_item', { type: 'function_call_output', output: text(rng.int(50, 400)) })
        const input = rng.int(2_000, 40_000)
        const cached = Math.floor(input * rng.next() * 0.9)
        const output = rng.int(50, 3_000)
        const reasoning = Math.floor(output * rng.next() * 0.7)
        const last = {
          input_tokens: input,
          cached_input_tokens: cached,
          output_tokens: output,
          reasoning_output_tokens: reasoning,
          total_tokens: input + output,
        }
        for (const k of Object.keys(total)) total[k] += last[k]
        tokenCount(last)
        records++
        if (rng.chance(0.2)) tokenCount(last) // re-emitted unchanged
      }
      line('response_item', { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: text(60) }] })
    }
    const dir = join(root, 'sessions', ...day.split('-'))
    mkdirSync(dir, { recursive: true })
    const stamp = new Date(Date.parse(JSON.parse(lines[0]).timestamp)).toISOString().slice(0, 19).replaceAll(':', '-')
    writeFileSync(join(dir, `rollout-${stamp}-${id}.jsonl`), `${lines.join('\n')}\n`)
  }
  return { env: { CODEX_HOME: root }, files: sessions, records }
}
