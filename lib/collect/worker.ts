/** The entry of a parse worker (lib/collect/parallel.ts): one file per message, its result back. */
import { parentPort } from 'node:worker_threads'
import { FILE_SOURCES } from './index.js'
import { parseJob, type ParseJob } from './parallel.js'
import type { LinesSource } from './types.js'

parentPort?.on('message', (job: ParseJob) => {
  const source = FILE_SOURCES.find((s) => s.name === job.source) as LinesSource
  parentPort!.postMessage(parseJob(source, job))
})
