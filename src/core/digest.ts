import { createHash, type Hash } from 'node:crypto'
import { Transform, type TransformCallback } from 'node:stream'
import { DigestInvalidError } from './errors.js'

/** A content address: `sha256:` and 64 lowercase hex digits. */
export type Digest = `sha256:${string}`

const DIGEST_RE = /^sha256:[0-9a-f]{64}$/

/** True when `value` is a well-formed digest. */
export function isDigest(value: unknown): value is Digest {
  return typeof value === 'string' && DIGEST_RE.test(value)
}

/** Checks and returns a digest, or throws DIGEST_INVALID naming the value. */
export function parseDigest(value: string): Digest {
  if (!isDigest(value)) {
    throw new DigestInvalidError(`Cannot parse digest: expected sha256:<64 lowercase hex> (current value is ${JSON.stringify(value.slice(0, 80))})`)
  }
  return value
}

/** The hex part of a digest, as used in file names (`<hex>.tar`). */
export function digestHex(digest: Digest): string {
  return digest.slice('sha256:'.length)
}

export function formatDigest(hash: Hash): Digest {
  return `sha256:${hash.digest('hex')}`
}

/**
 * A pass-through stream that hashes and counts what flows through it.
 * `digest()` is valid once the stream has finished.
 */
export class HashingPassThrough extends Transform {
  readonly #hash = createHash('sha256')
  #bytes = 0
  #digest: Digest | undefined

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#hash.update(chunk)
    this.#bytes += chunk.length
    cb(null, chunk)
  }

  override _flush(cb: TransformCallback): void {
    this.#digest = formatDigest(this.#hash)
    cb()
  }

  get bytes(): number {
    return this.#bytes
  }

  digest(): Digest {
    if (this.#digest === undefined) throw new TypeError('Cannot read digest: the stream has not finished')
    return this.#digest
  }
}
