/**
 * What `fetch` and `verify` report (DESIGN §8): one finding per problem, naming the device,
 * the commit, the path and the line, so a person can look and a script can act.
 */
export interface Finding {
  code: string
  severity: 'error' | 'warning'
  device: string
  commit: string | null
  path: string | null
  line: number | null
  detail: string
}

export function finding(
  code: string,
  device: string,
  detail: string,
  where: { commit?: string | null; path?: string | null; line?: number | null; severity?: Finding['severity'] } = {},
): Finding {
  return {
    code,
    severity: where.severity ?? 'error',
    device,
    commit: where.commit ?? null,
    path: where.path ?? null,
    line: where.line ?? null,
    detail,
  }
}

export const hasErrors = (fs: Finding[]) => fs.some((f) => f.severity === 'error')
