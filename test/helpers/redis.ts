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

export async function until(what: string, check: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`timed out waiting for ${what}`)
}
