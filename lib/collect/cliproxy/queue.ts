/**
 * CLIProxyAPI's RESP usage queue, read through ioredis: the one module that loads the Redis
 * client, and only when a queue is read (an optional part of `record`, never its start-up).
 *
 * The proxy is no Redis: it answers AUTH, LPOP/RPOP usage [count], SUBSCRIBE usage and, once
 * subscribed, PING, UNSUBSCRIBE and QUIT, and nothing else. So the client is told to send only
 * what we ask: no INFO ready check, no CLIENT SETINFO/SETNAME, no SELECT (db 0), no automatic
 * resubscribe or resend, no reconnect of its own (this module reconnects, so it can AUTH first and
 * drain the backlog after each subscribe), and a connection is closed, not QUIT.
 */
import { createRequire } from 'node:module'
import type { Redis as RedisClient, RedisOptions } from 'ioredis'
import { opError } from '../../errors.js'
import { KEY_VAR, QUEUE_KEY, type QueueAddress } from './index.js'

/** What `LPOP usage N` asks for at once (cpa-usage's batch too). */
export const POP_BATCH = 1000
const CONNECT_TIMEOUT_MS = 10_000

const socketErrors = new WeakMap<RedisClient, Error>()

type RedisCtor = new (options: RedisOptions) => RedisClient
let ctor: RedisCtor | undefined

function loadClient(): RedisCtor {
  if (ctor) return ctor
  try {
    ctor = createRequire(import.meta.url)('ioredis') as RedisCtor
  } catch (e) {
    throw opError(
      'REDIS_CLIENT_UNAVAILABLE',
      'the Redis client (ioredis) is not installed here; reinstall usage-ledger (npm install -g usage-ledger)',
      e,
    )
  }
  return ctor
}

function client(addr: QueueAddress): RedisClient {
  const Redis = loadClient()
  const c = new Redis({
    host: addr.host,
    port: addr.port,
    db: 0,
    lazyConnect: true,
    enableReadyCheck: false,
    disableClientInfo: true,
    autoResubscribe: false,
    autoResendUnfulfilledCommands: false,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    reconnectOnError: () => false,
    connectTimeout: CONNECT_TIMEOUT_MS,
    // TCP keep-alive (nothing at the protocol level): a subscription idle for hours notices a
    // vanished peer instead of waiting forever.
    keepAlive: 30_000,
    enableAutoPipelining: false,
  })
  // Errors arrive as rejected commands or 'end'; an 'error' event without a listener would throw.
  // The socket's own error (ECONNREFUSED) is kept: the rejected connect() only says it closed.
  c.on('error', (e: Error) => socketErrors.set(c, e))
  return c
}

/** A refused key: retrying it only gets the address banned (CLIProxyAPI bans after 5 failures). */
export const isAuthError = (e: unknown) =>
  e instanceof Error && /NOAUTH|WRONGPASS|invalid management key|invalid password|IP banned/i.test(e.message)

function queueError(addr: QueueAddress, e: unknown) {
  const err = e as NodeJS.ErrnoException & { name?: string }
  if (isAuthError(e))
    return opError(
      'CLIPROXY_AUTH',
      `CLIProxyAPI at ${addr.url} refused the management key (${err.message.trim()}); check ${KEY_VAR} or what git's credential helper gives for protocol=redis host=${addr.hostPort}`,
      e,
    )
  if (err?.name === 'ReplyError')
    return opError('CLIPROXY_PROTOCOL', `CLIProxyAPI at ${addr.url} answered "${err.message.trim()}"`, e)
  const why = err?.code ?? err?.message ?? String(e)
  return opError(
    'CLIPROXY_UNREACHABLE',
    `cannot reach CLIProxyAPI's usage queue at ${addr.url} (${why}); is the proxy running with a management key, on that port?`,
    e,
  )
}

/** A connected, authenticated client. */
async function open(addr: QueueAddress, key: string): Promise<RedisClient> {
  const c = client(addr)
  try {
    await c.connect()
    await c.call('AUTH', key)
    return c
  } catch (e) {
    c.disconnect()
    const socket = socketErrors.get(c)
    throw queueError(addr, socket && !(e as { name?: string }).name?.includes('ReplyError') ? socket : e)
  }
}

/**
 * Pops the queue until it is empty, `LPOP usage 1000` at a time on one connection; each batch
 * goes to `take` (which spools it) before the next pop. Returns how many payloads were popped.
 */
export async function drainQueue(
  addr: QueueAddress,
  key: string,
  take: (payloads: string[]) => Promise<void>,
): Promise<number> {
  const c = await open(addr, key)
  let n = 0
  try {
    for (;;) {
      let got: unknown
      try {
        got = await c.call('LPOP', QUEUE_KEY, String(POP_BATCH))
      } catch (e) {
        throw queueError(addr, e)
      }
      // The proxy answers an empty array; a real Redis answers nil for a missing list.
      const items = Array.isArray(got) ? got.map(String) : typeof got === 'string' ? [got] : []
      if (!items.length) return n
      await take(items)
      n += items.length
    }
  } finally {
    c.disconnect()
  }
}

export interface FollowHandlers {
  /** A payload pushed on the channel (control payloads included: the caller filters). */
  message(raw: string): void
  /** Subscribed (again): the moment to drain what was queued while nobody listened. */
  subscribed(): Promise<void>
  /** The connection failed or went away; the next attempt is in `retryMs`. */
  down(error: Error, retryMs: number): void
  /** A failure retrying cannot cure (a refused key): following stops. */
  fatal(error: Error): void
}

export interface Follower {
  stop(): void
}

export const BACKOFF_MIN_MS = 500
export const BACKOFF_MAX_MS = 15_000

/**
 * `SUBSCRIBE usage` on a connection of its own, for as long as it is not stopped: after a lost
 * connection it reconnects with a doubling backoff, authenticates, subscribes, and calls
 * `subscribed` again (the proxy queues records only while nobody is subscribed).
 */
export function followQueue(addr: QueueAddress, key: string, h: FollowHandlers): Follower {
  let stopped = false
  let current: RedisClient | null = null
  let timer: NodeJS.Timeout | undefined
  let backoff = BACKOFF_MIN_MS

  const retry = (e: Error) => {
    if (stopped) return
    const wait = backoff
    backoff = Math.min(backoff * 2, BACKOFF_MAX_MS)
    h.down(e, wait)
    timer = setTimeout(attempt, wait)
  }

  const attempt = async () => {
    if (stopped) return
    let c: RedisClient
    try {
      c = await open(addr, key)
    } catch (e) {
      if (isAuthError((e as { cause?: unknown }).cause)) {
        stopped = true
        h.fatal(e as Error)
      } else retry(e as Error)
      return
    }
    if (stopped) {
      c.disconnect()
      return
    }
    current = c
    let ended = false
    /** Why this connection is being dropped, when we drop it. */
    let cause: Error | null = null
    c.on('message', (_channel: string, message: string) => h.message(message))
    c.once('end', () => {
      ended = true
      if (current === c) current = null
      retry(cause ?? queueError(addr, new Error('connection closed')))
    })
    try {
      await c.subscribe(QUEUE_KEY)
    } catch (e) {
      const err = queueError(addr, e)
      c.disconnect()
      if (err.code !== 'CLIPROXY_UNREACHABLE' && !ended) {
        stopped = true
        h.fatal(err)
      }
      return
    }
    try {
      await h.subscribed()
      backoff = BACKOFF_MIN_MS
    } catch (e) {
      if (stopped) return
      if (isAuthError((e as { cause?: unknown }).cause)) {
        stopped = true
        c.disconnect()
        h.fatal(e as Error)
        return
      }
      // The backlog was not drained: drop the subscription, so the next one drains it again.
      cause = e as Error
      c.disconnect()
    }
  }

  void attempt()
  return {
    stop() {
      stopped = true
      clearTimeout(timer)
      current?.disconnect()
      current = null
    },
  }
}
