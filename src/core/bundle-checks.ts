/**
 * The checks verifyBundle makes of what it reads: tar header safety, the manifest's limits, each
 * header against its manifest entry, the end of the archive and canonical encoding, and how tar
 * parser failures map to error codes. Each throws its own typed error (docs/errors.md).
 */
import type tar from 'tar-stream'
import { bundlePathProblem, unsafePathError } from './bundle-path.js'
import {
  BundleCorruptError,
  BundleLimitExceededError,
  BundleNotCanonicalError,
  BundleTruncatedError,
  EntryMetadataMismatchError,
  fromSystemError,
  ManifestEntryMissingError,
  ManifestMissingError,
  ShoalError,
  UnsafeHardlinkError,
  UnsafeSetuidError,
  UnsafeSpecialFileError,
  UnsafeTarEntryError,
} from './errors.js'
import type { Manifest, ManifestEntry } from './manifest.js'
import type { BundleLimits } from './verify-bundle.js'

const TAR_TYPE: Record<ManifestEntry['type'], string> = { file: 'file', dir: 'directory', symlink: 'symlink' }

export function tarError(err: unknown): ShoalError {
  if (err instanceof ShoalError) return err
  const message = (err as Error)?.message ?? String(err)
  if (/unexpected end/i.test(message)) {
    return new BundleTruncatedError('Cannot verify bundle: it ends in the middle of an entry', { cause: err })
  }
  if (/tar header|size mismatch|invalid/i.test(message)) {
    return new BundleCorruptError(`Cannot verify bundle: it is not a readable tar (${message})`, { cause: err })
  }
  return fromSystemError(err, 'verify bundle')
}

export function describe(entry: ManifestEntry): string {
  return JSON.stringify(entry.path)
}

/** Refuses the classic hostile-tar forms by their own codes, before any manifest lookup. */
export function checkTarHeaderSafety(header: tar.Header): void {
  const name = header.name
  if (bundlePathProblem(name) !== undefined) throw unsafePathError(name, 'bundle entry')
  switch (header.type) {
    case 'file':
    case 'directory':
    case 'symlink':
      break
    case 'link':
      throw new UnsafeHardlinkError(`Cannot verify bundle: ${JSON.stringify(name)} is a hard link to ${JSON.stringify(header.linkname)}`, {
        details: { path: name, target: header.linkname },
      })
    case 'character-device':
    case 'block-device':
    case 'fifo':
      throw new UnsafeSpecialFileError(`Cannot verify bundle: ${JSON.stringify(name)} is a ${header.type}`, { details: { path: name, type: header.type } })
    default:
      throw new UnsafeTarEntryError(`Cannot verify bundle: ${JSON.stringify(name)} has tar type ${header.type}`, { details: { path: name, type: header.type } })
  }
  if ((header.mode ?? 0) & 0o7000) {
    throw new UnsafeSetuidError(`Cannot verify bundle: ${JSON.stringify(name)} has mode ${(header.mode ?? 0).toString(8)} (setuid, setgid or sticky)`, {
      details: { path: name, mode: header.mode },
    })
  }
}

export function checkLimits(manifest: Manifest, limits: BundleLimits): void {
  const fail = (what: string, value: number, limit: number, path?: string): never => {
    throw new BundleLimitExceededError(`Cannot verify bundle: ${what} is ${value}, over the limit of ${limit}${path ? ` (at ${JSON.stringify(path)})` : ''}`, {
      details: { what, value, limit, path },
    })
  }
  if (manifest.entries.length > limits.maxEntries) fail('the entry count', manifest.entries.length, limits.maxEntries)
  let total = 0
  for (const e of manifest.entries) {
    const depth = e.path.split('/').length
    if (depth > limits.maxPathDepth) fail('the path depth', depth, limits.maxPathDepth, e.path)
    const bytes = Buffer.byteLength(e.path)
    if (bytes > limits.maxPathBytes) fail('the path length in bytes', bytes, limits.maxPathBytes, e.path.slice(0, 200))
    if (e.type === 'symlink' && Buffer.byteLength(e.target ?? '') > limits.maxPathBytes) fail('a symlink target length in bytes', Buffer.byteLength(e.target ?? ''), limits.maxPathBytes, e.path.slice(0, 200))
    if (e.type === 'file') {
      if (e.size > limits.maxFileBytes) fail('a file size', e.size, limits.maxFileBytes, e.path)
      total += e.size
    }
  }
  if (total > limits.maxTotalBytes) fail('the total size', total, limits.maxTotalBytes)
}

export function checkHeader(header: tar.Header, expected: ManifestEntry, mtime: number): void {
  const problems: string[] = []
  if (header.type !== TAR_TYPE[expected.type]) problems.push(`type is ${header.type}, manifest says ${expected.type}`)
  if ((header.mode ?? 0) !== expected.mode) {
    problems.push(`mode is ${(header.mode ?? 0).toString(8)}, manifest says ${expected.mode.toString(8)}`)
  }
  if (header.uid !== 0 || header.gid !== 0) problems.push(`owner is ${header.uid}:${header.gid}, bundles use 0:0`)
  const size = expected.type === 'file' ? expected.size : 0
  if ((header.size ?? 0) !== size) problems.push(`size is ${header.size}, manifest says ${size}`)
  const target = expected.type === 'symlink' ? expected.target : null
  if ((header.linkname || null) !== target) problems.push(`link target is ${JSON.stringify(header.linkname)}, manifest says ${JSON.stringify(target)}`)
  const seconds = header.mtime ? Math.floor(header.mtime.getTime() / 1000) : 0
  if (seconds !== mtime) problems.push(`mtime is ${seconds}, manifest says ${mtime}`)
  if (problems.length > 0) {
    throw new EntryMetadataMismatchError(`Cannot verify entry ${describe(expected)}: ${problems.join('; ')}`, {
      details: { path: expected.path, problems },
    })
  }
}

/** After the last entry: every manifest entry was there, and the bundle was not cut off. */
export function checkEnd(s: { manifest: Manifest | undefined; index: number; skipped: ManifestEntry | undefined; endMarked: boolean; inputBytes: number }): void {
  const { manifest, index, skipped, endMarked, inputBytes } = s
  if (manifest === undefined) {
    if (inputBytes === 0 || !endMarked) throw new BundleTruncatedError(`Cannot verify bundle: it ends before the manifest (${inputBytes} bytes read)`)
    throw new ManifestMissingError('Cannot verify bundle: it holds no entries')
  }
  if (index < manifest.entries.length) {
    const expected = manifest.entries[index]!
    if (!endMarked) {
      throw new BundleTruncatedError(`Cannot verify bundle: it ends after ${inputBytes} bytes, before ${describe(expected)} and without the end-of-archive marker`, {
        details: { bytes: inputBytes, path: expected.path },
      })
    }
    throw new ManifestEntryMissingError(`Cannot verify bundle: the manifest lists ${describe(expected)}, which the bundle does not contain`, {
      details: { path: expected.path },
    })
  }
  if (skipped !== undefined) {
    throw new ManifestEntryMissingError(`Cannot verify bundle: the manifest lists ${describe(skipped)}, which the bundle does not contain`, {
      details: { path: skipped.path },
    })
  }
}

/** The bundle's bytes are exactly the canonical encoding of what it holds: no padding or trailing byte can hide data. */
export function checkCanonical(s: { digest: string; same: boolean; firstDifference: number | undefined; inputBytes: number; repackBytes: number; endMarked: boolean }): void {
  const { digest, same, firstDifference, inputBytes, repackBytes, endMarked } = s
  if (same) return
  const why = inputBytes === repackBytes ? `some padding or header bytes differ (first at byte ${firstDifference})` : `it is ${inputBytes} bytes where the canonical encoding is ${repackBytes}`
  if (!endMarked && inputBytes < repackBytes) {
    throw new BundleTruncatedError(`Cannot verify bundle: it ends after ${inputBytes} bytes, without the end-of-archive marker`)
  }
  throw new BundleNotCanonicalError(`Cannot verify bundle: it is not the canonical encoding of its manifest; ${why}`, {
    details: { digest, bytes: inputBytes, canonicalBytes: repackBytes, firstDifference },
  })
}
