/** `verify [--device D] [--full] [--transcript DIR]`: the integrity checks of DESIGN §8. */
import fs from 'node:fs'
import path from 'node:path'
import { usageError } from '../errors.js'
import { trustedHeads, supersededHeads } from '../app/sync/trust.js'
import { listQuarantined, quarantineLine, type Quarantine } from '../store/quarantine.js'
import type { GitBackend } from '../git/backend.js'
import { readIndexSources } from '../index/index.js'
import { DEVICE_ID_RE } from '../ledger/paths.js'
import { writeFileAtomic } from '../store/fsutil.js'
import { Store } from '../store/store.js'
import { saveVerified } from '../store/verified.js'
import { verifyLedger, type VerifyResult } from '../verify/verify.js'
import { finding, hasErrors } from '../verify/findings.js'
import { out, say, type CommandContext, type Outcome } from './context.js'
import { plural } from '../text.js'
import { resolveDevices } from './device-ref.js'
import { listDevices } from './devices.js'

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
    if (!store.initialized)
      throw usageError('NO_STORE', `no ledger at ${store.paths.home}; run usage-ledger record (or pass --repo CLONE)`)
    const git = await store.git()
    // A clone's heads moved by plain git are checked first; a head that fails is not verified.
    const trusted = await trustedHeads(git, store.paths, Boolean(ctx.global.repo), ctx.env.now())
    const heads = trusted.heads
    // Branches fetch refused to take (a rewrite): still checked against the witnesses.
    const refused = new Map<string, string>()
    for (const [ref, oid] of await git.listRefs('refs/remotes/origin/ledger/')) {
      const id = ref.slice('refs/remotes/origin/ledger/'.length)
      if (DEVICE_ID_RE.test(id) && !heads.has(id)) refused.set(id, oid)
    }
    const only = opts.device.length
      ? resolveDevices('--device', opts.device, await listDevices(git, store.device.id, heads), store.device.id)
      : []
    const result = await verifyLedger(git, {
      heads,
      refused,
      only,
      full: opts.full,
      fingerprints: Boolean(opts.transcript),
      proved: trusted.state.proved,
      fetched: trusted.state.verified,
      index: readIndexSources(store.paths.index),
      superseded: supersededHeads(trusted.state.quarantine),
    })
    saveVerified(store.paths.proved, result.proved)
    await markAccepted(git, result, trusted.state.quarantine)
    // A quarantined head stays an error until its branch is good again or accepted.
    for (const q of listQuarantined(trusted.state.quarantine)) {
      if (only.length && !only.includes(q.id)) continue
      result.findings.push(finding('QUARANTINED', q.id, quarantineLine(q.id, q), { commit: q.head }))
      for (const f of q.findings)
        result.findings.push({ ...f, detail: `(quarantined head ${q.head.slice(0, 12)}) ${f.detail}` })
    }
    if (opts.transcript) writeTranscripts(ctx, opts.transcript, result)
    if (ctx.global.json) out(ctx, JSON.stringify(toJson(result)))
    else printResult(ctx, result)
    return hasErrors(result.findings) ? 'integrity' : 'ok'
  } finally {
    await store.close()
  }
}

/** Findings in history a person took in with `fetch --accept-rewrite` are warnings, named so. */
async function markAccepted(git: GitBackend, r: VerifyResult, q: Quarantine): Promise<void> {
  for (const f of r.findings) {
    if (f.severity !== 'error' || !f.commit) continue
    for (const a of q.accepted[f.device] ?? []) {
      if (f.commit === a.head || (await git.isAncestor(f.commit, a.head).catch(() => false))) {
        f.severity = 'warning'
        f.detail += ` (accepted by fetch --accept-rewrite at ${a.at})`
        break
      }
    }
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
