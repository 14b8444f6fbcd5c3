import { UnsafeAbsolutePathError, UnsafePathTraversalError, UnsafeTarEntryError, UnsupportedPathError } from './errors.js'

/**
 * Longest path a bundle may hold, in UTF-8 bytes: Linux's PATH_MAX (4096) less 1 KiB for the
 * directory a host unpacks it under, so that what verifies can always be unpacked, checked out
 * and removed (a 4,000-byte path once passed verify, failed activation and wedged gc).
 */
export const MAX_PATH_BYTES = 3072
/** Longest single path component, in UTF-8 bytes (Linux NAME_MAX). */
export const MAX_NAME_BYTES = 255
/** Where Shoal keeps its own files inside a bundle. */
export const RESERVED_DIR = '.shoal'
export const MANIFEST_PATH = '.shoal/manifest.json'

// C0 controls and DEL: legal in POSIX names, but they break logs, terminals and tar readers.
// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\u0000-\u001f\u007f]/

/**
 * Why `path` cannot be a bundle entry path, or undefined when it can. Entry paths are
 * relative, '/'-separated, with no empty, '.' or '..' components, no control characters and
 * nothing under the reserved `.shoal/` directory.
 */
export function bundlePathProblem(path: string): string | undefined {
  if (path.length === 0) return 'it is empty'
  if (CONTROL_RE.test(path)) return 'it holds a control character'
  if (path.includes('\ufffd')) return 'it is not valid UTF-8'
  if (path.startsWith('/')) return 'it is absolute'
  if (Buffer.byteLength(path) > MAX_PATH_BYTES) return `it is longer than ${MAX_PATH_BYTES} bytes`
  const parts = path.split('/')
  for (const part of parts) {
    if (part === '') return 'it has an empty component'
    if (part === '.' || part === '..') return `it has a '${part}' component`
    if (Buffer.byteLength(part) > MAX_NAME_BYTES) return `a component is longer than ${MAX_NAME_BYTES} bytes`
  }
  if (parts[0] === RESERVED_DIR) return `${RESERVED_DIR}/ is reserved for Shoal`
  return undefined
}

/** Returns `path` when it is a valid bundle entry path, else throws UNSUPPORTED_PATH. */
export function checkBundlePath(path: string): string {
  const problem = bundlePathProblem(path)
  if (problem !== undefined) {
    throw new UnsupportedPathError(`Cannot use path in a bundle: ${problem} (current value is ${JSON.stringify(path.slice(0, 200))})`, {
      details: { path },
    })
  }
  return path
}

/** Bytewise (UTF-8) comparison, the order of entries in a bundle. */
export function compareBundlePaths(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b))
}

/** The parent of an entry path, or '' for a top-level entry. */
export function parentPath(path: string): string {
  const i = path.lastIndexOf('/')
  return i === -1 ? '' : path.slice(0, i)
}

/**
 * The error for an unsafe path, most specific first: absolute paths and ".." (zip-slip) have
 * their own codes because they are attacks rather than accidents.
 */
export function unsafePathError(path: string, where: string): Error {
  const problem = bundlePathProblem(path) ?? 'it is unsafe'
  const message = `Cannot accept ${where}: ${problem} (current value is ${JSON.stringify(path.slice(0, 200))})`
  const details = { path }
  if (path.startsWith('/')) return new UnsafeAbsolutePathError(message, { details })
  if (path.split('/').includes('..')) return new UnsafePathTraversalError(message, { details })
  return new UnsafeTarEntryError(message, { details })
}
