/**
 * Limit readings waiting for a commit (DESIGN §6): `statusline` appends what Claude Code passed
 * it (no git on its path), `record` takes them into its commit. `state/limits/spool.ndjson`, one
 * reading v1 per line; a taker renames it to `taken-<pid>-<n>.ndjson` first, so readings appended
 * meanwhile wait for the next run, and removes the taken file after its commit. A kill in between
 * leaves the taken file for the next run; the writer drops a reading not newer than the device's
 * committed one, so nothing is doubled.
 */
import fs from 'node:fs'
import path from 'node:path'
import { parseReadingLine, readingLine, type LimitReading } from '../ledger/limits.js'

export const limitsSpoolDir = (state: string) => path.join(state, 'limits')
const spoolFile = (state: string) => path.join(limitsSpoolDir(state), 'spool.ndjson')

/** Appends readings (one write; a torn last line is skipped by the taker). No fsync: a reading lost in a crash is replaced by the next one. */
export function spoolReadings(state: string, readings: readonly LimitReading[]): void {
  if (!readings.length) return
  fs.mkdirSync(limitsSpoolDir(state), { recursive: true })
  fs.appendFileSync(spoolFile(state), readings.map((r) => `${readingLine(r)}\n`).join(''), { mode: 0o600 })
}

/** The spooled readings (the spool and any taken file a killed run left), newest last. */
export function spooledReadings(state: string): LimitReading[] {
  const out: LimitReading[] = []
  for (const file of spoolFiles(state)) out.push(...readSpoolFile(file))
  return out
}

/** What a `record` run takes: the readings, and `done()` to call once they are committed. */
export function takeSpooledReadings(state: string): { readings: LimitReading[]; done: () => void } {
  const dir = limitsSpoolDir(state)
  if (!fs.existsSync(dir)) return { readings: [], done: () => {} }
  const live = spoolFile(state)
  if (fs.existsSync(live)) {
    try {
      fs.renameSync(live, path.join(dir, `taken-${process.pid}-${Date.now()}.ndjson`))
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e
    }
  }
  const taken = spoolFiles(state).filter((f) => f !== live)
  const readings = taken.flatMap(readSpoolFile)
  return {
    readings,
    done: () => {
      for (const f of taken) fs.rmSync(f, { force: true })
    },
  }
}

function spoolFiles(state: string): string[] {
  const dir = limitsSpoolDir(state)
  let names: string[]
  try {
    names = fs.readdirSync(dir)
  } catch {
    return []
  }
  return names
    .filter((n) => n === 'spool.ndjson' || /^taken-\d+-\d+\.ndjson$/.test(n))
    .sort((a, b) => (a === 'spool.ndjson' ? 1 : b === 'spool.ndjson' ? -1 : a < b ? -1 : 1))
    .map((n) => path.join(dir, n))
}

function readSpoolFile(file: string): LimitReading[] {
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch {
    return []
  }
  const out: LimitReading[] = []
  for (const line of text.split('\n')) {
    if (!line) continue
    const p = parseReadingLine(line)
    if (p.kind === 'reading') out.push(p.reading)
  }
  return out
}
