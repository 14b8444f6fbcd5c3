import { createHash, createHmac, timingSafeEqual } from 'node:crypto'
import { AuthForbiddenError, AuthInvalidError, AuthMissingError, TokensFileInvalidError } from './errors.js'
import { namePattern } from './names.js'

export const ROLES = ['publisher', 'seeder', 'host', 'viewer', 'admin'] as const
export type Role = (typeof ROLES)[number]

export interface Principal {
  role: Role
  /** Who acts. For the host role this is the one host id the token may act for. */
  name: string
}

export interface TokenTable {
  /** The principal for a presented token, or undefined. Constant-time per stored token. */
  lookup(token: string): Principal | undefined
  readonly size: number
}

/** Prefix of host tokens derived from a host key (see deriveHostToken). */
export const HOST_TOKEN_PREFIX = 'sht1.'
const HOST_KEY_MIN = 32
const hostIdRe = new RegExp(namePattern('host'))

const digest = (s: string): Buffer => createHash('sha256').update(s).digest()
const hostMac = (key: string, hostId: string): Buffer => createHmac('sha256', key).update(`shoal host token v1\0${hostId}`).digest()

/**
 * The token of host `hostId` under a fleet's host key: `sht1.<hostId>.<HMAC-SHA256(key, hostId)>`.
 * The tracker (and the seeder) hold only the key and check any host's token without a list of
 * them; the id inside the token is the only host it may act for, so one machine's token cannot
 * speak for another. Provisioning computes each host's token with `shoal token host ID`.
 */
export function deriveHostToken(hostKey: string, hostId: string): string {
  if (hostKey.length < HOST_KEY_MIN) throw new RangeError(`Cannot derive a host token: the host key must have at least ${HOST_KEY_MIN} characters (current length is ${hostKey.length})`)
  if (!hostIdRe.test(hostId) || hostId.includes('..')) throw new RangeError(`Cannot derive a host token: ${JSON.stringify(hostId)} is not a host name`)
  return `${HOST_TOKEN_PREFIX}${hostId}.${hostMac(hostKey, hostId).toString('base64url')}`
}

/**
 * Parses a tokens file: one `role token name` per line, `#` comments. Tokens are kept only
 * as sha256 digests, so neither a heap dump nor a log line can leak them.
 *
 * - A `host` line must name the host id its token acts for: the tracker refuses it for any other.
 * - A `host-key KEY [name]` line accepts every token `deriveHostToken(KEY, id)` as host `id`
 *   (several keys may be listed while one is rotated out).
 */
export function parseTokens(text: string): TokenTable {
  const entries: Array<{ hash: Buffer; principal: Principal }> = []
  const hostKeys: string[] = []
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    const [role, token, ...rest] = line.split(/\s+/)
    if (role === 'host-key') {
      if (!token || token.length < HOST_KEY_MIN) {
        throw new TokensFileInvalidError(`Cannot read tokens: line ${i + 1} must be "host-key KEY [name]" with a key of at least ${HOST_KEY_MIN} characters`, { details: { line: i + 1 } })
      }
      hostKeys.push(token)
      continue
    }
    if (!ROLES.includes(role as Role) || !token || token.length < 16) {
      throw new TokensFileInvalidError(`Cannot read tokens: line ${i + 1} must be "role token [name]" with role one of ${ROLES.join(', ')}, host-key, and a token of at least 16 characters`, {
        details: { line: i + 1 },
      })
    }
    const name = rest.join(' ')
    if (role === 'host' && (!hostIdRe.test(name) || name.includes('..'))) {
      throw new TokensFileInvalidError(`Cannot read tokens: line ${i + 1} is a host token, so it must name the host id it acts for ("host TOKEN HOST_ID"; current value is ${JSON.stringify(name)})`, {
        details: { line: i + 1 },
      })
    }
    entries.push({ hash: digest(token), principal: { role: role as Role, name: name || `${role}-${i + 1}` } })
  }
  const lookupHostToken = (token: string): Principal | undefined => {
    const rest = token.slice(HOST_TOKEN_PREFIX.length)
    const dot = rest.lastIndexOf('.')
    if (dot < 1) return undefined
    const hostId = rest.slice(0, dot)
    const mac = Buffer.from(rest.slice(dot + 1), 'base64url')
    if (mac.length !== 32 || !hostIdRe.test(hostId) || hostId.includes('..')) return undefined
    let ok = false
    for (const key of hostKeys) if (timingSafeEqual(hostMac(key, hostId), mac)) ok = true
    return ok ? { role: 'host', name: hostId } : undefined
  }
  return {
    size: entries.length + hostKeys.length,
    lookup(token) {
      if (typeof token !== 'string' || token.length > 512) return undefined
      if (hostKeys.length > 0 && token.startsWith(HOST_TOKEN_PREFIX)) {
        const p = lookupHostToken(token)
        if (p) return p
      }
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

/**
 * AUTH_FORBIDDEN unless `principal` may act for host `hostId`: a host token only for the host it
 * names, other roles allowed by the route (admin always, viewers where the route lets them read).
 */
export function checkActsForHost(principal: Principal, hostId: string): void {
  if (principal.role === 'host' && principal.name !== hostId) {
    throw new AuthForbiddenError(`Cannot act for host ${hostId}: this token belongs to host ${principal.name}`, { details: { role: 'host', host: principal.name } })
  }
}
