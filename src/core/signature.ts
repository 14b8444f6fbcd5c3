import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto'
import { Type, type Static } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { isDigest, type Digest } from './digest.js'
import {
  KeyFormatError,
  SignatureFormatError,
  SignatureInvalidError,
  SignatureSubjectMismatchError,
  SignatureUntrustedError,
} from './errors.js'
import { checkName, namePattern } from './names.js'

/**
 * Detached ed25519 signatures over `(release, version, digest)`.
 *
 * Public keys are one line each, ssh-style: `shoal-ed25519 <base64 of the 32 raw bytes> [comment]`,
 * so that a trusted-keys file is a list an operator can read and diff. Private keys are PKCS#8
 * PEM. The key id is the first 16 hex digits of sha256 over the raw public key.
 */

const KEY_PREFIX = 'shoal-ed25519'
/** Domain separation: a Shoal signature can never be mistaken for a signature over other data. */
const MESSAGE_PREFIX = 'shoal-release-signature-v1'

export const SignatureDocumentSchema = Type.Object(
  {
    schema: Type.Literal(1),
    release: Type.String({ pattern: namePattern('release') }),
    version: Type.String({ pattern: namePattern('version') }),
    digest: Type.String({ pattern: '^sha256:[0-9a-f]{64}$' }),
    keyId: Type.String({ pattern: '^[0-9a-f]{16}$' }),
    signature: Type.String({ pattern: '^[A-Za-z0-9+/]{86}==$' }),
  },
  { additionalProperties: false },
)
export type SignatureDocument = Static<typeof SignatureDocumentSchema>

const checkDocument = TypeCompiler.Compile(SignatureDocumentSchema)

export interface SignatureSubject {
  release: string
  version: string
  digest: Digest
}

export interface PublicKey {
  keyId: string
  key: KeyObject
  /** The key's line in a trusted-keys file. */
  line: string
  comment: string
}

export interface KeyPair {
  /** PKCS#8 PEM. */
  privateKeyPem: string
  publicKey: PublicKey
}

function keyIdOf(raw: Buffer): string {
  return createHash('sha256').update(raw).digest('hex').slice(0, 16)
}

function rawPublicKey(key: KeyObject): Buffer {
  const jwk = key.export({ format: 'jwk' })
  return Buffer.from(jwk.x as string, 'base64url')
}

function publicKeyFrom(key: KeyObject, comment: string): PublicKey {
  const raw = rawPublicKey(key)
  const line = `${KEY_PREFIX} ${raw.toString('base64')}${comment ? ` ${comment}` : ''}`
  return { keyId: keyIdOf(raw), key, line, comment }
}

/** A fresh ed25519 key pair. `comment` (who owns it) goes into the public key line. */
export function generateSigningKey(comment = ''): KeyPair {
  if (/[\r\n]/.test(comment)) throw new TypeError('Cannot generate key: the comment must be one line')
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  return {
    privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }) as string,
    publicKey: publicKeyFrom(publicKey, comment),
  }
}

/** Parses a PKCS#8 PEM ed25519 private key. */
export function parsePrivateKey(pem: string): KeyObject {
  let key: KeyObject
  try {
    key = createPrivateKey({ key: pem, format: 'pem' })
  } catch (err) {
    throw new KeyFormatError('Cannot read private key: it is not a PEM private key', { cause: err })
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new KeyFormatError(`Cannot read private key: it is not ed25519 (current value is ${key.asymmetricKeyType})`)
  }
  return key
}

/** The public half of a private key, as a PublicKey. */
export function publicKeyOf(privateKey: KeyObject, comment = ''): PublicKey {
  return publicKeyFrom(createPublicKey(privateKey), comment)
}

/** Parses one `shoal-ed25519 <base64> [comment]` line. */
export function parsePublicKey(line: string): PublicKey {
  const m = /^shoal-ed25519 ([A-Za-z0-9+/]{43}=)(?: (.*))?$/.exec(line.trim())
  if (!m) {
    throw new KeyFormatError(`Cannot read public key: expected "${KEY_PREFIX} <base64> [comment]" (current value is ${JSON.stringify(line.slice(0, 80))})`)
  }
  const raw = Buffer.from(m[1]!, 'base64')
  let key: KeyObject
  try {
    key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' })
  } catch (err) {
    throw new KeyFormatError('Cannot read public key: the bytes are not an ed25519 point', { cause: err })
  }
  return publicKeyFrom(key, m[2] ?? '')
}

/** Parses a trusted-keys file: one public key per line, `#` comments and blank lines ignored. */
export function parseTrustedKeys(text: string): Map<string, PublicKey> {
  const keys = new Map<string, PublicKey>()
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    try {
      const key = parsePublicKey(line)
      keys.set(key.keyId, key)
    } catch (err) {
      throw new KeyFormatError(`Cannot read trusted keys: line ${i + 1} is not a public key`, { cause: err, details: { line: i + 1 } })
    }
  }
  return keys
}

function message(subject: SignatureSubject): Buffer {
  checkName('release', subject.release)
  checkName('version', subject.version)
  if (!isDigest(subject.digest)) throw new TypeError(`Cannot sign: digest is malformed (current value is ${subject.digest})`)
  return Buffer.from(`${MESSAGE_PREFIX}\n${subject.release}\n${subject.version}\n${subject.digest}\n`)
}

/** Signs a release version's digest. */
export function signRelease(subject: SignatureSubject, privateKey: KeyObject): SignatureDocument {
  const signature = sign(null, message(subject), privateKey).toString('base64')
  return {
    schema: 1,
    release: subject.release,
    version: subject.version,
    digest: subject.digest,
    keyId: publicKeyOf(privateKey).keyId,
    signature,
  }
}

/** Parses a signature document (JSON text or an already-parsed value). */
export function parseSignature(value: string | unknown): SignatureDocument {
  let doc: unknown = value
  if (typeof value === 'string') {
    try {
      doc = JSON.parse(value)
    } catch (err) {
      throw new SignatureFormatError('Cannot read signature: it is not valid JSON', { cause: err })
    }
  }
  if (!checkDocument.Check(doc)) {
    const first = checkDocument.Errors(doc).First()
    throw new SignatureFormatError(`Cannot read signature: ${first ? `${first.path || '/'}: ${first.message}` : 'schema mismatch'}`)
  }
  return doc
}

/**
 * Checks that `doc` signs exactly `subject` with one of `trusted`. Returns the key used.
 * Order of checks: subject (the cheapest, most telling mistake), then trust, then the math.
 */
export function verifyReleaseSignature(doc: SignatureDocument, subject: SignatureSubject, trusted: ReadonlyMap<string, PublicKey>): PublicKey {
  for (const field of ['release', 'version', 'digest'] as const) {
    if (doc[field] !== subject[field]) {
      throw new SignatureSubjectMismatchError(`Cannot accept signature: it signs ${field} ${doc[field]}, not ${subject[field]}`, {
        details: { field, signed: doc[field], expected: subject[field] },
      })
    }
  }
  const key = trusted.get(doc.keyId)
  if (!key) {
    throw new SignatureUntrustedError(`Cannot accept signature: key ${doc.keyId} is not among the ${trusted.size} trusted keys`, {
      details: { keyId: doc.keyId },
    })
  }
  const ok = verify(null, message(subject), key.key, Buffer.from(doc.signature, 'base64'))
  if (!ok) {
    throw new SignatureInvalidError(`Cannot accept signature: it does not verify with key ${doc.keyId}`, { details: { keyId: doc.keyId } })
  }
  return key
}
