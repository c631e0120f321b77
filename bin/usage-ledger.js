#!/usr/bin/env node
// Runs the bundled CLI (dist/cli.cjs, made by `npm run build`) through a V8 code cache kept in
// the user's cache dir, so a hook calling `record` after every prompt does not recompile it.
// `usage-ledger statusline`, which Claude Code runs after every turn, first goes to its own small
// bundle (dist/statusline.cjs, no yargs, no other command), cached alike; what that one does not
// take (--help, --refresh, another option) it hands back, and the full CLI runs it.
// CommonJS (bin/package.json), not ESM: starting node's ES module loader costs a `record` with
// nothing new several milliseconds.
'use strict'
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const vm = require('node:vm')
const { createRequire } = require('node:module')

const cacheDir = path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'usage-ledger')

/** Loads dist/<name>.cjs through its code cache; `save()` writes the cache when it was missing or rejected. */
function load(name) {
  const file = path.join(__dirname, '..', 'dist', `${name}.cjs`)
  const source = fs.readFileSync(file, 'utf8')
  const cacheFile = path.join(cacheDir, `${name}-${process.version}-${fs.statSync(file).size}.v8cache`)
  let cachedData
  try {
    cachedData = fs.readFileSync(cacheFile)
  } catch {
    /* first run */
  }
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: file,
    cachedData,
  })
  const mod = { exports: {} }
  script.runInThisContext()(mod.exports, createRequire(file), mod, file, path.dirname(file))
  const save = () => {
    if (cachedData && !script.cachedDataRejected) return
    try {
      fs.mkdirSync(cacheDir, { recursive: true })
      const tmp = `${cacheFile}.${process.pid}`
      fs.writeFileSync(tmp, script.createCachedData())
      fs.renameSync(tmp, cacheFile) // whole or not at all, whatever runs at the same time
    } catch {
      /* no cache then */
    }
  }
  return { main: mod.exports.main, save }
}

const fail = (err) => {
  console.error(err)
  process.exitCode = 1
}
const argv = process.argv.slice(2)
function cli() {
  const full = load('cli')
  return full.main(argv).then((code) => {
    process.exitCode = code
    full.save()
  }, fail)
}
if (argv[0] === 'statusline') {
  const fast = load('statusline')
  fast.main(argv).then((code) => {
    if (code === null) return cli()
    process.exitCode = code
    fast.save()
  }, fail)
} else cli()
