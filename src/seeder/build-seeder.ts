import type { Readable } from 'node:stream'
import { Type } from '@sinclair/typebox'
import Fastify, { type FastifyInstance } from 'fastify'
import type { Registry } from 'prom-client'
import {
  authorize,
  httpErrorFrom,
  NotFoundError,
  RequestInvalidError,
  type Digest,
  type TokenTable,
} from '../core/index.js'
import type { BundleStore } from './bundle-store.js'
import type { Origin } from './create-origin.js'
import { parseRange } from './parse-range.js'

export interface BuildSeederOptions {
  store: BundleStore
  tokens: TokenTable
  /** Makes torrents, registers and seeds what is uploaded. */
  origin: Origin
  /** Runs one retention sweep (POST /v1/gc, admin or publisher token). */
  sweep?: () => Promise<{ removed: string[] }>
  /** Prometheus registry served at /metrics. */
  metrics?: Registry
  logger?: boolean
}

/**
 * The origin's HTTP surface: authenticated streaming uploads (PUT /v1/bundles/:digest, the body
 * is the bundle; its sha256 is checked while it streams and a mismatch keeps nothing), the BEP
 * 19 web seed (GET /bundles/<hex>.tar with Range); each new bundle goes to the origin, which
 * registers its torrent and seeds it.
 */
export async function buildSeeder(options: BuildSeederOptions): Promise<FastifyInstance> {
  const { store, tokens, origin, metrics } = options
  const app = Fastify({ logger: options.logger ? { level: 'info', redact: ['req.headers.authorization'] } : false, routerOptions: { maxParamLength: 200 } })
  // Bundles arrive as raw bytes; the handler streams them straight to the store.
  app.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload))

  app.setErrorHandler((err: unknown, req, reply) => {
    const { error, internal } = httpErrorFrom(err)
    if (internal) req.log.error({ err }, 'unhandled error')
    void reply.status(error.statusCode).send({ statusCode: error.statusCode, code: error.code, message: error.message })
  })

  if (options.sweep) {
    const sweep = options.sweep
    app.post('/v1/gc', async (req) => {
      authorize(tokens, req.headers.authorization, ['publisher'], 'run a retention sweep')
      return sweep()
    })
  }

  if (metrics) {
    app.get('/metrics', async (_req, reply) => reply.header('content-type', metrics.contentType).send(await metrics.metrics()))
  }

  app.put<{ Params: { digest: Digest } }>(
    '/v1/bundles/:digest',
    { schema: { params: Type.Object({ digest: Type.String({ pattern: '^sha256:[0-9a-f]{64}$' }) }) } },
    async (req, reply) => {
      authorize(tokens, req.headers.authorization, ['publisher'], 'accept upload')
      if (!req.headers['content-type']?.startsWith('application/octet-stream')) {
        throw new RequestInvalidError('Cannot accept upload: send the bundle as application/octet-stream')
      }
      const declared = req.headers['content-length'] === undefined ? undefined : Number(req.headers['content-length'])
      const result = await store.put(req.body as Readable, req.params.digest, { maxBytes: declared })
      const f = await origin.offer(req.params.digest, result.created)
      void reply.status(result.created ? 201 : 200)
      return f
    },
  )

  const serve = () => async (req: import('fastify').FastifyRequest<{ Params: { file: string } }>, reply: import('fastify').FastifyReply) => {
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
  // fastify answers HEAD from this route too (exposeHeadRoutes), without the body.
  app.get<{ Params: { file: string } }>('/bundles/:file', serve())

  return app
}
