// A generated Claude Code config dir for the source benchmarks (bench/run.mjs S1, S2): the tree of
// bench/generate.mjs, `sessions` transcript files of 100 responses each on average.
//
//   generate(root, { sessions, seed, end }) → { env: { CLAUDE_CONFIG_DIR: root }, files, records }
import { generate as generateTree } from '../generate.mjs'

export function generate(root, { sessions = 20, seed = 42, end = '2026-11-20' } = {}) {
  const meta = generateTree({ out: root, files: sessions, responses: sessions * 100, seed, end })
  return { env: { CLAUDE_CONFIG_DIR: root }, files: meta.files, records: meta.totals.records }
}
