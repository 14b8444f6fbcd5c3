/**
 * Wire contracts between hosts and the tracker: registration, reports, targets. The tracker
 * validates requests with them and the fetcher validates the tracker's answers with the same
 * ones, because everything that arrives over a network is hostile until checked: a target whose
 * digest were `sha256:../../x` would otherwise become a file path.
 */
import { Type, type Static } from '@sinclair/typebox'
import type { Digest } from '../digest.js'
import { HOST_STATES } from '../rollout.js'
import { DigestSchema, FollowSchema, NameSchema, TimestampSchema } from './common.js'

/** Largest byte figure a report may carry (1 PiB): keeps sums finite and exact. */
export const MAX_REPORTED_BYTES = 2 ** 50
/** Labels a host may carry, and their sizes. */
export const MAX_LABELS = 32
export const MAX_FOLLOWS = 64


/**
 * A host's labels (`region=eu`, `rack=r12`): closed key alphabet, values without control
 * characters (they are printed on terminals and dashboards), at most MAX_LABELS of them.
 * `additionalProperties: false` matters: without it a pattern-keyed record accepts any key.
 */
export const LabelsSchema = Type.Record(
  Type.String({ pattern: '^[a-z][a-z0-9_.-]{0,62}$' }),
  Type.String({ maxLength: 253, pattern: '^[^\\u0000-\\u001f\\u007f-\\u009f]*$' }),
  { additionalProperties: false, maxProperties: MAX_LABELS, default: {} },
)

/** A fetcher process's random id (see HostRegistrationSchema). */
export const InstanceSchema = Type.String({ pattern: '^[0-9a-f]{16,64}$' })

export const HostRegistrationSchema = Type.Object(
  {
    labels: LabelsSchema,
    follows: Type.Array(FollowSchema, { maxItems: MAX_FOLLOWS, default: [] }),
    /** The fetcher process acting as this host (random per start): two live ones are refused. */
    instance: Type.Optional(InstanceSchema),
  },
  { additionalProperties: false },
)
export type HostRegistration = Static<typeof HostRegistrationSchema>

const Bytes = (extra: Record<string, unknown> = {}) => Type.Integer({ minimum: 0, maximum: MAX_REPORTED_BYTES, ...extra })

export const HostReportSchema = Type.Object(
  {
    digest: DigestSchema,
    state: Type.Union(HOST_STATES.map((s) => Type.Literal(s))),
    bytesDone: Bytes(),
    bytesFromPeers: Bytes({ default: 0 }),
    bytesFromOrigin: Bytes({ default: 0 }),
    /** Bytes the host derived from content it already held (previous bundles) instead of fetching them. */
    bytesDerived: Type.Optional(Bytes()),
    peers: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 0 }),
    rate: Type.Number({ minimum: 0, maximum: 1e13, default: 0 }),
    errorCode: Type.Optional(Type.String({ pattern: '^[A-Z][A-Z0-9_]{1,63}$' })),
    message: Type.Optional(Type.String({ maxLength: 2000 })),
  },
  { additionalProperties: false },
)
export type HostReport = Omit<Static<typeof HostReportSchema>, 'digest' | 'bytesFromPeers' | 'bytesFromOrigin' | 'peers' | 'rate'> & {
  digest: Digest
  bytesFromPeers?: number
  bytesFromOrigin?: number
  peers?: number
  rate?: number
}

/**
 * One thing a host should run: the current version of a channel it follows, with what the host
 * needs to act on it in one round trip (the release name for the launcher, the signature for
 * its trust policy).
 */
export const TargetSchema = Type.Object({
  follow: FollowSchema,
  release: NameSchema('release'),
  version: NameSchema('version'),
  digest: DigestSchema,
  rolloutId: Type.String({ maxLength: 300 }),
  signature: Type.Optional(Type.Unknown()),
  /**
   * false: stage only (download, verify, unpack; report `staged`) and keep running `hold` until a
   * later answer says activate. Absent (a tracker from before waves) or true: activate.
   */
  activate: Type.Optional(Type.Boolean()),
  /** The version to keep running while this one is only staged (the one the host ran before). */
  hold: Type.Optional(Type.Object({ version: NameSchema('version'), digest: DigestSchema, signature: Type.Optional(Type.Unknown()) })),
})
export type Target = Omit<Static<typeof TargetSchema>, 'digest' | 'hold'> & { digest: Digest; hold?: { version: string; digest: Digest; signature?: unknown } }

export const TargetsAnswerSchema = Type.Object({
  targets: Type.Array(TargetSchema, { maxItems: MAX_FOLLOWS }),
  etag: Type.String({ maxLength: 20_000 }),
})
export interface TargetsAnswer {
  targets: Target[]
  etag: string
}

/** A host as the registry keeps it. */
export const HostRecordSchema = Type.Object({
  schema: Type.Integer(),
  id: NameSchema('host'),
  labels: LabelsSchema,
  follows: Type.Array(FollowSchema, { maxItems: MAX_FOLLOWS }),
  lastSeen: TimestampSchema,
})
export type HostRecord = Static<typeof HostRecordSchema>

/** A host's latest report for one digest, as the registry keeps it. */
export const ReportRecordSchema = Type.Object({
  schema: Type.Integer(),
  hostId: NameSchema('host'),
  digest: DigestSchema,
  state: Type.Union(HOST_STATES.map((s) => Type.Literal(s))),
  bytesDone: Type.Integer({ minimum: 0 }),
  bytesFromPeers: Type.Integer({ minimum: 0 }),
  bytesFromOrigin: Type.Integer({ minimum: 0 }),
  bytesDerived: Type.Optional(Type.Integer({ minimum: 0 })),
  peers: Type.Integer({ minimum: 0 }),
  rate: Type.Number({ minimum: 0 }),
  errorCode: Type.Optional(Type.String()),
  message: Type.Optional(Type.String()),
  firstReportAt: TimestampSchema,
  runningAt: Type.Optional(TimestampSchema),
  at: TimestampSchema,
})
export type ReportRecord = Omit<Static<typeof ReportRecordSchema>, 'digest'> & { digest: Digest }

/** GET /v1/hosts: every host, and per channel it follows the state of its current target. */
export const HostListSchema = Type.Object({
  hosts: Type.Array(
    Type.Composite([
      HostRecordSchema,
      Type.Object({
        targets: Type.Array(
          Type.Object({
            follow: FollowSchema,
            version: Type.Union([Type.String(), Type.Null()]),
            digest: Type.Union([DigestSchema, Type.Null()]),
            state: Type.Union([Type.String(), Type.Null()]),
            errorCode: Type.Union([Type.String(), Type.Null()]),
            bytesDone: Type.Integer({ minimum: 0 }),
            at: Type.Union([TimestampSchema, Type.Null()]),
          }),
        ),
      }),
    ]),
  ),
})
export type HostList = Static<typeof HostListSchema>


/**
 * GET /v1/hosts/:host: one host and, per channel it follows, the channel's latest moves (newest
 * first, at most 20) each with this host's report for that version (null when it never reported
 * one): what it was told to run, what it did and which errors it hit, over time.
 */
export const HostDetailSchema = Type.Composite([
  HostRecordSchema,
  Type.Object({
    channels: Type.Array(
      Type.Object({
        follow: FollowSchema,
        moves: Type.Array(
          Type.Object({
            version: Type.String(),
            digest: DigestSchema,
            by: Type.String(),
            at: TimestampSchema,
            report: Type.Union([ReportRecordSchema, Type.Null()]),
          }),
        ),
      }),
    ),
  }),
])
export type HostDetail = Static<typeof HostDetailSchema>
