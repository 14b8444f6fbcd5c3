import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import type { PeerChange, PeerRecord, SwarmStore } from './swarm-store.js'

/**
 * Swarms shared between tracker replicas through Redis.
 *
 * Each replica keeps the whole swarm in memory (swarm-store: the per-source and per-swarm bounds,
 * rack-aware sampling, answers at in-memory speed) and shares what its own announces change:
 * every flushMs it writes them to Redis (a hash per swarm, `<prefix>:peers:<infohash>`, peer id ->
 * record, the key expiring with its newest peer) and publishes them on `<prefix>:peers`, which
 * every other replica applies to its copy. So any replica answers with the whole swarm, one flush
 * plus one delivery (tens of ms) after the announce, without a Redis round trip per announce.
 *
 * A replica that starts (or reconnects after Redis was away) loads every swarm hash, then writes
 * back the peers announced to it, so a restarted Redis is refilled at once instead of after an
 * announce interval. While Redis is away announces keep working on what each replica holds;
 * changes are not queued (the resync replaces them), so nothing grows without bound.
 */
export interface SwarmSync {
  /** Starts sharing `swarms` (call once, before announces arrive). */
  attach(swarms: SwarmStore): void
  /** Queues a change this replica made for the next flush. */
  publish(infoHash: string, change: PeerChange): void
  /** Connected to Redis and loaded. */
  ready(): boolean
  /** Resolves once the first load finished (or rejects after timeoutMs without Redis). */
  whenReady(timeoutMs?: number): Promise<void>
  close(): Promise<void>
}

export interface RedisSwarmInit {
  /** redis://[user:password@]host:port[/db] */
  url: string
  /** Key and channel prefix (default `shoal`), so several fleets may share one Redis. */
  prefix?: string
  /** How often queued changes are written and published, in ms (default 20). */
  flushMs?: number
  /** Peer lifetime, for the expiry of each swarm's key (the swarm store's peerTtlMs). */
  peerTtlMs: number
  /** Changes queued at most between flushes; beyond it the queue is dropped and a resync follows (default 100,000). */
  maxPending?: number
  log?: (msg: string) => void
}

type Wire = [string, 'u', PeerRecord] | [string, 'r' | 'x', string, string]

const INFOHASH = /^[0-9a-f]{40}$/

export function createRedisSwarmSync(init: RedisSwarmInit): SwarmSync {
  const prefix = init.prefix ?? 'shoal'
  const channel = `${prefix}:peers`
  const flushMs = init.flushMs ?? 20
  const maxPending = init.maxPending ?? 100_000
  const log = init.log ?? (() => {})
  const replica = randomBytes(8).toString('hex')
  const options = { maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: true, retryStrategy: (n: number) => Math.min(100 * 2 ** Math.min(n, 6), 2_000) * (0.5 + Math.random() / 2) }
  const cmd = new Redis(init.url, options)
  const sub = new Redis(init.url, options)
  cmd.on('error', () => {})
  sub.on('error', () => {})
  let swarms: SwarmStore | undefined
  let pending = new Map<string, Wire>()
  let loaded = false
  let syncing: Promise<void> | undefined
  let closed = false
  const waiters: Array<() => void> = []

  const keyOf = (ih: string): string => `${prefix}:peers:${ih}`

  const flush = async (): Promise<void> => {
    if (pending.size === 0 || !loaded || cmd.status !== 'ready') return
    const batch = [...pending.values()]
    pending = new Map()
    const p = cmd.pipeline()
    const expiresBy = new Map<string, number>()
    for (const w of batch) {
      if (w[1] === 'u') {
        p.hset(keyOf(w[0]), w[2].peerId, JSON.stringify(w[2]))
        expiresBy.set(w[0], Math.max(expiresBy.get(w[0]) ?? 0, w[2].expires))
      } else p.hdel(keyOf(w[0]), w[2])
    }
    // The key lives as long as its newest peer (NX sets a new key's expiry, GT only ever extends it).
    for (const [ih, at] of expiresBy) p.pexpireat(keyOf(ih), Math.ceil(at), 'NX').pexpireat(keyOf(ih), Math.ceil(at), 'GT')
    const shared = batch.filter((w) => w[1] !== 'x')
    if (shared.length > 0) p.publish(channel, JSON.stringify({ r: replica, c: shared }))
    try {
      await p.exec()
    } catch (err) {
      // Lost with the connection: the resync after reconnecting writes every local peer again.
      log(`swarm sync: flush failed (${(err as Error).message}); resync on reconnect`)
    }
  }
  const timer = setInterval(() => void flush(), flushMs)
  timer.unref()

  const applyWire = (w: Wire): void => {
    if (!Array.isArray(w) || typeof w[0] !== 'string' || !INFOHASH.test(w[0])) return
    if (w[1] === 'u') swarms?.apply(w[0], { kind: 'upsert', peer: w[2] })
    else if ((w[1] === 'r' || w[1] === 'x') && typeof w[2] === 'string' && typeof w[3] === 'string') swarms?.apply(w[0], { kind: 'remove', peerId: w[2], source: w[3] })
  }

  sub.on('message', (_ch: string, message: string) => {
    if (message.length > 64 << 20) return
    try {
      const m = JSON.parse(message) as { r: string; c: Wire[] }
      if (m.r === replica || !Array.isArray(m.c)) return
      for (const w of m.c) applyWire(w)
    } catch {
      log('swarm sync: a malformed message on the peers channel was ignored')
    }
  })

  /** Loads every shared swarm, then writes back this replica's own peers (Redis may have lost them). */
  const resync = async (): Promise<void> => {
    let cursor = '0'
    do {
      const [next, keys] = await cmd.scan(cursor, 'MATCH', `${prefix}:peers:*`, 'COUNT', 500)
      cursor = next
      for (const key of keys) {
        const ih = key.slice(prefix.length + ':peers:'.length)
        if (!INFOHASH.test(ih)) continue
        const all = await cmd.hgetall(key)
        for (const json of Object.values(all)) {
          try {
            swarms?.apply(ih, { kind: 'upsert', peer: JSON.parse(json) as PeerRecord })
          } catch {
            // a malformed record is skipped; its owner writes it again
          }
        }
      }
    } while (cursor !== '0')
    if (swarms) for (const [ih, peer] of swarms.localPeers()) pending.set(`${ih}:${peer.peerId}`, [ih, 'u', peer])
    loaded = true
    for (const w of waiters.splice(0)) w()
    await flush()
  }

  const startResync = (): void => {
    if (closed || syncing) return
    syncing = resync()
      .catch((err: Error) => log(`swarm sync: load failed (${err.message}); retrying on reconnect`))
      .finally(() => (syncing = undefined))
  }
  cmd.on('ready', () => {
    log('swarm sync: connected to Redis')
    startResync()
  })
  cmd.on('close', () => {
    if (loaded && !closed) log('swarm sync: Redis connection lost; announces are answered from this replica\'s copy')
    loaded = false
  })

  return {
    attach(s) {
      swarms = s
      sub.on('ready', () => void sub.subscribe(channel).catch(() => {}))
      cmd.connect().catch(() => {})
      sub.connect().catch(() => {})
    },
    publish(ih, change) {
      if (pending.size >= maxPending) {
        // Far behind (Redis slow or away): drop the queue; the resync on reconnect shares the state.
        pending = new Map()
        loaded = false
        cmd.disconnect(true)
        return
      }
      const w: Wire = change.kind === 'upsert' ? [ih, 'u', change.peer] : [ih, change.kind === 'remove' ? 'r' : 'x', change.peerId, change.source]
      pending.set(`${ih}:${change.kind === 'upsert' ? change.peer.peerId : change.peerId}`, w)
    },
    ready: () => loaded && cmd.status === 'ready',
    whenReady(timeoutMs = 10_000) {
      if (loaded) return Promise.resolve()
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`Redis at ${init.url.replace(/\/\/[^@/]*@/, '//***@')} not reachable within ${timeoutMs} ms`)), timeoutMs)
        waiters.push(() => {
          clearTimeout(t)
          resolve()
        })
      })
    },
    async close() {
      closed = true
      clearInterval(timer)
      await flush().catch(() => {})
      cmd.disconnect()
      sub.disconnect()
    },
  }
}
