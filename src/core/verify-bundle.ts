import { createHash } from 'node:crypto'
import type { Readable } from 'node:stream'
import tar from 'tar-stream'
import { compareBundlePaths, MANIFEST_PATH, parentPath } from './bundle-path.js'
import { formatDigest, type Digest } from './digest.js'
import { createStreamComparator } from './stream-compare.js'
import { hashedElsewhere, openHashedFile } from './hashed-file.js'
import {
  BundleCorruptError,
  BundleDigestMismatchError,
  DuplicateEntryError,
  UnsafeSymlinkParentError,
  BundleTruncatedError,
  EntryDigestMismatchError,
  EntryOrderError,
  ManifestEntryUnlistedError,
  ManifestInvalidError,
  ManifestMissingError,
} from './errors.js'
import { MAX_PATH_BYTES } from './bundle-path.js'
import { parseManifest, type Manifest, type ManifestEntry } from './manifest.js'
import { addTarEntry, openTarEntry, writeWithBackpressure } from './tar-entry.js'
import { manifestTarHeader, tarHeaderFor } from './tar-header.js'
import { checkCanonical, checkEnd, checkHeader, checkLimits, checkTarHeaderSafety, tarError } from './bundle-checks.js'

/** Largest manifest accepted: about 400,000 entries. */
export const DEFAULT_MAX_MANIFEST_BYTES = 64 << 20

const END_OF_ARCHIVE = 1024
/**
 * How far the input may run ahead of its canonical re-encoding beyond the manifest (which is
 * re-encoded only once whole): a few of the reader's chunks and the tar parser's buffer honestly.
 */
const MAX_REPACK_LAG = 32 << 20

/** Caps checked against the manifest before any content is read (a bomb fails at once). */
export interface BundleLimits {
  /** Sum of all file sizes. */
  maxTotalBytes: number
  /** Number of manifest entries. */
  maxEntries: number
  /** Size of one file. */
  maxFileBytes: number
  /** Components in one path. */
  maxPathDepth: number
  /**
   * Bytes in one path. Paths are joined under a snapshot directory on the host; with the 4096
   * bytes of PATH_MAX that leaves room for the host's own prefix, so a bundle that verifies can
   * always be unpacked and checked out (and later removed).
   */
  maxPathBytes: number
}

export const DEFAULT_BUNDLE_LIMITS: BundleLimits = {
  maxTotalBytes: 256 * 2 ** 30,
  maxEntries: 2_000_000,
  maxFileBytes: 64 * 2 ** 30,
  maxPathDepth: 128,
  maxPathBytes: MAX_PATH_BYTES,
}

export interface VerifyBundleOptions {
  /** Caps on what the manifest may declare; defaults are DEFAULT_BUNDLE_LIMITS. */
  limits?: Partial<BundleLimits>
  /** The digest the bundle must have (from the registry or its file name). */
  expectedDigest?: Digest
  /** Refuse manifests larger than this many bytes. */
  maxManifestBytes?: number
  signal?: AbortSignal
  /** Called with the number of bundle bytes read so far. */
  onProgress?: (bytes: number) => void
  /**
   * Called for each verified-so-far entry as it streams, so that an extractor can write it
   * while it is hashed. File content arrives as `chunks`; it is only trustworthy once
   * verifyBundle resolves (the hash is checked at the end of the entry).
   */
  onEntry?: (entry: ManifestEntry, chunks: AsyncIterable<Buffer> | undefined) => Promise<void>
}

export interface VerifyResult {
  digest: Digest
  size: number
  manifest: Manifest
}

/**
 * Verifies a bundle as it streams, in one pass and flat memory:
 * - the first entry is `.shoal/manifest.json` and is a valid manifest;
 * - every tar entry is the next manifest entry, with the same metadata, in bytewise order;
 * - every file hashes to its manifest sha256;
 * - the bytes are exactly the canonical encoding of that manifest and content (re-derived on
 *   the fly), so no padding, header field or trailing byte can hide anything;
 * - the whole bundle hashes to `expectedDigest` when one is given.
 * Each failure has its own error code (see docs/errors.md).
 */
export async function verifyBundle(input: Readable, options: VerifyBundleOptions = {}): Promise<VerifyResult> {
  const { expectedDigest, maxManifestBytes = DEFAULT_MAX_MANIFEST_BYTES, signal, onProgress, onEntry } = options
  const limits = { ...DEFAULT_BUNDLE_LIMITS, ...options.limits }
  signal?.throwIfAborted()

  // A stream from openHashedFile is hashed on another thread as it is read; any other here.
  const elsewhere = hashedElsewhere(input)
  const inputHash = elsewhere ? undefined : createHash('sha256')
  let inputBytes = 0
  let tail: Buffer = Buffer.alloc(0)
  const extract = tar.extract()
  // The canonical re-encoding of what we accept (repack below) must be these very bytes.
  const same = createStreamComparator(maxManifestBytes + MAX_REPACK_LAG)
  input.on('data', (chunk: Buffer) => {
    inputHash?.update(chunk)
    same.left(chunk)
    inputBytes += chunk.length
    tail = chunk.length >= END_OF_ARCHIVE ? chunk.subarray(chunk.length - END_OF_ARCHIVE) : Buffer.concat([tail, chunk]).subarray(-END_OF_ARCHIVE)
    onProgress?.(inputBytes)
    if (!extract.write(chunk)) {
      input.pause()
      extract.once('drain', () => input.resume())
    }
  })
  input.once('end', () => (extract as unknown as NodeJS.WritableStream).end())
  input.once('error', (err) => extract.destroy(err))
  const onAbort = (): void => {
    extract.destroy(signal!.reason)
  }
  signal?.addEventListener('abort', onAbort, { once: true })

  // The canonical re-encoding of what we accept, compared with the input as it is produced.
  const repack = tar.pack()
  repack.on('data', (data) => same.right(data as Buffer))
  const repackEnded = new Promise<void>((resolve, reject) => {
    repack.once('end', () => resolve())
    repack.once('error', reject)
  })
  repackEnded.catch(() => {})

  let manifest: Manifest | undefined
  let index = -1
  let previousName: string | undefined
  let positions = new Map<string, number>()
  let skipped: ManifestEntry | undefined
  let seen = new Uint8Array(0)
  try {
    for await (const entry of extract) {
      const header = entry.header
      if (manifest === undefined) {
        if (header.name !== MANIFEST_PATH || header.type !== 'file') {
          throw new ManifestMissingError(`Cannot verify bundle: the first entry is ${JSON.stringify(header.name)}, not ${MANIFEST_PATH}`, {
            details: { path: header.name },
          })
        }
        if ((header.size ?? 0) > maxManifestBytes) {
          throw new ManifestInvalidError(`Cannot verify bundle: the manifest is ${header.size} bytes, more than the limit of ${maxManifestBytes}`)
        }
        // One buffer of the declared size, filled in place: collecting chunks and concatenating
        // them held the manifest twice (a 50 MB manifest peaked verify at 320 MB).
        const bytes = Buffer.allocUnsafe(header.size ?? 0)
        let filled = 0
        for await (const c of entry) {
          const chunk = c as Buffer
          if (filled + chunk.length > bytes.length) throw new BundleCorruptError('Cannot verify bundle: the manifest entry is longer than its header says')
          chunk.copy(bytes, filled)
          filled += chunk.length
        }
        if (filled !== bytes.length) throw new BundleTruncatedError('Cannot verify bundle: it ends in the middle of the manifest')
        manifest = parseManifest(bytes)
        checkLimits(manifest, limits)
        positions = new Map(manifest.entries.map((e, i) => [e.path, i]))
        seen = new Uint8Array(manifest.entries.length)
        await addTarEntry(repack, manifestTarHeader(bytes.length, manifest.mtime), bytes)
        index = 0
        continue
      }

      const name = header.name
      checkTarHeaderSafety(header)
      const position = positions.get(name)
      if (position !== undefined && seen[position]) {
        throw new DuplicateEntryError(`Cannot verify bundle: it holds ${JSON.stringify(name)} twice`, { details: { path: name } })
      }
      if (previousName !== undefined && compareBundlePaths(previousName, name) >= 0) {
        throw new EntryOrderError(`Cannot verify bundle: entry ${JSON.stringify(name)} comes after ${JSON.stringify(previousName)}; entries must be sorted bytewise and unique`, {
          details: { path: name, previous: previousName },
        })
      }
      previousName = name
      if (position === undefined) {
        const parent = parentPath(name)
        const parentPosition = parent === '' ? undefined : positions.get(parent)
        if (parentPosition !== undefined && manifest.entries[parentPosition]!.type === 'symlink') {
          throw new UnsafeSymlinkParentError(`Cannot verify bundle: ${JSON.stringify(name)} would be written through the symlink ${JSON.stringify(parent)}`, {
            details: { path: name, symlink: parent },
          })
        }
      }
      if (position === undefined || position < index) {
        throw new ManifestEntryUnlistedError(`Cannot verify bundle: it contains ${JSON.stringify(name)}, which the manifest does not list`, {
          details: { path: name },
        })
      }
      if (position > index) {
        // The manifest's entry at `index` was skipped. Whether it is missing or merely comes
        // later (out of order, caught by the name check above) is known only further on.
        skipped ??= manifest.entries[index]
        index = position
      }
      const expected = manifest.entries[index]!
      checkHeader(header, expected, manifest.mtime)
      seen[index] = 1

      if (expected.type === 'file') {
        await verifyFileEntry(entry, expected, repack, manifest.mtime, onEntry)
      } else {
        for await (const _ of entry) {
          // No body for directories and symlinks; drain defensively.
        }
        await addTarEntry(repack, tarHeaderFor(expected, manifest.mtime))
        await onEntry?.(expected, undefined)
      }
      index++
    }
  } catch (err) {
    input.destroy()
    extract.destroy()
    repack.destroy()
    throw tarError(err)
  } finally {
    signal?.removeEventListener('abort', onAbort)
  }

  const endMarked = tail.length === END_OF_ARCHIVE && tail.every((b) => b === 0)
  checkEnd({ manifest, index, skipped, endMarked, inputBytes })
  repack.finalize()
  await repackEnded
  const digest = inputHash ? formatDigest(inputHash) : await digestOf(elsewhere!, inputBytes)
  checkCanonical({ digest, same: same.equal(), firstDifference: same.firstDifference, inputBytes, repackBytes: same.rightBytes, endMarked })
  if (expectedDigest !== undefined && digest !== expectedDigest) {
    throw new BundleDigestMismatchError(`Cannot verify bundle: its digest is ${digest}, expected ${expectedDigest}`, {
      details: { digest, expected: expectedDigest },
    })
  }
  return { digest, size: inputBytes, manifest: manifest! }
}

async function verifyFileEntry(
  entry: AsyncIterable<unknown>,
  expected: Extract<ManifestEntry, { type: 'file' }>,
  repack: tar.Pack,
  mtime: number,
  onEntry: VerifyBundleOptions['onEntry'],
): Promise<void> {
  const hash = createHash('sha256')
  const { sink, done } = openTarEntry(repack, tarHeaderFor(expected, mtime))
  async function* chunks(): AsyncGenerator<Buffer> {
    const it = entry[Symbol.asyncIterator]()
    for (;;) {
      let next: IteratorResult<unknown>
      try {
        next = await it.next()
      } catch (err) {
        // Typed here, so a consumer (the extractor) reports a cut-off bundle as BUNDLE_TRUNCATED,
        // as verify does, not as the I/O failure of its own write.
        throw tarError(err)
      }
      if (next.done) return
      const chunk = next.value as Buffer
      hash.update(chunk)
      await writeWithBackpressure(sink, chunk)
      yield chunk
    }
  }
  if (onEntry) {
    const it = chunks()
    await onEntry(expected, it)
    // Whatever the consumer left unread still has to be hashed.
    for await (const _ of it) {
      // draining
    }
  } else {
    for await (const _ of chunks()) {
      // hashing
    }
  }
  const actual = hash.digest('hex')
  if (actual !== expected.sha256) {
    throw new EntryDigestMismatchError(`Cannot verify entry ${JSON.stringify(expected.path)}: its sha256 is ${actual}, manifest says ${expected.sha256}`, {
      details: { path: expected.path, expected: expected.sha256, actual },
    })
  }
  sink.end()
  await done
}

/** The digest taken on the reader's thread, of exactly the `bytes` this thread parsed. */
async function digestOf(elsewhere: NonNullable<ReturnType<typeof hashedElsewhere>>, bytes: number): Promise<Digest> {
  const { sha256, size } = await elsewhere
  if (size !== bytes) throw new BundleCorruptError(`Cannot verify bundle: ${bytes} bytes were parsed but ${size} were hashed`)
  return `sha256:${sha256}`
}

/** verifyBundle on a file (read and hashed as a whole on another thread; see openHashedFile). */
export async function verifyBundleFile(path: string, options: VerifyBundleOptions = {}): Promise<VerifyResult> {
  return verifyBundle(openHashedFile(path), options)
}
