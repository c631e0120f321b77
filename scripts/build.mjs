// One CommonJS bundle of the CLI. CommonJS, not ESM, because bin/usage-ledger.js compiles it
// with a V8 code cache (vm.Script cachedData), which Node 20 offers only for scripts: with the
// cache a `record` with nothing new starts about a fifth faster. Heavy modules (isomorphic-git,
// the table renderer, time zones) are only evaluated when a command imports them.
import { build } from 'esbuild'
import { readFileSync, rmSync } from 'node:fs'

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))

rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true })
await build({
  entryPoints: { cli: 'lib/cli/main.ts' },
  outdir: 'dist',
  outExtension: { '.js': '.cjs' },
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  sourcemap: 'linked',
  minifySyntax: true,
  // Swapped for lighter stand-ins, see scripts/shims/.
  alias: { 'string-width': './scripts/shims/string-width.cjs', assert: './scripts/shims/assert.mjs' },
  // `--version` says what package.json says, without reading it at every start.
  define: { 'import.meta.url': '__importMetaUrl', USAGE_LEDGER_VERSION: JSON.stringify(version) },
  banner: { js: "const __importMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
})
