/** Choosing a backend: `auto` = system when a working `git` is on PATH, else iso. */
import fs from 'node:fs'
import path from 'node:path'
import type { BackendName, GitBackend } from './backend.js'
import { SystemBackend } from './system.js'

import type { BackendChoice } from './choice.js'

let systemGitWorks: boolean | undefined
/** An executable `git` on PATH (checked on disk: spawning `git --version` cost every command a few ms). */
export function hasSystemGit(): boolean {
  systemGitWorks ??= (process.env.PATH ?? '').split(path.delimiter).some((dir) => {
    if (!dir) return false
    try {
      fs.accessSync(path.join(dir, process.platform === 'win32' ? 'git.exe' : 'git'), fs.constants.X_OK)
      return true
    } catch {
      return false
    }
  })
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
