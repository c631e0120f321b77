/** What `status` shows: this device, its remote and pending commits, every device, the merged tree. */
import { redactUrl, trackingRef } from '../../git/backend.js'
import { ledgerRef, MERGED_REF } from '../../ledger/paths.js'
import type { Store } from '../../store/store.js'
import { loadVerified } from '../../store/verified.js'
import { quarantineWarning } from '../../store/quarantine.js'
import { commitsAhead, lastPushFailure } from '../sync/push.js'
import { indexRows } from '../../index/index.js'
import { recordRows } from '../../report/aggregate.js'
import { checkZone, localTimeIn, systemZone } from '../../ledger/zone.js'
import { currentWindows, percentOf } from '../../report/usage-window.js'
import { latestReadings } from '../../branch/limits.js'
import { zeroTotals } from '../../report/aggregate.js'
import { claudeCleanupRisk } from '../../collect/claude-code/cleanup.js'
import { loadCursors } from '../../collect/cursors.js'
import { plural } from '../../text.js'
import { listDevices } from './devices.js'
import { refreshIndex, storePrices } from './index.js'

/** The `usage-ledger/status@1` object of a store (or of a --repo clone: `clone`). */
export async function storeStatus(store: Store, clone: boolean) {
  const git = store.initialized ? await store.git() : null
  const head = git ? await git.readRef(ledgerRef(store.device.id)) : null
  const pending =
    git && store.config.remote && !clone
      ? await commitsAhead(git, head, await git.readRef(trackingRef(ledgerRef(store.device.id))))
      : 0
  const merged = git ? await git.readRef(MERGED_REF) : null
  const tz = checkZone(store.config.timezone ?? systemZone())
  const prices = storePrices(store)
  const view = git ? await refreshIndex(store, prices, clone) : null
  const idx = view?.index ?? null
  const windows = currentWindows(
    idx ? indexRows(idx, 'auto', undefined, { localTime: localTimeIn(tz) }) : recordRows([], prices, 'auto'),
    store.env.now(),
    localTimeIn(tz),
  )
  const limits = store.config.limits ?? {}
  const devices = git && view ? await listDevices(git, store.device.id, view.heads) : []
  const readings =
    git && view
      ? await latestReadings(git, view.heads, new Map(devices.map((d) => [d.id, d.name])), store.env.now())
      : []
  const risk = clone ? null : claudeCleanupRisk(store.env, loadCursors(store.paths.cursors)['claude-code'] ?? {})
  return {
    schema: 'usage-ledger/status@1',
    home: store.paths.home,
    device: { id: store.device.id, name: store.device.name, head },
    remote: store.config.remote ? redactUrl(store.config.remote) : null,
    pending,
    lastPushFailure: store.config.remote ? lastPushFailure(store, clone) : null,
    devices: devices.map((d) => {
      const w = windows.devices.get(d.id)
      return { ...d, today: w?.today ?? zeroTotals(), block: w?.block ?? zeroTotals(), week: w?.week ?? zeroTotals() }
    }),
    verified: loadVerified(store.paths.verified),
    merged: merged && git ? { commit: merged, tree: (await git.readCommit(merged)).tree } : null,
    timezone: tz,
    block: { ...windows.block, percent: percentOf(windows.block, limits.block) },
    week: { ...windows.week, percent: percentOf(windows.week, limits.week) },
    today: windows.today,
    readings,
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
}
