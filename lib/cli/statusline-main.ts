/**
 * The statusline's own entry (bundled alone into dist/statusline.cjs, which bin/usage-ledger.js
 * runs for `usage-ledger statusline`): Claude Code starts it after every turn, so it skips yargs
 * and every module of the other commands. It takes the statusline's own options (`--home`,
 * `--format`, `--[no-]color`, `--quiet`, `--debug`); for anything else it answers null and the bin runs the
 * full CLI, which knows the same command (and `--refresh`, `--help`).
 */
import fs from 'node:fs'
import os from 'node:os'
import type { Env, Output } from '../env.js'
import { runStatusline, statuslineColor } from './statusline-run.js'

/**
 * The process' world as `processEnv` gives it (USAGE_LEDGER_NOW fixes the clock), without
 * node:tty (which loads node:net and the streams): the line goes out through write(2), and a
 * reader gone (EPIPE) is no error.
 */
function statuslineEnv(): Env {
  const fixedMs = process.env.USAGE_LEDGER_NOW ? Date.parse(process.env.USAGE_LEDGER_NOW) : Number.NaN
  const fd = (n: 1 | 2): Output => ({
    write(s: string) {
      const bytes = Buffer.from(s)
      try {
        for (let at = 0; at < bytes.length; ) at += fs.writeSync(n, bytes, at)
        return true
      } catch {
        return false
      }
    },
  })
  return {
    vars: process.env,
    now: Number.isFinite(fixedMs) ? () => new Date(fixedMs) : () => new Date(),
    userHome: process.env.HOME || os.homedir(),
    cwd: process.cwd(),
    platform: process.platform,
    hostname: os.hostname(),
    get stdin(): NodeJS.ReadableStream {
      return process.stdin
    },
    stdout: fd(1),
    stderr: fd(2),
    stderrIsTTY: false,
    stdoutIsTTY: false,
  }
}

export async function main(argv: string[], env: Env = statuslineEnv()): Promise<number | null> {
  if (argv[0] !== 'statusline') return null
  let home: string | undefined
  let format: string | undefined
  let color = true
  let debug = false
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!
    const value = (name: string) =>
      a === name ? argv[++i] : a.startsWith(`${name}=`) ? a.slice(name.length + 1) : null
    let v: string | null | undefined
    if (a === '--no-color' || a === '--color=false') color = false
    else if (a === '--debug') debug = true
    else if (a === '--color' || a === '--color=true' || a === '--quiet' || a === '-q') continue
    else if ((v = value('--home')) !== null) {
      if (v === undefined) return null
      home = v
    } else if ((v = value('--format')) !== null) {
      if (v === undefined) return null
      format = v
    } else return null
  }
  await runStatusline(env, { home, format, debug, color: statuslineColor(env, color && !env.vars.NO_COLOR) })
  return 0
}
