import { SignatureMissingError } from './errors.js'
import { parseSignature, verifyReleaseSignature, type PublicKey, type SignatureSubject } from './signature.js'

/**
 * Which releases a host may run: with trusted keys, only a (release, version, digest) signed by
 * one of them; without, anything the registry serves. One policy for the fetcher and `shoal
 * launch`, checked before a byte is unpacked (the signature names the digest, and the bundle
 * must then hash to it).
 */
export interface TrustPolicy {
  /** Whether a signature is required at all. */
  readonly required: boolean
  /**
   * Accepts `subject` if the policy allows it with this signature (a parsed document, JSON text,
   * or nothing); else SIGNATURE_MISSING / _UNTRUSTED / _INVALID / _SUBJECT_MISMATCH / _FORMAT.
   */
  check(subject: SignatureSubject, signature: unknown): void
}

export function createTrustPolicy(trustedKeys?: ReadonlyMap<string, PublicKey>): TrustPolicy {
  return {
    required: trustedKeys !== undefined,
    check(subject, signature) {
      if (!trustedKeys) return
      if (signature === undefined || signature === null || signature === '') {
        throw new SignatureMissingError(`Cannot accept ${subject.release}@${subject.version}: trusted keys are configured and it is unsigned`, { details: { release: subject.release, version: subject.version } })
      }
      verifyReleaseSignature(parseSignature(signature), subject, trustedKeys)
    },
  }
}
