/**
 * fixtures/antigravity/: the conversations, written as protobuf by test/helpers/protobuf-encode.ts
 * and kept as SQL with the blobs as X'..' literals. test/collect/antigravity.test.ts checks that
 * the committed .sql files are exactly what this writes (UPDATE_FIXTURES=1 rewrites them), so the
 * hex is reproducible, and every row carries a comment saying what its blob holds.
 * Field numbers: docs/sources.md "antigravity".
 */
import { fBytes, fFixed32, fFixed64, fVarint, msg, sqlBlob, timestamp } from './protobuf-encode.js'

export interface UsageSpec {
  modelId?: number
  input?: number
  /** Field 3: the whole output, thinking included. */
  output?: number
  cacheWrite?: number
  cacheRead?: number
  thinking?: number
  visible?: number
  message?: string
  response?: string
  provider?: string
}

/** A ModelUsageStats, its fields in number order as protobuf writes them; zero counts are not written. */
export function usageBlob(u: UsageSpec): Buffer {
  const n = (no: number, v: number | undefined) => (v ? fVarint(no, v) : null)
  const s = (no: number, v: string | undefined) => (v ? fBytes(no, v) : null)
  return msg(
    n(1, u.modelId),
    n(2, u.input),
    n(3, u.output),
    n(4, u.cacheWrite),
    n(5, u.cacheRead),
    s(7, u.message),
    n(9, u.thinking),
    n(10, u.visible),
    s(11, u.response),
    s(12, u.provider),
  )
}

/** A RetryInfo: 1 its attempt number (unread), 2 its usage. */
const retryBlob = (attempt: number, u: UsageSpec) => msg(fVarint(1, attempt), fBytes(2, usageBlob(u)))

export interface StepSpec {
  ts?: string
  /** Field 8 (created) or 1 (the older place); ccusage 20.0.24 reads 8, then 1. */
  tsField?: 1 | 8
  usage?: UsageSpec
  retries?: UsageSpec[]
  modelName?: string
  modelId?: number
}

/**
 * A CortexStepMetadata. Beside the fields read it carries some the reader must skip: 3 a source
 * enum, 5 an execution id string, 14 a fixed64 and 31 a fixed32 (numbers illustrative).
 */
export function stepBlob(s: StepSpec): Buffer {
  const info =
    s.modelName || s.modelId
      ? msg(s.modelId ? fVarint(1, s.modelId) : null, fVarint(7, 24), s.modelName ? fBytes(12, s.modelName) : null)
      : null
  return msg(
    s.ts && (s.tsField ?? 8) === 1 ? fBytes(1, timestamp(s.ts)) : null,
    fVarint(3, 17),
    fBytes(5, 'exec-7f3a'),
    s.ts && (s.tsField ?? 8) === 8 ? fBytes(8, timestamp(s.ts)) : null,
    s.usage ? fBytes(9, usageBlob(s.usage)) : null,
    fFixed64(14, 0x0102030405060708n),
    info ? fBytes(24, info) : null,
    ...(s.retries ?? []).map((r, i) => fBytes(28, retryBlob(i + 1, r))),
    fFixed32(31, 7),
  )
}

export interface GenSpec {
  ts?: string
  usage?: UsageSpec
  retries?: UsageSpec[]
  /** Field 19, the response model. */
  model?: string
  /** Field 21, the display name. */
  display?: string
  modelId?: number
}

/**
 * A gen_metadata blob: the wrapper's field 1 is the ChatModelMetadata; its field 2 is the
 * request (here a stand-in prompt) and 3 a request-shaped sibling naming a model, both skipped.
 */
export function genBlob(g: GenSpec): Buffer {
  const chat = msg(
    g.modelId ? fVarint(3, g.modelId) : null,
    g.usage ? fBytes(4, usageBlob(g.usage)) : null,
    g.ts ? fBytes(9, fVarint(1, 2), fBytes(4, timestamp(g.ts))) : null,
    ...(g.retries ?? []).map((r, i) => fBytes(17, retryBlob(i + 1, r))),
    g.model ? fBytes(19, g.model) : null,
    g.display ? fBytes(21, g.display) : null,
  )
  return msg(
    fBytes(1, chat),
    fBytes(2, '<USER_REQUEST>\nfix the failing test\n</USER_REQUEST>'),
    fBytes(3, fBytes(28, 'gemini-3-pro-high')),
  )
}

/** A trajectory_metadata_blob: 1 the workspace URI (unread), 2 the conversation's Timestamp. */
export const trajectoryBlob = (ts: string, workspace = 'file:///home/ana/src/api') =>
  msg(fBytes(1, workspace), fBytes(2, timestamp(ts)))

/** The tables as observed in Antigravity's conversation databases (fixtures/README.md). */
export const SCHEMA = `CREATE TABLE steps (idx INTEGER PRIMARY KEY, step_type INTEGER, status INTEGER, has_subtrajectory INTEGER, metadata BLOB, error_details BLOB, permissions BLOB, task_details BLOB, render_info BLOB, step_payload BLOB, step_format INTEGER);
CREATE TABLE gen_metadata (idx INTEGER PRIMARY KEY, data BLOB, size INTEGER);
CREATE TABLE trajectory_metadata_blob (id TEXT PRIMARY KEY, data BLOB);
`

const describeUsage = (u: UsageSpec) =>
  [
    u.response && `response ${u.response}`,
    u.provider && `provider ${u.provider}`,
    u.message && `message ${u.message}`,
    u.modelId && `model id ${u.modelId}`,
    `in ${u.input ?? 0}`,
    u.output !== undefined && `out ${u.output}`,
    u.thinking && `thinking ${u.thinking}`,
    u.visible && `visible ${u.visible}`,
    u.cacheWrite && `cw ${u.cacheWrite}`,
    u.cacheRead && `cr ${u.cacheRead}`,
  ]
    .filter(Boolean)
    .join(', ')

export type Row =
  | { table: 'steps'; idx: number; type: number; status: number; step?: StepSpec; note?: string }
  | { table: 'gen_metadata'; idx: number; gen: GenSpec; note?: string }
  | { table: 'trajectory_metadata_blob'; ts: string; note?: string }

/** The INSERT of a row, with a comment of what its blob holds. */
export function rowSql(r: Row): string {
  if (r.table === 'trajectory_metadata_blob')
    return `-- conversation created ${r.ts}\nINSERT INTO trajectory_metadata_blob (id, data) VALUES ('main', ${sqlBlob(trajectoryBlob(r.ts))});\n`
  if (r.table === 'gen_metadata') {
    const g = r.gen
    const blob = genBlob(g)
    const what = [
      `gen ${r.idx}:`,
      g.ts ? `at ${g.ts}` : 'no time',
      g.model && `model "${g.model}"`,
      g.display && `display "${g.display}"`,
      g.modelId && `model id ${g.modelId}`,
      g.usage && `usage {${describeUsage(g.usage)}}`,
      ...(g.retries ?? []).map((u) => `retry {${describeUsage(u)}}`),
      r.note,
    ]
      .filter(Boolean)
      .join(' ')
    return `-- ${what}\nINSERT INTO gen_metadata (idx, data, size) VALUES (${r.idx}, ${sqlBlob(blob)}, ${blob.length});\n`
  }
  const s = r.step
  const what = [
    `step ${r.idx} (type ${r.type}, status ${r.status}):`,
    s ? (s.ts ? `at ${s.ts} (field ${s.tsField ?? 8})` : 'no time') : 'metadata NULL',
    s?.modelName && `model "${s.modelName}"`,
    s?.modelId && `model id ${s.modelId}`,
    s?.usage && `usage {${describeUsage(s.usage)}}`,
    ...(s?.retries ?? []).map((u) => `retry {${describeUsage(u)}}`),
    r.note,
  ]
    .filter(Boolean)
    .join(' ')
  return `-- ${what}\nINSERT INTO steps (idx, step_type, status, has_subtrajectory, metadata) VALUES (${r.idx}, ${r.type}, ${r.status}, 0, ${s ? sqlBlob(stepBlob(s)) : 'NULL'});\n`
}

const GEN_NOTE =
  'Generated by test/helpers/antigravity-fixture.ts (fixtures/README.md "antigravity"); do not edit by hand.'

export function databaseSql(title: string, rows: Row[]): string {
  return `-- ${title}\n-- ${GEN_NOTE}\n${SCHEMA}${rows.map(rowSql).join('')}`
}

// The calls (fixtures/README.md "antigravity" has the table and the sums).
const A1: UsageSpec = {
  input: 4050,
  output: 375,
  cacheRead: 16275,
  message: 'msg-a1',
  thinking: 351,
  visible: 24,
  response: 'resp-a1',
  provider: 'req_a1',
}
const A2: UsageSpec = {
  input: 2200,
  output: 610,
  cacheWrite: 1800,
  cacheRead: 20100,
  message: 'msg-a2',
  visible: 610,
  response: 'resp-a2',
}
const R1: UsageSpec = { input: 2150, message: 'msg-a2-r1', response: 'resp-a2-failed' }
const A3: UsageSpec = {
  modelId: 1071,
  input: 3100,
  output: 100,
  cacheRead: 1024,
  thinking: 30,
  visible: 80,
  response: 'resp-a3',
}
const A4: UsageSpec = { input: 1500, output: 420, cacheRead: 18000, response: 'resp-a4' }
const A5: UsageSpec = { response: 'resp-a5' }
const A6: UsageSpec = { input: 900, thinking: 64, visible: 200, provider: 'req_a6' }
const A7: UsageSpec = { input: 100, output: 10 }
const B1: UsageSpec = { input: 5200, output: 140, cacheRead: 12288, thinking: 100, visible: 40, response: 'resp-b1' }
const B2: UsageSpec = { input: 800, output: 60, visible: 60, response: 'resp-b2' }
const B3: UsageSpec = { input: 6000, output: 900, cacheWrite: 4096, thinking: 300, visible: 600, response: 'resp-b3' }
const C1: UsageSpec = {
  input: 7000,
  output: 300,
  cacheWrite: 2048,
  cacheRead: 30000,
  visible: 300,
  response: 'resp-c1',
}

export const CONVERSATION_A = '0b6f1c3e-2a4d-4e8b-9c1f-5d7a3b2e6f10'
export const CONVERSATION_B = '7d1e9a42-6c3b-4f5e-8a2d-1b0c9e8f7a63'
export const CONVERSATION_C = '5a9c3d2e-8f1b-4c6a-9e7d-2b4f6a8c0e13'

/** Relative path under fixtures/antigravity → its SQL. */
export function fixtureFiles(): Record<string, string> {
  const pro = 'Gemini 3 Pro (High)'
  return {
    [`conversations/${CONVERSATION_A}.db.sql`]: databaseSql(`Antigravity CLI conversation ${CONVERSATION_A}`, [
      { table: 'trajectory_metadata_blob', ts: '2026-11-16T09:13:58.000Z' },
      {
        table: 'steps',
        idx: 0,
        type: 14,
        status: 3,
        step: { ts: '2026-11-16T09:13:58.250Z' },
        note: '(the user input: no usage)',
      },
      {
        table: 'steps',
        idx: 1,
        type: 15,
        status: 3,
        step: { ts: '2026-11-16T09:14:07.402Z', usage: A1, modelName: pro },
      },
      {
        table: 'steps',
        idx: 2,
        type: 15,
        status: 3,
        step: { ts: '2026-11-16T09:20:41.118Z', usage: A2, retries: [R1], modelName: pro },
        note: '(the failed attempt before it)',
      },
      {
        table: 'steps',
        idx: 3,
        type: 15,
        status: 3,
        step: { ts: '2026-11-16T23:58:41.250Z', usage: A3 },
        note: '(named by its model id only)',
      },
      {
        table: 'steps',
        idx: 4,
        type: 15,
        status: 3,
        step: { ts: '2026-11-17T00:04:10.004Z', tsField: 1, usage: A4 },
        note: '(time in field 1; model: the last gen_metadata names)',
      },
      {
        table: 'steps',
        idx: 5,
        type: 15,
        status: 3,
        step: { ts: '2026-11-17T00:04:30.000Z', usage: A5, modelName: pro },
        note: '(no tokens: not a record)',
      },
      {
        table: 'steps',
        idx: 6,
        type: 15,
        status: 3,
        step: { ts: '2026-11-17T00:05:02.700Z', usage: A6 },
        note: '(no field 3: output = thinking + visible)',
      },
      {
        table: 'steps',
        idx: 7,
        type: 15,
        status: 3,
        step: { ts: '2026-11-17T00:06:00.000Z', usage: A7 },
        note: '(no id at all)',
      },
      { table: 'steps', idx: 8, type: 15, status: 1, note: '(still running: metadata not written yet)' },
      {
        table: 'gen_metadata',
        idx: 0,
        gen: { ts: '2026-11-16T09:14:03.000Z', usage: A1, model: 'gemini-3-pro-high' },
        note: '(copy of step 1, sent earlier than the step was stamped)',
      },
      {
        table: 'gen_metadata',
        idx: 1,
        gen: { ts: '2026-11-16T09:20:39.500Z', usage: A2, retries: [R1], display: pro },
        note: '(copy of step 2)',
      },
    ]),
    [`conversations/${CONVERSATION_B}.db.sql`]: databaseSql(`Antigravity IDE conversation ${CONVERSATION_B}`, [
      { table: 'trajectory_metadata_blob', ts: '2026-11-17T14:29:55.000Z' },
      {
        table: 'steps',
        idx: 0,
        type: 14,
        status: 3,
        step: { ts: '2026-11-17T14:29:56.120Z' },
        note: '(the user input: no usage)',
      },
      {
        table: 'gen_metadata',
        idx: 0,
        gen: { ts: '2026-11-17T14:30:12.731Z', usage: B1, display: 'Gemini 3.6 Flash (High)' },
      },
      {
        table: 'gen_metadata',
        idx: 1,
        gen: { usage: B2 },
        note: "(no time: the conversation's; no model: the one named before)",
      },
      {
        table: 'gen_metadata',
        idx: 2,
        gen: { ts: '2026-11-18T10:00:50.777Z', usage: B3, modelId: 1026 },
        note: '(model id 1026 = MODEL_PLACEHOLDER_M26)',
      },
    ]),
    [`conversations/subagents/${CONVERSATION_C}.db.sql`]: databaseSql(
      `Antigravity sub-conversation ${CONVERSATION_C} of ${CONVERSATION_A}`,
      [
        { table: 'trajectory_metadata_blob', ts: '2026-11-16T09:20:30.000Z' },
        {
          table: 'gen_metadata',
          idx: 0,
          gen: { ts: '2026-11-16T09:20:39.500Z', usage: A2, model: 'gemini-3-pro-high' },
          note: "(the parent's call, copied)",
        },
        {
          table: 'gen_metadata',
          idx: 1,
          gen: { ts: '2026-11-18T10:01:35.480Z', usage: C1, model: 'gemini-3.6-flash' },
        },
      ],
    ),
  }
}
