// Google Antigravity data dir for the benchmarks: `sessions` conversation databases under
// conversations/, each a few steps whose metadata blob holds a call's usage (protobuf, encoded
// here as Antigravity writes it; fields in docs/sources.md "antigravity") and a gen_metadata row
// repeating the first call under its model name, as the agent writes both.
import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { makeRng } from '../generate.mjs'

const Database = createRequire(import.meta.url)('better-sqlite3')
const DAY = 86_400_000
const MODELS = ['Gemini 3 Pro (High)', 'Gemini 3.6 Flash (High)']

// protobuf: varint, varint field, length-delimited field
function varint(n) {
  const out = []
  let v = n
  while (v >= 128) {
    out.push((v % 128) | 128)
    v = Math.floor(v / 128)
  }
  out.push(v)
  return Buffer.from(out)
}
const fv = (no, n) => Buffer.concat([varint(no * 8), varint(n)])
const fb = (no, b) => {
  const body = typeof b === 'string' ? Buffer.from(b) : b
  return Buffer.concat([varint(no * 8 + 2), varint(body.length), body])
}
const ts = (ms) => Buffer.concat([fv(1, Math.floor(ms / 1000)), fv(2, (ms % 1000) * 1e6)])

export function generate(root, { sessions, seed = 1, end }) {
  const r = makeRng(seed).next
  const int = (n) => Math.floor(r() * n)
  const endMs = Date.parse(end)
  const dir = path.join(root, 'conversations')
  fs.mkdirSync(dir, { recursive: true })
  let records = 0
  for (let s = 0; s < sessions; s++) {
    const id = `5b1c${(seed % 0xffff).toString(16).padStart(4, '0')}-2a4d-4e8b-9c1f-${s.toString(16).padStart(12, '0')}`
    const file = path.join(dir, `${id}.db`)
    fs.rmSync(file, { force: true })
    const db = new Database(file)
    db.exec(`CREATE TABLE steps (idx INTEGER PRIMARY KEY, step_type INTEGER, status INTEGER, has_subtrajectory INTEGER, metadata BLOB, error_details BLOB, permissions BLOB, task_details BLOB, render_info BLOB, step_payload BLOB, step_format INTEGER);
CREATE TABLE gen_metadata (idx INTEGER PRIMARY KEY, data BLOB, size INTEGER);
CREATE TABLE trajectory_metadata_blob (id TEXT PRIMARY KEY, data BLOB);`)
    const model = MODELS[int(MODELS.length)]
    let t = endMs - (1 + int(30)) * DAY + int(DAY)
    db.prepare("INSERT INTO trajectory_metadata_blob VALUES ('main', ?)").run(fb(2, ts(t)))
    const step = db.prepare(
      'INSERT INTO steps (idx, step_type, status, has_subtrajectory, metadata) VALUES (?, ?, 3, 0, ?)',
    )
    const gen = db.prepare('INSERT INTO gen_metadata (idx, data, size) VALUES (?, ?, ?)')
    db.transaction(() => {
      let idx = 0
      for (let k = 0, turns = 2 + int(8); k < turns; k++) {
        t += 30_000 + int(900_000)
        step.run(idx++, 14, fb(8, ts(t - 5000)))
        const thinking = int(800)
        const visible = 50 + int(2000)
        const usage = Buffer.concat([
          fv(2, 1000 + int(30000)),
          fv(3, thinking + visible),
          fv(5, int(60000)),
          fb(7, `${id}-m${k}`),
          fv(9, thinking),
          fv(10, visible),
          fb(11, `${id}-r${k}`),
        ])
        step.run(idx++, 15, Buffer.concat([fb(8, ts(t)), fb(9, usage), fb(24, fb(12, model))]))
        if (k === 0) {
          const data = fb(1, Buffer.concat([fb(4, usage), fb(9, fb(4, ts(t - 2000))), fb(21, model)]))
          gen.run(0, data, data.length)
        }
        records++
      }
    })()
    db.close()
  }
  return { env: { ANTIGRAVITY_DATA_DIR: root }, files: sessions, records }
}
