/** `sources`: every source this tool reads, what of it is on this machine, and what the ledger holds from it. */
import { listSources, type SourceRow } from '../app/query/sources.js'
import { Store } from '../store/store.js'
import { plural } from '../text.js'
import { out, type CommandContext, type CommandSpec, type Outcome } from './context.js'

export async function sources(ctx: CommandContext): Promise<Outcome> {
  const store = Store.open(ctx.env, { home: ctx.global.home, git: ctx.global.git })
  try {
    const view = await listSources(store)
    if (ctx.global.json) out(ctx, JSON.stringify(view))
    else for (const s of view.sources) out(ctx, `${sourceLine(s)}\n  ${ledgerLine(s, view.store)}`)
    return 'ok'
  } finally {
    await store.close()
  }
}

const count = (n: number) => n.toLocaleString('en-US')

/** `codex (Codex CLI): 3 files in ~/.codex/sessions`, or where it looked and what moves it. */
function sourceLine(s: SourceRow): string {
  const head = `${s.name} (${s.title})`
  if (s.kind === 'stdin') return `${head}: ${s.names?.length ? s.names.join(', ') : 'none yet'}`
  if (s.kind === 'queue')
    return s.found
      ? `${head}: ${s.places.join(', ')}`
      : `${head}: ${s.looksIn[0] ?? 'not configured'} (set ${s.envVar} or config sources.cliproxy.url)`
  if (s.found) return `${head}: ${plural(s.files, 'file', 'files', count)} in ${s.places.join(', ')}`
  return `${head}: not found; looked in ${s.looksIn.join(', ')} (set ${s.envVar} to look elsewhere)`
}

function ledgerLine(s: SourceRow, store: boolean): string {
  if (!store) return 'ledger: nothing recorded yet (usage-ledger record starts it)'
  if (!s.records) return 'ledger: nothing recorded'
  return `ledger: ${plural(s.records, 'record', 'records', count)} from every device, ${count(s.thisDevice)} from this one; newest ${s.newest}`
}

export const command: CommandSpec<Record<string, never>> = {
  storeOnly: () => 'sources',
  parse: () => ({}),
  run: (ctx) => sources(ctx),
}
