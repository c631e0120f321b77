/** Choosing a backend: `auto` = system when a working `git` is on PATH, else iso. */
import { spawnSync } from 'node:child_process'
import type { BackendName, GitBackend } from './backend.js'
import { SystemBackend } from './system.js'

import type { BackendChoice } from './choice.js'

let systemGitWorks: boolean | undefined
export function hasSystemGit(): boolean {
  systemGitWorks ??= spawnSync('git', ['--version'], { stdio: 'ignore' }).status === 0
  return systemGitWorks
}

export async function openBackend(choice: BackendChoice, gitdir: string): Promise<GitBackend> {
  const name: BackendName = choice === 'auto' ? (hasSystemGit() ? 'system' : 'iso') : choice
  if (name === 'system') return new SystemBackend(gitdir)
  // isomorphic-git is only loaded when chosen; it costs start-up time otherwise.
  const { IsoBackend } = await import('./iso.js')
  return new IsoBackend(gitdir)
}

export type { GitBackend, TreeEntry, CommitInfo, Signature, BackendName } from './backend.js'
export { parseBackendChoice, type BackendChoice } from './choice.js'
