/**
 * Wire contracts of the registry: bundles (registered by seeders), release versions (published),
 * channels and their moves (rollouts), retention, and the seeder's upload answer.
 */
import { Type, type Static } from '@sinclair/typebox'
import type { Digest } from '../digest.js'
import { DigestSchema, InfoHashSchema, NameSchema, TimestampSchema } from './common.js'
import { PlanSummarySchema, RolloutGatesSchema, RolloutProgressSchema } from './rollouts.js'

/** PUT /v1/bundles/:digest (a seeder registers a bundle it holds). */
export const BundleRegistrationSchema = Type.Object(
  {
    size: Type.Integer({ minimum: 0 }),
    infoHash: InfoHashSchema,
    pieceLength: Type.Integer({ minimum: 16384, maximum: 64 * 1024 * 1024 }),
    webSeeds: Type.Array(Type.String({ pattern: '^https?://', maxLength: 2048 }), { maxItems: 64 }),
    seeder: Type.Optional(Type.String({ minLength: 1, maxLength: 253 })),
    /** The .torrent file, base64 (hosts fetch it from GET /v1/bundles/:digest/torrent). */
    torrent: Type.Optional(Type.String({ contentEncoding: 'base64', pattern: '^[A-Za-z0-9+/]*={0,2}$', maxLength: 700_000 })),
  },
  { additionalProperties: false },
)
export type BundleRegistration = Static<typeof BundleRegistrationSchema>

/** A bundle's facts as the registry answers them (the .torrent itself is fetched apart). */
export const BundleAnswerSchema = Type.Object({
  schema: Type.Integer(),
  digest: DigestSchema,
  size: Type.Integer({ minimum: 0 }),
  infoHash: InfoHashSchema,
  pieceLength: Type.Integer(),
  webSeeds: Type.Array(Type.String()),
  seeders: Type.Array(Type.String()),
  registeredAt: TimestampSchema,
  hasTorrent: Type.Boolean(),
})
export type BundleAnswer = Omit<Static<typeof BundleAnswerSchema>, 'digest'> & { digest: Digest }

/** PUT /v1/releases/:r/versions/:v (publish; immutable). */
export const VersionBodySchema = Type.Object({ digest: DigestSchema, signature: Type.Optional(Type.Unknown()) }, { additionalProperties: false })

export const VersionRecordSchema = Type.Object({
  schema: Type.Integer(),
  release: NameSchema('release'),
  version: NameSchema('version'),
  digest: DigestSchema,
  signature: Type.Optional(Type.Unknown()),
  publishedBy: Type.String(),
  publishedAt: TimestampSchema,
})
export type VersionRecord = Omit<Static<typeof VersionRecordSchema>, 'digest'> & { digest: Digest }
export const VersionListSchema = Type.Object({ versions: Type.Array(VersionRecordSchema) })

/** PUT /v1/channels/:r/:c (move a channel to a published version). */
export const ChannelBodySchema = Type.Object({ version: NameSchema('version') }, { additionalProperties: false })

export const ChannelRecordSchema = Type.Object({
  schema: Type.Integer(),
  release: NameSchema('release'),
  channel: NameSchema('channel'),
  version: NameSchema('version'),
  digest: DigestSchema,
  rolloutId: Type.String(),
  movedBy: Type.String(),
  movedAt: TimestampSchema,
})
export type ChannelRecord = Omit<Static<typeof ChannelRecordSchema>, 'digest'> & { digest: Digest }

export const RolloutRecordSchema = Type.Object({
  schema: Type.Integer(),
  id: Type.String(),
  release: NameSchema('release'),
  channel: NameSchema('channel'),
  fromVersion: Type.Union([Type.String(), Type.Null()]),
  toVersion: NameSchema('version'),
  digest: DigestSchema,
  /** The digest the channel pointed at before (what a rollback returns to). */
  fromDigest: Type.Optional(Type.Union([DigestSchema, Type.Null()])),
  by: Type.String(),
  at: TimestampSchema,
  /** A planned rollout's gates and where it stands (absent: a plain move, one wave, no gates). */
  gates: Type.Optional(RolloutGatesSchema),
  progress: Type.Optional(RolloutProgressSchema),
})
export type RolloutRecord = Omit<Static<typeof RolloutRecordSchema>, 'digest' | 'fromDigest'> & { digest: Digest; fromDigest?: Digest | null }

export const ChannelMoveSchema = Type.Object({ channel: ChannelRecordSchema, rollout: RolloutRecordSchema })
/** POST /v1/rollouts/:release/:channel: the plan, and (unless a dry run) the move it started. */
export const RolloutStartAnswerSchema = Type.Object({ dryRun: Type.Boolean(), plan: PlanSummarySchema, channel: Type.Optional(ChannelRecordSchema), rollout: Type.Optional(RolloutRecordSchema) })
export type RolloutStartAnswer = Omit<Static<typeof RolloutStartAnswerSchema>, 'channel' | 'rollout'> & { channel?: ChannelRecord; rollout?: RolloutRecord }
export const ChannelListSchema = Type.Object({ channels: Type.Array(ChannelRecordSchema) })
export const HistorySchema = Type.Object({ rollouts: Type.Array(RolloutRecordSchema) })

/** GET /v1/retention: what seeders and caches must keep. */
export const RetentionAnswerSchema = Type.Object({ keep: Type.Integer({ minimum: 0 }), digests: Type.Array(DigestSchema) })
/** GET /v1/swarms/arrivals: swarms that gained a downloader after a sequence number (for origins). */
export const ArrivalsAnswerSchema = Type.Object({ seq: Type.Integer({ minimum: 0 }), infoHashes: Type.Array(Type.String({ pattern: '^[0-9a-f]{40}$' }), { maxItems: 4096 }) })
export type ArrivalsAnswer = Static<typeof ArrivalsAnswerSchema>
export type RetentionAnswer = Static<typeof RetentionAnswerSchema>

/** The seeder's answer to an upload: the bundle's torrent facts. */
export const BundleFactsSchema = Type.Object({
  digest: DigestSchema,
  size: Type.Integer({ minimum: 0 }),
  infoHash: InfoHashSchema,
  pieceLength: Type.Integer(),
  webSeed: Type.String(),
  created: Type.Boolean(),
})
export type BundleFacts = Omit<Static<typeof BundleFactsSchema>, 'digest'> & { digest: Digest }

/** POST /v1/gc on a seeder: what a retention sweep removed. */
export const GcAnswerSchema = Type.Object({ removed: Type.Array(DigestSchema) })
