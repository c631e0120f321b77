// One ESM bundle for fast start-up; heavy, rarely used modules (isomorphic-git, the table
// renderer, time zones) are dynamic imports and land in their own chunks.
import { build } from 'esbuild'
import { rmSync } from 'node:fs'

rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true })
await build({
  entryPoints: { cli: 'lib/cli/main.ts' },
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: 'linked',
  minifySyntax: true,
  chunkNames: 'chunks/[name]-[hash]',
  // CJS dependencies inside an ESM bundle need a real require.
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  alias: { 'string-width': './scripts/shims/string-width.mjs', assert: './scripts/shims/assert.mjs' },
  logLevel: 'warning',
})
