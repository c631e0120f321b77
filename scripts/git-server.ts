/**
 * A real smart-HTTP git server for `npm run demo` and the tests: a Node `http` server on
 * 127.0.0.1 that bridges each request to `git http-backend` (CGI, ships with git), with an
 * optional Basic-auth token check.
 *
 * Rules it keeps (see DESIGN §11):
 * - the request path never runs git synchronously: every request spawns `git http-backend`
 *   asynchronously, so the test process that serves stays responsive while its own git
 *   children (clone, push) talk to it;
 * - `CONTENT_LENGTH` only when the client sent one (big pushes are chunked: the body is piped and
 *   http-backend reads to EOF); `Content-Encoding` -> `HTTP_CONTENT_ENCODING`,
 *   `Git-Protocol` -> `GIT_PROTOCOL`; `REMOTE_USER` is set so receive-pack is allowed (and the
 *   bare repos made by `createBare` also set `http.receivepack true`);
 * - the HTTP status comes from the CGI `Status:` header (default 200);
 * - a client that goes away kills its CGI child.
 *
 * Fault injection (`setFault`, for the fault tests): per request, delay the answer, answer an
 * error status instead of (or after) running git http-backend, or cut or stall the answer after
 * some body bytes.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import path from 'node:path'

export interface GitServerRequest {
  method: string
  /** The request target as sent: pathname plus `?query`. */
  path: string
  /** The HTTP status answered; 0 while in flight or when the client went away first. */
  status: number
  /** The Basic-auth username the client sent, if any. */
  user?: string
  /** The `Git-Protocol` header, e.g. `version=2`. */
  protocol?: string
  /** The `Content-Encoding` of the request body, e.g. `gzip`. */
  encoding?: string
  /** True when the request body came with `Transfer-Encoding: chunked`. */
  chunked?: boolean
  /** Request body bytes received. */
  bodyBytes?: number
  /** What `git http-backend` wrote to stderr, if anything. */
  stderr?: string
  /** The fault injected into this request, described (e.g. `status 500`), if any. */
  fault?: string
}

/** What to do to one request instead of serving it normally (fields combine: delay first). */
export interface GitServerFault {
  /** Wait this long before handling the request (a slow server: nothing is sent meanwhile). */
  delayMs?: number
  /** Read the request body, then answer this status without running git http-backend. */
  status?: number
  /**
   * Run git http-backend to the end (the server does the work, e.g. takes a push), then
   * answer the client this status instead of the backend's answer.
   */
  statusAfterBackend?: number
  /** Send this many bytes of the backend's answer body, then destroy the connection. */
  closeAfterBytes?: number
  /** Send this many bytes of the backend's answer body, then send nothing more (the connection stays open). */
  stallAfterBytes?: number
}

/** Decides the fault of each request as it arrives; undefined serves it normally. */
export type GitServerFaultRule = (req: GitServerRequest) => GitServerFault | undefined

export interface GitServer {
  /** http://127.0.0.1:PORT */
  url: string
  /** http://127.0.0.1:PORT/<name>.git */
  repoUrl(name: string): string
  /** Creates `<root>/<name>.git` (bare, HEAD -> main, `http.receivepack true`); returns its path. */
  createBare(name: string): string
  root: string
  requests: GitServerRequest[]
  /**
   * Down: the listener is closed (new connections are refused) and open connections are
   * destroyed. Up: listens again on the same port. Down takes effect synchronously; await the
   * returned promise to be sure the server is listening again after `setDown(false)`.
   */
  setDown(down: boolean): Promise<void>
  /** Injects faults into the requests that arrive from now on; null serves normally again. */
  setFault(rule: GitServerFaultRule | null): void
  close(): Promise<void>
}

export interface GitServerOptions {
  /** Directory holding the repositories (GIT_PROJECT_ROOT). */
  root: string
  /** When set, every request must carry `Authorization: Basic base64(user:token)`. */
  token?: string
  /** When set (with `token`), the username must equal it; otherwise any username is accepted. */
  user?: string
}

/** The environment for git children: PATH and locale, no GIT_* of the caller, no system/global config. */
function gitEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith('GIT_')) env[k] = v
  }
  return { ...env, LC_ALL: 'C', GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', ...extra }
}

function parseBasic(header: string | undefined): { user: string; password: string } | undefined {
  if (!header) return undefined
  const m = /^\s*basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header)
  if (!m) return undefined
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8')
  const i = decoded.indexOf(':')
  if (i < 0) return undefined
  return { user: decoded.slice(0, i), password: decoded.slice(i + 1) }
}

/** Finds the end of the CGI header block: the first empty line, with \r\n or \n line ends. */
function headerEnd(buf: Buffer): { end: number; bodyStart: number } | undefined {
  let lineStart = 0
  for (let i = 0; i < buf.length; i++) {
    if (buf[i] !== 0x0a) continue
    const line = buf.subarray(lineStart, i)
    if (line.length === 0 || (line.length === 1 && line[0] === 0x0d)) return { end: lineStart, bodyStart: i + 1 }
    lineStart = i + 1
  }
  return undefined
}

function describeFault(f: GitServerFault): string {
  const parts: string[] = []
  if (f.delayMs) parts.push(`delay ${f.delayMs} ms`)
  if (f.status !== undefined) parts.push(`status ${f.status}`)
  if (f.statusAfterBackend !== undefined) parts.push(`status ${f.statusAfterBackend} after backend`)
  if (f.closeAfterBytes !== undefined) parts.push(`close after ${f.closeAfterBytes} bytes`)
  if (f.stallAfterBytes !== undefined) parts.push(`stall after ${f.stallAfterBytes} bytes`)
  return parts.join(', ') || 'none'
}

export function startGitServer(opts: GitServerOptions): Promise<GitServer> {
  const root = path.resolve(opts.root)
  fs.mkdirSync(root, { recursive: true })
  const requests: GitServerRequest[] = []
  const sockets = new Set<Socket>()
  const children = new Set<ChildProcess>()
  let down = false
  let closed = false
  let port = 0
  let faultRule: GitServerFaultRule | null = null
  const timers = new Set<NodeJS.Timeout>()
  /** Serializes listener transitions (down/up/close). */
  let transition: Promise<void> = Promise.resolve()

  const server = http.createServer((req, res) => handle(req, res))
  server.keepAliveTimeout = 1000
  server.on('connection', (socket: Socket) => {
    if (down || closed) {
      socket.destroy()
      return
    }
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })

  function destroyConnections() {
    for (const s of sockets) s.destroy()
    sockets.clear()
  }

  function handle(req: http.IncomingMessage, res: http.ServerResponse) {
    const entry: GitServerRequest = { method: req.method ?? 'GET', path: req.url ?? '/', status: 0 }
    requests.push(entry)
    const proto = req.headers['git-protocol']
    if (typeof proto === 'string') entry.protocol = proto
    const te = req.headers['transfer-encoding']
    if (te && /chunked/i.test(te)) entry.chunked = true
    const auth = parseBasic(req.headers.authorization)
    if (auth) entry.user = auth.user
    let bodyBytes = 0
    req.on('data', (b: Buffer) => {
      bodyBytes += b.length
      entry.bodyBytes = bodyBytes
    })
    const fault = faultRule?.(entry)
    if (fault) entry.fault = describeFault(fault)
    if (!fault?.delayMs) {
      serve(req, res, entry, auth, typeof proto === 'string' ? proto : undefined, fault)
      return
    }
    // Hold the body (it is piped to the backend later) and answer nothing meanwhile.
    req.pause()
    const timer = setTimeout(() => {
      timers.delete(timer)
      if (!res.destroyed && !res.writableEnded)
        serve(req, res, entry, auth, typeof proto === 'string' ? proto : undefined, fault)
    }, fault.delayMs)
    timers.add(timer)
    res.on('close', () => {
      clearTimeout(timer)
      timers.delete(timer)
    })
  }

  function serve(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    entry: GitServerRequest,
    auth: { user: string; password: string } | undefined,
    proto: string | undefined,
    fault: GitServerFault | undefined,
  ) {
    const answer = (status: number, headers: Record<string, string> = {}, body = '') => {
      entry.status = status
      req.resume()
      res.writeHead(status, { 'Content-Length': String(Buffer.byteLength(body)), ...headers })
      res.end(body)
    }

    if (opts.token !== undefined) {
      const ok =
        auth !== undefined && auth.password === opts.token && (opts.user === undefined || auth.user === opts.user)
      if (!ok) {
        answer(401, { 'WWW-Authenticate': 'Basic realm="git"', Connection: 'close' })
        return
      }
    }

    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    let pathInfo: string
    try {
      pathInfo = decodeURIComponent(url.pathname)
    } catch {
      answer(400, { 'Content-Type': 'text/plain' }, 'bad path\n')
      return
    }

    const cgi: Record<string, string> = {
      GATEWAY_INTERFACE: 'CGI/1.1',
      SERVER_PROTOCOL: `HTTP/${req.httpVersion}`,
      SERVER_SOFTWARE: 'usage-ledger-test-git-server',
      SERVER_NAME: '127.0.0.1',
      SERVER_PORT: String(port),
      GIT_PROJECT_ROOT: root,
      GIT_HTTP_EXPORT_ALL: '1',
      PATH_INFO: pathInfo,
      QUERY_STRING: url.search.startsWith('?') ? url.search.slice(1) : '',
      REQUEST_METHOD: req.method ?? 'GET',
      CONTENT_TYPE: req.headers['content-type'] ?? '',
      REMOTE_ADDR: req.socket.remoteAddress ?? '127.0.0.1',
      REMOTE_USER: auth?.user || 'anonymous',
    }
    if (auth) cgi.AUTH_TYPE = 'Basic'
    // Only when the client sent one: a chunked body has none, and http-backend then reads to EOF.
    const cl = req.headers['content-length']
    if (cl !== undefined) cgi.CONTENT_LENGTH = cl
    // The other request headers, CGI style (HTTP_CONTENT_ENCODING among them).
    for (const [name, value] of Object.entries(req.headers)) {
      if (value === undefined) continue
      const lower = name.toLowerCase()
      if (lower === 'authorization' || lower === 'content-type' || lower === 'content-length') continue
      cgi[`HTTP_${lower.toUpperCase().replace(/-/g, '_')}`] = Array.isArray(value) ? value.join(', ') : value
    }
    const enc = req.headers['content-encoding']
    if (enc !== undefined) cgi.HTTP_CONTENT_ENCODING = entry.encoding = enc
    if (typeof proto === 'string') cgi.GIT_PROTOCOL = proto

    if (fault?.status !== undefined) {
      // The request body is read to its end first, as a server that failed late would.
      const status = fault.status
      req.on('end', () => {
        if (!res.destroyed) answer(status, { 'Content-Type': 'text/plain' }, `injected fault: ${status}\n`)
      })
      req.resume()
      return
    }

    const child = spawn('git', ['http-backend'], { env: gitEnv(cgi), stdio: ['pipe', 'pipe', 'pipe'] })
    children.add(child)
    let stderr = ''
    child.stderr!.on('data', (b: Buffer) => {
      stderr += b.toString('utf8')
      entry.stderr = stderr
    })
    child.on('close', () => children.delete(child))
    child.on('error', (err) => {
      children.delete(child)
      if (!res.headersSent)
        answer(500, { 'Content-Type': 'text/plain' }, `cannot run git http-backend: ${err.message}\n`)
      else res.destroy()
    })

    // The body goes to the child as it arrives (chunked or not); the child may exit early.
    child.stdin!.on('error', () => {})
    req.pipe(child.stdin!)

    // A client that goes away (or a server that goes down) kills its CGI child.
    res.on('close', () => {
      if (!res.writableFinished && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    })

    const stdout = child.stdout!
    if (fault?.statusAfterBackend !== undefined) {
      // The backend does all its work (a push lands); the client hears only the failure.
      const status = fault.statusAfterBackend
      stdout.resume()
      child.on('close', () => {
        if (!res.destroyed) answer(status, { 'Content-Type': 'text/plain' }, `injected fault: ${status}\n`)
      })
      return
    }
    let head: Buffer = Buffer.alloc(0)
    const onData = (chunk: Buffer) => {
      head = head.length ? Buffer.concat([head, chunk]) : chunk
      const found = headerEnd(head)
      if (!found) return
      stdout.off('data', onData)
      stdout.off('end', onEnd)
      let status = 200
      const headers: Record<string, string | string[]> = {}
      for (const raw of head.subarray(0, found.end).toString('latin1').split('\n')) {
        const line = raw.replace(/\r$/, '')
        if (!line) continue
        const i = line.indexOf(':')
        if (i <= 0) continue
        const name = line.slice(0, i).trim()
        const value = line.slice(i + 1).trim()
        if (name.toLowerCase() === 'status') {
          const n = parseInt(value, 10)
          if (n >= 100 && n <= 999) status = n
          continue
        }
        const prev = headers[name]
        headers[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value]
      }
      entry.status = status
      if (res.destroyed) return
      res.writeHead(status, headers)
      const rest = head.subarray(found.bodyStart)
      const limit = fault?.closeAfterBytes ?? fault?.stallAfterBytes
      if (limit !== undefined) {
        forwardUntil(rest, limit, fault!.closeAfterBytes !== undefined)
        return
      }
      if (rest.length) res.write(rest)
      // pipe() attaches its own 'data' listener synchronously, so nothing is lost in between.
      stdout.pipe(res)
    }
    /** Forwards `limit` body bytes, then cuts the connection (`close`) or stops sending. */
    const forwardUntil = (first: Buffer, limit: number, close: boolean) => {
      let sent = 0
      const push = (b: Buffer) => {
        if (res.destroyed) return
        const n = Math.min(b.length, limit - sent)
        if (n > 0) {
          res.write(b.subarray(0, n))
          sent += n
        }
        if (sent < limit) return
        stdout.off('data', push)
        if (close) {
          // Let the bytes written so far leave, then drop the connection without ending the body.
          const socket = res.socket
          socket?.end()
          setTimeout(() => socket?.destroy(), 100).unref()
        } else {
          stdout.pause() // the backend blocks on its full pipe until the client goes away
        }
      }
      if (first.length) push(first)
      if (sent < limit) stdout.on('data', push)
    }
    const onEnd = () => {
      // stdout ended before a complete header block.
      if (!res.headersSent && !res.destroyed) {
        answer(502, { 'Content-Type': 'text/plain' }, `git http-backend gave no CGI header\n${stderr}`)
      }
    }
    stdout.on('data', onData)
    stdout.on('end', onEnd)
  }

  function listen(p: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => {
        server.off('listening', onListening)
        reject(err)
      }
      const onListening = () => {
        server.off('error', onError)
        port = (server.address() as AddressInfo).port
        resolve()
      }
      server.once('error', onError)
      server.once('listening', onListening)
      server.listen(p, '127.0.0.1')
    })
  }

  /** Closes the listener; resolves once it and every connection are gone. */
  function stopListening(): Promise<void> {
    return new Promise((resolve) => {
      if (!server.listening) {
        destroyConnections()
        resolve()
        return
      }
      server.close(() => resolve())
      destroyConnections()
    })
  }

  async function relisten(): Promise<void> {
    // The same port: it was ours a moment ago, but retry a little in case the OS is slow to free it.
    for (let attempt = 0; ; attempt++) {
      try {
        await listen(port)
        return
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 50) throw err
        await new Promise((r) => setTimeout(r, 20))
      }
    }
  }

  function killChildren(): Promise<void> {
    const waits: Array<Promise<void>> = []
    for (const c of children) {
      if (c.exitCode === null && c.signalCode === null) {
        waits.push(new Promise((r) => c.once('close', () => r())))
        c.kill('SIGKILL')
      }
    }
    return Promise.all(waits).then(() => undefined)
  }

  return listen(0).then(() => {
    const url = `http://127.0.0.1:${port}`
    const gs: GitServer = {
      url,
      root,
      requests,
      repoUrl: (name: string) => `${url}/${name}.git`,
      createBare(name: string): string {
        const dir = path.join(root, `${name}.git`)
        // Not in the request path, and `git init` never talks to this server, so a synchronous
        // spawn cannot deadlock it; it keeps createBare synchronous.
        const r = spawnSync('git', ['init', '--bare', '--quiet', '--initial-branch=main', dir], {
          env: gitEnv({}),
          encoding: 'utf8',
        })
        if (r.error) throw r.error
        if (r.status !== 0) throw new Error(`git init --bare ${dir} exited ${r.status}: ${r.stderr}`)
        const c = spawnSync('git', ['config', '--file', path.join(dir, 'config'), 'http.receivepack', 'true'], {
          env: gitEnv({}),
          encoding: 'utf8',
        })
        if (c.error) throw c.error
        if (c.status !== 0) throw new Error(`git config http.receivepack exited ${c.status}: ${c.stderr}`)
        return dir
      },
      setDown(value: boolean): Promise<void> {
        if (closed) return Promise.reject(new Error('git server is closed'))
        if (value === down) return transition
        down = value
        if (value) {
          // Synchronous part: the listening socket closes now and open connections die now.
          const stopped = stopListening()
          transition = transition.then(() => stopped)
        } else {
          transition = transition.then(() => relisten())
        }
        return transition
      },
      setFault(rule: GitServerFaultRule | null): void {
        faultRule = rule
      },
      async close(): Promise<void> {
        if (closed) return
        closed = true
        down = true
        for (const timer of timers) clearTimeout(timer)
        timers.clear()
        await transition.catch(() => {})
        await Promise.all([stopListening(), killChildren()])
      },
    }
    return gs
  })
}
