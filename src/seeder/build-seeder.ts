import type { Readable } from 'node:stream'
import { Type } from '@sinclair/typebox'
import createTorrent from 'create-torrent'
import Fastify, { type FastifyInstance } from 'fastify'
import parseTorrent from 'parse-torrent'
import {
  authorize,
  digestHex,
  httpErrorFrom,
  NotFoundError,
  RequestInvalidError,
  TrackerRefusedError,
  type Digest,
  type TokenTable,
} from '../core/index.js'
import type { BundleStore } from './bundle-store.js'
import { pieceLengthFor } from './bundle-store.js'
import { parseRange } from './parse-range.js'

export interface TrackerLink {
  /** Base URL of the tracker (http://host:port). */
  url: string
  /** A seeder-role token for the tracker. */
  token: string
}

export interface BuildSeederOptions {
  store: BundleStore
  tokens: TokenTable
  /** The URL hosts reach this seeder at; web seed URLs are built from it. */
  publicUrl: string
  /** Name this seeder registers bundles under. */
  name: string
  tracker?: TrackerLink
  logger?: boolean
}

export interface BundleFacts {
  digest: Digest
  size: number
  infoHash: string
  pieceLength: number
  webSeed: string
  created: boolean
}

function makeTorrent(path: string, name: string, pieceLength: number, webSeed: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // No announce URL in the torrent: each host announces with its own passkey.
    createTorrent(path, { name, private: true, pieceLength, announceList: [], urlList: [webSeed], createdBy: 'shoal', creationDate: 0 }, (err, buf) =>
      err ? reject(err) : resolve(Buffer.from(buf)),
    )
  })
}

/**
 * The origin's HTTP surface: authenticated streaming uploads (PUT /v1/bundles/:digest, the body
 * is the bundle; its sha256 is checked while it streams and a mismatch keeps nothing), the BEP
 * 19 web seed (GET /bundles/<hex>.tar with Range), and registration of each new bundle's torrent
 * with the tracker.
 */
export async function buildSeeder(options: BuildSeederOptions): Promise<FastifyInstance> {
  const { store, tokens, publicUrl, name, tracker } = options
  const app = Fastify({ logger: options.logger ? { level: 'info', redact: ['req.headers.authorization'] } : false, maxParamLength: 200 })
  const facts = new Map<string, BundleFacts>()
  const webSeedOf = (d: Digest): string => `${publicUrl.replace(/\/$/, '')}/bundles/${digestHex(d)}.tar`

  // Bundles arrive as raw bytes; the handler streams them straight to the store.
  app.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload))

  app.setErrorHandler((err: unknown, req, reply) => {
    const { error, internal } = httpErrorFrom(err)
    if (internal) req.log.error({ err }, 'unhandled error')
    void reply.status(error.statusCode).send({ statusCode: error.statusCode, code: error.code, message: error.message })
  })

  const register = async (f: BundleFacts, torrent: Buffer): Promise<void> => {
    if (!tracker) return
    const r = await fetch(`${tracker.url.replace(/\/$/, '')}/v1/bundles/${f.digest}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${tracker.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ size: f.size, infoHash: f.infoHash, pieceLength: f.pieceLength, webSeeds: [f.webSeed], seeder: name, torrent: torrent.toString('base64') }),
      signal: AbortSignal.timeout(30_000),
    })
    if (!r.ok) throw new TrackerRefusedError(`Cannot register bundle ${f.digest} with the tracker: ${r.status} ${await r.text()}`, { details: { status: r.status } })
  }

  const describe = async (digest: Digest, created: boolean): Promise<BundleFacts> => {
    const stored = (await store.get(digest))!
    const cached = facts.get(digest)
    if (cached) return { ...cached, created }
    const pieceLength = pieceLengthFor(stored.size)
    const torrent = await makeTorrent(stored.path, `${digestHex(digest)}.tar`, pieceLength, webSeedOf(digest))
    const { infoHash } = await parseTorrent(torrent)
    const f: BundleFacts = { digest, size: stored.size, infoHash, pieceLength, webSeed: webSeedOf(digest), created }
    await register(f, torrent)
    facts.set(digest, f)
    return f
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
      const f = await describe(req.params.digest, result.created)
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
