// Builds the database fixtures from the SQL kept in the repository (`npm run fixtures`, and before
// the tests, the demo and parity): each `fixtures/**/<name>.sql` becomes `<name>` beside it, e.g.
// `fixtures/opencode/opencode.db.sql` → `fixtures/opencode/opencode.db`. Built databases are not
// committed (.gitignore): the SQL is what a reviewer reads. Each is written under a temporary name
// and renamed, so a reader never sees half a database.
import { readdirSync, readFileSync, renameSync, rmSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'

const root = process.argv[2] ?? fileURLToPath(new URL('../fixtures/', import.meta.url))

function* sqlFiles(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) yield* sqlFiles(p)
    else if (e.isFile() && e.name.endsWith('.sql')) yield p
  }
}

let built = 0
for (const sql of sqlFiles(root)) {
  const target = sql.slice(0, -'.sql'.length)
  const tmp = `${target}.building-${process.pid}`
  rmSync(tmp, { force: true })
  const db = new Database(tmp)
  try {
    db.exec(readFileSync(sql, 'utf8'))
  } finally {
    // A WAL-mode fixture is checkpointed on close: the file alone holds every row.
    db.close()
  }
  for (const f of [`${target}-wal`, `${target}-shm`]) rmSync(f, { force: true })
  renameSync(tmp, target)
  built++
}
console.log(`fixtures: ${built} database${built === 1 ? '' : 's'} built from SQL`)
