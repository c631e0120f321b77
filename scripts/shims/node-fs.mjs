// Build-time stand-in for `node:fs` (and node-path.mjs for `node:path`): esbuild turns every
// `import fs from 'node:fs'` of a CommonJS bundle into a copy of the whole module's 104
// properties; through this one ES module the copy is made once, not once per importing file
// (about 3 ms of every run). The named exports are those the bundled packages import.
import fs from 'fs'
export default fs
export const { readFileSync, readdirSync } = fs
