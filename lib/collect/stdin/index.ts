/**
 * `record --stdin --source NAME`: records in schema v1 from any other tool (snake_case token
 * names accepted). One bad line rejects the whole batch, listing every bad line, so a
 * half-imported batch never has to be untangled.
 */
import { inputError } from '../../errors.js'
import {
  canonicalLine,
  normaliseTs,
  recordId,
  toRecord,
  validateRecord,
  type LedgerRecord,
} from '../../ledger/record.js'
import type { Batch } from '../types.js'

const ALIASES: Record<string, keyof LedgerRecord> = {
  input_tokens: 'input',
  output_tokens: 'output',
  cache_creation_input_tokens: 'cacheWrite',
  cache_write_tokens: 'cacheWrite',
  cache_write: 'cacheWrite',
  cache_read_input_tokens: 'cacheRead',
  cache_read_tokens: 'cacheRead',
  cache_read: 'cacheRead',
  cache_write_1h: 'cacheWrite1h',
  reasoning_tokens: 'reasoning',
  reasoning_output_tokens: 'reasoning',
  cost_usd: 'costUSD',
  timestamp: 'ts',
}

const TOKEN_FIELDS = ['input', 'output', 'cacheWrite', 'cacheRead'] as const

/** Turns one input line into a record, or the problems that reject it. */
export function stdinRecord(line: string, source: string): { record?: LedgerRecord; problems: string[] } {
  let o: unknown
  try {
    o = JSON.parse(line)
  } catch {
    return { problems: ['not valid JSON'] }
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return { problems: ['not a JSON object'] }
  const raw: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(o)) raw[ALIASES[k] ?? k] = v
  if (raw.source !== undefined && raw.source !== source)
    return { problems: [`"source" is "${String(raw.source)}" but --source is "${source}"`] }
  if (raw.ts === undefined) return { problems: ['"ts" is missing'] }
  const ts = normaliseTs(raw.ts)
  if (!ts) return { problems: [`"ts" ${JSON.stringify(raw.ts)} is not a date-time`] }
  if (!TOKEN_FIELDS.some((k) => raw[k] !== undefined))
    return { problems: ['no token counts (input, output, cacheWrite, cacheRead)'] }
  const candidate: Record<string, unknown> = { ...raw, v: raw.v ?? 1, ts, source, id: raw.id ?? '0'.repeat(32) }
  for (const k of TOKEN_FIELDS) candidate[k] ??= 0
  const problems = validateRecord(candidate)
  if (problems.length) return { problems }
  const record = toRecord(candidate)
  if (raw.id === undefined) record.id = recordId(source, canonicalLine({ ...record, id: '' }))
  return { record, problems: [] }
}

export function collectStdinText(text: string, source: string, batch: Batch): void {
  const bad: string[] = []
  const lines = text.split('\n')
  lines.forEach((line, i) => {
    if (!line.trim()) return
    const { record, problems } = stdinRecord(line.replace(/\r$/, ''), source)
    const future = record && batch.futureProblem(record.ts)
    if (future) bad.push(`  stdin line ${i + 1}: ${future}`)
    else if (record) batch.add(record)
    else bad.push(`  stdin line ${i + 1}: ${problems.join('; ')}`)
  })
  if (bad.length) {
    batch.clear()
    throw inputError(
      'BAD_STDIN',
      `${bad.length} bad line${bad.length > 1 ? 's' : ''} on stdin; nothing was recorded: fix them and send the batch again`,
      bad,
    )
  }
}

/**
 * The stdin source, registered like the file sources: its records are named by `--source`, so
 * its name here is only what `sources` lists.
 */
export const stdin = {
  name: 'stdin',
  title: 'any tool, through record --stdin --source NAME',
  kind: 'stdin',
  read: collectStdinText,
} as const

export async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = []
  for await (const c of stream) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer))
  return Buffer.concat(chunks).toString('utf8')
}
