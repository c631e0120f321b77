// One CommonJS bundle of the CLI. CommonJS, not ESM, because bin/usage-ledger.js compiles it
// with a V8 code cache (vm.Script cachedData), which Node 20 offers only for scripts: with the
// cache a `record` with nothing new starts about a fifth faster. Heavy modules (isomorphic-git,
// the table renderer, time zones) are only evaluated when a command imports them.
import { build } from 'esbuild'
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { readFile } from 'node:fs/promises'

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))

// Built beside dist/ and renamed into it file by file, so a CLI started during a build (tests
// running while another build happens) reads the old bundle or the new one, never none.
const dist = new URL('../dist/', import.meta.url)
const tmp = new URL(`.build-${process.pid}/`, dist)
mkdirSync(dist, { recursive: true })
const commonjs = {
  outdir: tmp.pathname,
  outExtension: { '.js': '.cjs' },
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  logLevel: 'warning',
  // A native addon: required from node_modules at run time, only by lib/collect/sqlite.ts.
  // The Redis client: required at run time, only by lib/collect/cliproxy/queue.ts when a queue
  // is read (bundled, it would be parsed and compiled on every start).
  external: ['better-sqlite3', 'ioredis'],
}
// yargs' platform shim reads process.stdout.columns when it loads, which makes node build the
// stdout stream (~3 ms of every run, even a quiet one that prints nothing there); as a getter it
// is read only when help is wrapped to the terminal's width.
const YARGS_SHIM = /yargs[\\/]lib[\\/]platform-shims[\\/]esm\.mjs$/
const EAGER_COLUMNS = "stdColumns: typeof process.stdout.columns !== 'undefined' ? process.stdout.columns : null"
const lazyStdColumns = {
  name: 'lazy-std-columns',
  setup(b) {
    b.onLoad({ filter: YARGS_SHIM }, async (args) => {
      const text = await readFile(args.path, 'utf8')
      if (!text.includes(EAGER_COLUMNS))
        throw new Error(`${args.path}: yargs changed its stdColumns line; update scripts/build.mjs`)
      return {
        contents: text.replace(
          EAGER_COLUMNS,
          `get stdColumns() { return typeof process.stdout.columns !== 'undefined' ? process.stdout.columns : null }`,
        ),
        loader: 'js',
      }
    })
  },
}
// The CLI and its parse worker (lib/collect/worker.ts, started beside dist/cli.cjs for a big
// backfill), built alike so a file parses the same on either thread.
await build({
  ...commonjs,
  entryPoints: { cli: 'lib/cli/main.ts', worker: 'lib/collect/worker.ts' },
  plugins: [lazyStdColumns],
  sourcemap: 'linked',
  // A third smaller without whitespace: less to read and to check against the code cache at
  // every start (2–5 ms of a no-op `record`). Names are kept, so --debug traces stay readable.
  minifySyntax: true,
  minifyWhitespace: true,
  // Swapped for lighter stand-ins, see scripts/shims/.
  alias: {
    'string-width': './scripts/shims/string-width.cjs',
    assert: './scripts/shims/assert.mjs',
    'node:fs': './scripts/shims/node-fs.mjs',
    'node:path': './scripts/shims/node-path.mjs',
  },
  // `--version` says what package.json says, without reading it at every start.
  define: { 'import.meta.url': '__importMetaUrl', USAGE_LEDGER_VERSION: JSON.stringify(version) },
  banner: { js: "const __importMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
})
// The statusline (lib/cli/statusline-main.ts): Claude Code runs it after every turn, so it is a
// bundle of its own, without yargs or any other command (bin/usage-ledger.js picks it).
await build({
  ...commonjs,
  entryPoints: { statusline: 'lib/cli/statusline-main.ts' },
  minifySyntax: true,
  minifyWhitespace: true,
  alias: { 'node:fs': './scripts/shims/node-fs.mjs', 'node:path': './scripts/shims/node-path.mjs' },
  // Only createRequire reads it there, which takes a path as well as a URL.
  define: { 'import.meta.url': '__filename' },
})
// `npm run demo` (not shipped: package.json "files" names dist/cli.cjs and dist/worker.cjs only).
await build({ ...commonjs, entryPoints: { demo: 'scripts/demo.ts' } })
for (const f of readdirSync(tmp)) renameSync(new URL(f, tmp), new URL(f, dist))
rmSync(tmp, { recursive: true, force: true })
