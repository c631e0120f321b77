/** `status`: this device, its remote and pending commits, every device, the merged tree. */
import { redactUrl, trackingRef } from '../git/backend.js'
import { ledgerRef, MERGED_REF } from '../ledger/paths.js'
import { Store } from '../store/store.js'
import { loadVerified } from '../store/verified.js'
import { quarantineWarning } from '../store/quarantine.js'
import { commitsAhead } from '../app/sync/push.js'
import { listDevices } from './devices.js'
import { lastPushFailure } from '../app/sync/push.js'
import { ago } from '../text.js'
import { indexRows } from '../index/index.js'
import { recordRows } from '../report/aggregate.js'
import { refreshIndex, storePrices } from './index.js'
import { checkZone, localTimeIn, systemZone } from '../ledger/zone.js'
import { currentWindows, percentOf } from '../report/usage-window.js'
import { claudeCleanupRisk } from '../collect/claude-code/cleanup.js'
import { loadCursors } from '../store/cursors.js'
import { out, type CommandContext, type Outcome } from './context.js'
import { plural } from '../text.js'

export async function status(ctx: CommandContext): Promise<Outcome> {
  const store = Store.open(ctx.env, { home: ctx.global.home, git: ctx.global.git, repo: ctx.global.repo })
  try {
    const git = store.initialized ? await store.git() : null
    const head = git ? await git.readRef(ledgerRef(store.device.id)) : null
    const pending =
      git && store.config.remote && !ctx.global.repo
        ? await commitsAhead(git, head, await git.readRef(trackingRef(ledgerRef(store.device.id))))
        : 0
    const merged = git ? await git.readRef(MERGED_REF) : null
    const tz = checkZone(store.config.timezone ?? systemZone())
    const prices = storePrices(store)
    const view = git ? await refreshIndex(store, prices, Boolean(ctx.global.repo)) : null
    const idx = view?.index ?? null
    const windows = currentWindows(
      idx ? indexRows(idx, 'auto') : recordRows([], prices, 'auto'),
      ctx.env.now(),
      localTimeIn(tz),
    )
    const limits = store.config.limits ?? {}
    const risk = ctx.global.repo
      ? null
      : claudeCleanupRisk(ctx.env, loadCursors(store.paths.cursors)['claude-code'] ?? {})
    const s = {
      schema: 'usage-ledger/status@1',
      home: store.paths.home,
      device: { id: store.device.id, name: store.device.name, head },
      remote: store.config.remote ? redactUrl(store.config.remote) : null,
      pending,
      lastPushFailure: store.config.remote ? lastPushFailure(store, Boolean(ctx.global.repo)) : null,
      devices: git && view ? await listDevices(git, store.device.id, view.heads) : [],
      verified: loadVerified(store.paths.verified),
      merged: merged && git ? { commit: merged, tree: (await git.readCommit(merged)).tree } : null,
      timezone: tz,
      block: { ...windows.block, percent: percentOf(windows.block, limits.block) },
      week: { ...windows.week, percent: percentOf(windows.week, limits.week) },
      warnings: [
        ...(view?.quarantined ?? []).map((q) => quarantineWarning(q.id, q)),
        ...(risk?.files.length
          ? [
              {
                code: 'CLEANUP_RISK',
                cleanupPeriodDays: risk.cleanupPeriodDays,
                files: risk.files.length,
                detail: `Claude Code deletes transcripts after ${plural(risk.cleanupPeriodDays, 'day')} and ${risk.files.length} of them ${risk.files.length === 1 ? 'holds' : 'hold'} usage not recorded yet: run usage-ledger record`,
              },
            ]
          : []),
      ] as Array<{ code: string; detail: string }>,
    }
    if (ctx.global.json) {
      out(ctx, JSON.stringify(s))
      for (const w of s.warnings) if (w.code === 'DEVICE_QUARANTINED') ctx.env.stderr.write(`warning: ${w.detail}\n`)
      return 'ok'
    }
    out(ctx, `device   ${s.device.id} (${s.device.name})`)
    out(ctx, `store    ${s.home}`)
    const failed = s.lastPushFailure
    out(
      ctx,
      `remote   ${s.remote ?? '(none: run usage-ledger init --remote URL)'}${s.remote ? `, ${plural(pending, 'commit')} pending` : ''}${failed ? `; last push failed ${ago(failed.at, ctx.env.now())}: ${failed.message}` : ''}`,
    )
    if (failed) for (const l of failed.details) out(ctx, `         ${l.trim()}`)
    out(ctx, `merged   ${s.merged ? `tree ${s.merged.tree}` : '(not fetched yet)'}`)
    const pct = (p: { tokens: number | null; costUSD: number | null }) =>
      [
        p.tokens !== null ? `${p.tokens}% of the token limit` : '',
        p.costUSD !== null ? `${p.costUSD}% of the cost limit` : '',
      ]
        .filter(Boolean)
        .join(', ')
    const b = s.block
    out(
      ctx,
      `5h block ${b.start ? `${blockSpan(b.start, b.end!, tz)}: ${plural(b.totalTokens, 'token', 'tokens', (x) => x.toLocaleString('en-US'))}, $${b.costUSD.toFixed(2)}${pct(b.percent) ? ` (${pct(b.percent)})` : ''}` : 'no active block'}`,
    )
    out(
      ctx,
      `week     ${s.week.week}: ${plural(s.week.totalTokens, 'token', 'tokens', (x) => x.toLocaleString('en-US'))}, $${s.week.costUSD.toFixed(2)}${pct(s.week.percent) ? ` (${pct(s.week.percent)})` : ''}`,
    )
    for (const d of s.devices)
      out(
        ctx,
        `${d.thisDevice ? '*' : ' '} ${d.id}  ${d.name.padEnd(20)} ${plural(d.records, 'record ', 'records').padStart(18)} last ${d.lastRecordAt ?? '-'}`,
      )
    for (const w of s.warnings) ctx.env.stderr.write(`warning: ${w.detail}\n`)
    return 'ok'
  } finally {
    await store.close()
  }
}

/** `2026-11-22 09:00–14:00 Europe/Berlin` (both dates when the block crosses midnight there). */
export function blockSpan(start: string, end: string, tz: string): string {
  const local = localTimeIn(tz)
  const [s, e] = [local(start), local(end)]
  return s.slice(0, 10) === e.slice(0, 10)
    ? `${s.slice(0, 10)} ${s.slice(11, 16)}–${e.slice(11, 16)} ${tz}`
    : `${s.replace('T', ' ')} – ${e.replace('T', ' ')} ${tz}`
}
