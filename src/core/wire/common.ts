import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler'
import { ResponseInvalidError } from '../errors.js'
import { namePattern, type NameKind } from '../names.js'

export const DigestSchema = Type.String({ pattern: '^sha256:[0-9a-f]{64}$' })
export const InfoHashSchema = Type.String({ pattern: '^[0-9a-f]{40}$' })
export const NameSchema = (kind: NameKind) => Type.String({ pattern: namePattern(kind) })
const inner = (kind: NameKind): string => namePattern(kind).slice(1, -1)
export const FollowSchema = Type.String({ pattern: `^(${inner('release')})@(${inner('channel')})$`, maxLength: 200 })
/** An ISO 8601 UTC time as Date.prototype.toISOString() writes it. */
export const TimestampSchema = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?Z$', maxLength: 40 })

/** Every error a Shoal server answers with (fastify's 4xx and 5xx included). */
export const ErrorSchema = Type.Object({
  statusCode: Type.Integer(),
  code: Type.String(),
  message: Type.String(),
  details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
})
export type ErrorAnswer = Static<typeof ErrorSchema>

/** The error responses every authenticated route declares. */
export const ERROR_RESPONSES = { 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema, 429: ErrorSchema, 500: ErrorSchema, 503: ErrorSchema } as const

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
