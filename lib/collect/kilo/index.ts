/**
 * Kilo CLI (docs/sources.md "kilo"), Kilo Code's fork of OpenCode: the same database and message
 * JSON under its own name (`<data>/kilo/kilo.db`), read by OpenCode's source.
 */
import { openCodeFamily } from '../opencode/index.js'

export const kilo = openCodeFamily({
  name: 'kilo',
  title: 'Kilo CLI',
  envVar: 'KILO_DATA_DIR',
  app: 'kilo',
})
