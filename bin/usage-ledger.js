#!/usr/bin/env node
// Runs the bundled CLI (dist/cli.cjs, made by `npm run build`) through a V8 code cache kept in
// the user's cache dir, so a hook calling `record` after every prompt does not recompile it.
// CommonJS (bin/package.json), not ESM: starting node's ES module loader costs a `record` with
// nothing new several milliseconds.
'use strict'
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const vm = require('node:vm')
const { createRequire } = require('node:module')

const file = path.join(__dirname, '..', 'dist', 'cli.cjs')
const source = fs.readFileSync(file, 'utf8')
const cacheDir = path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'usage-ledger')
const cacheFile = path.join(cacheDir, `cli-${process.version}-${fs.statSync(file).size}.v8cache`)
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
const cli = { exports: {} }
script.runInThisContext()(cli.exports, createRequire(file), cli, file, path.dirname(file))
cli.exports.main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
    if (cachedData && !script.cachedDataRejected) return
    try {
      fs.mkdirSync(cacheDir, { recursive: true })
      const tmp = `${cacheFile}.${process.pid}`
      fs.writeFileSync(tmp, script.createCachedData())
      fs.renameSync(tmp, cacheFile) // whole or not at all, whatever runs at the same time
    } catch {
      /* no cache then */
    }
  },
  (err) => {
    console.error(err)
    process.exitCode = 1
  },
)
