// Build-time stand-in for `assert` in yargs' ESM shim, which only uses these two for internal
// invariants: loading node:assert (with util.inspect and its error machinery) cost a few
// milliseconds of every run.
export function strictEqual(actual, expected, message) {
  if (actual !== expected) throw new Error(message ?? `expected ${String(expected)}, got ${String(actual)}`)
}
export function notStrictEqual(actual, expected, message) {
  if (actual === expected) throw new Error(message ?? `unexpected ${String(actual)}`)
}
