/** A machine of its own for CLI tests: a home, a store and only the given sources, under `root/name`. */
import fs from 'node:fs'
import path from 'node:path'
import { FIXTURES, isolatedEnv } from './cli.js'

export interface Machine {
  name: string
  dir: string
  /** USAGE_LEDGER_HOME. */
  store: string
  /** The store's repository. */
  gitdir: string
  env: Record<string, string | undefined>
}

export interface MachineOptions {
  /** USAGE_LEDGER_DEVICE_ID; without it, init makes one up. */
  id?: string
  /** Copies of fixtures/claude, fixtures/codex. */
  sources?: ReadonlyArray<'claude' | 'codex'>
  /** Variables over isolatedEnv's (the token, the clock, …). */
  env?: Record<string, string | undefined>
}

export function machine(root: string, name: string, o: MachineOptions = {}): Machine {
  const dir = path.join(root, name)
  fs.mkdirSync(path.join(dir, 'home'), { recursive: true })
  for (const s of o.sources ?? []) fs.cpSync(path.join(FIXTURES, s), path.join(dir, s), { recursive: true })
  const env = isolatedEnv(dir, o.id === undefined ? o.env : { USAGE_LEDGER_DEVICE_ID: o.id, ...o.env })
  const store = env.USAGE_LEDGER_HOME!
  return { name, dir, store, gitdir: path.join(store, 'repo.git'), env }
}
