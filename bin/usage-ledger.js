#!/usr/bin/env node
// Loads the bundled CLI; `npm run build` makes dist/ (the published package ships it built).
import { main } from '../dist/cli.js'

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code },
  (err) => { console.error(err); process.exitCode = 1 },
)
