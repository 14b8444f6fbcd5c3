import { createHash, timingSafeEqual } from 'node:crypto'
import { TokensFileInvalidError } from './errors.js'

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
