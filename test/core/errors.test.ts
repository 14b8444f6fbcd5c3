import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { BundleDigestMismatchError, isShoalError, listErrors, ShoalError } from '../../src/core/index.js'
import { renderErrorsDoc } from '../../src/core/errors-doc.js'

describe('error registry', () => {
  it('docs/errors.md lists exactly the registered codes (run npm run docs:errors after adding one)', () => {
    const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8')
    expect(doc).toBe(renderErrorsDoc())
    const documented = [...doc.matchAll(/^\| `([A-Z0-9_]+)` \|/gm)].map((m) => m[1])
    expect(documented).toEqual(listErrors().map((e) => e.code))
  })

  it('listErrors() has unique UPPER_SNAKE codes with HTTP statuses in 4xx/5xx', () => {
    const codes = listErrors().map((e) => e.code)
    expect(new Set(codes).size).toBe(codes.length)
    for (const e of listErrors()) {
      expect(e.code).toMatch(/^[A-Z][A-Z0-9_]+$/)
      expect(e.statusCode).toBeGreaterThanOrEqual(400)
      expect(e.statusCode).toBeLessThan(600)
    }
  })

  it('a ShoalError subclass carries code, default message, cause and a wire shape', () => {
    const cause = new Error('root')
    const err = new BundleDigestMismatchError(undefined, { cause, details: { digest: 'x' } })
    expect(err).toBeInstanceOf(ShoalError)
    expect(err.name).toBe('BundleDigestMismatchError')
    expect(err.code).toBe('BUNDLE_DIGEST_MISMATCH')
    expect(err.cause).toBe(cause)
    expect(err.message).toMatch(/sha256 of the whole bundle/)
    expect(err.toJSON()).toEqual({ statusCode: 422, code: 'BUNDLE_DIGEST_MISMATCH', message: err.message, details: { digest: 'x' } })
    expect(isShoalError(err, 'BUNDLE_DIGEST_MISMATCH')).toBe(true)
    expect(isShoalError(new Error('x'))).toBe(false)
  })
})
