/**
 * Wire contracts: the TypeBox schemas of the messages hosts and the tracker exchange. The
 * tracker validates requests with them and the fetcher validates the tracker's answers with
 * the same ones, because everything that arrives over a network is hostile until checked: a
 * target whose digest were `sha256:../../x` would otherwise become a file path.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler'
import type { Digest } from './digest.js'
import { ResponseInvalidError } from './errors.js'
import { namePattern, type NameKind } from './names.js'
import { HOST_STATES } from './rollout.js'

/** Largest byte figure a report may carry (1 PiB): keeps sums finite and exact. */
export const MAX_REPORTED_BYTES = 2 ** 50
/** Labels a host may carry, and their sizes. */
export const MAX_LABELS = 32
export const MAX_FOLLOWS = 64

export const DigestSchema = Type.String({ pattern: '^sha256:[0-9a-f]{64}$' })
export const NameSchema = (kind: NameKind) => Type.String({ pattern: namePattern(kind) })
const inner = (kind: NameKind): string => namePattern(kind).slice(1, -1)
export const FollowSchema = Type.String({ pattern: `^(${inner('release')})@(${inner('channel')})$`, maxLength: 200 })

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

export const HostRegistrationSchema = Type.Object(
  {
    labels: LabelsSchema,
    follows: Type.Array(FollowSchema, { maxItems: MAX_FOLLOWS, default: [] }),
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

/** One thing a host should run: the current version of a channel it follows. */
export const TargetSchema = Type.Object({
  follow: FollowSchema,
  version: NameSchema('version'),
  digest: DigestSchema,
  rolloutId: Type.String({ maxLength: 300 }),
})
export type Target = Omit<Static<typeof TargetSchema>, 'digest'> & { digest: Digest }

export const TargetsAnswerSchema = Type.Object({
  targets: Type.Array(TargetSchema, { maxItems: MAX_FOLLOWS }),
  etag: Type.String({ maxLength: 20_000 }),
})
export interface TargetsAnswer {
  targets: Target[]
  etag: string
}

export const VersionAnswerSchema = Type.Object({
  release: Type.Optional(NameSchema('release')),
  version: Type.Optional(NameSchema('version')),
  digest: DigestSchema,
  signature: Type.Optional(Type.Unknown()),
})

const compiled = new WeakMap<TSchema, TypeCheck<TSchema>>()

/**
 * `value` when it matches `schema`, else RESPONSE_INVALID naming the first bad field. For what
 * a client receives; servers validate requests through their routes' schemas.
 */
export function checkAnswer<T extends TSchema>(schema: T, value: unknown, what: string): Static<T> {
  let c = compiled.get(schema)
  if (!c) compiled.set(schema, (c = TypeCompiler.Compile(schema)))
  if (c.Check(value)) return value as Static<T>
  const first = c.Errors(value).First()
  throw new ResponseInvalidError(`Cannot use ${what}: ${first ? `${first.path || '/'} ${first.message}` : 'it does not match the contract'}`, { details: { path: first?.path } })
}
