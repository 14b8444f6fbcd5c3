import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { Counter } from 'prom-client'
import {
  BundleAnswerSchema,
  BundleRegistrationSchema,
  ChannelBodySchema,
  ChannelListSchema,
  ChannelMoveSchema,
  ChannelRecordSchema,
  DigestSchema,
  ERROR_RESPONSES,
  HistorySchema,
  NameSchema,
  parseBearer,
  RetentionAnswerSchema,
  VersionBodySchema,
  VersionListSchema,
  VersionRecordSchema,
  type BundleRegistration,
  type Digest,
} from '../../core/index.js'
import { personalizeTorrent } from '../personal-torrent.js'
import { retentionSet } from '../retention-set.js'
import { notFound, who, type TrackerContext } from '../tracker-context.js'
import type { BundleRecord } from '../tracker-store.js'

const RV = Type.Object({ release: NameSchema('release'), version: NameSchema('version') })
const RC = Type.Object({ release: NameSchema('release'), channel: NameSchema('channel') })
const D = Type.Object({ digest: DigestSchema })
const answer = ({ torrent, ...rest }: BundleRecord) => ({ ...rest, hasTorrent: torrent !== undefined })

/** The registry: bundles (seeders register them), release versions (immutable), channels and their moves, retention. */
export function registryRoutes(app: FastifyInstance, ctx: TrackerContext): void {
  const { store } = ctx
  const moves = new Counter({ name: 'shoal_tracker_rollouts_total', help: 'Channel moves', registers: [ctx.metrics] })

  app.put<{ Params: { digest: Digest }; Body: BundleRegistration }>(
    '/v1/bundles/:digest',
    { config: { roles: ['seeder'] }, schema: { params: D, body: BundleRegistrationSchema, response: { 200: BundleAnswerSchema, ...ERROR_RESPONSES } } },
    async (req) => answer(await store.putBundle({ ...req.body, digest: req.params.digest })),
  )
  app.get<{ Params: { digest: Digest } }>(
    '/v1/bundles/:digest',
    { config: { roles: ['viewer', 'host', 'seeder', 'publisher'] }, schema: { params: D, response: { 200: BundleAnswerSchema, ...ERROR_RESPONSES } } },
    async (req) => answer((await store.getBundle(req.params.digest)) ?? notFound(`bundle ${req.params.digest}`)),
  )
  app.get<{ Params: { digest: Digest } }>(
    '/v1/bundles/:digest/torrent',
    {
      config: { roles: ['viewer', 'host', 'seeder', 'publisher'] },
      schema: { params: D, response: { 200: { description: 'The .torrent (application/x-bittorrent), personal to the caller', type: 'string', format: 'binary' }, ...ERROR_RESPONSES } },
    },
    async (req, reply) => {
      const b = (await store.getBundle(req.params.digest)) ?? notFound(`bundle ${req.params.digest}`)
      if (!b.torrent) notFound(`torrent of bundle ${req.params.digest} (its seeder registered none)`)
      // Personal to the caller: its passkey in the announce URL and the web seeds (BEP 19 clients
      // cannot send a header), so any BitTorrent client can use the file as it is.
      const passkey = parseBearer(req.headers.authorization)!
      const base = ctx.publicUrl?.replace(/\/$/, '') ?? `${req.protocol}://${req.host}`
      const otherAnnounceUrls = ctx.replicaUrls.map((u) => `${u.replace(/\/$/, '')}/announce/${passkey}`)
      const torrent = personalizeTorrent(Buffer.from(b.torrent!, 'base64'), { announceUrl: `${base}/announce/${passkey}`, passkey, otherAnnounceUrls, webSeeds: b.webSeeds })
      return reply.header('content-type', 'application/x-bittorrent').header('cache-control', 'private, no-store').send(torrent)
    },
  )
  app.get<{ Querystring: { keep?: number } }>(
    '/v1/retention',
    {
      config: { roles: ['viewer', 'seeder', 'host'] },
      schema: { querystring: Type.Object({ keep: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000 })) }, { additionalProperties: false }), response: { 200: RetentionAnswerSchema, ...ERROR_RESPONSES } },
    },
    async (req) => {
      const keep = req.query.keep ?? 5
      return { keep, digests: retentionSet(await store.listChannels(), await store.listAllVersions(), keep) }
    },
  )

  app.put<{ Params: { release: string; version: string }; Body: { digest: Digest; signature?: unknown } }>(
    '/v1/releases/:release/versions/:version',
    { config: { roles: ['publisher'] }, schema: { params: RV, body: VersionBodySchema, response: { 200: VersionRecordSchema, 201: VersionRecordSchema, ...ERROR_RESPONSES } } },
    async (req, reply) => {
      const { record, created } = await store.putVersion({ release: req.params.release, version: req.params.version, digest: req.body.digest, signature: req.body.signature, publishedBy: who(req) })
      void reply.status(created ? 201 : 200)
      return record
    },
  )
  app.get<{ Params: { release: string; version: string } }>(
    '/v1/releases/:release/versions/:version',
    { config: { roles: ['viewer', 'host', 'publisher', 'seeder'] }, schema: { params: RV, response: { 200: VersionRecordSchema, ...ERROR_RESPONSES } } },
    async (req) => (await store.getVersion(req.params.release, req.params.version)) ?? notFound(`${req.params.release}@${req.params.version}`),
  )
  app.get<{ Params: { release: string } }>(
    '/v1/releases/:release/versions',
    { config: { roles: ['viewer', 'host', 'publisher', 'seeder'] }, schema: { params: Type.Object({ release: NameSchema('release') }), response: { 200: VersionListSchema, ...ERROR_RESPONSES } } },
    async (req) => ({ versions: await store.listVersions(req.params.release) }),
  )

  app.put<{ Params: { release: string; channel: string }; Body: { version: string } }>(
    '/v1/channels/:release/:channel',
    { config: { roles: ['publisher'] }, schema: { params: RC, body: ChannelBodySchema, response: { 200: ChannelMoveSchema, ...ERROR_RESPONSES } } },
    async (req) => {
      const moved = await store.moveChannel(req.params.release, req.params.channel, req.body.version, who(req))
      // A move must show at once, not after the cache ages out.
      ctx.invalidate(req.params.release, req.params.channel)
      moves.inc()
      ctx.changes.emit('change')
      return moved
    },
  )
  app.get('/v1/channels', { config: { roles: ['viewer', 'publisher'] }, schema: { response: { 200: ChannelListSchema, ...ERROR_RESPONSES } } }, async () => ({ channels: await store.listChannels() }))
  app.get<{ Params: { release: string; channel: string } }>(
    '/v1/channels/:release/:channel',
    { config: { roles: ['viewer', 'host', 'publisher'] }, schema: { params: RC, response: { 200: ChannelRecordSchema, ...ERROR_RESPONSES } } },
    async (req) => (await store.getChannel(req.params.release, req.params.channel)) ?? notFound(`channel ${req.params.release}@${req.params.channel}`),
  )
  app.get<{ Params: { release: string; channel: string } }>(
    '/v1/channels/:release/:channel/history',
    { config: { roles: ['viewer', 'publisher'] }, schema: { params: RC, response: { 200: HistorySchema, ...ERROR_RESPONSES } } },
    async (req) => ({ rollouts: await store.rolloutHistory(req.params.release, req.params.channel) }),
  )
}
