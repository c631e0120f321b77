/**
 * A real redis-server for the CLIProxyAPI queue tests: one per test, on a free 127.0.0.1 port,
 * with a password (the management key), no persistence. It stands in for the proxy's RESP queue:
 * RPUSH usage fills the queue LPOP drains, PUBLISH usage is what SUBSCRIBE receives.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import { pollUntil } from './spawn.js'

export const KEY = 'mgmt-key-Zq8vX2'
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
export const PAYLOADS = fs
  .readFileSync(path.join(ROOT, 'fixtures/cliproxy/payloads.ndjson'), 'utf8')
  .split('\n')
  .filter(Boolean)

/** Why the redis tests cannot run here, or null when redis-server is installed. */
export function redisMissing(): string | null {
  const r = spawnSync('redis-server', ['--version'], { encoding: 'utf8' })
  return r.status === 0 ? null : 'redis-server is not installed (.ci/run installs it from Debian)'
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port
      s.close(() => resolve(port))
    })
  })
}

export interface RedisServer {
  port: number
  url: string
  /** A client for the test's own commands (RPUSH, PUBLISH, PUBSUB NUMSUB). */
  client(): Redis
  stop(): Promise<void>
  /** Started again on the same port (after stop). */
  start(): Promise<void>
}

async function waitListening(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy()
        resolve(true)
      })
      s.on('error', () => resolve(false))
    })
    if (ok) return
    await new Promise((r) => setTimeout(r, 25))
  }
  throw new Error(`redis-server did not listen on ${port}`)
}

export async function startRedis(dir: string, port?: number): Promise<RedisServer> {
  const p = port ?? (await freePort())
  fs.mkdirSync(dir, { recursive: true })
  let child: ChildProcess | null = null
  const clients: Redis[] = []
  const start = async () => {
    child = spawn(
      'redis-server',
      [
        '--port',
        String(p),
        '--bind',
        '127.0.0.1',
        '--requirepass',
        KEY,
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
      ],
      { stdio: 'ignore' },
    )
    await waitListening(p)
  }
  const stop = async () => {
    const c = child
    child = null
    if (!c || c.exitCode !== null) return
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve())
      c.kill('SIGKILL')
    })
  }
  await start()
  return {
    port: p,
    url: `redis://127.0.0.1:${p}`,
    client() {
      const c = new Redis({ host: '127.0.0.1', port: p, password: KEY, lazyConnect: false, maxRetriesPerRequest: 1 })
      c.on('error', () => {})
      clients.push(c)
      return c
    },
    start,
    async stop() {
      for (const c of clients.splice(0)) c.disconnect()
      await stop()
    },
  }
}

/** Subscribers of the usage channel (the collector is listening when this is 1). */
export async function subscribers(r: Redis): Promise<number> {
  const got = (await r.call('PUBSUB', 'NUMSUB', 'usage')) as [string, number]
  return Number(got[1])
}

/** `until` of helpers/spawn.ts with this file's bound (30 s). */
export const until = (what: string, check: () => boolean | Promise<boolean>, ms = 30_000) => pollUntil(what, check, ms)

/**
 * A stand-in for CLIProxyAPI's RESP handler (internal/api/redis_queue_protocol.go at a7e3596):
 * AUTH first, LPOP/RPOP usage [count] (an empty array when empty, where Redis answers nil),
 * SUBSCRIBE usage then only PING/UNSUBSCRIBE/QUIT, "ERR unknown command" for anything else. It
 * logs every command, so the test sees what the client sends.
 */
export async function fakeProxy(queue: string[]) {
  const log: string[] = []
  const subscribers = new Set<(m: string) => void>()
  const bulk = (s: string) => `$${Buffer.byteLength(s)}\r\n${s}\r\n`
  const server = net.createServer((sock) => {
    let buf = Buffer.alloc(0)
    let authed = false
    let subscribed = false
    const send = (s: string) => sock.write(s)
    sock.on('error', () => {})
    sock.on('close', () => {
      for (const f of subscribers) if ((f as { sock?: unknown }).sock === sock) subscribers.delete(f)
    })
    sock.on('data', (b) => {
      buf = Buffer.concat([buf, b])
      for (;;) {
        // Parse one RESP array of bulk strings.
        const text = buf.toString('latin1')
        if (!text.startsWith('*')) return
        let pos = text.indexOf('\r\n')
        if (pos < 0) return
        const n = Number(text.slice(1, pos))
        pos += 2
        const args: string[] = []
        for (let i = 0; i < n; i++) {
          const e = text.indexOf('\r\n', pos)
          if (e < 0) return
          const len = Number(text.slice(pos + 1, e))
          if (text.length < e + 2 + len + 2) return
          args.push(Buffer.from(text.slice(e + 2, e + 2 + len), 'latin1').toString('utf8'))
          pos = e + 2 + len + 2
        }
        buf = buf.subarray(Buffer.byteLength(text.slice(0, pos), 'latin1'))
        const cmd = args[0]!.toUpperCase()
        log.push(cmd)
        if (subscribed) {
          if (cmd === 'PING') send(`*2\r\n${bulk('pong')}${bulk(args[1] ?? '')}`)
          else if (cmd === 'UNSUBSCRIBE' || cmd === 'QUIT') sock.end()
          else send(`-ERR unknown command '${cmd.toLowerCase()}'\r\n`)
          continue
        }
        if (cmd !== 'AUTH' && !authed) send('-NOAUTH Authentication required.\r\n')
        else if (cmd === 'AUTH') {
          if (args[args.length - 1] === KEY) {
            authed = true
            send('+OK\r\n')
          } else send('-ERR invalid management key\r\n')
        } else if ((cmd === 'LPOP' || cmd === 'RPOP') && args[1]?.trim().toLowerCase() === 'usage') {
          const items = queue.splice(0, args[2] ? Number(args[2]) : 1)
          send(args[2] ? `*${items.length}\r\n${items.map(bulk).join('')}` : items.length ? bulk(items[0]!) : '$-1\r\n')
        } else if (cmd === 'SUBSCRIBE' && args[1] === 'usage') {
          subscribed = true
          send(`*3\r\n${bulk('subscribe')}${bulk('usage')}:1\r\n`)
          const push = Object.assign((m: string) => send(`*3\r\n${bulk('message')}${bulk('usage')}${bulk(m)}`), {
            sock,
          })
          subscribers.add(push)
          push('{"support_refresh":true}')
        } else send(`-ERR unknown command '${cmd.toLowerCase()}'\r\n`)
      }
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as { port: number }).port
  return {
    addr: { host: '127.0.0.1', port, hostPort: `127.0.0.1:${port}`, url: `redis://127.0.0.1:${port}` },
    log,
    publish: (m: string) => {
      for (const f of subscribers) f(m)
    },
    subscribers: () => subscribers.size,
    close: () => new Promise<void>((r) => server.close(() => r())),
  }
}
