import type { FastifyInstance } from 'fastify'
import type { Failpoints } from '../core/index.js'
import { buildTracker, type BuildTrackerOptions } from './build-tracker.js'
import { createPostgresStore } from './postgres-store.js'
import { createRedisSwarmSync } from './redis-swarm.js'
import { createTrackerStore, type TrackerStore } from './tracker-store.js'

export interface TrackerInit extends Omit<BuildTrackerOptions, 'store' | 'swarmSync'> {
  /**
   * Where the registry lives: `level:DIR` (one box, the default) or `postgres://...` (a fleet:
   * several replicas over one database). `dataDir` is shorthand for `level:DIR`.
   */
  store?: string
  dataDir?: string
  /** `redis://...`: swarms shared with the other replicas (see redis-swarm). Without it they are this process's alone. */
  redis?: string
  /** Prefix of the Redis keys and channel (default `shoal`): fleets sharing one Redis use one each. */
  redisPrefix?: string
  /** Where the swarm sync says what happens to its Redis connection. */
  onSyncLog?: (msg: string) => void
  /** TCP port (default 7700; 0 picks one). */
  port?: number
  /** Address to listen on (default 127.0.0.1). */
  host?: string
  /** Crash points for tests (see core/failpoints). */
  failpoints?: Failpoints
}

export interface Tracker {
  /** Opens the store and listens; resolves with the URL (and the UDP port when served). */
  start(): Promise<{ url: string; udpPort: number | undefined }>
  /** Ends held long-polls and streams, closes the server, then the store (idempotent). */
  stop(): Promise<void>
  /** The fastify app, once started (tests may inject() into it). */
  readonly app: FastifyInstance
  readonly store: TrackerStore
}

/** The tracker daemon as a service: store and app, started in that order and stopped in reverse. What the CLI, the demo and tests run. */
export function createTracker(init: TrackerInit): Tracker {
  const { dataDir, store: spec, redis, redisPrefix, onSyncLog, port = 7700, host = '127.0.0.1', failpoints, ...options } = init
  const store = openStore(spec ?? (dataDir === undefined ? undefined : `level:${dataDir}`), failpoints)
  // Peers expire after three announce intervals (announce-routes' default interval is 60 s).
  const swarmSync = redis === undefined ? undefined : createRedisSwarmSync({ url: redis, prefix: redisPrefix, peerTtlMs: 180_000, log: onSyncLog })
  let app: FastifyInstance | undefined
  let stopping: Promise<void> | undefined
  return {
    store,
    get app() {
      if (!app) throw new RangeError('the tracker is not started')
      return app
    },
    async start() {
      await store.start()
      app = await buildTracker({ ...options, store, swarmSync })
      // Serve without Redis if it is away (announces from this replica's copy; /readyz says so).
      await swarmSync?.whenReady(5_000).catch((err: Error) => onSyncLog?.(`${err.message}; serving without it until it is`))
      const url = await app.listen({ port, host })
      return { url, udpPort: app.udpPort?.() }
    },
    stop() {
      return (stopping ??= (async () => {
        await app?.close()
        await swarmSync?.close()
        await store.stop()
      })())
    },
  }
}

/** The store a spec names: `level:DIR` or `postgres://...` / `postgresql://...`. */
export function openStore(spec: string | undefined, failpoints?: Failpoints): TrackerStore {
  if (spec === undefined) throw new TypeError('createTracker() needs a store (level:DIR or postgres://...) or a dataDir')
  if (spec.startsWith('level:')) return createTrackerStore({ dataDir: spec.slice('level:'.length), failpoints })
  if (/^postgres(ql)?:\/\//.test(spec)) return createPostgresStore({ url: spec, failpoints })
  throw new TypeError(`Cannot use store ${JSON.stringify(spec.replace(/\/\/[^@/]*@/, '//***@'))}: write level:DIR or postgres://user@host/db`)
}
