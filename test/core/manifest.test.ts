import { describe, expect, it } from 'vitest'
import { bundlePathProblem, checkName, encodeManifest, parseDigest, parseLaunchConfig, parseManifest } from '../../src/core/index.js'

const sha = 'a'.repeat(64)

describe('bundlePathProblem()', () => {
  it.each([
    ['a', undefined],
    ['a/b/c.txt', undefined],
    ['日本語/ü.txt', undefined],
    ['', 'it is empty'],
    ['/etc/passwd', 'it is absolute'],
    ['a/../b', "it has a '..' component"],
    ['..', "it has a '..' component"],
    ['./a', "it has a '.' component"],
    ['a//b', 'it has an empty component'],
    ['a/', 'it has an empty component'],
    ['a\u0000b', 'it holds a control character'],
    ['a\nb', 'it holds a control character'],
    ['.shoal/x', '.shoal/ is reserved for Shoal'],
    ['x'.repeat(256), 'a component is longer than 255 bytes'],
    [Array.from({ length: 300 }, () => 'abcdefghijklmn').join('/'), 'it is longer than 3072 bytes'],
  ])('bundlePathProblem(%j) is %j', (path, problem) => {
    expect(bundlePathProblem(path)).toBe(problem)
  })
})

describe('parseManifest()', () => {
  const good = { schema: 1, mtime: 0, entries: [{ path: 'a', type: 'dir', mode: 0o755 }, { path: 'a/f', type: 'file', mode: 0o644, size: 1, sha256: sha }] }

  it('parseManifest() accepts what encodeManifest() writes and round-trips it', () => {
    const bytes = encodeManifest(good as never)
    expect(parseManifest(bytes)).toEqual(good)
    expect(encodeManifest(parseManifest(bytes)).equals(bytes)).toBe(true)
  })

  it.each([
    ['a wrong schema', { ...good, schema: 2 }, 'MANIFEST_INVALID'],
    ['an unknown field', { ...good, extra: 1 }, 'MANIFEST_INVALID'],
    ['a setuid mode', { ...good, entries: [{ path: 'f', type: 'file', mode: 0o4755, size: 1, sha256: sha }] }, 'MANIFEST_INVALID'],
    ['a device entry', { ...good, entries: [{ path: 'null', type: 'chardev', mode: 0o644 }] }, 'MANIFEST_INVALID'],
    ['a negative size', { ...good, entries: [{ path: 'f', type: 'file', mode: 0o644, size: -1, sha256: sha }] }, 'MANIFEST_INVALID'],
    ['an uppercase hash', { ...good, entries: [{ path: 'f', type: 'file', mode: 0o644, size: 1, sha256: sha.toUpperCase() }] }, 'MANIFEST_INVALID'],
    ['an absolute path', { ...good, entries: [{ path: '/f', type: 'file', mode: 0o644, size: 1, sha256: sha }] }, 'UNSAFE_ABSOLUTE_PATH'],
    ['a dot-dot path', { ...good, entries: [{ path: '..', type: 'dir', mode: 0o755 }] }, 'UNSAFE_PATH_TRAVERSAL'],
    ['a path with an empty component', { ...good, entries: [{ path: 'a//b', type: 'dir', mode: 0o755 }] }, 'UNSAFE_TAR_ENTRY'],
    ['a symlink as parent', { ...good, entries: [{ path: 'l', type: 'symlink', mode: 0o777, target: '/' }, { path: 'l/f', type: 'file', mode: 0o644, size: 1, sha256: sha }] }, 'UNSAFE_SYMLINK_PARENT'],
    ['a missing parent', { ...good, entries: [{ path: 'a/f', type: 'file', mode: 0o644, size: 1, sha256: sha }] }, 'MANIFEST_INVALID'],
    ['a file as parent', { ...good, entries: [{ path: 'a', type: 'file', mode: 0o644, size: 1, sha256: sha }, { path: 'a/f', type: 'file', mode: 0o644, size: 1, sha256: sha }] }, 'MANIFEST_INVALID'],
    ['duplicate paths', { ...good, entries: [{ path: 'a', type: 'dir', mode: 0o755 }, { path: 'a', type: 'dir', mode: 0o755 }] }, 'ENTRY_OUT_OF_ORDER'],
    ['UTF-16 order instead of bytewise', { ...good, entries: [{ path: '\u{1f600}', type: 'dir', mode: 0o755 }, { path: '\uff61', type: 'dir', mode: 0o755 }] }, 'ENTRY_OUT_OF_ORDER'],
  ])('parseManifest() rejects %s with %s', (_name, value, code) => {
    expect(() => parseManifest(Buffer.from(JSON.stringify(value)))).toThrow(expect.objectContaining({ code }))
  })

  it('parseManifest() rejects bytes that are not JSON with MANIFEST_INVALID', () => {
    expect(() => parseManifest(Buffer.from([0xff, 0x00, 0x7b]))).toThrow(expect.objectContaining({ code: 'MANIFEST_INVALID' }))
  })
})

describe('parseLaunchConfig(), parseDigest(), checkName()', () => {
  it('parseLaunchConfig() accepts a full config and names the bad field of a wrong one', () => {
    const config = { entrypoint: ['/bin/app'], args: ['--port', '80'], env: { A: '1' }, workingDir: '/srv', restart: 'always', healthCheck: { httpGet: { port: 80, path: '/healthz' }, intervalSeconds: 5 } }
    expect(parseLaunchConfig(config)).toEqual(config)
    expect(() => parseLaunchConfig({ entrypoint: [] })).toThrow(expect.objectContaining({ code: 'LAUNCH_CONFIG_INVALID', details: expect.objectContaining({ path: '/entrypoint' }) }))
    expect(() => parseLaunchConfig({ entrypoint: ['x'], restart: 'sometimes' })).toThrow(expect.objectContaining({ code: 'LAUNCH_CONFIG_INVALID' }))
  })

  it.each(['sha256:' + 'A'.repeat(64), 'sha256:' + 'a'.repeat(63), 'md5:' + 'a'.repeat(64), ''])('parseDigest(%j) fails with DIGEST_INVALID', (value) => {
    expect(() => parseDigest(value)).toThrow(expect.objectContaining({ code: 'DIGEST_INVALID' }))
  })

  it.each([
    ['release', 'web'],
    ['version', '1.4.2+build.7'],
    ['channel', 'prod'],
  ] as const)('checkName(%s, %j) accepts it', (kind, value) => {
    expect(checkName(kind, value)).toBe(value)
  })

  it.each([
    ['release', 'Web'],
    ['release', '../x'],
    ['version', '1..2'],
    ['version', '1.0\n'],
    ['channel', 'a/b'],
  ] as const)('checkName(%s, %j) fails with NAME_INVALID', (kind, value) => {
    expect(() => checkName(kind, value)).toThrow(expect.objectContaining({ code: 'NAME_INVALID' }))
  })
})
