import { createHash, timingSafeEqual } from 'node:crypto'
import { AuthForbiddenError, AuthInvalidError, AuthMissingError, TokensFileInvalidError } from './errors.js'

export const ROLES = ['publisher', 'seeder', 'host', 'viewer', 'admin'] as const
export type Role = (typeof ROLES)[number]

export interface Principal {
  role: Role
  name: string
}

export interface TokenTable {
  /** The principal for a presented token, or undefined. Constant-time per stored token. */
  lookup(token: string): Principal | undefined
  readonly size: number
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest()

/**
 * Parses a tokens file: one `role token [name]` per line, `#` comments. Tokens are kept only
 * as sha256 digests, so neither a heap dump nor a log line can leak them.
 */
export function parseTokens(text: string): TokenTable {
  const entries: Array<{ hash: Buffer; principal: Principal }> = []
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    const [role, token, ...rest] = line.split(/\s+/)
    if (!ROLES.includes(role as Role) || !token || token.length < 16) {
      throw new TokensFileInvalidError(`Cannot read tokens: line ${i + 1} must be "role token [name]" with role one of ${ROLES.join(', ')} and a token of at least 16 characters`, {
        details: { line: i + 1 },
      })
    }
    entries.push({ hash: digest(token), principal: { role: role as Role, name: rest.join(' ') || `${role}-${i + 1}` } })
  }
  return {
    size: entries.length,
    lookup(token) {
      const h = digest(token)
      let found: Principal | undefined
      for (const e of entries) if (timingSafeEqual(e.hash, h)) found = e.principal
      return found
    },
  }
}

/** Whether `role` may act as any of `allowed` (admin may do everything). */
export function roleAllows(role: Role, allowed: readonly Role[]): boolean {
  return role === 'admin' || allowed.includes(role)
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function parseBearer(header: string | string[] | undefined): string | undefined {
  if (typeof header !== 'string') return undefined
  return /^Bearer\s+(\S+)$/i.exec(header)?.[1]
}

/**
 * The principal a request's Authorization header names, if its role is one of `roles`;
 * else AUTH_MISSING, AUTH_INVALID (401) or AUTH_FORBIDDEN (403). `action` completes "Cannot …".
 */
export function authorize(tokens: TokenTable, header: string | string[] | undefined, roles: readonly Role[], action = 'authorise request'): Principal {
  const token = parseBearer(header)
  if (!token) throw new AuthMissingError(`Cannot ${action}: no bearer token (send "Authorization: Bearer <token>")`)
  const principal = tokens.lookup(token)
  if (!principal) throw new AuthInvalidError(`Cannot ${action}: the token is not known`)
  if (!roleAllows(principal.role, roles)) {
    throw new AuthForbiddenError(`Cannot ${action}: role ${principal.role} may not do this (needs ${roles.join(' or ')})`, { details: { role: principal.role } })
  }
  return principal
}
