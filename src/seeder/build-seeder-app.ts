import type { Readable } from 'node:stream'
import { Type } from '@sinclair/typebox'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import type { Registry } from 'prom-client'
import {
  authorize,
  BundleFactsSchema,
  CONNECTIONS_CHECK_MS,
  DigestSchema,
  ERROR_RESPONSES,
  GcAnswerSchema,
  guardConnections,
  HEADERS_TIMEOUT_MS,
  httpErrorFrom,
  redactUrl,
  type ConnectionLimits,
  NotFoundError,
  RequestInvalidError,
  type Digest,
  type TokenTable,
} from '../core/index.js'
import type { BundleStore } from './bundle-store.js'
import type { TorrentOffers } from './create-torrent-offers.js'
import { parseRange } from './parse-range.js'

export interface BuildSeederAppOptions {
  store: BundleStore
  tokens: TokenTable
  /** Makes torrents, registers and seeds what is uploaded. */
  offers: TorrentOffers
  /** Runs one retention sweep (POST /v1/gc, admin or publisher token). */
  sweep?: () => Promise<{ removed: string[] }>
  /** Prometheus registry served at /metrics. */
  metrics?: Registry
  logger?: boolean | Record<string, unknown>
  /** Bounds on open connections, in total and per remote address (see guardConnections). */
  connections?: ConnectionLimits
  /** Serve HTTPS with this certificate and key (PEM). */
  tls?: { cert: string | Buffer; key: string | Buffer }
}

/**
 * The origin's HTTP surface: authenticated streaming uploads (PUT /v1/bundles/:digest, the body
 * is the bundle; its sha256 is checked while it streams and a mismatch keeps nothing), the BEP
 * 19 web seed (GET /bundles/<hex>.tar with Range); each new bundle goes to the origin, which
 * registers its torrent and seeds it.
 */
export async function buildSeederApp(options: BuildSeederAppOptions): Promise<FastifyInstance> {
  const { store, tokens, offers, metrics } = options
  // Headers within HEADERS_TIMEOUT_MS; no bound on the whole request: an upload of a large
  // bundle takes as long as it takes (its bytes keep arriving, or the socket goes idle and closes).
  const serverOptions = { headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: 0, connectionsCheckingInterval: CONNECTIONS_CHECK_MS, keepAliveTimeout: 65_000 }
  const app = Fastify({
    ...(options.tls ? { https: { ...serverOptions, cert: options.tls.cert, key: options.tls.key } } : { http: serverOptions }),
    // An idle socket (no byte either way for 2 minutes) is closed.
    connectionTimeout: 120_000,
    logger: options.logger
      ? {
          level: 'info',
          ...(typeof options.logger === 'object' ? options.logger : {}),
          redact: ['req.headers.authorization'],
          serializers: { req: (req: { method: string; url: string; id: string }) => ({ id: req.id, method: req.method, url: redactUrl(req.url) }) },
        }
      : false,
    routerOptions: { maxParamLength: 200 },
    forceCloseConnections: true,
  })
  guardConnections(app.server, options.connections)
  // Bundles arrive as raw bytes; the handler streams them straight to the store.
  app.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload))

  app.setErrorHandler((err: unknown, req, reply) => {
    const { error, internal } = httpErrorFrom(err)
    if (internal) req.log.error({ err }, 'unhandled error')
    void reply.status(error.statusCode).send({ statusCode: error.statusCode, code: error.code, message: error.message })
  })

  if (options.sweep) {
    const sweep = options.sweep
    app.post('/v1/gc', { schema: { response: { 200: GcAnswerSchema, ...ERROR_RESPONSES } } }, async (req) => {
      authorize(tokens, req.headers.authorization, ['publisher'], 'run a retention sweep')
      return sweep()
    })
  }

  if (metrics) {
    app.get('/metrics', async (_req, reply) => reply.header('content-type', metrics.contentType).send(await metrics.metrics()))
  }

  app.put<{ Params: { digest: Digest } }>(
    '/v1/bundles/:digest',
    { schema: { params: Type.Object({ digest: DigestSchema }), response: { 200: BundleFactsSchema, 201: BundleFactsSchema, ...ERROR_RESPONSES } } },
    async (req, reply) => {
      authorize(tokens, req.headers.authorization, ['publisher'], 'accept upload')
      if (!req.headers['content-type']?.startsWith('application/octet-stream')) {
        throw new RequestInvalidError('Cannot accept upload: send the bundle as application/octet-stream')
      }
      const declared = req.headers['content-length'] === undefined ? undefined : Number(req.headers['content-length'])
      const result = await store.put(req.body as Readable, req.params.digest, { maxBytes: declared })
      const f = await offers.offer(req.params.digest, result.created)
      void reply.status(result.created ? 201 : 200)
      return f
    },
  )

  const serve = (auth: (req: FastifyRequest<{ Params: { file: string; passkey?: string } }>) => void) => async (req: FastifyRequest<{ Params: { file: string; passkey?: string } }>, reply: FastifyReply) => {
    auth(req)
    const m = /^([0-9a-f]{64})\.tar$/.exec(req.params.file)
    const stored = m ? await store.get(`sha256:${m[1]}`) : undefined
    if (!stored) throw new NotFoundError(`Cannot find bundle ${req.params.file}`)
    void reply.header('accept-ranges', 'bytes').header('content-type', 'application/x-tar').header('cache-control', 'public, max-age=31536000, immutable')
    const range = parseRange(req.headers.range, stored.size)
    if (range === 'unsatisfiable') {
      return reply.status(416).header('content-range', `bytes */${stored.size}`).send()
    }
    if (range) {
      void reply.status(206).header('content-range', `bytes ${range.start}-${range.end}/${stored.size}`).header('content-length', range.end - range.start + 1)
      return reply.send(store.read(stored.digest, range))
    }
    void reply.header('content-length', stored.size)
    return reply.send(store.read(stored.digest))
  }
  // The web seed (BEP 19) serves hosts and seeders only: a bearer header (Shoal's fetcher), or
  // the passkey in the path for BitTorrent clients, which cannot send headers (the registry's
  // .torrent carries each caller's own). fastify answers HEAD from these routes too.
  const webSeedRoles = ['host', 'seeder'] as const
  app.get<{ Params: { file: string } }>('/bundles/:file', serve((req) => void authorize(tokens, req.headers.authorization, webSeedRoles, 'serve the web seed')))
  app.get<{ Params: { file: string; passkey: string } }>(
    '/seed/:passkey/:file',
    serve((req) => void authorize(tokens, `Bearer ${req.params.passkey}`, webSeedRoles, 'serve the web seed')),
  )

  return app
}
