/**
 * The rules of lib/ARCHITECTURE.md, checked on the source: every import of every .ts file under
 * lib/ (static, `import()`, `require` and `import('…')` types alike) must point down the layers, the
 * commands must stay thin, and each third-party package has one importer.
 */
import fs from 'node:fs'
import { builtinModules } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import ts from 'typescript'

/**
 * The layers, lowest first. A module may import its own entry and any lower layer; the entries of
 * one layer do not import each other. A path belongs to the longest entry that starts it.
 */
const LAYERS: string[][] = [
  // The error type, the environment passed in (clock, streams, home), terminal text.
  ['errors.ts', 'env.ts', 'text.ts'],
  // The formats of DESIGN §2/§4, and everything that touches a repository; neither knows the other.
  ['ledger/', 'git/'],
  // This machine's state: home, config, device identity, the lock, atomic state files; it opens the backend.
  ['store/'],
  // Sources to records; the device branch (written through store's atomic files); pure aggregation and prices.
  ['collect/', 'branch/', 'report/'],
  // The query index: the branches' parts (branch/device-files) summed into report's rows, priced by report/prices.
  ['index/'],
  // The checks of DESIGN §8, over the branches and the index's day trees.
  ['verify/'],
  // The use cases; query and sync use each other (devices, trust, the index refresh after a fetch).
  ['app/'],
  // Options in, one use case, output out.
  ['cli/'],
]

/** Imports against the layers, each with its reason. One no longer made fails too, so the list stays true. */
const EXCEPTIONS: Array<[from: string, to: string, why: string]> = [
  [
    'store/quarantine.ts',
    'verify/findings.ts',
    'the quarantine file keeps the findings that put a head there (a type)',
  ],
]

/** Each third-party package and the one module that imports it. */
const PACKAGES: Record<string, string> = {
  'isomorphic-git': 'git/iso.ts',
  yargs: 'cli/main.ts',
  'cli-table3': 'report/render.ts',
  'date-fns-tz': 'ledger/zone.ts',
  'better-sqlite3': 'collect/sqlite.ts',
  ioredis: 'collect/cliproxy/queue.ts',
}

interface Import {
  line: number
  specifier: string
  /** Loaded on demand: `import()` or `require` (a type import counts as static). */
  lazy: boolean
  /** A relative import, as a path from lib/ (`../` when it leaves lib/). */
  file?: string
  /** A bare specifier that is no Node built-in. */
  pkg?: string
}

/** lib/-relative path → its imports. */
type Graph = Map<string, Import[]>

// `import('x')`, `require('x')` and `createRequire(import.meta.url)('x')` all load a module.
const loads = (callee: ts.Expression): boolean =>
  callee.kind === ts.SyntaxKind.ImportKeyword ||
  (ts.isIdentifier(callee) && callee.text === 'require') ||
  (ts.isCallExpression(callee) && ts.isIdentifier(callee.expression) && callee.expression.text === 'createRequire')

function importsOf(from: string, text: string): Import[] {
  const source = ts.createSourceFile(from, text, ts.ScriptTarget.Latest, true)
  const out: Import[] = []
  const add = (node: ts.Node, literal: ts.Node | undefined, lazy: boolean) => {
    if (!literal || !ts.isStringLiteralLike(literal)) return
    const specifier = literal.text
    const line = source.getLineAndCharacterOfPosition(node.getStart()).line + 1
    if (specifier.startsWith('.')) {
      const file = path.posix.join(path.posix.dirname(from), specifier).replace(/\.js$/, '.ts')
      out.push({ line, specifier, lazy, file })
    } else if (!specifier.startsWith('node:') && !builtinModules.includes(specifier)) {
      const parts = specifier.split('/')
      const pkg = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!
      out.push({ line, specifier, lazy, pkg })
    }
  }
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) add(node, node.moduleSpecifier, false)
    else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference))
      add(node, node.moduleReference.expression, false)
    else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) add(node, node.argument.literal, false)
    else if (ts.isCallExpression(node) && loads(node.expression)) add(node, node.arguments[0], true)
    ts.forEachChild(node, visit)
  }
  visit(source)
  return out
}

const graphOf = (sources: Record<string, string>): Graph =>
  new Map(Object.entries(sources).map(([file, text]) => [file, importsOf(file, text)]))

/** The command modules: the `import()`s in `COMMANDS` of cli/main.ts. */
function commandModules(graph: Graph, mainText: string): Set<string> {
  const source = ts.createSourceFile('cli/main.ts', mainText, ts.ScriptTarget.Latest, true)
  const lines = new Set<number>()
  const visit = (node: ts.Node): void => {
    if (ts.isVariableDeclaration(node) && ts.isIdentifier(node.name) && node.name.text === 'COMMANDS') {
      const from = source.getLineAndCharacterOfPosition(node.getStart()).line + 1
      const to = source.getLineAndCharacterOfPosition(node.getEnd()).line + 1
      for (let l = from; l <= to; l++) lines.add(l)
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
  const imports = graph.get('cli/main.ts') ?? []
  return new Set(imports.filter((i) => i.lazy && i.file && lines.has(i.line)).map((i) => i.file!))
}

const entries = LAYERS.flat()
/** The table entry a lib/ path belongs to: the longest that starts it. */
const entryOf = (file: string): string | undefined =>
  entries.filter((e) => (e.endsWith('/') ? file.startsWith(e) : file === e)).sort((a, b) => b.length - a.length)[0]
const rankOf = (entry: string): number => LAYERS.findIndex((layer) => layer.includes(entry))

/** Every import that leaves its own entry for a higher one or a sibling, less the exceptions (and those unused). */
function layerViolations(graph: Graph, exceptions = EXCEPTIONS): string[] {
  const out: string[] = []
  const used = new Set<string>()
  for (const [from, imports] of graph) {
    const own = entryOf(from)
    if (!own) {
      out.push(`${from} is in no layer of the table`)
      continue
    }
    for (const i of imports) {
      if (!i.file || i.file.startsWith('../')) continue
      const to = entryOf(i.file)
      if (!to) out.push(`${from}:${i.line} imports ${i.file}, which is in no layer of the table`)
      else if (to !== own && rankOf(to) >= rankOf(own)) {
        const exception = exceptions.find(([f, tt]) => f === from && tt === i.file)
        if (exception) used.add(`${from} ${i.file}`)
        else
          out.push(`${from}:${i.line} imports ${i.file}, ${rankOf(to) > rankOf(own) ? 'a higher layer' : 'a sibling'}`)
      }
    }
  }
  for (const [from, to] of exceptions)
    if (!used.has(`${from} ${to}`)) out.push(`the exception ${from} → ${to} is no longer needed`)
  return out
}

/** A command reaches git and the other commands only through app/; main.ts loads the commands on demand. */
function cliViolations(graph: Graph, commands: Set<string>): string[] {
  const out: string[] = []
  for (const [from, imports] of graph) {
    if (!from.startsWith('cli/')) continue
    for (const i of imports) {
      if (i.file?.startsWith('git/')) out.push(`${from}:${i.line} imports ${i.file}: git is app/'s`)
      else if (i.file && commands.has(i.file) && from !== 'cli/main.ts')
        out.push(`${from}:${i.line} imports the command module ${i.file}`)
      else if (i.file && commands.has(i.file) && !i.lazy) out.push(`${from}:${i.line} loads ${i.file} at start-up`)
    }
  }
  return out
}

/** Each package by its one module, and every package of the table used (else the table is stale). */
function packageViolations(graph: Graph, packages = PACKAGES): string[] {
  const out: string[] = []
  const seen = new Set<string>()
  for (const [from, imports] of graph)
    for (const i of imports) {
      if (!i.pkg) continue
      seen.add(i.pkg)
      if (!(i.pkg in packages)) out.push(`${from}:${i.line} imports ${i.pkg}, which has no module in the table`)
      else if (packages[i.pkg] !== from) out.push(`${from}:${i.line} imports ${i.pkg}, which is ${packages[i.pkg]}'s`)
    }
  for (const pkg of Object.keys(packages)) if (!seen.has(pkg)) out.push(`no module imports ${pkg}`)
  return out
}

/** lib/ stands alone: no import of test/, scripts/ or anything else outside it, none of a missing file. */
function outsideViolations(graph: Graph): string[] {
  const out: string[] = []
  for (const [from, imports] of graph)
    for (const i of imports) {
      if (i.file?.startsWith('../')) out.push(`${from}:${i.line} imports ${i.specifier}, outside lib/`)
      else if (i.file && !graph.has(i.file)) out.push(`${from}:${i.line} imports ${i.specifier}, which is no file`)
    }
  return out
}

const LIB = fileURLToPath(new URL('../lib/', import.meta.url))
const files = fs
  .readdirSync(LIB, { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.ts'))
  .map((f) => f.split(path.sep).join('/'))
const texts = Object.fromEntries(files.map((f) => [f, fs.readFileSync(path.join(LIB, f), 'utf8')]))
const lib = graphOf(texts)
const commands = commandModules(lib, texts['cli/main.ts']!)

t.test('the commands are the modules COMMANDS of cli/main.ts loads', async (t) => {
  t.ok(commands.size >= 10, `${[...commands].join(', ')}`)
  for (const c of commands) t.ok(lib.has(c), c)
})

t.test('dependencies point down the layers', async (t) => {
  t.same(layerViolations(lib), [])
})

t.test('no file in cli/ imports git/ or another command module', async (t) => {
  t.same(cliViolations(lib, commands), [])
})

t.test('each third-party package is imported by one module', async (t) => {
  t.same(packageViolations(lib), [])
})

t.test('nothing in lib/ imports test/, scripts/ or a missing file', async (t) => {
  t.same(outsideViolations(lib), [])
})

t.test('a broken rule is found', async (t) => {
  const sources = {
    'cli/main.ts':
      "import { x } from './push.js'\n" +
      "const COMMANDS = [['push', '', () => import('./push.js')], ['fetch', '', () => import('./fetch.js')]]",
    'cli/push.ts': "import type { GitBackend } from '../git/backend.js'\nconst f = () => import('./fetch.js')",
    'cli/fetch.ts': "import yargs from 'yargs'",
    'git/backend.ts': "import { Store } from '../store/store.js'\nimport t from '../../test/helpers/env.js'",
    'store/store.ts': "type Z = typeof import('date-fns-tz')",
    'store/quarantine.ts': "import { x } from './gone.js'",
    'collect/files.ts': "const table = createRequire(import.meta.url)('cli-table3')",
    'branch/writer.ts': "import { y } from '../report/render.js'",
    'report/render.ts': "import fs from 'node:fs'\nimport { z } from 'leftpad/x'",
    'lib.ts': '',
  }
  const broken = graphOf(sources)
  t.same([...commandModules(broken, sources['cli/main.ts'])], ['cli/push.ts', 'cli/fetch.ts'])
  t.same(layerViolations(broken), [
    'git/backend.ts:1 imports store/store.ts, a higher layer',
    'branch/writer.ts:1 imports report/render.ts, a sibling',
    'lib.ts is in no layer of the table',
    'the exception store/quarantine.ts → verify/findings.ts is no longer needed',
  ])
  t.same(cliViolations(broken, commandModules(broken, sources['cli/main.ts'])), [
    'cli/main.ts:1 loads cli/push.ts at start-up',
    "cli/push.ts:1 imports git/backend.ts: git is app/'s",
    'cli/push.ts:2 imports the command module cli/fetch.ts',
  ])
  t.same(packageViolations(broken), [
    "cli/fetch.ts:1 imports yargs, which is cli/main.ts's",
    "store/store.ts:1 imports date-fns-tz, which is ledger/zone.ts's",
    "collect/files.ts:1 imports cli-table3, which is report/render.ts's",
    'report/render.ts:2 imports leftpad, which has no module in the table',
    'no module imports isomorphic-git',
    'no module imports better-sqlite3',
    'no module imports ioredis',
  ])
  t.same(outsideViolations(broken), [
    'git/backend.ts:2 imports ../../test/helpers/env.js, outside lib/',
    'store/quarantine.ts:1 imports ./gone.js, which is no file',
  ])
})
