/** `fetch`: bring in every device's branch, verify it, advance `merged` (DESIGN §7, §8). */
import { fetchRemote } from '../app/sync/fetch.js'
import { Store } from '../store/store.js'
import { quarantineLine } from '../store/quarantine.js'
import { hasErrors } from '../verify/findings.js'
import { out, say, type CommandContext, type Outcome, type CommandSpec, list } from './context.js'
import { plural } from '../text.js'

export interface FetchOptions {
  acceptRewrite: string[]
}

export async function fetch(ctx: CommandContext, opts: FetchOptions): Promise<Outcome> {
  const store = Store.open(ctx.env, { home: ctx.global.home, git: ctx.global.git, repo: ctx.global.repo })
  try {
    const r = await fetchRemote(store, { acceptRewrite: opts.acceptRewrite, repo: ctx.global.repo })
    if (ctx.global.json) {
      out(
        ctx,
        JSON.stringify({
          schema: 'usage-ledger/fetch@1',
          remote: r.remote,
          devices: r.devices,
          merged: r.merged,
          findings: r.findings,
          hooks: r.hooks,
          accepted: r.accepted,
          quarantined: r.quarantined,
        }),
      )
    } else {
      const changed = r.devices.filter((d) => d.status === 'new' || d.status === 'updated' || d.status === 'accepted')
      say(
        ctx,
        `fetched ${plural(r.devices.length, 'device')} from ${r.remote}; ${changed.length} changed; merged tree ${r.merged?.tree ?? '(none)'}`,
      )
      for (const a of r.accepted) {
        ctx.env.stderr.write(
          `accepted ${a.id}: old head ${a.before ?? '(none)'}, new head ${a.head}${a.findings.length ? `, with ${plural(a.findings.length, 'finding')}:` : ', with no findings'}\n`,
        )
        for (const f of a.findings) ctx.env.stderr.write(`  ${f.code}: ${f.detail}\n`)
      }
      for (const f of r.findings)
        if (f.code !== 'REWRITE_ACCEPTED' && !r.accepted.some((a) => a.findings.includes(f)))
          ctx.env.stderr.write(`${f.severity}: ${f.code} ${f.device}: ${f.detail}\n`)
      for (const q of r.quarantined) ctx.env.stderr.write(`error: QUARANTINED ${quarantineLine(q.id, q)}\n`)
    }
    return hasErrors(r.findings) || r.quarantined.length ? 'integrity' : 'ok'
  } finally {
    await store.close()
  }
}

export const command: CommandSpec<FetchOptions> = {
  options: {
    'accept-rewrite': {
      type: 'string',
      array: true,
      default: [],
      describe: 'accept a rewritten branch of this device (id, unique id prefix or name)',
    },
  },
  parse: (a) => ({ acceptRewrite: list(a.acceptRewrite) }),
  run: fetch,
}
