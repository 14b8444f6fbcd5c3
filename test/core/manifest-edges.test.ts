/**
 * The manifest rules at their edges: exact length limits, the error each kind of bad path gets
 * (code, details, message), closed entry shapes, the parent rules, and totals. Written from the
 * mutants that survived `npm run test:mutation -- --only manifest`.
 */
import { describe, expect, it } from 'vitest'
import {
  bundlePathProblem,
  checkBundlePath,
  checkManifestEntries,
  encodeManifest,
  MAX_NAME_BYTES,
  MAX_PATH_BYTES,
  manifestTotals,
  parseManifest,
  unsafePathError,
  type Manifest,
} from '../../src/core/index.js'

const sha = 'b'.repeat(64)

function codeOf(fn: () => unknown): { code?: string; message: string; details?: Record<string, unknown> } {
  try {
    fn()
  } catch (err) {
    return err as { code?: string; message: string; details?: Record<string, unknown> }
  }
  throw new Error('expected a throw')
}

describe('path limits are exact', () => {
  // components of 199 bytes, cut to exactly MAX_PATH_BYTES (3072 = 15 x 200 + 72: no trailing '/')
  const at = `${'p'.repeat(199)}/`.repeat(16).slice(0, MAX_PATH_BYTES)

  it('accepts a path of exactly MAX_PATH_BYTES and refuses one byte more', () => {
    expect(Buffer.byteLength(at)).toBe(MAX_PATH_BYTES)
    expect(bundlePathProblem(at)).toBeUndefined()
    expect(bundlePathProblem(`${at}q`)).toBe(`it is longer than ${MAX_PATH_BYTES} bytes`)
  })

  it('accepts a component of exactly MAX_NAME_BYTES (counted in bytes, not characters)', () => {
    expect(bundlePathProblem('n'.repeat(MAX_NAME_BYTES))).toBeUndefined()
    expect(bundlePathProblem(`d/${'n'.repeat(MAX_NAME_BYTES)}`)).toBeUndefined()
    // 128 two-byte characters: 128 characters but 256 bytes
    expect(bundlePathProblem('é'.repeat(128))).toBe(`a component is longer than ${MAX_NAME_BYTES} bytes`)
  })

  it('names a replacement character (what undecodable bytes become) as invalid UTF-8', () => {
    expect(bundlePathProblem('a\ufffdb')).toBe('it is not valid UTF-8')
  })
})

describe('checkBundlePath()', () => {
  it('returns a good path as it is', () => {
    expect(checkBundlePath('bin/app')).toBe('bin/app')
  })

  it('throws UNSUPPORTED_PATH with the problem, the path and the path in details', () => {
    const err = codeOf(() => checkBundlePath('a//b'))
    expect(err.code).toBe('UNSUPPORTED_PATH')
    expect(err.message).toBe('Cannot use path in a bundle: it has an empty component (current value is "a//b")')
    expect(err.details).toEqual({ path: 'a//b' })
  })

  it('keeps the message short for a huge path (first 200 characters)', () => {
    const long = 'z'.repeat(5000)
    const err = codeOf(() => checkBundlePath(long))
    expect(err.message).toContain(JSON.stringify('z'.repeat(200)))
    expect(err.message).not.toContain('z'.repeat(201))
    expect(err.details).toEqual({ path: long })
  })
})

describe('unsafePathError()', () => {
  it.each([
    ['/etc/shadow', 'UNSAFE_ABSOLUTE_PATH', 'it is absolute'],
    ['a/../../x', 'UNSAFE_PATH_TRAVERSAL', "it has a '..' component"],
    ['a\u0001b', 'UNSAFE_TAR_ENTRY', 'it holds a control character'],
    ['fine', 'UNSAFE_TAR_ENTRY', 'it is unsafe'],
  ])('%j is %s', (path, code, problem) => {
    const err = unsafePathError(path, 'entry 3') as Error & { code: string; details: unknown }
    expect(err.code).toBe(code)
    expect(err.message).toBe(`Cannot accept entry 3: ${problem} (current value is ${JSON.stringify(path)})`)
    expect(err.details).toEqual({ path })
  })
})

describe('manifest entry shapes are closed', () => {
  const base = { schema: 1, mtime: 0 }
  const parse = (entries: unknown[], extra: Record<string, unknown> = {}) => () => parseManifest(Buffer.from(JSON.stringify({ ...base, entries, ...extra })))

  it.each([
    ['file', { path: 'f', type: 'file', mode: 0o644, size: 1, sha256: sha, uid: 0 }],
    ['dir', { path: 'd', type: 'dir', mode: 0o755, owner: 'root' }],
    ['symlink', { path: 'l', type: 'symlink', mode: 0o777, target: 'x', hard: true }],
  ])('a %s entry with an unknown key is MANIFEST_INVALID', (_kind, entry) => {
    expect(codeOf(parse([entry])).code).toBe('MANIFEST_INVALID')
  })

  it('refuses an empty path and a path over 4096 characters by schema, and an mtime past the tar limit', () => {
    expect(codeOf(parse([{ path: '', type: 'dir', mode: 0o755 }])).code).toBe('MANIFEST_INVALID')
    expect(codeOf(parse([{ path: 'x'.repeat(4097), type: 'dir', mode: 0o755 }])).message).toBe('Cannot accept manifest: /entries/0: Expected union value')
    expect(codeOf(parse([], { mtime: 8589934592 })).code).toBe('MANIFEST_INVALID')
    expect(parseManifest(Buffer.from(JSON.stringify({ ...base, mtime: 8589934591, entries: [] }))).mtime).toBe(8589934591)
  })

  it('names the failing place in message and details, "/" for the whole document', () => {
    const err = codeOf(() => parseManifest(Buffer.from('[]')))
    expect(err.message).toMatch(/^Cannot accept manifest: \/: /)
    expect(err.details).toEqual({ path: '' })
    const inner = codeOf(parse([{ path: 'f', type: 'file', mode: 0o600, size: 1, sha256: sha }]))
    expect(inner.details).toEqual({ path: '/entries/0' })
  })

  it('says when the bytes are not JSON, with the parser cause', () => {
    const err = codeOf(() => parseManifest(Buffer.from('{"schema":')))
    expect(err.code).toBe('MANIFEST_INVALID')
    expect(err.message).toMatch(/^Cannot parse manifest: it is not valid JSON \(/)
    expect((err as unknown as { cause: unknown }).cause).toBeInstanceOf(SyntaxError)
  })
})

describe('checkManifestEntries() parents', () => {
  it('refuses an entry under a symlink with UNSAFE_SYMLINK_PARENT and names the link', () => {
    const err = codeOf(() =>
      checkManifestEntries([
        { path: 'l', type: 'symlink', mode: 0o777, target: '/etc' },
        { path: 'l/passwd', type: 'file', mode: 0o644, size: 0, sha256: sha },
      ]),
    )
    expect(err.code).toBe('UNSAFE_SYMLINK_PARENT')
    expect(err.details).toEqual({ index: 1, path: 'l/passwd', symlink: 'l' })
    expect(err.message).toBe('Cannot accept manifest: "l/passwd" would be written through the symlink "l"')
  })

  it('refuses an entry whose parent is a file, or not listed before it, with its index', () => {
    const underFile = codeOf(() =>
      checkManifestEntries([
        { path: 'f', type: 'file', mode: 0o644, size: 0, sha256: sha },
        { path: 'f/x', type: 'file', mode: 0o644, size: 0, sha256: sha },
      ]),
    )
    expect(underFile.code).toBe('MANIFEST_INVALID')
    expect(underFile.details).toEqual({ index: 1, path: 'f/x' })
    expect(underFile.message).toBe('Cannot accept manifest: the parent of "f/x" is not a directory listed before it')
    expect(codeOf(() => checkManifestEntries([{ path: 'd/x', type: 'dir', mode: 0o755 }])).details).toEqual({ index: 0, path: 'd/x' })
  })

  it('accepts top-level entries of every type and children of listed directories', () => {
    expect(() =>
      checkManifestEntries([
        { path: 'a', type: 'symlink', mode: 0o777, target: 'b' },
        { path: 'b', type: 'dir', mode: 0o755 },
        { path: 'b/c', type: 'file', mode: 0o755, size: 3, sha256: sha },
      ]),
    ).not.toThrow()
  })
})

describe('encodeManifest() and manifestTotals()', () => {
  const manifest: Manifest = {
    schema: 1,
    mtime: 0,
    entries: [
      { path: 'bin', type: 'dir', mode: 0o755 },
      { path: 'bin/app', type: 'file', mode: 0o755, size: 10, sha256: sha },
      { path: 'bin/sh', type: 'symlink', mode: 0o777, target: 'app' },
      { path: 'data', type: 'file', mode: 0o644, size: 32, sha256: sha },
    ],
  }

  it('keeps the launch config, and leaves the key out when there is none', () => {
    const withLaunch = JSON.parse(encodeManifest({ ...manifest, launch: { entrypoint: ['/bin/app'] } }).toString()) as Manifest
    expect(withLaunch.launch?.entrypoint).toEqual(['/bin/app'])
    expect(Object.keys(JSON.parse(encodeManifest(manifest).toString()) as object)).toEqual(['schema', 'mtime', 'entries'])
  })

  it('counts files, directories, symlinks and file bytes', () => {
    expect(manifestTotals(manifest)).toEqual({ files: 2, dirs: 1, symlinks: 1, bytes: 42 })
    expect(manifestTotals({ ...manifest, entries: [] })).toEqual({ files: 0, dirs: 0, symlinks: 0, bytes: 0 })
  })
})
