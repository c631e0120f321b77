/**
 * The test git server, proved with native git (spawned asynchronously: this process serves it)
 * and with isomorphic-git.
 */
import t from 'tap'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import * as git from 'isomorphic-git'
import isoHttp from 'isomorphic-git/http/node'
import { startGitServer, type GitServer, type GitServerRequest } from './git-server.js'
import { run as runProcess } from './spawn.js'

const TOKEN = `tok-${randomBytes(8).toString('hex')}`
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`
const authArgs = (header: string) => ['-c', `http.extraHeader=Authorization: ${header}`]
const GOOD = authArgs(basic('x', TOKEN))

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ul-git-server-'))
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }))
const home = path.join(tmp, 'home')
fs.mkdirSync(home)

function clientEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('GIT_')) env[k] = v
  return {
    ...env,
    HOME: home,
    LC_ALL: 'C',
    GIT_TERMINAL_PROMPT: '0',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CEILING_DIRECTORIES: tmp,
    GIT_AUTHOR_NAME: 'Test',
    GIT_AUTHOR_EMAIL: 'test@example.invalid',
    GIT_COMMITTER_NAME: 'Test',
    GIT_COMMITTER_EMAIL: 'test@example.invalid',
  }
}

interface Run {
  code: number
  stdout: string
  stderr: string
  ms: number
}

/** Native git, asynchronously (never spawnSync: this very process serves the requests). */
async function run(
  args: string[],
  opts: { cwd?: string; timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<Run> {
  const started = Date.now()
  const r = await runProcess('git', args, {
    cwd: opts.cwd ?? tmp,
    env: { ...clientEnv(), ...opts.env },
    stdin: 'ignore',
    watchdogMs: opts.timeoutMs ?? 15000,
  })
  return { code: r.code ?? (r.signal ? 128 : -1), stdout: r.stdout, stderr: r.stderr, ms: Date.now() - started }
}

async function ok(args: string[], opts: Parameters<typeof run>[1] = {}): Promise<string> {
  const r = await run(args, opts)
  if (r.code !== 0) throw new Error(`git ${args.join(' ')} exited ${r.code}: ${r.stderr}`)
  return r.stdout.trim()
}

/** A raw HTTP GET, to see exactly what the server answers. */
function get(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, agent: false }, (res) => {
      let body = ''
      res.on('data', (b) => (body += b))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
    })
    req.on('error', reject)
  })
}

const since = (s: GitServer, n: number) => s.requests.slice(n)
const show = (rs: GitServerRequest[]) =>
  rs
    .map((r) => `${r.method} ${r.path} ${r.status}${r.chunked ? ' chunked' : ''}${r.encoding ? ` ${r.encoding}` : ''}`)
    .join('\n')

let server: GitServer
t.before(async () => {
  server = await startGitServer({ root: path.join(tmp, 'srv'), token: TOKEN })
})
t.teardown(() => server.close())

t.test('native git: clone empty, push, big chunked push, clone again, protocol v2 fetch', async (t) => {
  const started = Date.now()
  server.createBare('repo')
  t.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/)
  t.equal(server.repoUrl('repo'), `${server.url}/repo.git`)
  const url = server.repoUrl('repo')
  const work = path.join(tmp, 'work')

  const cloned = await run([...GOOD, 'clone', url, work])
  t.equal(cloned.code, 0, cloned.stderr)
  t.match(cloned.stderr, /empty repository/)

  fs.writeFileSync(path.join(work, 'a.txt'), 'hello\n')
  await ok(['add', 'a.txt'], { cwd: work })
  await ok(['commit', '-q', '-m', 'first'], { cwd: work })
  let n = server.requests.length
  await ok([...GOOD, 'push', 'origin', 'HEAD:refs/heads/main'], { cwd: work })
  const pushReqs = since(server, n)
  t.ok(
    pushReqs.some((r) => r.method === 'POST' && r.path === '/repo.git/git-receive-pack' && r.status === 200),
    show(pushReqs),
  )
  t.ok(pushReqs.every((r) => r.user === 'x'))

  // > 1 MiB of incompressible data: above http.postBuffer, so git streams the pack chunked.
  const big = randomBytes(2 * 1024 * 1024)
  fs.writeFileSync(path.join(work, 'big.bin'), big)
  await ok(['add', 'big.bin'], { cwd: work })
  await ok(['commit', '-q', '-m', 'big'], { cwd: work })
  n = server.requests.length
  const t0 = Date.now()
  await ok([...GOOD, 'push', 'origin', 'HEAD:refs/heads/main'], { cwd: work })
  t.comment(`big push: ${Date.now() - t0} ms`)
  const bigReqs = since(server, n)
  const chunked = bigReqs.find((r) => r.method === 'POST' && r.path === '/repo.git/git-receive-pack' && r.chunked)
  t.ok(chunked, `a chunked receive-pack POST\n${show(bigReqs)}`)
  t.equal(chunked?.status, 200)
  t.ok((chunked?.bodyBytes ?? 0) > 1024 * 1024, `body ${chunked?.bodyBytes} bytes`)
  const head = await ok(['rev-parse', 'HEAD'], { cwd: work })
  t.equal(
    await ok(['--git-dir', path.join(server.root, 'repo.git'), 'rev-parse', 'refs/heads/main']),
    head,
    'the bare repo has the pushed head',
  )

  const work2 = path.join(tmp, 'work2')
  await ok([...GOOD, 'clone', '-q', url, work2])
  t.equal(await ok(['log', '-1', '--format=%s'], { cwd: work2 }), 'big')
  t.equal(await ok(['rev-parse', 'HEAD'], { cwd: work2 }), head)
  t.ok(fs.readFileSync(path.join(work2, 'big.bin')).equals(big), 'the big file came back intact')

  // Many local-only commits in work2 make the fetch negotiation send a large "have" request,
  // which git gzips (Content-Encoding: gzip -> HTTP_CONTENT_ENCODING).
  await ok(['checkout', '-q', '-b', 'side'], { cwd: work2 })
  const base = Math.floor(Date.now() / 1000) + 3600 // newer than main's commits: sent first as haves
  for (let i = 0; i < 40; i++) {
    await ok(['commit', '-q', '--allow-empty', '-m', `side ${i}`], {
      cwd: work2,
      env: { GIT_COMMITTER_DATE: `${base + i * 60} +0000`, GIT_AUTHOR_DATE: `${base + i * 60} +0000` },
    })
  }
  fs.writeFileSync(path.join(work, 'a.txt'), 'hello again\n')
  await ok(['commit', '-q', '-am', 'third'], { cwd: work })
  await ok([...GOOD, 'push', '-q', 'origin', 'HEAD:refs/heads/main'], { cwd: work })
  const third = await ok(['rev-parse', 'HEAD'], { cwd: work })

  n = server.requests.length
  await ok([...GOOD, '-c', 'protocol.version=2', 'fetch', '-q', 'origin'], { cwd: work2 })
  const fetchReqs = since(server, n)
  t.equal(await ok(['rev-parse', 'refs/remotes/origin/main'], { cwd: work2 }), third, 'fetched the new head')
  t.ok(
    fetchReqs.length > 0 && fetchReqs.every((r) => r.protocol === 'version=2'),
    'every fetch request carried Git-Protocol: version=2',
  )
  t.ok(
    fetchReqs.some((r) => r.method === 'POST' && r.path === '/repo.git/git-upload-pack' && r.status === 200),
    show(fetchReqs),
  )
  t.ok(
    fetchReqs.some((r) => r.encoding === 'gzip' && r.status === 200),
    `a gzip request body was served\n${show(fetchReqs)}`,
  )
  t.ok(
    fetchReqs.every((r) => r.status === 200),
    show(fetchReqs),
  )
  t.comment(`native section: ${Date.now() - started} ms`)
})

t.test('auth: wrong token and no token are 401 with WWW-Authenticate: Basic', async (t) => {
  server.createBare('auth')
  const url = server.repoUrl('auth')

  let n = server.requests.length
  const wrong = await run([...authArgs(basic('x', 'not-the-token')), 'ls-remote', url])
  t.not(wrong.code, 0)
  t.match(wrong.stderr, /Authentication failed|could not read Username|401/)
  t.ok(
    since(server, n).some((r) => r.status === 401 && r.user === 'x'),
    show(since(server, n)),
  )

  n = server.requests.length
  const none = await run(['ls-remote', url])
  t.not(none.code, 0)
  t.ok(
    since(server, n).some((r) => r.status === 401 && r.user === undefined),
    show(since(server, n)),
  )

  n = server.requests.length
  const wrongPush = await run([...authArgs(basic('x', 'nope')), 'push', url, 'HEAD:refs/heads/main'], {
    cwd: path.join(tmp, 'work'),
  })
  t.not(wrongPush.code, 0)
  t.ok(
    since(server, n).every((r) => r.status === 401),
    show(since(server, n)),
  )
  t.notOk(fs.existsSync(path.join(server.root, 'auth.git', 'refs', 'heads', 'main')), 'nothing was pushed')

  const raw = await get(`${url}/info/refs?service=git-upload-pack`)
  t.equal(raw.status, 401)
  t.equal(raw.headers['www-authenticate'], 'Basic realm="git"')
  t.equal(raw.body, '')
  const rawOk = await get(`${url}/info/refs?service=git-upload-pack`, { Authorization: basic('anyone', TOKEN) })
  t.equal(rawOk.status, 200)
  t.equal(rawOk.headers['content-type'], 'application/x-git-upload-pack-advertisement')
  const missing = await get(`${server.url}/nope.git/info/refs?service=git-upload-pack`, {
    Authorization: basic('anyone', TOKEN),
  })
  t.equal(missing.status, 404, 'status taken from the CGI Status: header')
})

t.test('a fixed user, and a server without a token', async (t) => {
  const s = await startGitServer({ root: path.join(tmp, 'srv-user'), token: TOKEN, user: 'alice' })
  t.teardown(() => s.close())
  s.createBare('r')
  const u = `${s.repoUrl('r')}/info/refs?service=git-upload-pack`
  t.equal((await get(u, { Authorization: basic('bob', TOKEN) })).status, 401)
  t.equal((await get(u, { Authorization: basic('alice', 'wrong') })).status, 401)
  t.equal((await get(u, { Authorization: basic('alice', TOKEN) })).status, 200)

  const open = await startGitServer({ root: path.join(tmp, 'srv-open') })
  t.teardown(() => open.close())
  open.createBare('r')
  const w = path.join(tmp, 'work')
  await ok(['push', '-q', open.repoUrl('r'), 'HEAD:refs/heads/main'], { cwd: w })
  t.equal(
    await ok(['ls-remote', open.repoUrl('r'), 'refs/heads/main']),
    `${await ok(['rev-parse', 'HEAD'], { cwd: w })}\trefs/heads/main`,
  )
})

t.test('setDown: a down server fails git quickly; back up, it works again on the same port', async (t) => {
  const work = path.join(tmp, 'work')
  server.createBare('down')
  const url = server.repoUrl('down')
  const port = new URL(server.url).port

  await server.setDown(true)
  await t.rejects(get(`${server.url}/down.git/info/refs`), { code: 'ECONNREFUSED' })
  const failed = await run([...GOOD, 'push', url, 'HEAD:refs/heads/main'], { cwd: work, timeoutMs: 10000 })
  t.not(failed.code, 0)
  t.ok(failed.ms < 5000, `failed in ${failed.ms} ms`)
  t.match(failed.stderr, /Failed to connect|Connection refused|Couldn't connect|Empty reply|Recv failure|reset/i)

  await server.setDown(false)
  t.equal(new URL(server.url).port, port)
  const pushed = await run([...GOOD, 'push', url, 'HEAD:refs/heads/main'], { cwd: work, timeoutMs: 10000 })
  t.equal(pushed.code, 0, pushed.stderr)
  t.comment(`down push failed in ${failed.ms} ms; up push took ${pushed.ms} ms`)

  // Down while a request is in flight: the connection dies (no hang) and the CGI child is killed.
  const inflight = openUpload(url)
  await waitFor(() => backendChildren().length === 1)
  await server.setDown(true)
  const err = await inflight
  t.match(err.message, /socket hang up|ECONNRESET/)
  await waitFor(() => backendChildren().length === 0)
  t.pass('the CGI child of the cut connection is gone')
  await server.setDown(false)
  t.equal((await get(`${url}/info/refs?service=git-upload-pack`, { Authorization: basic('x', TOKEN) })).status, 200)
})

t.test('a client that goes away kills its CGI child', async (t) => {
  const url = server.repoUrl('down')
  const ac = new AbortController()
  const inflight = openUpload(url, ac.signal)
  await waitFor(() => backendChildren().length === 1)
  ac.abort()
  await inflight
  await waitFor(() => backendChildren().length === 0)
  t.pass('no git http-backend left')
})

/**
 * A POST to git-upload-pack whose chunked body never ends, so `git http-backend` waits on its
 * stdin; resolves with the error that ends it.
 */
function openUpload(url: string, signal?: AbortSignal): Promise<Error> {
  return new Promise((resolve) => {
    const req = http.request(`${url}/git-upload-pack`, {
      method: 'POST',
      agent: false,
      signal,
      headers: {
        Authorization: basic('x', TOKEN),
        'Content-Type': 'application/x-git-upload-pack-request',
        'Transfer-Encoding': 'chunked',
      },
    })
    req.on('error', resolve)
    req.on('response', (res) => {
      res.resume()
      res.on('error', resolve)
      res.on('end', () => resolve(new Error(`unexpected response ${res.statusCode}`)))
    })
    req.write('0032want ')
  })
}

/** `git http-backend` processes whose parent is this process (Linux /proc). */
function backendChildren(): number[] {
  const pids: number[] = []
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      if (ppid !== process.pid) continue
      const cmd = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0')
      if (cmd.includes('http-backend')) pids.push(Number(d))
    } catch {
      // gone meanwhile
    }
  }
  return pids
}

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting')
    await new Promise((r) => setTimeout(r, 10))
  }
}

t.test('isomorphic-git: clone, commit and push over the server with onAuth', async (t) => {
  const started = Date.now()
  const onAuth = () => ({ username: 'x', password: TOKEN })
  const url = server.repoUrl('repo')
  const dir = path.join(tmp, 'iso')
  await git.clone({ fs, http: isoHttp, dir, url, onAuth, singleBranch: true, ref: 'main' })
  const log = await git.log({ fs, dir, depth: 1 })
  t.equal(log[0]!.commit.message.trim(), 'third')

  fs.writeFileSync(path.join(dir, 'iso.txt'), 'from isomorphic-git\n')
  fs.writeFileSync(path.join(dir, 'iso-big.bin'), randomBytes(1536 * 1024))
  await git.add({ fs, dir, filepath: 'iso.txt' })
  await git.add({ fs, dir, filepath: 'iso-big.bin' })
  const author = { name: 'Iso', email: 'iso@example.invalid', timestamp: 1790000000, timezoneOffset: 0 }
  const oid = await git.commit({ fs, dir, message: 'iso commit', author, committer: author })
  const n = server.requests.length
  const res = await git.push({ fs, http: isoHttp, dir, url, ref: 'main', remoteRef: 'main', onAuth })
  t.ok(res.ok, JSON.stringify(res))
  t.ok(
    since(server, n).some((r) => r.method === 'POST' && r.path === '/repo.git/git-receive-pack' && r.status === 200),
    show(since(server, n)),
  )
  t.equal(await ok(['--git-dir', path.join(server.root, 'repo.git'), 'rev-parse', 'refs/heads/main']), oid)
  t.equal(await ok(['--git-dir', path.join(server.root, 'repo.git'), 'fsck', '--strict', '--no-progress']), '')

  // An empty repository: isomorphic-git initializes, commits and pushes the first branch.
  server.createBare('iso-empty')
  const dir2 = path.join(tmp, 'iso-empty')
  await git.init({ fs, dir: dir2, defaultBranch: 'main' })
  fs.writeFileSync(path.join(dir2, 'x.txt'), 'x\n')
  await git.add({ fs, dir: dir2, filepath: 'x.txt' })
  const oid2 = await git.commit({ fs, dir: dir2, message: 'first', author, committer: author })
  const res2 = await git.push({
    fs,
    http: isoHttp,
    dir: dir2,
    url: server.repoUrl('iso-empty'),
    ref: 'main',
    remoteRef: 'main',
    onAuth,
  })
  t.ok(res2.ok, JSON.stringify(res2))
  t.equal(await ok([...GOOD, 'ls-remote', server.repoUrl('iso-empty'), 'refs/heads/main']), `${oid2}\trefs/heads/main`)

  // A wrong token: isomorphic-git gets the 401 and gives up.
  await t.rejects(
    git.clone({
      fs,
      http: isoHttp,
      dir: path.join(tmp, 'iso-bad'),
      url,
      onAuth: () => ({ username: 'x', password: 'bad' }),
      onAuthFailure: () => ({ cancel: true }),
    }),
  )
  t.comment(`isomorphic-git section: ${Date.now() - started} ms`)
})
