import { createHash } from 'node:crypto'
import { Readable, type Writable } from 'node:stream'
import tar from 'tar-stream'
import { describe, expect, it } from 'vitest'
import { encodeManifest, verifyBundle, verifyBundleFile, type BundleLimits, type ManifestEntry } from '../../src/core/index.js'

const sha = (s: string | Buffer) => createHash('sha256').update(s).digest('hex')
const F = (path: string, body: string, mode: 0o644 | 0o755 = 0o644): ManifestEntry => ({ path, type: 'file', mode, size: Buffer.byteLength(body), sha256: sha(body) })
const DIR = (path: string): ManifestEntry => ({ path, type: 'dir', mode: 0o755 })
const LINK = (path: string, target: string): ManifestEntry => ({ path, type: 'symlink', mode: 0o777, target })

interface RawEntry {
  name: string
  type?: tar.Header['type']
  body?: string
  mode?: number
  uid?: number
  gid?: number
  mtime?: Date
  linkname?: string
}

/** A tar with the manifest of `entries` first, then `raw` entries exactly as given (defaults canonical). */
async function bundle(entries: ManifestEntry[], raw?: RawEntry[], opts: { end?: boolean; mtime?: number } = {}): Promise<Buffer> {
  const pack = tar.pack()
  const chunks: Buffer[] = []
  pack.on('data', (c: unknown) => void chunks.push(c as Buffer))
  const ended = new Promise<void>((r) => pack.on('end', () => r()))
  const base = { uid: 0, gid: 0, uname: '', gname: '', mtime: new Date((opts.mtime ?? 0) * 1000) }
  const m = encodeManifest({ schema: 1, mtime: opts.mtime ?? 0, entries })
  pack.entry({ ...base, name: '.shoal/manifest.json', mode: 0o644, type: 'file' }, m)
  const bodies = new Map(entries.filter((e) => e.type === 'file').map((e) => [e.path, 'x']))
  for (const e of raw ?? entries.map((x): RawEntry => ({ name: x.path, type: x.type === 'dir' ? 'directory' : x.type, mode: x.mode, linkname: x.type === 'symlink' ? x.target : undefined, body: x.type === 'file' ? (bodyOf.get(x.sha256) ?? bodies.get(x.path)) : undefined }))) {
    const type = e.type ?? 'file'
    const header = { ...base, name: e.name, type, mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644), linkname: e.linkname, uid: e.uid ?? 0, gid: e.gid ?? 0, mtime: e.mtime ?? base.mtime }
    if (type === 'file') pack.entry(header, Buffer.from(e.body ?? ''))
    else (pack.entry(header) as unknown as Writable).end()
  }
  pack.finalize()
  await ended
  const all = Buffer.concat(chunks)
  return opts.end === false ? all.subarray(0, all.length - 1024) : all
}
const bodyOf = new Map<string, string>()
const file = (path: string, body: string, mode: 0o644 | 0o755 = 0o644): ManifestEntry => {
  const e = F(path, body, mode)
  bodyOf.set((e as { sha256: string }).sha256, body)
  return e
}
const verify = (b: Buffer, o: Parameters<typeof verifyBundle>[1] = {}) => verifyBundle(Readable.from([b]), o)

describe('verifyBundle(): limits, exactly at and one past each (issue 17)', () => {
  const cases: Array<[string, ManifestEntry[], Partial<BundleLimits>, Partial<BundleLimits>, string, number]> = [
    ['entry count', [DIR('a'), file('a/x', '1'), file('a/y', '2')], { maxEntries: 3 }, { maxEntries: 2 }, 'the entry count', 3],
    ['path depth', [DIR('a'), DIR('a/b'), file('a/b/c', 'c')], { maxPathDepth: 3 }, { maxPathDepth: 2 }, 'the path depth', 3],
    ['path bytes', [DIR('a'), DIR('a/b'), file('a/b/c', 'c')], { maxPathBytes: 5 }, { maxPathBytes: 4 }, 'the path length in bytes', 5],
    ['symlink target bytes', [LINK('l', 'abcdef')], { maxPathBytes: 6 }, { maxPathBytes: 5 }, 'a symlink target length in bytes', 6],
    ['file size', [file('f', 'x'.repeat(10))], { maxFileBytes: 10 }, { maxFileBytes: 9 }, 'a file size', 10],
    ['total size', [file('f', 'x'.repeat(10)), file('g', 'y'.repeat(10))], { maxTotalBytes: 20 }, { maxTotalBytes: 19 }, 'the total size', 20],
  ]
  it.each(cases)('%s: at the limit passes, past it is BUNDLE_LIMIT_EXCEEDED with what, value and limit', async (_n, entries, ok, over, what, value) => {
    const b = await bundle(entries)
    await expect(verify(b, { limits: ok })).resolves.toMatchObject({ size: b.length })
    const limit = Object.values(over)[0]!
    await expect(verify(b, { limits: over })).rejects.toMatchObject({ code: 'BUNDLE_LIMIT_EXCEEDED', details: { what, value, limit } })
  })

  it('the manifest at maxManifestBytes passes, one byte over is MANIFEST_INVALID', async () => {
    const entries = [file('f', 'x')]
    const size = encodeManifest({ schema: 1, mtime: 0, entries }).length
    const b = await bundle(entries)
    await expect(verify(b, { maxManifestBytes: size })).resolves.toBeTruthy()
    await expect(verify(b, { maxManifestBytes: size - 1 })).rejects.toMatchObject({ code: 'MANIFEST_INVALID' })
  })
})

describe('verifyBundle(): hostile headers, each with its code and facts (issue 17)', () => {
  it.each([
    ['link', { name: 'h', type: 'link' as const, linkname: '/etc/shadow' }, 'UNSAFE_HARDLINK', { path: 'h', target: '/etc/shadow' }],
    ['character-device', { name: 'c', type: 'character-device' as const }, 'UNSAFE_SPECIAL_FILE', { path: 'c', type: 'character-device' }],
    ['block-device', { name: 'b', type: 'block-device' as const }, 'UNSAFE_SPECIAL_FILE', { path: 'b', type: 'block-device' }],
    ['fifo', { name: 'p', type: 'fifo' as const }, 'UNSAFE_SPECIAL_FILE', { path: 'p', type: 'fifo' }],
    ['contiguous-file', { name: 'k', type: 'contiguous-file' as const }, 'UNSAFE_TAR_ENTRY', { path: 'k', type: 'contiguous-file' }],
    ['setuid', { name: 'f', mode: 0o4755, body: 'x' }, 'UNSAFE_SETUID', { path: 'f', mode: 0o4755 }],
    ['setgid', { name: 'f', mode: 0o2755, body: 'x' }, 'UNSAFE_SETUID', { path: 'f', mode: 0o2755 }],
    ['sticky', { name: 'f', mode: 0o1755, body: 'x' }, 'UNSAFE_SETUID', { path: 'f', mode: 0o1755 }],
  ])('a %s entry is refused', async (_n, raw, code, details) => {
    const b = await bundle([file('f', 'x')], [raw as RawEntry])
    await expect(verify(b)).rejects.toMatchObject({ code, details })
  })

  it.each([
    ['its type', { type: 'directory' as const }, /type is directory, manifest says file/],
    ['its mode', { mode: 0o755 }, /mode is 755, manifest says 644/],
    ['its owner (uid)', { uid: 1 }, /owner is 1:0, bundles use 0:0/],
    ['its group (gid)', { gid: 7 }, /owner is 0:7, bundles use 0:0/],
    ['its size', { body: 'xy' }, /size is 2, manifest says 1/],
    ['its mtime', { mtime: new Date(1000) }, /mtime is 1, manifest says 0/],
    ['a link target on a file', { type: 'symlink' as const, linkname: 'x' }, /link target is "x", manifest says null/],
  ])('an entry whose %s differs from the manifest is ENTRY_METADATA_MISMATCH naming the problem', async (_n, over, problem) => {
    const b = await bundle([file('f', 'x')], [{ name: 'f', body: 'x', ...over }])
    const err = (await verify(b).catch((e: unknown) => e)) as { code: string; details: { path: string; problems: string[] } }
    expect(err).toMatchObject({ code: 'ENTRY_METADATA_MISMATCH', details: { path: 'f' } })
    expect(err.details.problems.join('; ')).toMatch(problem)
  })

  it('an unlisted entry under a listed symlink is UNSAFE_SYMLINK_PARENT naming both', async () => {
    const b = await bundle([LINK('etc', '/etc')], [{ name: 'etc', type: 'symlink', mode: 0o777, linkname: '/etc' }, { name: 'etc/passwd', body: 'x' }])
    await expect(verify(b)).rejects.toMatchObject({ code: 'UNSAFE_SYMLINK_PARENT', details: { path: 'etc/passwd', symlink: 'etc' } })
  })

  it('entries out of order are ENTRY_OUT_OF_ORDER naming both; an unlisted one MANIFEST_ENTRY_UNLISTED', async () => {
    const entries = [file('a', '1'), file('b', '2')]
    await expect(verify(await bundle(entries, [{ name: 'b', body: '2' }, { name: 'a', body: '1' }]))).rejects.toMatchObject({ code: 'ENTRY_OUT_OF_ORDER', details: { path: 'a', previous: 'b' } })
    await expect(verify(await bundle(entries, [{ name: 'a', body: '1' }, { name: 'ab', body: '9' }, { name: 'b', body: '2' }]))).rejects.toMatchObject({ code: 'MANIFEST_ENTRY_UNLISTED', details: { path: 'ab' } })
  })
})

describe('verifyBundle(): how a bundle ends (issue 17)', () => {
  it('empty input, or bytes that end before a manifest: BUNDLE_TRUNCATED; only an end marker: MANIFEST_MISSING', async () => {
    await expect(verify(Buffer.alloc(0))).rejects.toMatchObject({ code: 'BUNDLE_TRUNCATED' })
    const b = await bundle([file('f', 'x')])
    await expect(verify(b.subarray(0, 300))).rejects.toMatchObject({ code: 'BUNDLE_TRUNCATED' })
    await expect(verify(Buffer.alloc(1024))).rejects.toMatchObject({ code: 'MANIFEST_MISSING' })
  })

  it('cut between entries without the end marker: BUNDLE_TRUNCATED naming the next entry; with the marker: MANIFEST_ENTRY_MISSING', async () => {
    const entries = [file('a', '1'), file('b', '2')]
    const cut = await bundle(entries, [{ name: 'a', body: '1' }], { end: false })
    await expect(verify(cut)).rejects.toMatchObject({ code: 'BUNDLE_TRUNCATED', details: { bytes: cut.length, path: 'b' } })
    await expect(verify(await bundle(entries, [{ name: 'a', body: '1' }]))).rejects.toMatchObject({ code: 'MANIFEST_ENTRY_MISSING', details: { path: 'b' } })
    // A skipped entry (the next one is there) is missing too.
    await expect(verify(await bundle(entries, [{ name: 'b', body: '2' }]))).rejects.toMatchObject({ code: 'MANIFEST_ENTRY_MISSING', details: { path: 'a' } })
  })

  it('a cut inside a file is BUNDLE_TRUNCATED with the tar error as its cause; garbage is BUNDLE_CORRUPT', async () => {
    const b = await bundle([file('f', 'y'.repeat(5000))])
    const err = (await verify(b.subarray(0, 512 * 4)).catch((e: unknown) => e)) as { code: string; cause?: unknown }
    expect(err).toMatchObject({ code: 'BUNDLE_TRUNCATED' })
    expect(err.cause).toBeInstanceOf(Error)
    const junk = Buffer.alloc(2048, 0x41)
    const corrupt = (await verify(junk).catch((e: unknown) => e)) as { code: string; cause?: unknown }
    expect(corrupt).toMatchObject({ code: 'BUNDLE_CORRUPT' })
    expect(corrupt.cause).toBeInstanceOf(Error)
  })

  it('bytes after the end marker, or a shortened end marker: BUNDLE_NOT_CANONICAL or BUNDLE_TRUNCATED, with the sizes and the first byte that differs', async () => {
    const b = await bundle([file('f', 'x')])
    const longer = Buffer.concat([b, Buffer.alloc(512)])
    await expect(verify(longer)).rejects.toMatchObject({ code: 'BUNDLE_NOT_CANONICAL', details: { bytes: longer.length, canonicalBytes: b.length } })
    const noisy = Buffer.from(b)
    const manifestSize = encodeManifest({ schema: 1, mtime: 0, entries: [file('f', 'x')] }).length
    expect(manifestSize % 512).not.toBe(0)
    noisy[512 + manifestSize] = 1 // in the manifest's padding: same length, different bytes
    await expect(verify(noisy)).rejects.toMatchObject({
      code: 'BUNDLE_NOT_CANONICAL',
      message: expect.stringContaining('padding or header bytes differ'),
      details: { bytes: b.length, canonicalBytes: b.length, firstDifference: 512 + manifestSize },
    })
    await expect(verify(b.subarray(0, b.length - 512))).rejects.toMatchObject({ code: 'BUNDLE_TRUNCATED' })
  })

  it('the expected digest, when given, must be the bundle\'s: BUNDLE_DIGEST_MISMATCH with both', async () => {
    const b = await bundle([file('f', 'x')])
    const digest = `sha256:${sha(b)}` as const
    await expect(verify(b, { expectedDigest: digest })).resolves.toMatchObject({ digest, size: b.length })
    const other = `sha256:${'0'.repeat(64)}` as const
    await expect(verify(b, { expectedDigest: other })).rejects.toMatchObject({ code: 'BUNDLE_DIGEST_MISMATCH', details: { digest, expected: other } })
  })
})

describe('verifyBundle(): streaming (issue 17)', () => {
  it('any chunking of the input gives the same answer, 1, 100 and 1024 bytes at a time; a missing end marker is seen whatever the chunks', async () => {
    const b = await bundle([DIR('d'), file('d/f', 'z'.repeat(3000)), LINK('l', 'd/f')])
    for (const size of [1, 100, 1024, 1500]) {
      const parts: Buffer[] = []
      for (let at = 0; at < b.length; at += size) parts.push(b.subarray(at, at + size))
      await expect(verifyBundle(Readable.from(parts)), `chunks of ${size}`).resolves.toMatchObject({ size: b.length })
      const cut: Buffer[] = []
      const short = b.subarray(0, b.length - 1024)
      for (let at = 0; at < short.length; at += size) cut.push(short.subarray(at, at + size))
      await expect(verifyBundle(Readable.from(cut))).rejects.toMatchObject({ code: 'BUNDLE_TRUNCATED' })
    }
  })

  it('reports progress up to the whole size, pauses the input when the consumer is slow, and hashes what a consumer leaves unread', async () => {
    const big = 'q'.repeat(4 << 20)
    const b = await bundle([file('big', big), file('small', 's')])
    let paused = 0
    const input = Readable.from((function* () {
      for (let at = 0; at < b.length; at += 64 << 10) yield b.subarray(at, at + (64 << 10))
    })())
    input.on('pause', () => paused++)
    const seen: number[] = []
    const r = await verifyBundle(input, {
      onProgress: (n) => seen.push(n),
      onEntry: async (_e, chunks) => {
        if (!chunks) return
        for await (const _ of chunks) await new Promise((res) => setImmediate(res)) // a slow consumer
      },
    })
    expect(seen.at(-1)).toBe(b.length)
    expect(seen).toEqual([...seen].sort((x, y) => x - y))
    expect(paused).toBeGreaterThan(0)
    expect(r.size).toBe(b.length)
    // A consumer that reads nothing: the bytes are still hashed, so a wrong file is still caught.
    const wrong = await bundle([file('f', 'right')], [{ name: 'f', body: 'wrong' }])
    await expect(verifyBundle(Readable.from([wrong]), { onEntry: async () => {} })).rejects.toMatchObject({ code: 'ENTRY_DIGEST_MISMATCH', details: { path: 'f', expected: sha('right'), actual: sha('wrong') } })
  })

  it('an abort stops it with ABORTED; an input that fails is IO_FAILED with its cause; a missing file FILE_NOT_FOUND', async () => {
    const b = await bundle([file('f', 'x')])
    const ac = new AbortController()
    ac.abort()
    await expect(verifyBundle(Readable.from([b]), { signal: ac.signal })).rejects.toMatchObject({ name: 'AbortError' })
    const slow = new Readable({ read() {} })
    const late = new AbortController()
    const p = verifyBundle(slow, { signal: late.signal })
    slow.push(b.subarray(0, 600))
    late.abort()
    await expect(p).rejects.toMatchObject({ code: 'ABORTED' })
    const failing = new Readable({ read() { this.destroy(Object.assign(new Error('disk on fire'), { code: 'EIO' })) } })
    const err = await verifyBundle(failing).catch((e: { code: string; cause?: unknown }) => e)
    expect(err).toMatchObject({ code: 'IO_FAILED', details: { errno: 'EIO' } })
    await expect(verifyBundleFile('/nonexistent/shoal/b.tar')).rejects.toMatchObject({ code: 'FILE_NOT_FOUND' })
  })
})
