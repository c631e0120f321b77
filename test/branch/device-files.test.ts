import t from 'tap'
import path from 'node:path'
import { SystemBackend } from '../../lib/git/system.js'
import { writeFiles } from '../../lib/git/tree.js'
import { emptyManifest, serializeManifest } from '../../lib/ledger/manifest.js'
import { deviceFilesAt, readDeviceJson, readManifest } from '../../lib/branch/device-files.js'
import { isLedgerError } from '../../lib/errors.js'

const ID = 'a'.repeat(32)

t.test("a head's device.json and manifest.json: found, parsed, and what is not theirs thrown", async (t) => {
  const git = new SystemBackend(path.join(t.testdir(), 'repo.git'))
  await git.init()
  t.teardown(() => git.close())
  const tree = async (files: Record<string, string>) => {
    const m = new Map<string, string>()
    for (const [name, text] of Object.entries(files))
      m.set(`devices/${ID}/${name}`, await git.writeBlob(Buffer.from(text)))
    return writeFiles(git, null, m)
  }

  t.same(await deviceFilesAt(git, null, ID), { device: undefined, manifest: undefined }, 'no commit yet')
  const empty = await deviceFilesAt(git, await tree({ 'x.txt': '' }), ID)
  t.equal(await readDeviceJson(git, empty.device), null, 'absent device.json')
  t.equal(await readManifest(git, empty.manifest), null, 'absent manifest')

  const manifest = emptyManifest(ID, '2026-11-21T10:00:00.000Z')
  const good = await deviceFilesAt(
    git,
    await tree({
      'device.json': JSON.stringify({ v: 1, name: 'laptop', platform: 7, createdAt: 'c', installId: 'i' }),
      'manifest.json': serializeManifest(manifest),
    }),
    ID,
  )
  t.same(await readDeviceJson(git, good.device), { name: 'laptop', createdAt: 'c', installId: 'i' }, 'strings only')
  t.same(await readManifest(git, good.manifest), manifest)

  const bad = await deviceFilesAt(git, await tree({ 'device.json': '{', 'manifest.json': '[1]' }), ID)
  await t.rejects(readDeviceJson(git, bad.device), SyntaxError, 'device.json that is not JSON')
  t.ok(await readManifest(git, bad.manifest).catch((e) => isLedgerError(e, 'BAD_MANIFEST')), 'not a manifest')
  const odd = await deviceFilesAt(git, await tree({ 'device.json': 'null' }), ID)
  t.same(await readDeviceJson(git, odd.device), {}, 'JSON that is not an object names nothing')
})
