/** `record`: read new usage from the sources and commit one part per touched UTC day. */
import {
  recordUsage,
  type MinIntervalSkip,
  type RecordSummary,
  type RecordUsageOptions,
  type Searched,
} from '../app/record.js'
import { usageError } from '../errors.js'
import { Store } from '../store/store.js'
import { KEY_OPTION, refuseKeyArg, sayPush } from './messages.js'
import type { PushFailure } from '../app/sync/push.js'
import { out, say, type CommandContext, type Outcome, type CommandSpec, list, optional } from './context.js'
import { progressBar } from './progress.js'
import { plural } from '../text.js'

export type RecordOptions = RecordUsageOptions

export async function record(ctx: CommandContext, opts: RecordOptions): Promise<Outcome> {
  const { env, global } = ctx
  if (opts.stdin && opts.sources.length !== 1)
    throw usageError(
      'STDIN_SOURCE',
      'record --stdin needs exactly one --source NAME naming the tool the records come from',
    )
  const store = Store.open(env, { home: global.home, git: global.git, deviceId: opts.deviceId, name: opts.name })
  try {
    const bar =
      env.stderrIsTTY && !global.quiet && !global.json ? progressBar(env.stderr, 'reading sources') : undefined
    const run = await recordUsage(store, opts, bar)
    if (run.skipped) {
      reportSkip(ctx, run.device, run.skipped, run.lastPushFailure)
      return 'ok'
    }
    const { summary } = run
    for (const l of run.dryRunLines) out(ctx, l)
    report(ctx, summary)
    // A rejected push fails an interactive run; with --quiet (what hooks run) record never fails
    // its caller: the failure is kept in state/push.json, and status shows it. This device's
    // branch rewritten on the remote is an integrity failure (3).
    return summary.push?.rejected && !global.quiet ? (summary.push.integrity ? 'integrity' : 'failed') : 'ok'
  } finally {
    await store.close()
  }
}

function reportSkip(ctx: CommandContext, device: string, s: MinIntervalSkip, failure: PushFailure | null): void {
  if (ctx.global.json) {
    out(
      ctx,
      JSON.stringify({
        schema: 'usage-ledger/record@1',
        device,
        skipped: 'minInterval',
        ...s,
        duplicates: 0,
        malformed: 0,
        future: 0,
        sources: {},
        dryRun: false,
        commit: null,
        appended: 0,
        alreadyRecorded: 0,
        days: [],
        readings: 0,
        pushed: false,
        pending: 0,
        pushError: null,
        lastPushFailure: failure,
      }),
    )
    return
  }
  say(
    ctx,
    `skipped: the last record run started at ${s.lastRunAt}, within record.minInterval (${s.minInterval} s); next run from ${s.nextRunAt}, or record --force`,
  )
}

function notFoundText(searched: Searched[]): string {
  const where = searched.map((x) => `  ${x.source}: ${x.paths.join(', ')} (set ${x.envVar} to look elsewhere)`)
  return [
    'no usage logs found; looked for',
    ...where,
    'other tools can feed records: usage-ledger record --stdin --source NAME',
  ].join('\n')
}

function report(ctx: CommandContext, s: RecordSummary): void {
  if (ctx.global.json) {
    const { push, lastPushFailure: kept, latestFuture: _latest, ...rest } = s
    out(
      ctx,
      JSON.stringify({
        schema: 'usage-ledger/record@1',
        ...rest,
        pushed: push?.pushed ?? false,
        pending: push?.pending ?? 0,
        pushError: push?.error ?? null,
        lastPushFailure: push ? push.lastPushFailure : (kept ?? null),
      }),
    )
    return
  }
  if (s.future) {
    say(
      ctx,
      `warning: ${plural(s.future, 'record')} dated more than 24 hours after now (latest ${s.latestFuture}) skipped; check the clock of the machine that wrote ${s.future === 1 ? 'it' : 'them'}`,
    )
  }
  for (const [name, stats] of Object.entries(s.sources)) {
    const unreadable = (stats as { unreadable?: string }).unreadable
    if (unreadable) say(ctx, `warning: ${name}: ${unreadable}`)
  }
  if (s.push) sayPush(ctx, s.push)
  if (s.dryRun) {
    if (s.searched) say(ctx, notFoundText(s.searched))
    say(ctx, `dry run: ${plural(s.appended, 'record')} would be committed`)
    return
  }
  const extra = [
    s.alreadyRecorded ? `${s.alreadyRecorded} already recorded` : '',
    s.malformed ? `${plural(s.malformed, 'malformed line')} skipped` : '',
    s.readings ? `${plural(s.readings, 'limit reading')}` : '',
  ]
    .filter(Boolean)
    .join(', ')
  if (!s.appended && s.commit) {
    say(ctx, `recorded ${plural(s.readings, 'limit reading')}, commit ${s.commit.slice(0, 12)}`)
    return
  }
  if (!s.appended) {
    say(ctx, s.searched ? notFoundText(s.searched) : `nothing new${extra ? ` (${extra})` : ''}`)
    return
  }
  const range = s.days.length === 1 ? s.days[0]!.day : `${s.days[0]!.day}..${s.days[s.days.length - 1]!.day}`
  say(
    ctx,
    `recorded ${plural(s.appended, 'record')} in ${plural(s.days.length, 'part')} (${range}), commit ${s.commit!.slice(0, 12)}${extra ? `; ${extra}` : ''}`,
  )
}

export const command: CommandSpec<RecordOptions> = {
  options: {
    source: {
      type: 'string',
      array: true,
      describe: 'only these sources (see `usage-ledger sources`); with --stdin the source name',
    },
    stdin: { type: 'boolean', default: false, describe: 'read schema-v1 records (NDJSON) from stdin' },
    push: { type: 'boolean', default: true, describe: 'push after committing (--no-push: commit locally only)' },
    'dry-run': {
      type: 'boolean',
      default: false,
      describe: 'print the lines that would be committed; change nothing',
    },
    name: { type: 'string', describe: 'display name of this device' },
    'device-id': { type: 'string', describe: 'override the device id' },
    force: {
      type: 'boolean',
      default: false,
      describe: 'run even within config record.minInterval of the last run',
    },
    key: KEY_OPTION,
  },
  storeOnly: () => 'record',
  parse: (a) => {
    refuseKeyArg(a)
    return {
      sources: list(a.source),
      stdin: Boolean(a.stdin),
      push: Boolean(a.push),
      dryRun: Boolean(a.dryRun),
      name: optional(a.name),
      deviceId: optional(a.deviceId),
      force: Boolean(a.force),
    }
  },
  run: record,
}
