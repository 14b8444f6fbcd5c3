import { describe, expect, it } from 'vitest'
import { authorize, checkActsForHost, deriveHostToken, HOST_TOKEN_PREFIX, parseBearer, parseTokens, roleAllows } from '../../src/core/index.js'

const KEY = 'a-fleet-host-key-of-32-characters!'
const TEXT = `# comment line
publisher pub-token-0123456789 ci bot
   
seeder seed-token-0123456789
host host-token-0123456789 web-1
viewer view-token-0123456789 eng
admin admin-token-0123456789 ops
host-key ${KEY} fleet
`

describe('parseTokens()', () => {
  const t = parseTokens(TEXT)
  it('reads one "role token name" per line, skips comments and blanks, names the unnamed by role and line', () => {
    expect(t.size).toBe(6)
    expect(t.lookup('pub-token-0123456789')).toEqual({ role: 'publisher', name: 'ci bot' })
    expect(t.lookup('seed-token-0123456789')).toEqual({ role: 'seeder', name: 'seeder-4' })
    expect(t.lookup('host-token-0123456789')).toEqual({ role: 'host', name: 'web-1' })
    expect(t.lookup('admin-token-0123456789')).toEqual({ role: 'admin', name: 'ops' })
    expect(t.lookup('view-token-0123456789')).toEqual({ role: 'viewer', name: 'eng' })
  })

  it('knows no other token: a prefix, a longer string, an empty one, the host key itself', () => {
    for (const x of ['pub-token-012345678', 'pub-token-01234567890', '', KEY, 'x'.repeat(600), `${HOST_TOKEN_PREFIX}web-1`]) expect(t.lookup(x), x).toBeUndefined()
  })

  it('accepts every host token derived from a listed host key, for its own host id only', () => {
    expect(t.lookup(deriveHostToken(KEY, 'web-17'))).toEqual({ role: 'host', name: 'web-17' })
    expect(t.lookup(deriveHostToken(KEY, 'db.eu-1_a'))).toEqual({ role: 'host', name: 'db.eu-1_a' })
    expect(t.lookup(deriveHostToken('another-key-that-is-32-characters', 'web-17'))).toBeUndefined()
    const good = deriveHostToken(KEY, 'web-17')
    expect(t.lookup(good.replace('web-17', 'web-18'))).toBeUndefined()
    expect(t.lookup(good.slice(0, -1))).toBeUndefined()
    expect(t.lookup(`${good}x`)).toBeUndefined()
    expect(t.lookup(good.replace(HOST_TOKEN_PREFIX, 'sht2.'))).toBeUndefined()
    // Without a host key, derived tokens are unknown like any other string.
    expect(parseTokens('viewer view-token-0123456789\n').lookup(good)).toBeUndefined()
  })

  it('two host keys (one being rotated out) both work', () => {
    const two = parseTokens(`host-key ${KEY}\nhost-key another-key-that-is-32-characters\n`)
    expect(two.lookup(deriveHostToken(KEY, 'h'))?.name).toBe('h')
    expect(two.lookup(deriveHostToken('another-key-that-is-32-characters', 'h'))?.name).toBe('h')
  })

  it.each([
    ['an unknown role', 'root tok-0123456789abcdef x'],
    ['a token under 16 characters', 'viewer short x'],
    ['a line with no token', 'viewer'],
    ['a host token without a host id', 'host host-token-0123456789'],
    ['a host token naming an invalid host id', 'host host-token-0123456789 ../etc'],
    ['a host key under 32 characters', 'host-key too-short-key'],
    ['a host key line with no key', 'host-key'],
  ])('refuses %s with TOKENS_FILE_INVALID naming the line', (_name, line) => {
    expect(() => parseTokens(`viewer view-token-0123456789\n${line}\n`)).toThrowError(expect.objectContaining({ code: 'TOKENS_FILE_INVALID', details: { line: 2 } }))
  })
})

describe('deriveHostToken()', () => {
  it('is deterministic, differs per host and per key, and carries the host id', () => {
    expect(deriveHostToken(KEY, 'a')).toBe(deriveHostToken(KEY, 'a'))
    expect(deriveHostToken(KEY, 'a')).not.toBe(deriveHostToken(KEY, 'b'))
    expect(deriveHostToken(KEY, 'a')).toMatch(/^sht1\.a\.[A-Za-z0-9_-]{43}$/)
  })
  it('refuses a short key or a host id outside the alphabet (a programmer mistake: RangeError)', () => {
    expect(() => deriveHostToken('short', 'a')).toThrow(RangeError)
    expect(() => deriveHostToken(KEY, 'a/b')).toThrow(RangeError)
    expect(() => deriveHostToken(KEY, 'a..b')).toThrow(RangeError)
  })
})

describe('parseBearer(), roleAllows(), authorize(), checkActsForHost()', () => {
  const t = parseTokens(TEXT)
  it('parseBearer() takes the token of "Bearer <token>" in any case, and nothing else', () => {
    expect(parseBearer('Bearer abc')).toBe('abc')
    expect(parseBearer('bearer   abc')).toBe('abc')
    for (const h of [undefined, '', 'Basic abc', 'Bearer', 'Bearer a b', ['Bearer abc']] as const) expect(parseBearer(h as never)).toBeUndefined()
  })

  it('roleAllows(): admin may do everything, others what is listed', () => {
    expect(roleAllows('admin', ['viewer'])).toBe(true)
    expect(roleAllows('viewer', ['viewer', 'publisher'])).toBe(true)
    expect(roleAllows('host', ['viewer'])).toBe(false)
  })

  it('authorize(): AUTH_MISSING without a token, AUTH_INVALID for an unknown one, AUTH_FORBIDDEN for the wrong role, the principal otherwise', () => {
    expect(() => authorize(t, undefined, ['viewer'])).toThrowError(expect.objectContaining({ code: 'AUTH_MISSING', statusCode: 401 }))
    expect(() => authorize(t, 'Token x', ['viewer'])).toThrowError(expect.objectContaining({ code: 'AUTH_MISSING' }))
    expect(() => authorize(t, 'Bearer nope-nope-nope-nope', ['viewer'])).toThrowError(expect.objectContaining({ code: 'AUTH_INVALID', statusCode: 401 }))
    expect(() => authorize(t, 'Bearer host-token-0123456789', ['viewer'], 'read it')).toThrowError(expect.objectContaining({ code: 'AUTH_FORBIDDEN', statusCode: 403, message: expect.stringContaining('Cannot read it') }))
    expect(authorize(t, 'Bearer view-token-0123456789', ['viewer'])).toEqual({ role: 'viewer', name: 'eng' })
    expect(authorize(t, 'Bearer admin-token-0123456789', ['viewer'])).toEqual({ role: 'admin', name: 'ops' })
  })

  it('checkActsForHost(): a host token only for its host; admin and viewer are not host-bound', () => {
    expect(() => checkActsForHost({ role: 'host', name: 'a' }, 'b')).toThrowError(expect.objectContaining({ code: 'AUTH_FORBIDDEN' }))
    expect(() => checkActsForHost({ role: 'host', name: 'a' }, 'a')).not.toThrow()
    expect(() => checkActsForHost({ role: 'admin', name: 'ops' }, 'b')).not.toThrow()
    expect(() => checkActsForHost({ role: 'viewer', name: 'eng' }, 'b')).not.toThrow()
  })
})
