/** `verify [--device D] [--full] [--transcript DIR]`: the integrity checks of DESIGN §8. */
import fs from 'node:fs'
import path from 'node:path'
import { verifyStore } from '../app/query/verify.js'
import { writeFileAtomic } from '../store/fsutil.js'
import { Store } from '../store/store.js'
import type { VerifyResult } from '../verify/verify.js'
import { hasErrors } from '../verify/findings.js'
import { out, say, type CommandContext, type Outcome, type CommandSpec, list, optional } from './context.js'
import { plural } from '../text.js'

export interface VerifyOptions {
  device: string[]
  full: boolean
  /** Write a per-record fingerprint file per device here (to diff two machines). */
  transcript?: string
}

const TRANSCRIPT_HEADER =
  '# usage-ledger verify transcript v1: id\tsha256(canonical line)[0:16]\tts\tmodel\tinput\toutput\tcacheWrite\tcacheRead\n'

export async function verify(ctx: CommandContext, opts: VerifyOptions): Promise<Outcome> {
  const store = Store.open(ctx.env, { home: ctx.global.home, git: ctx.global.git, repo: ctx.global.repo })
  try {
    const result = await verifyStore(store, {
      device: opts.device,
      full: opts.full,
      fingerprints: Boolean(opts.transcript),
      clone: Boolean(ctx.global.repo),
    })
    if (opts.transcript) writeTranscripts(ctx, opts.transcript, result)
    if (ctx.global.json) out(ctx, JSON.stringify(toJson(result)))
    else printResult(ctx, result)
    return hasErrors(result.findings) ? 'integrity' : 'ok'
  } finally {
    await store.close()
  }
}

function toJson(r: VerifyResult) {
  return {
    schema: 'usage-ledger/verify@1',
    ok: !hasErrors(r.findings),
    mode: r.full ? 'full' : 'default',
    merged: { tree: r.mergedTree },
    devices: r.devices.map(({ fingerprints: _f, ...d }) => d),
    findings: r.findings,
  }
}

function printResult(ctx: CommandContext, r: VerifyResult): void {
  const lines: string[] = [`merged tree ${r.mergedTree ?? '(no devices)'}`]
  for (const d of r.devices) {
    const c = d.checked
    const scope =
      d.from === d.head
        ? 'unchanged since last proof'
        : `${plural(c.commits, 'commit')}, ${plural(c.parts, 'part')}, ${plural(c.records, 'record')} checked${d.from ? ` since ${d.from.slice(0, 12)}` : ''}`
    lines.push(`${d.id} ${d.name ?? ''}`.trimEnd())
    lines.push(
      `  head ${d.head}  tree ${d.tree ?? '(none)'}  ${d.records === null ? '? records' : plural(d.records, 'record')}; ${scope}; index ${d.index}`,
    )
    for (const f of r.findings.filter((x) => x.device === d.id)) lines.push(`  ${formatFinding(f)}`)
  }
  const listed = new Set(r.devices.map((d) => d.id))
  for (const f of r.findings.filter((x) => !listed.has(x.device))) lines.push(`${f.device}\n  ${formatFinding(f)}`)
  const errors = r.findings.filter((f) => f.severity === 'error').length
  const warnings = r.findings.length - errors
  lines.push(
    errors
      ? `FAILED: ${plural(errors, 'error')}, ${plural(warnings, 'warning')} (${r.full ? 'full' : 'default'} check)`
      : `ok: ${plural(r.devices.length, 'device')} verified (${r.full ? 'full' : 'default'} check)${warnings ? `, ${plural(warnings, 'warning')}` : ''}`,
  )
  out(ctx, lines.join('\n'))
}

function formatFinding(f: VerifyResult['findings'][number]): string {
  const where = [
    f.path ? f.path + (f.line ? `:${f.line}` : '') : null,
    f.commit ? `commit ${f.commit.slice(0, 12)}` : null,
  ]
    .filter(Boolean)
    .join(', ')
  return `${f.severity} ${f.code}: ${f.detail}${where ? ` [${where}]` : ''}`
}

function writeTranscripts(ctx: CommandContext, dir: string, r: VerifyResult): void {
  const abs = path.resolve(ctx.env.cwd, dir)
  fs.mkdirSync(abs, { recursive: true })
  for (const d of r.devices)
    writeFileAtomic(
      path.join(abs, `${d.id}.tsv`),
      TRANSCRIPT_HEADER + (d.fingerprints ?? []).map((l) => `${l}\n`).join(''),
    )
  say(
    ctx,
    `transcripts of ${plural(r.devices.length, 'device')} written to ${abs}; diff them against another machine's`,
  )
}

export const command: CommandSpec<VerifyOptions> = {
  options: {
    device: {
      type: 'string',
      array: true,
      default: [],
      describe: 'only these devices (id, unique id prefix, name, or "this")',
    },
    full: {
      type: 'boolean',
      default: false,
      describe: 're-read everything, not only what changed since the last proof',
    },
    transcript: {
      type: 'string',
      describe: 'write a per-record fingerprint file per device into this directory (diff two machines)',
    },
  },
  parse: (a) => ({ device: list(a.device), full: Boolean(a.full), transcript: optional(a.transcript) }),
  readsEverything: (o) => o.full || o.transcript !== undefined,
  run: verify,
}
