/**
 * A big backlog of `lines` files (a first `record` of a large tree) parsed on worker threads.
 * Workers read and parse whole files (lib/collect/worker.ts), each into a batch of its own, and
 * send back what it holds (Batch.take); the main thread folds the files' batches in the order
 * the single-thread path reads them (Batch.absorb), so the batch, the names and the cursors
 * come out exactly the same.
 */
import { createRequire } from 'node:module'
import os from 'node:os'
import type { Worker } from 'node:worker_threads'
import { collectSooner, type Env } from '../env.js'
import { LedgerError, type ErrorCode, type ErrorKind } from '../errors.js'
import { readLinesFile, settleFile, type FilesPlan } from './files.js'
import { Batch, type BatchPart, type LinesSource, type SourceCursors, type SourceFile } from './types.js'

/** Below this many new bytes a source is read on the main thread: starting workers costs more. */
export const WORKER_MIN_BYTES = 32 << 20
const MAX_WORKERS = 4
const QUEUED_PER_WORKER = 4
/** The young generation of a worker's heap, in MB (bench P1: 8 cut the peak by ~35 MB at no cost in time). */
const WORKER_YOUNG_MB = 8
/** `USAGE_LEDGER_WORKERS`: 0 never starts a worker; N > 0 starts N whatever the backlog (tests). */
export const WORKERS_VAR = 'USAGE_LEDGER_WORKERS'

/** How many workers read this plan: 0 for the main thread. */
export function workersFor(env: Env, source: { kind: string }, plan: FilesPlan): number {
  if (source.kind !== 'lines' || plan.work.length === 0) return 0
  const forced = env.vars[WORKERS_VAR]
  if (forced !== undefined && forced !== '') {
    const n = Number(forced)
    return Number.isInteger(n) && n > 0 ? Math.min(n, plan.work.length) : 0
  }
  if (plan.total < WORKER_MIN_BYTES) return 0
  const n = Math.min(os.availableParallelism(), MAX_WORKERS, plan.work.length)
  return n > 1 ? n : 0
}

export interface ParseJob {
  i: number
  source: string
  file: SourceFile
  from: number
  size: number
  ctx: unknown
  salt: string
  /** The run's clock (Batch), in ms. */
  now?: number
}

/** A thrown error as it crosses threads: a LedgerError's fields, or a system error's message, code and path. */
type JobError = { kind?: ErrorKind; code?: string; message: string; details?: string[]; path?: string }

export type ParseResult = { i: number; offset: number; ctx: unknown; part: BatchPart } | { i: number; error: JobError }

/** One file through its source on a worker, into a batch of its own with the run's clock. */
export function parseJob(source: LinesSource, job: ParseJob): ParseResult {
  const batch = new Batch(job.now === undefined ? undefined : new Date(job.now))
  try {
    const read = readLinesFile(source, job.file, job.from, job.size, job.ctx, batch, job.salt)
    return { i: job.i, offset: read.offset, ctx: read.ctx, part: batch.take() }
  } catch (e) {
    const err: JobError =
      e instanceof LedgerError
        ? { kind: e.kind, code: e.code, message: e.message, details: e.details }
        : {
            message: e instanceof Error ? e.message : String(e),
            code: (e as NodeJS.ErrnoException)?.code,
            path: (e as NodeJS.ErrnoException)?.path,
          }
    return { i: job.i, error: err }
  }
}

/** The bundle's worker beside dist/cli.cjs; from the sources (tests), the TypeScript entry. */
function workerEntry(): URL {
  const here = import.meta.url
  return here.endsWith('.cjs') ? new URL('./worker.cjs', here) : new URL('./worker.ts', here)
}

/**
 * Reads the plan's files on `workers` threads into `batch` and the plan's cursors, file by file
 * in plan order. A file whose parse throws fails the run as it does on the main thread.
 */
export function readInWorkers(
  source: LinesSource,
  plan: FilesPlan,
  cursors: SourceCursors,
  batch: Batch,
  salt: string,
  onBytes: (n: number) => void,
  workers: number,
): Promise<void> {
  const { work } = plan
  // Loaded only for a backfill: node:worker_threads costs a no-op `record` milliseconds. Not
  // import(): the bundle runs as a vm.Script (bin/usage-ledger.js), which has no dynamic import.
  const { Worker } = createRequire(import.meta.url)('node:worker_threads') as typeof import('node:worker_threads')
  collectSooner() // every isolate, the workers' too
  // A worker's young generation small: what it parses lives one file long, so a bigger one only
  // adds to the run's peak (V8's default, up to 48 MB per worker, cost about 40 MB of RSS here).
  const pool = Array.from(
    { length: workers },
    () => new Worker(workerEntry(), { resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_MB } }),
  )
  const results = new Map<number, ParseResult>()
  let sent = 0
  let applied = 0
  let settled = false
  return new Promise<void>((resolve, reject) => {
    const finish = (e?: unknown) => {
      if (settled) return
      settled = true
      for (const w of pool) void w.terminate()
      if (e === undefined) resolve()
      else reject(e)
    }
    const send = (w: Worker) => {
      if (sent >= work.length) return
      const i = sent++
      const { file, from, st, ctx } = work[i]!
      const job: ParseJob = { i, source: source.name, file, from, size: st.size, ctx, salt, now: batch.now?.getTime() }
      w.postMessage(job)
    }
    const applyInOrder = () => {
      for (let res = results.get(applied); res; res = results.get(applied)) {
        results.delete(applied)
        const w = work[applied++]!
        if ('error' in res) {
          throw revive(res.error)
        }
        batch.absorb(res.part)
        onBytes(w.st.size - w.from)
        settleFile(plan, cursors, w, { offset: res.offset, ctx: res.ctx })
      }
      if (applied === work.length) finish()
    }
    for (const w of pool) {
      w.on('message', (res: ParseResult) => {
        results.set(res.i, res)
        send(w)
        try {
          applyInOrder()
        } catch (e) {
          finish(e)
        }
      })
      w.on('error', finish)
      w.on('exit', (code) => {
        if (!settled) finish(new Error(`a parse worker stopped (exit code ${code})`))
      })
    }
    // A few files queued per worker (dealt in turn, so they finish about in plan order): on a
    // busy machine a worker must not wait for the main thread to be scheduled before each file.
    for (let k = 0; k < QUEUED_PER_WORKER; k++) for (const w of pool) send(w)
  })
}

function revive(e: JobError): Error {
  if (e.kind) return new LedgerError(e.kind, e.code as ErrorCode, e.message, e.details)
  return Object.assign(new Error(e.message), e.code ? { code: e.code } : {}, e.path ? { path: e.path } : {})
}
