import { EventEmitter } from 'node:events'
import swagger from '@fastify/swagger'
import { Type } from '@sinclair/typebox'
import Fastify, { type FastifyInstance } from 'fastify'
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import {
  authorize,
  ERROR_RESPONSES,
  CONNECTIONS_CHECK_MS,
  guardConnections,
  HEADERS_TIMEOUT_MS,
  httpErrorFrom,
  StoreUnavailableError,
  redactUrl,
  type ConnectionLimits,
  type TokenTable,
} from '../core/index.js'
import { registerAnnounceRoutes } from './announce-routes.js'
import { createHostInstances } from './host-instances.js'
import { DASHBOARD_HTML } from './dashboard-page.js'
import { hostRoutes } from './routes/host-routes.js'
import { registryRoutes } from './routes/registry-routes.js'
import { rolloutRoutes } from './routes/rollout-routes.js'
import { createRolloutDriver } from './rollout-driver.js'
import { createStatusCache } from './status-cache.js'
import type { SwarmSync } from './redis-swarm.js'
import type { TrackerContext } from './tracker-context.js'
import type { TrackerStore } from './tracker-store.js'
import { createUdpTracker } from './udp-tracker.js'

export interface BuildTrackerOptions {
  store: TrackerStore
  tokens: TokenTable
  /** pino options or false; tokens are redacted from every log line. */
  logger?: boolean | Record<string, unknown>
  /** Longest a host's watch request is held open, in seconds (default 30). */
  maxWatchSeconds?: number
  /** A host whose fetcher has not polled its targets for this long is `lost` in statuses (default 90 s: three polls). */
  lostAfterSeconds?: number
  /** Largest request body in bytes (default 1 MiB). */
  bodyLimit?: number
  /** Also serve the UDP tracker protocol (BEP 15) on this port when the app listens (0 picks one). */
  udpPort?: number
  /** How long a computed rollout status is served to other readers, in ms (default 250; 0 = never cached). */
  statusCacheMs?: number
  /** Hosts the registry holds at most; registering one more is LIMIT_REACHED (default 100,000). */
  maxHosts?: number
  /** Event streams (SSE) open at once; one more is LIMIT_REACHED (default 1,000). */
  maxStreams?: number
  /** An event-stream reader that takes nothing for this long is dropped, in ms (default 30 s). */
  streamStallMs?: number
  /** Bounds on open connections, in total and per remote address (see guardConnections). */
  connections?: ConnectionLimits
  /** The URL hosts reach this tracker at, for announce URLs in served torrents (default from each request's Host). */
  publicUrl?: string
  /** Every replica's URL, as clients reach them: served torrents list them all (BEP 12 announce-list). */
  replicaUrls?: string[]
  /** Swarms shared with other replicas (Redis); /readyz then also needs it connected. */
  swarmSync?: SwarmSync
  /** Serve HTTPS with this certificate and key (PEM); reload them with reloadTls(). */
  tls?: { cert: string | Buffer; key: string | Buffer }
}

/**
 * The control plane as one fastify app, not listening: tests drive it with inject(), the CLI
 * calls listen() (through createTracker). Every route has a schema for what it takes and what it
 * answers (bad input is a 400 naming the field; /openapi.json describes every answer), errors are
 * `{statusCode, code, message}` with codes from the core registry, tokens never reach a log. The
 * routes are plugins per resource: registry (bundles, versions, channels, retention), rollouts
 * (status, events), hosts (registration, reports, targets), announce (BitTorrent).
 */
export async function buildTracker(options: BuildTrackerOptions): Promise<FastifyInstance> {
  const { store, tokens } = options
  // A client has HEADERS_TIMEOUT_MS to send its request headers and 30 s for the whole request
  // (bodies are small here; long-polls and streams hold the response, which no timeout covers).
  const serverOptions = { headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: 30_000, connectionsCheckingInterval: CONNECTIONS_CHECK_MS, keepAliveTimeout: 65_000 }
  const app = Fastify({
    ...(options.tls ? { https: { ...serverOptions, cert: options.tls.cert, key: options.tls.key } } : { http: serverOptions }),
    logger: loggerOptions(options.logger),
    bodyLimit: options.bodyLimit ?? 1 << 20,
    // ids in paths are names or digests; anything else never reaches a handler.
    routerOptions: { maxParamLength: 200 },
    // On close, drop every kept-alive socket, including ones that never sent a request (Node
    // counts those as active until headersTimeout, which held close() for a minute in tests).
    forceCloseConnections: true,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false } },
  })
  guardConnections(app.server, options.connections)

  const metrics = new Registry()
  collectDefaultMetrics({ register: metrics })
  const shuttingDown = new AbortController()
  app.addHook('preClose', async () => shuttingDown.abort())
  const changes = new EventEmitter()
  changes.setMaxListeners(0)
  app.addHook('onClose', async () => void changes.removeAllListeners())
  const statusCacheMs = options.statusCacheMs ?? 250
  const instances = createHostInstances()
  const lostAfterMs = (options.lostAfterSeconds ?? 90) * 1000
  const cache = createStatusCache(store, statusCacheMs, { isLost: (host) => instances.isLost(host, lostAfterMs) })
  // A host going lost is no event anyone sends: look once a second and wake the status streams.
  const liveness = setInterval(() => {
    if (instances.newlyLost(lostAfterMs)) changes.emit('liveness')
  }, 1_000)
  liveness.unref()
  app.addHook('onClose', async () => clearInterval(liveness))
  const rollouts = createRolloutDriver(store, {
    isLost: (host) => instances.isLost(host, lostAfterMs),
    // A step changes hosts' targets and the status: wake the long-polls and streams.
    onStep: (release, channel) => {
      cache.invalidate(release, channel)
      changes.emit('change')
    },
    log: (msg, fields) => app.log.info(fields, msg),
  })
  const driving = setInterval(() => {
    rollouts.tick().catch((err: unknown) => app.log.warn({ message: (err as Error).message }, 'rollout tick failed'))
  }, 1_000)
  driving.unref()
  app.addHook('onClose', async () => {
    clearInterval(driving)
    rollouts.stop()
  })
  const ctx: TrackerContext = {
    store,
    tokens,
    changes,
    metrics,
    shuttingDown: shuttingDown.signal,
    // The status carries the plan of a planned rollout (null for a plain move).
    statusOf: async (release, channel, notBefore) => {
      const st = await cache.statusOf(release, channel, notBefore)
      const plan = await rollouts.view({ release, channel, rolloutId: st.rolloutId })
      return plan ? { ...st, plan } : st
    },
    rollouts,
    invalidate: (release, channel) => {
      rollouts.changed(release, channel)
      cache.invalidate(release, channel)
    },
    status: cache,
    limits: { maxHosts: options.maxHosts ?? 100_000, maxStreams: options.maxStreams ?? 1_000, streamStallMs: options.streamStallMs ?? 30_000, statusCacheMs, maxWatchSeconds: options.maxWatchSeconds ?? 30 },
    publicUrl: options.publicUrl,
    replicaUrls: options.replicaUrls ?? [],
    instances,
    isLost: (host) => instances.isLost(host, lostAfterMs),
  }

  // Replicas sharing a store: what another one wrote wakes this one's long-polls and streams.
  const unwatch = store.watch?.((c) => {
    if (c.kind === 'move') {
      rollouts.changed(c.release, c.channel)
      cache.invalidate(c.release, c.channel)
      changes.emit('change')
    } else if (c.kind === 'report') {
      rollouts.poke()
      cache.reportedElsewhere(c.digest, c.hosts)
      changes.emit('report', c.digest)
    } else cache.hostChanged(c.id)
  })
  app.addHook('onClose', async () => unwatch?.())

  await app.register(swagger, { openapi: { info: { title: 'Shoal tracker', version: '1' }, components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } } } })
  instrument(app, metrics)
  allowReplicaOrigins(app, options.replicaUrls ?? [])
  app.addHook('onRequest', async (req) => {
    const roles = req.routeOptions.config?.roles
    if (roles) req.principal = authorize(tokens, req.headers.authorization, roles)
  })
  app.setErrorHandler((err: unknown, req, reply) => {
    const { error, internal } = httpErrorFrom(err)
    if (internal) req.log.error({ err }, 'unhandled error')
    void reply.status(error.statusCode).send({ statusCode: error.statusCode, code: error.code, message: error.message })
  })
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send({ statusCode: 404, code: 'NOT_FOUND', message: `Cannot find route: ${req.method} ${req.url.split('?')[0]}` })
  })

  // The dashboard page carries no data; everything it shows comes through the authenticated API.
  app.get('/', { schema: { hide: true } }, async (_req, reply) => reply.header('content-type', 'text/html; charset=utf-8').header('cache-control', 'no-cache').send(DASHBOARD_HTML))
  app.get('/v1/health', { schema: { response: { 200: Type.Object({ ok: Type.Boolean() }) } } }, async () => ({ ok: true }))
  // For load balancers and orchestrators: alive (the process answers), ready (its store answers too).
  app.get('/healthz', { schema: { response: { 200: Type.Object({ ok: Type.Boolean() }) } } }, async () => ({ ok: true }))
  app.get('/readyz', { schema: { response: { 200: Type.Object({ ready: Type.Boolean() }), ...ERROR_RESPONSES } } }, async () => {
    await store.ping?.()
    if (options.swarmSync && !options.swarmSync.ready()) throw new StoreUnavailableError('The swarm store (Redis) is not connected; announces are answered from this replica\'s copy')
    return { ready: true }
  })
  app.get('/v1/replicas', { config: { roles: ['viewer', 'host', 'seeder', 'publisher'] }, schema: { response: { 200: Type.Object({ urls: Type.Array(Type.String()) }), ...ERROR_RESPONSES } } }, async () => ({ urls: ctx.replicaUrls }))
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => reply.header('content-type', metrics.contentType).send(await metrics.metrics()))
  await app.register(async (scope) => registryRoutes(scope, ctx))
  await app.register(async (scope) => rolloutRoutes(scope, ctx))
  await app.register(async (scope) => hostRoutes(scope, ctx))
  const announce = registerAnnounceRoutes(app, { store, tokens, metrics, sync: options.swarmSync })
  if (options.udpPort !== undefined) serveUdp(app, metrics, announce.swarms, store, options.udpPort)
  return app
}

/**
 * CORS for the other replicas' origins only: a dashboard served by one replica may read the API
 * and the event stream of another when its own goes away (see dashboard-page). Any other origin
 * gets no CORS header, so browsers keep pages elsewhere from reading answers.
 */
function allowReplicaOrigins(app: FastifyInstance, replicaUrls: string[]): void {
  const origins = new Set(replicaUrls.flatMap((u) => {
    try {
      return [new URL(u).origin]
    } catch {
      return []
    }
  }))
  if (origins.size === 0) return
  app.addHook('onRequest', async (req, reply) => {
    const origin = req.headers.origin
    if (origin === undefined || !origins.has(origin)) return
    void reply.header('access-control-allow-origin', origin).header('vary', 'origin')
    if (req.method === 'OPTIONS') {
      return reply.status(204).header('access-control-allow-methods', 'GET').header('access-control-allow-headers', 'authorization').header('access-control-max-age', '600').send()
    }
  })
}

/** pino options: tokens cut from every line (bearer headers, and passkeys in announce URLs). */
function loggerOptions(logger: BuildTrackerOptions['logger']): false | Record<string, unknown> {
  if (logger === false || logger === undefined) return false
  return {
    level: 'info',
    redact: { paths: ['req.headers.authorization'], censor: '[redacted]' },
    serializers: { req: (req: { method: string; url: string; id: string }) => ({ id: req.id, method: req.method, url: redactUrl(req.url) }) },
    ...(typeof logger === 'object' ? logger : {}),
  }
}

/** Requests and latency by route, for /metrics. */
function instrument(app: FastifyInstance, metrics: Registry): void {
  const requests = new Counter({ name: 'shoal_tracker_requests_total', help: 'HTTP requests by route and status', labelNames: ['route', 'status'], registers: [metrics] })
  const latency = new Histogram({ name: 'shoal_tracker_request_seconds', help: 'HTTP request latency by route', labelNames: ['route'], buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1], registers: [metrics] })
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched'
    requests.inc({ route, status: String(reply.statusCode) })
    latency.observe({ route }, reply.elapsedTime / 1000)
  })
}

/** The BEP 15 UDP tracker beside the HTTP one, sharing its swarms (no passkeys over UDP). */
function serveUdp(app: FastifyInstance, metrics: Registry, swarms: ReturnType<typeof registerAnnounceRoutes>['swarms'], store: TrackerStore, port: number): void {
  const udpRequests = new Counter({ name: 'shoal_tracker_udp_requests_total', help: 'UDP tracker requests by action', labelNames: ['action'], registers: [metrics] })
  const udp = createUdpTracker({ swarms, isRegistered: async (ih) => (await store.digestForInfoHash(ih)) !== undefined, intervalSeconds: 60, onRequest: (action) => udpRequests.inc({ action }) })
  let udpPort: number | undefined
  app.decorate('udpPort', () => udpPort)
  app.addHook('onListen', async () => {
    const addr = app.server.address()
    udpPort = await udp.listen(port, typeof addr === 'object' && addr ? addr.address : '127.0.0.1')
  })
  app.addHook('onClose', async () => udp.close())
}
