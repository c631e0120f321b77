/**
 * What a `record` with nothing new loads (lib/ARCHITECTURE.md, "Start-up is a feature"): a shell
 * hook runs it after every prompt, so node's ES module loader, child_process, crypto, http and
 * zlib stay unloaded until a run needs them (node:net comes with node:tty, which says whether
 * the output is a terminal).
 */
import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { BIN, copyFixtures, isolatedEnv } from '../helpers/cli.js'
import { run } from '../helpers/spawn.js'

const NEVER = ['child_process', 'crypto', 'http', 'https', 'zlib', 'internal/modules/esm/translators']

t.test('record with nothing new loads none of the heavy built-ins', async (t) => {
  const dir = t.testdir()
  copyFixtures(dir)
  const env = isolatedEnv(dir, { USAGE_LEDGER_DEVICE_ID: 'd'.repeat(32) })
  // Without tap's NODE_OPTIONS (its --import hook loads half of these in every child).
  const node = (...args: string[]) =>
    run('env', ['-u', 'NODE_OPTIONS', process.execPath, ...args], { env, stdin: 'ignore' })
  const first = await node(BIN, 'record', '--no-push')
  t.equal(first.code, 0, first.stderr)
  const list = path.join(dir, 'modules.txt')
  const hook = path.join(dir, 'hook.cjs')
  fs.writeFileSync(
    hook,
    `process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(list)}, process.moduleLoadList.join('\\n')))`,
  )
  const again = await node('--require', hook, BIN, 'record', '--no-push')
  t.equal(again.code, 0, again.stderr)
  t.match(again.stderr, /nothing new/, 'it is the run with nothing new')
  const loaded = new Set(
    fs
      .readFileSync(list, 'utf8')
      .split('\n')
      .filter((m) => m.startsWith('NativeModule '))
      .map((m) => m.slice('NativeModule '.length)),
  )
  t.ok(loaded.has('fs'), 'the list is what node loaded')
  t.same(
    NEVER.filter((m) => loaded.has(m)),
    [],
    'none of them loaded',
  )
})

t.test('a run that reads every record asks V8 to collect sooner (node:v8 loaded); others do not', async (t) => {
  const dir = t.testdir()
  copyFixtures(dir)
  const env = isolatedEnv(dir, { USAGE_LEDGER_DEVICE_ID: 'd'.repeat(32) })
  const hook = path.join(dir, 'hook.cjs')
  const list = path.join(dir, 'modules.txt')
  fs.writeFileSync(
    hook,
    `process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(list)}, process.moduleLoadList.join('\\n')))`,
  )
  const loadsV8 = async (...args: string[]) => {
    const r = await run('env', ['-u', 'NODE_OPTIONS', process.execPath, '--require', hook, BIN, ...args], {
      env,
      stdin: 'ignore',
    })
    t.equal(r.code, 0, r.stderr)
    return fs.readFileSync(list, 'utf8').split('\n').includes('NativeModule v8')
  }
  t.equal(await loadsV8('record', '--no-push'), false, 'record of a few files: no')
  t.equal(await loadsV8('index'), false, 'index: no')
  t.equal(await loadsV8('index', '--rebuild'), true, 'index --rebuild: yes')
  t.equal(await loadsV8('verify'), false, 'verify: no')
  t.equal(await loadsV8('verify', '--full'), true, 'verify --full: yes')
})
