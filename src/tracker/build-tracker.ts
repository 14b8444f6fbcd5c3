import { EventEmitter, once } from 'node:events'
import swagger from '@fastify/swagger'
import { Type } from '@sinclair/typebox'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import {
  authorize,
  checkActsForHost,
  parseBearer,
  redactUrl,
  CONNECTIONS_CHECK_MS,
  DigestSchema,
  guardConnections,
  HEADERS_TIMEOUT_MS,
  HostRegistrationSchema,
  HostReportSchema,
  httpErrorFrom,
  LimitReachedError,
  NameSchema,
  NotFoundError,
  type ConnectionLimits,
  type Digest,
} from '../core/index.js'
import { openEventStream } from './event-stream.js'
import { createStatusFeed, type StatusFeed } from './status-feed.js'
import { personalizeTorrent } from './personal-torrent.js'

import { registerAnnounceRoutes } from './announce-routes.js'
import { computeRolloutStatus } from './rollout-status.js'
import { createUdpTracker } from './udp-tracker.js'
import type { Principal, Role, TokenTable } from '../core/index.js'
import { DASHBOARD_HTML } from './dashboard-page.js'
import type { TrackerStore } from './tracker-store.js'

export interface BuildTrackerOptions {
  store: TrackerStore
  tokens: TokenTable
  /** pino options or false; tokens are redacted from every log line. */
  logger?: boolean | Record<string, unknown>
  /** Longest a host's watch request is held open, in seconds (default 30). */
  maxWatchSeconds?: number
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
  /** Serve HTTPS with this certificate and key (PEM); reload them with reloadTls(). */
  tls?: { cert: string | Buffer; key: string | Buffer }
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal
  }
  interface FastifyInstance {
    /** The bound UDP tracker port, once listening with udpPort set. */
    udpPort?: () => number | undefined
  }
  interface FastifyContextConfig {
    /** Roles allowed on this route; absent means public. */
    roles?: readonly Role[]
  }
}

const Name = NameSchema
const ErrorSchema = Type.Object({ statusCode: Type.Integer(), code: Type.String(), message: Type.String() })
const errors = { 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema }

const BundleBody = Type.Object(
  {
    size: Type.Integer({ minimum: 0 }),
    infoHash: Type.String({ pattern: '^[0-9a-f]{40}$' }),
    pieceLength: Type.Integer({ minimum: 16384, maximum: 64 * 1024 * 1024 }),
    webSeeds: Type.Array(Type.String({ pattern: '^https?://', maxLength: 2048 }), { maxItems: 64 }),
    seeder: Type.Optional(Type.String({ minLength: 1, maxLength: 253 })),
    /** The .torrent file, base64 (hosts fetch it from GET /v1/bundles/:digest/torrent). */
    torrent: Type.Optional(Type.String({ contentEncoding: 'base64', pattern: '^[A-Za-z0-9+/]*={0,2}$', maxLength: 700_000 })),
  },
  { additionalProperties: false },
)
const VersionBody = Type.Object({ digest: DigestSchema, signature: Type.Optional(Type.Unknown()) }, { additionalProperties: false })
const ChannelBody = Type.Object({ version: Name('version') }, { additionalProperties: false })
const HostBody = HostRegistrationSchema
const ReportBody = HostReportSchema

/**
 * The control plane as one fastify app, not listening: tests drive it with inject(), the CLI
 * calls listen(). Every route has a schema (bad input is a 400 naming the field), errors are
 * `{statusCode, code, message}` with codes from the core registry, tokens never reach a log.
 */
export async function buildTracker(options: BuildTrackerOptions): Promise<FastifyInstance> {
  const { store, tokens, maxWatchSeconds = 30, bodyLimit = 1 << 20, statusCacheMs = 250, maxHosts = 100_000, maxStreams = 1_000, streamStallMs = 30_000 } = options
  // A client has HEADERS_TIMEOUT_MS to send its request headers and 30 s for the whole request
  // (bodies are small here; long-polls and streams hold the response, which no timeout covers).
  const serverOptions = { headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: 30_000, connectionsCheckingInterval: CONNECTIONS_CHECK_MS, keepAliveTimeout: 65_000 }
  const app = Fastify({
    ...(options.tls ? { https: { ...serverOptions, cert: options.tls.cert, key: options.tls.key } } : { http: serverOptions }),
    logger:
      options.logger === false || options.logger === undefined
        ? false
        : {
            level: 'info',
            redact: { paths: ['req.headers.authorization'], censor: '[redacted]' },
            // Announce passkeys are tokens: the URL is logged without them.
            serializers: {
              req: (req: { method: string; url: string; id: string }) => ({
                id: req.id,
                method: req.method,
                url: redactUrl(req.url),
              }),
            },
            ...(typeof options.logger === 'object' ? options.logger : {}),
          },
    bodyLimit,
    // ids in paths are names or digests; anything else never reaches a handler.
    routerOptions: { maxParamLength: 200 },
    // On close, drop every kept-alive socket, including ones that never sent a request (Node
    // counts those as active until headersTimeout, which held close() for a minute in tests).
    forceCloseConnections: true,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false } },
  })

  guardConnections(app.server, options.connections)
  const statusCache = new Map<string, { at: number; value: unknown }>()
  const changes = new EventEmitter()
  changes.setMaxListeners(0)

  const metrics = new Registry()
  collectDefaultMetrics({ register: metrics })
  const requests = new Counter({ name: 'shoal_tracker_requests_total', help: 'HTTP requests by route and status', labelNames: ['route', 'status'], registers: [metrics] })
  const latency = new Histogram({
    name: 'shoal_tracker_request_seconds',
    help: 'HTTP request latency by route',
    labelNames: ['route'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1],
    registers: [metrics],
  })
  const reportsCounter = new Counter({ name: 'shoal_tracker_reports_total', help: 'Host reports accepted, by state', labelNames: ['state'], registers: [metrics] })
  const rolloutsCounter = new Counter({ name: 'shoal_tracker_rollouts_total', help: 'Channel moves', registers: [metrics] })

  await app.register(swagger, {
    openapi: { info: { title: 'Shoal tracker', version: '1' }, components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } } },
  })

  app.addHook('onRequest', async (req) => {
    const roles = req.routeOptions.config?.roles
    if (!roles) return
    req.principal = authorize(tokens, req.headers.authorization, roles)
  })
  // A host token acts only for the host it names: every route under /v1/hosts/:host checks it.
  app.addHook('preHandler', async (req) => {
    const host = (req.params as { host?: string } | undefined)?.host
    if (req.principal && host !== undefined) checkActsForHost(req.principal, host)
  })
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched'
    requests.inc({ route, status: String(reply.statusCode) })
    latency.observe({ route }, reply.elapsedTime / 1000)
  })

  app.setErrorHandler((err: unknown, req, reply) => {
    const { error, internal } = httpErrorFrom(err)
    if (internal) req.log.error({ err }, 'unhandled error')
    void reply.status(error.statusCode).send({ statusCode: error.statusCode, code: error.code, message: error.message })
  })
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send({ statusCode: 404, code: 'NOT_FOUND', message: `Cannot find route: ${req.method} ${req.url.split('?')[0]}` })
  })

  const who = (req: FastifyRequest): string => req.principal?.name ?? 'anonymous'
  const notFound = (what: string): never => {
    throw new NotFoundError(`Cannot find ${what}`)
  }

  // The dashboard page carries no data; everything it shows comes through the authenticated API.
  app.get('/', { schema: { hide: true } }, async (_req, reply) => reply.header('content-type', 'text/html; charset=utf-8').header('cache-control', 'no-cache').send(DASHBOARD_HTML))
  app.get('/v1/health', { schema: { response: { 200: Type.Object({ ok: Type.Boolean() }) } } }, async () => ({ ok: true }))
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
    void reply.header('content-type', metrics.contentType)
    return metrics.metrics()
  })

  // ---- bundles --------------------------------------------------------------------------
  app.put<{ Params: { digest: Digest }; Body: typeof BundleBody.static }>(
    '/v1/bundles/:digest',
    { config: { roles: ['seeder'] }, schema: { params: Type.Object({ digest: DigestSchema }), body: BundleBody, response: { 200: Type.Unknown(), ...errors } } },
    async (req) => {
      const { torrent, ...rest } = await store.putBundle({ ...req.body, digest: req.params.digest })
      return { ...rest, hasTorrent: torrent !== undefined }
    },
  )

  app.get<{ Params: { digest: Digest } }>(
    '/v1/bundles/:digest/torrent',
    { config: { roles: ['viewer', 'host', 'seeder', 'publisher'] }, schema: { params: Type.Object({ digest: DigestSchema }), response: { ...errors } } },
    async (req, reply) => {
      const b = (await store.getBundle(req.params.digest)) ?? notFound(`bundle ${req.params.digest}`)
      if (!b.torrent) notFound(`torrent of bundle ${req.params.digest} (its seeder registered none)`)
      // Personal to the caller: its passkey in the announce URL and the web seeds (BEP 19 clients
      // cannot send a header), so any BitTorrent client can use the file as it is.
      const passkey = parseBearer(req.headers.authorization)!
      const base = options.publicUrl?.replace(/\/$/, '') ?? `${req.protocol}://${req.host}`
      const torrent = personalizeTorrent(Buffer.from(b.torrent!, 'base64'), { announceUrl: `${base}/announce/${passkey}`, passkey })
      return reply.header('content-type', 'application/x-bittorrent').header('cache-control', 'private, no-store').send(torrent)
    },
  )
  app.get<{ Params: { digest: Digest } }>(
    '/v1/bundles/:digest',
    { config: { roles: ['viewer', 'host', 'seeder', 'publisher'] }, schema: { params: Type.Object({ digest: DigestSchema }), response: { 200: Type.Unknown(), ...errors } } },
    async (req) => {
      const b = (await store.getBundle(req.params.digest)) ?? notFound(`bundle ${req.params.digest}`)
      const { torrent, ...rest } = b
      return { ...rest, hasTorrent: torrent !== undefined }
    },
  )

  /**
   * What seeders and caches must keep: every bundle a channel points at, plus the newest `keep`
   * versions of each release (by publish time), so a rollback never waits for a rebuild.
   */
  app.get<{ Querystring: { keep?: number } }>(
    '/v1/retention',
    {
      config: { roles: ['viewer', 'seeder', 'host'] },
      schema: { querystring: Type.Object({ keep: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000 })) }, { additionalProperties: false }), response: { 200: Type.Unknown(), ...errors } },
    },
    async (req) => {
      const keep = req.query.keep ?? 5
      const digests = new Set<string>()
      for (const ch of await store.listChannels()) digests.add(ch.digest)
      const byRelease = new Map<string, { digest: string; publishedAt: string }[]>()
      for (const v of await store.listAllVersions()) {
        const list = byRelease.get(v.release) ?? []
        list.push(v)
        byRelease.set(v.release, list)
      }
      for (const list of byRelease.values()) {
        list.sort((a, b) => (a.publishedAt < b.publishedAt ? 1 : -1))
        for (const v of list.slice(0, keep)) digests.add(v.digest)
      }
      return { keep, digests: [...digests].sort() }
    },
  )

  // ---- releases and versions -----------------------------------------------------------
  const RV = Type.Object({ release: Name('release'), version: Name('version') })
  app.put<{ Params: { release: string; version: string }; Body: typeof VersionBody.static }>(
    '/v1/releases/:release/versions/:version',
    { config: { roles: ['publisher'] }, schema: { params: RV, body: VersionBody, response: { 200: Type.Unknown(), 201: Type.Unknown(), ...errors } } },
    async (req, reply) => {
      const { record, created } = await store.putVersion({ release: req.params.release, version: req.params.version, digest: req.body.digest as Digest, signature: req.body.signature, publishedBy: who(req) })
      void reply.status(created ? 201 : 200)
      return record
    },
  )
  app.get<{ Params: { release: string; version: string } }>(
    '/v1/releases/:release/versions/:version',
    { config: { roles: ['viewer', 'host', 'publisher', 'seeder'] }, schema: { params: RV, response: { 200: Type.Unknown(), ...errors } } },
    async (req) => (await store.getVersion(req.params.release, req.params.version)) ?? notFound(`${req.params.release}@${req.params.version}`),
  )
  app.get<{ Params: { release: string } }>(
    '/v1/releases/:release/versions',
    { config: { roles: ['viewer', 'host', 'publisher', 'seeder'] }, schema: { params: Type.Object({ release: Name('release') }), response: { 200: Type.Unknown(), ...errors } } },
    async (req) => ({ versions: await store.listVersions(req.params.release) }),
  )

  // ---- channels and rollouts -----------------------------------------------------------
  const RC = Type.Object({ release: Name('release'), channel: Name('channel') })
  app.put<{ Params: { release: string; channel: string }; Body: typeof ChannelBody.static }>(
    '/v1/channels/:release/:channel',
    { config: { roles: ['publisher'] }, schema: { params: RC, body: ChannelBody, response: { 200: Type.Unknown(), ...errors } } },
    async (req) => {
      const moved = await store.moveChannel(req.params.release, req.params.channel, req.body.version, who(req))
      // A move must show at once, not after the cache ages out.
      statusCache.delete(`${req.params.release}@${req.params.channel}`)
      rolloutsCounter.inc()
      changes.emit('change')
      return moved
    },
  )
  app.get('/v1/channels', { config: { roles: ['viewer', 'publisher'] }, schema: { response: { 200: Type.Unknown(), ...errors } } }, async () => ({
    channels: await store.listChannels(),
  }))
  app.get<{ Params: { release: string; channel: string } }>(
    '/v1/channels/:release/:channel',
    { config: { roles: ['viewer', 'host', 'publisher'] }, schema: { params: RC, response: { 200: Type.Unknown(), ...errors } } },
    async (req) => (await store.getChannel(req.params.release, req.params.channel)) ?? notFound(`channel ${req.params.release}@${req.params.channel}`),
  )
  app.get<{ Params: { release: string; channel: string } }>(
    '/v1/channels/:release/:channel/history',
    { config: { roles: ['viewer', 'publisher'] }, schema: { params: RC, response: { 200: Type.Unknown(), ...errors } } },
    async (req) => ({ rollouts: await store.rolloutHistory(req.params.release, req.params.channel) }),
  )
  const shuttingDown = new AbortController()
  let openStreams = 0
  // One status feed per watched channel, shared by its streams (see createStatusFeed).
  const feeds = new Map<string, StatusFeed>()
  changes.on('change', () => {
    for (const f of feeds.values()) f.changed()
  })
  changes.on('report', (digest: string) => {
    for (const f of feeds.values()) f.changed(digest)
  })
  shuttingDown.signal.addEventListener('abort', () => {
    for (const f of [...feeds.values()]) f.close()
    feeds.clear()
  })
  app.addHook('preClose', async () => shuttingDown.abort())

  // Computing a status walks every follower; many viewers (dashboards, CLIs in --watch) share
  // one computation per statusCacheMs instead of each paying for it.
  // `notBefore`: an event stream that saw a change needs a status computed after it, not a
  // cached one from just before (its last update would otherwise never be sent).
  const statusOf = async (release: string, channel: string, notBefore = 0): Promise<unknown> => {
    const key = `${release}@${channel}`
    const cached = statusCache.get(key)
    if (cached && Date.now() - cached.at < statusCacheMs && cached.at >= notBefore) return cached.value
    const at = Date.now() // stamped before reading, so a report during the read counts as newer
    const ch = (await store.getChannel(release, channel)) ?? notFound(`channel ${release}@${channel}`)
    const history = await store.rolloutHistory(release, channel)
    const followers = (await store.listHosts()).filter((h) => h.follows.includes(key))
    const value = computeRolloutStatus(ch, history.at(-1), followers, await store.reportsFor(ch.digest))
    statusCache.set(key, { at, value })
    return value
  }
  // Rollout gauges, read at scrape time from the same shared status computation.
  new Gauge({
    name: 'shoal_tracker_rollout_hosts',
    help: 'Hosts following each channel, by the state of their report for its current target',
    labelNames: ['release', 'channel', 'state'],
    registers: [metrics],
    async collect() {
      this.reset()
      for (const ch of await store.listChannels()) {
        const st = (await statusOf(ch.release, ch.channel)) as { byState: Record<string, number> }
        for (const [state, n] of Object.entries(st.byState)) this.set({ release: ch.release, channel: ch.channel, state }, n)
      }
    },
  })
  app.get<{ Params: { release: string; channel: string } }>(
    '/v1/rollouts/:release/:channel/status',
    { config: { roles: ['viewer', 'publisher'] }, schema: { params: RC, response: { 200: Type.Unknown(), ...errors } } },
    async (req) => statusOf(req.params.release, req.params.channel),
  )

  /**
   * The same status as server-sent events: one `status` event at once, then one whenever a
   * report or a channel move changes it, at most every statusCacheMs, and a comment line every
   * 15 s so proxies keep the stream open. Dashboards and `rollout status --watch` use it.
   */
  app.get<{ Params: { release: string; channel: string } }>(
    '/v1/rollouts/:release/:channel/events',
    { config: { roles: ['viewer', 'publisher'] }, schema: { params: RC } },
    async (req, reply) => {
      const { release, channel } = req.params
      if (openStreams >= maxStreams) throw new LimitReachedError(`Cannot open an event stream: ${maxStreams} are open (the tracker's --max-streams)`, { details: { maxStreams } })
      const first = await statusOf(release, channel) // a 404 before the stream starts
      reply.hijack()
      openStreams++
      const stream = openEventStream(reply.raw, { stallMs: streamStallMs })
      stream.onEnd(() => openStreams--)
      const key = `${release}@${channel}`
      let feed = feeds.get(key)
      if (!feed) {
        feed = createStatusFeed({
          read: (notBefore) => statusOf(release, channel, notBefore) as Promise<{ digest: string }>,
          intervalMs: Math.max(statusCacheMs, 50),
          onIdle: () => feeds.delete(key),
        })
        feeds.set(key, feed)
      }
      feed.add(stream, JSON.stringify(first))
    },
  )

  // ---- hosts ---------------------------------------------------------------------------
  const H = Type.Object({ host: Name('host') })
  app.put<{ Params: { host: string }; Body: typeof HostBody.static }>(
    '/v1/hosts/:host',
    { config: { roles: ['host'] }, schema: { params: H, body: HostBody, response: { 200: Type.Unknown(), ...errors } } },
    async (req) => {
      if (!(await store.getHost(req.params.host)) && (await store.hostCount()) >= maxHosts) {
        throw new LimitReachedError(`Cannot register host ${req.params.host}: the registry holds ${maxHosts} hosts (the tracker's --max-hosts)`, { details: { maxHosts } })
      }
      return store.putHost({ id: req.params.host, labels: req.body.labels, follows: req.body.follows })
    },
  )
  /**
   * Every host with, per channel it follows, the state it reported for that channel's current
   * target (pending when it has not reported one), so `shoal hosts --state failed` is one call.
   */
  app.get('/v1/hosts', { config: { roles: ['viewer'] }, schema: { response: { 200: Type.Unknown(), ...errors } } }, async () => {
    const channels = new Map((await store.listChannels()).map((c) => [`${c.release}@${c.channel}`, c]))
    const hosts = await Promise.all(
      (await store.listHosts()).map(async (h) => ({
        ...h,
        targets: await Promise.all(
          h.follows.map(async (f) => {
            const ch = channels.get(f)
            const r = ch ? await store.getReport(h.id, ch.digest) : undefined
            return { follow: f, version: ch?.version ?? null, digest: ch?.digest ?? null, state: ch ? (r?.state ?? 'pending') : null, errorCode: r?.errorCode ?? null, bytesDone: r?.bytesDone ?? 0, at: r?.at ?? null }
          }),
        ),
      })),
    )
    return { hosts }
  })
  app.post<{ Params: { host: string }; Body: typeof ReportBody.static }>(
    '/v1/hosts/:host/reports',
    { config: { roles: ['host'] }, schema: { params: H, body: ReportBody, response: { 200: Type.Unknown(), ...errors } } },
    async (req) => {
      const host = (await store.getHost(req.params.host)) ?? notFound(`host ${req.params.host} (register it with PUT /v1/hosts/${req.params.host} first)`)
      const b = req.body
      const report = await store.putReport({
        hostId: host.id,
        digest: b.digest as Digest,
        state: b.state,
        bytesDone: b.bytesDone,
        bytesFromPeers: b.bytesFromPeers,
        bytesFromOrigin: b.bytesFromOrigin,
        peers: b.peers,
        rate: b.rate,
        ...(b.errorCode ? { errorCode: b.errorCode } : {}),
        ...(b.message ? { message: b.message } : {}),
      })
      reportsCounter.inc({ state: b.state })
      changes.emit('report', b.digest)
      return report
    },
  )

  app.get<{ Params: { host: string; digest: Digest } }>(
    '/v1/hosts/:host/reports/:digest',
    { config: { roles: ['viewer', 'host'] }, schema: { params: Type.Object({ host: Name('host'), digest: DigestSchema }), response: { 200: Type.Unknown(), ...errors } } },
    async (req) => (await store.getReport(req.params.host, req.params.digest)) ?? notFound(`report of ${req.params.host} for ${req.params.digest}`),
  )

  /**
   * A host's targets: the channel records of everything it follows. With `since` (the etag of
   * the targets it has), the request is held until they change or `wait` seconds pass
   * (long-poll), so hosts learn of a move at once without polling fast.
   */
  app.get<{ Params: { host: string }; Querystring: { since?: string; wait?: number } }>(
    '/v1/hosts/:host/targets',
    {
      config: { roles: ['host'] },
      schema: {
        params: H,
        querystring: Type.Object({ since: Type.Optional(Type.String({ maxLength: 128 })), wait: Type.Optional(Type.Integer({ minimum: 0, maximum: 300 })) }, { additionalProperties: false }),
        response: { 200: Type.Unknown(), ...errors },
      },
    },
    async (req, reply: FastifyReply) => {
      const host = (await store.getHost(req.params.host)) ?? notFound(`host ${req.params.host}`)
      const read = async () => {
        const targets = []
        for (const f of host.follows) {
          const [release, channel] = f.split('@') as [string, string]
          const ch = await store.getChannel(release, channel)
          if (ch) targets.push({ follow: f, version: ch.version, digest: ch.digest, rolloutId: ch.rolloutId })
        }
        // The digest is part of it: rollout ids start again at #1 on a tracker that lost its
        // state, and a host holding the old etag would then never see the new target.
        const etag = targets.map((t) => `${t.follow}=${t.rolloutId}:${t.digest.slice(7, 23)}`).join(',')
        return { targets, etag }
      }
      let current = await read()
      const wait = Math.min(req.query.wait ?? 0, maxWatchSeconds)
      if (req.query.since !== undefined && req.query.since === current.etag && wait > 0) {
        const ac = new AbortController()
        const timer = setTimeout(() => ac.abort(), wait * 1000)
        // The response's 'close' fires when the client goes away (the request's fires as soon
        // as its body is read); a closing server ends every held request at once.
        reply.raw.once('close', () => ac.abort())
        const onShutdown = (): void => ac.abort()
        shuttingDown.signal.addEventListener('abort', onShutdown, { once: true })
        ac.signal.addEventListener('abort', () => shuttingDown.signal.removeEventListener('abort', onShutdown), { once: true })
        try {
          while (current.etag === req.query.since && !ac.signal.aborted) {
            await once(changes, 'change', { signal: ac.signal }).catch(() => {})
            current = await read()
          }
        } finally {
          clearTimeout(timer)
        }
      }
      void reply.header('etag', current.etag)
      return current
    },
  )

  const announce = registerAnnounceRoutes(app, { store, tokens, metrics })
  if (options.udpPort !== undefined) {
    const udpRequests = new Counter({ name: 'shoal_tracker_udp_requests_total', help: 'UDP tracker requests by action', labelNames: ['action'], registers: [metrics] })
    const udp = createUdpTracker({
      swarms: announce.swarms,
      isRegistered: async (ih) => (await store.digestForInfoHash(ih)) !== undefined,
      intervalSeconds: 60,
      onRequest: (action) => udpRequests.inc({ action }),
    })
    let udpPort: number | undefined
    app.decorate('udpPort', () => udpPort)
    app.addHook('onListen', async () => {
      const addr = app.server.address()
      const host = typeof addr === 'object' && addr ? addr.address : '127.0.0.1'
      udpPort = await udp.listen(options.udpPort!, host)
    })
    app.addHook('onClose', async () => udp.close())
  }

  app.addHook('onClose', async () => {
    changes.removeAllListeners()
  })
  return app
}
