// Kilo CLI data directories for the benchmarks: OpenCode's generator (opencode.mjs) writing
// <root>/kilo.db, Kilo's database name, moved by KILO_DATA_DIR.
import { generateFamily } from './opencode.mjs'

export const generate = (root, opts) => generateFamily(root, 'kilo.db', 'KILO_DATA_DIR', opts)
