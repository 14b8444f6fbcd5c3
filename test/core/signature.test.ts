import { describe, expect, it } from 'vitest'
import {
  generateSigningKey,
  parsePrivateKey,
  parsePublicKey,
  parseSignature,
  parseTrustedKeys,
  signRelease,
  verifyReleaseSignature,
  type Digest,
} from '../../src/core/index.js'

const digest: Digest = `sha256:${'ab'.repeat(32)}`
const subject = { release: 'web', version: '1.4.2', digest }

describe('release signatures', () => {
  const alice = generateSigningKey('alice@ci')
  const mallory = generateSigningKey('mallory')
  const trusted = parseTrustedKeys(`# release keys\n${alice.publicKey.line}\n\n`)

  it('verifyReleaseSignature() accepts a signature by a trusted key and returns that key', () => {
    const doc = signRelease(subject, parsePrivateKey(alice.privateKeyPem))
    const key = verifyReleaseSignature(parseSignature(JSON.stringify(doc)), subject, trusted)
    expect(key.keyId).toBe(alice.publicKey.keyId)
    expect(key.comment).toBe('alice@ci')
  })

  it('verifyReleaseSignature() fails with SIGNATURE_UNTRUSTED for a valid signature by another key', () => {
    const doc = signRelease(subject, parsePrivateKey(mallory.privateKeyPem))
    expect(() => verifyReleaseSignature(doc, subject, trusted)).toThrow(expect.objectContaining({ code: 'SIGNATURE_UNTRUSTED' }))
  })

  it('verifyReleaseSignature() fails with SIGNATURE_INVALID when the signature bytes are altered', () => {
    const doc = signRelease(subject, parsePrivateKey(alice.privateKeyPem))
    const sig = Buffer.from(doc.signature, 'base64')
    sig[10] = sig[10]! ^ 1
    expect(() => verifyReleaseSignature({ ...doc, signature: sig.toString('base64') }, subject, trusted)).toThrow(
      expect.objectContaining({ code: 'SIGNATURE_INVALID' }),
    )
  })

  it('verifyReleaseSignature() fails with SIGNATURE_INVALID when a signed field is rewritten in the document', () => {
    const doc = signRelease(subject, parsePrivateKey(alice.privateKeyPem))
    const forged = { ...doc, version: '9.9.9' }
    expect(() => verifyReleaseSignature(forged, { ...subject, version: '9.9.9' }, trusted)).toThrow(expect.objectContaining({ code: 'SIGNATURE_INVALID' }))
  })

  it.each([
    ['release', { ...subject, release: 'api' }],
    ['version', { ...subject, version: '1.4.3' }],
    ['digest', { ...subject, digest: `sha256:${'cd'.repeat(32)}` as Digest }],
  ])('verifyReleaseSignature() fails with SIGNATURE_SUBJECT_MISMATCH when the %s differs', (_field, other) => {
    const doc = signRelease(subject, parsePrivateKey(alice.privateKeyPem))
    expect(() => verifyReleaseSignature(doc, other, trusted)).toThrow(expect.objectContaining({ code: 'SIGNATURE_SUBJECT_MISMATCH' }))
  })

  it.each([
    ['not JSON', '{'],
    ['a missing field', JSON.stringify({ schema: 1, release: 'web', version: '1', digest, keyId: '0'.repeat(16) })],
    ['an extra field', JSON.stringify({ ...signRelease(subject, parsePrivateKey(alice.privateKeyPem)), note: 'x' })],
    ['a bad release name', JSON.stringify({ ...signRelease(subject, parsePrivateKey(alice.privateKeyPem)), release: '../etc' })],
  ])('parseSignature() fails with SIGNATURE_FORMAT for %s', (_name, text) => {
    expect(() => parseSignature(text)).toThrow(expect.objectContaining({ code: 'SIGNATURE_FORMAT' }))
  })

  it.each([
    ['garbage', 'hello'],
    ['a wrong prefix', `ssh-ed25519 ${alice.publicKey.line.split(' ')[1]}`],
    ['a short key', 'shoal-ed25519 AAAA'],
  ])('parsePublicKey() fails with KEY_FORMAT for %s', (_name, line) => {
    expect(() => parsePublicKey(line)).toThrow(expect.objectContaining({ code: 'KEY_FORMAT' }))
  })

  it('parseTrustedKeys() names the bad line and parsePrivateKey() refuses non-ed25519 keys', () => {
    expect(() => parseTrustedKeys(`${alice.publicKey.line}\nnot a key\n`)).toThrow(expect.objectContaining({ code: 'KEY_FORMAT', details: { line: 2 } }))
    expect(() => parsePrivateKey('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n')).toThrow(expect.objectContaining({ code: 'KEY_FORMAT' }))
  })

  it('parsePublicKey() round-trips a generated key line to the same key id', () => {
    expect(parsePublicKey(alice.publicKey.line).keyId).toBe(alice.publicKey.keyId)
    expect(alice.publicKey.keyId).toMatch(/^[0-9a-f]{16}$/)
  })
})
