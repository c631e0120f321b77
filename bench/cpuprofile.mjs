#!/usr/bin/env node
// Summarises V8 CPU profiles of the CLI (`node --cpu-prof bin/usage-ledger.js …`), mapping the
// bundle's frames back to lib/ through dist/cli.cjs.map. Used for the causes in
// docs/benchmarks.md ("Benchmarks at scale").
//
//   node bench/cpuprofile.mjs [--map dist/cli.cjs.map] [--top 20] PROFILE.cpuprofile…
//
// With several profiles (e.g. ten runs of one command), every figure is the mean per profile.
// Prints (1) the self time of the top functions, (2) each sample charged to the nearest lib/
// frame on its stack, by file and by function (time in node, yargs and loading when none),
// with (idle) = waiting (for git, the disk) and (garbage collector) apart.
import { readFileSync } from 'node:fs'
import { SourceMap } from 'node:module'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { ROOT } from './lib.mjs'

const { values: opt, positionals: files } = parseArgs({
  allowPositionals: true,
  options: {
    map: { type: 'string', default: join(ROOT, 'dist', 'cli.cjs.map') },
    top: { type: 'string', default: '20' },
  },
})
if (!files.length) {
  console.error('usage: node bench/cpuprofile.mjs [--map dist/cli.cjs.map] [--top 20] PROFILE.cpuprofile…')
  process.exit(2)
}
const TOP = Number(opt.top)
const map = new SourceMap(JSON.parse(readFileSync(opt.map, 'utf8')))
const source = (cf) => {
  if (!cf.url.endsWith('cli.cjs') || cf.lineNumber < 0) return null
  const e = map.findEntry(cf.lineNumber, cf.columnNumber)
  return e?.originalSource
    ? { file: e.originalSource.replace(/^.*?\/(lib|node_modules)\//, '$1/'), line: e.originalLine + 1 }
    : null
}
const where = (cf) => {
  const s = source(cf)
  return s ? `${s.file}:${s.line}` : `${cf.url.replace(/^.*\//, '') || '(native)'}:${cf.lineNumber + 1}`
}
const add = (m, k, v) => m.set(k, (m.get(k) ?? 0) + v)
const self = new Map(),
  byFile = new Map(),
  byFn = new Map()
let total = 0
for (const f of files) {
  const p = JSON.parse(readFileSync(f, 'utf8'))
  const parent = new Map()
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const byId = new Map(p.nodes.map((n) => [n.id, n]))
  const owners = new Map()
  const owner = (id) => {
    if (owners.has(id)) return owners.get(id)
    let r = null
    for (let x = id; x != null && !r; x = parent.get(x)) {
      const cf = byId.get(x).callFrame
      const s = source(cf)
      if (s?.file.startsWith('lib/')) r = [s.file, `${cf.functionName || '(anonymous)'}  ${s.file}`]
    }
    if (!r) {
      const name = byId.get(id).callFrame.functionName
      const k = name.startsWith('(') ? name : '(outside lib/: node, yargs, loading)'
      r = [k, k]
    }
    owners.set(id, r)
    return r
  }
  for (let i = 0; i < p.samples.length; i++) {
    const us = (p.timeDeltas[i + 1] ?? p.timeDeltas[i] ?? 0) / files.length
    const n = byId.get(p.samples[i])
    total += us
    add(self, `${n.callFrame.functionName || '(anonymous)'}  ${where(n.callFrame)}`, us)
    const [file, fn] = owner(p.samples[i])
    add(byFile, file, us)
    add(byFn, fn, us)
  }
}
const show = (title, m, n) => {
  console.log(title)
  for (const [k, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, n))
    console.log(
      `${(us / 1000).toFixed(1).padStart(9)} ms ${((100 * us) / total).toFixed(1).padStart(5)}%  ${k.length > 150 ? `${k.slice(0, 150)}…` : k}`,
    )
}
console.log(`${(total / 1000).toFixed(0)} ms sampled${files.length > 1 ? ` (mean of ${files.length} profiles)` : ''}`)
show('-- self time', self, TOP)
show('-- by nearest lib/ file', byFile, Math.min(TOP, 15))
show('-- by nearest lib/ function', byFn, TOP)
