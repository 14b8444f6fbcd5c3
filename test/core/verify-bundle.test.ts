import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable, Writable } from 'node:stream'
import { beforeAll, describe, expect, it } from 'vitest'
import { encodeManifest, packBundle, verifyBundle, verifyBundleFile, type Manifest } from '../../src/core/index.js'
import { craftTar, dir, file, manifestOf as corpusManifestOf, type CraftEntry } from '../../scripts/make-hostile-corpus.js'
import { useTempDirs } from '../helpers/temp-dir.js'
import { SAMPLE_TREE, writeTree } from '../helpers/tree.js'

const tempDir = useTempDirs()

async function packToBuffer(dir: string): Promise<{ bytes: Buffer; manifest: Manifest; digest: string }> {
  const chunks: Buffer[] = []
  const sink = new Writable({ write: (c, _e, cb) => (chunks.push(c), cb()) })
  const r = await packBundle(dir, sink)
  return { bytes: Buffer.concat(chunks), manifest: r.manifest, digest: r.digest }
}

function verifyBytes(bytes: Buffer, expectedDigest?: string) {
  return verifyBundle(Readable.from([bytes]), { expectedDigest: expectedDigest as `sha256:${string}` | undefined })
}

const craft = craftTar
const manifestOf = corpusManifestOf

describe('verifyBundle()', () => {
  let good: { bytes: Buffer; manifest: Manifest; digest: string }
  beforeAll(async () => {
    const src = await mkdtemp(join(tmpdir(), 'shoal-verify-'))
    await writeTree(src, SAMPLE_TREE)
    good = await packToBuffer(src)
    await rm(src, { recursive: true, force: true })
  })

  it('verifyBundle() accepts a packed bundle and reports its digest and size', async () => {
    const r = await verifyBytes(good.bytes, good.digest)
    expect(r.digest).toBe(good.digest)
    expect(r.size).toBe(good.bytes.length)
    expect(r.manifest).toEqual(good.manifest)
  })

  it('verifyBundle() fails with ENTRY_DIGEST_MISMATCH for a flipped byte in any file, naming that file', async () => {
    // Locate each file's content by searching for it, then flip one byte inside it.
    const files = good.manifest.entries.filter((e) => e.type === 'file' && e.size > 0)
    expect(files.length).toBeGreaterThan(3)
    // The tar is canonical, so walking headers finds each body's offset.
    let offset = 512 + Math.ceil(encodeManifest(good.manifest).length / 512) * 512
    const offsets = new Map<string, number>()
    for (const e of good.manifest.entries) {
      // Long names take a pax header (512 + padded pax body) before the real header.
      const nameLen = Buffer.byteLength(e.path)
      const needsPax = nameLen > 100 && !/^.{0,155}\/.{1,100}$/.test(e.path)
      if (needsPax) throw new Error('sample tree has no pax entries')
      offset += 512
      if (e.type === 'file') {
        offsets.set(e.path, offset)
        offset += Math.ceil(e.size / 512) * 512
      }
    }
    for (const f of files) {
      const bytes = Buffer.from(good.bytes)
      const at = offsets.get(f.path)! + Math.floor((f as { size: number }).size / 2)
      bytes[at] = bytes[at]! ^ 0x01
      await expect(verifyBytes(bytes), f.path).rejects.toMatchObject({ code: 'ENTRY_DIGEST_MISMATCH', details: { path: f.path } })
    }
  })

  it('verifyBundle() fails with BUNDLE_CORRUPT for a flipped byte in a tar header', async () => {
    const bytes = Buffer.from(good.bytes)
    bytes[0] = bytes[0]! ^ 0x20 // first byte of the manifest's name
    await expect(verifyBytes(bytes)).rejects.toMatchObject({ code: 'BUNDLE_CORRUPT' })
  })

  it('verifyBundle() fails with BUNDLE_NOT_CANONICAL for a flipped byte in padding or trailing data', async () => {
    const manifestLen = encodeManifest(good.manifest).length
    const padAt = 512 + manifestLen + 1 // inside the manifest's zero padding
    expect(manifestLen % 512).not.toBe(0)
    const padded = Buffer.from(good.bytes)
    padded[padAt] = 0x41
    await expect(verifyBytes(padded)).rejects.toMatchObject({ code: 'BUNDLE_NOT_CANONICAL' })
    const extraZeros = Buffer.concat([good.bytes, Buffer.alloc(10240)])
    await expect(verifyBytes(extraZeros)).rejects.toMatchObject({ code: 'BUNDLE_NOT_CANONICAL' })
  })

  it('verifyBundle() fails with BUNDLE_TRUNCATED wherever the bundle is cut', async () => {
    const cuts = [0, 100, 512, 700, Math.floor(good.bytes.length / 2), good.bytes.length - 1024, good.bytes.length - 600, good.bytes.length - 1]
    for (const cut of cuts) {
      await expect(verifyBytes(good.bytes.subarray(0, cut)), `cut at ${cut}`).rejects.toMatchObject({ code: 'BUNDLE_TRUNCATED' })
    }
  })

  it('verifyBundle() fails with BUNDLE_DIGEST_MISMATCH when the expected digest differs', async () => {
    await expect(verifyBytes(good.bytes, `sha256:${'0'.repeat(64)}`)).rejects.toMatchObject({ code: 'BUNDLE_DIGEST_MISMATCH' })
  })

  const table: Array<{ name: string; manifest: Buffer | null; entries: CraftEntry[]; code: string }> = [
    {
      name: 'a manifest that omits an entry the tar holds',
      manifest: manifestOf([file('a.txt', 'A')]),
      entries: [{ name: 'a.txt', body: 'A' }, { name: 'b.txt', body: 'B' }],
      code: 'MANIFEST_ENTRY_UNLISTED',
    },
    {
      name: 'a manifest that adds an entry the tar lacks (at the end)',
      manifest: manifestOf([file('a.txt', 'A'), file('b.txt', 'B')]),
      entries: [{ name: 'a.txt', body: 'A' }],
      code: 'MANIFEST_ENTRY_MISSING',
    },
    {
      name: 'a manifest that adds an entry the tar lacks (in the middle)',
      manifest: manifestOf([file('a.txt', 'A'), file('b.txt', 'B'), file('c.txt', 'C')]),
      entries: [{ name: 'a.txt', body: 'A' }, { name: 'c.txt', body: 'C' }],
      code: 'MANIFEST_ENTRY_MISSING',
    },
    {
      name: 'tar entries out of order',
      manifest: manifestOf([file('a.txt', 'A'), file('b.txt', 'B')]),
      entries: [{ name: 'b.txt', body: 'B' }, { name: 'a.txt', body: 'A' }],
      code: 'ENTRY_OUT_OF_ORDER',
    },
    {
      name: 'a duplicate tar entry',
      manifest: manifestOf([file('a.txt', 'A')]),
      entries: [{ name: 'a.txt', body: 'A' }, { name: 'a.txt', body: 'A' }],
      code: 'DUPLICATE_ENTRY',
    },
    {
      name: 'a manifest whose entries are out of order',
      manifest: manifestOf([file('b.txt', 'B'), file('a.txt', 'A')]),
      entries: [{ name: 'b.txt', body: 'B' }, { name: 'a.txt', body: 'A' }],
      code: 'ENTRY_OUT_OF_ORDER',
    },
    { name: 'no manifest first', manifest: null, entries: [{ name: 'a.txt', body: 'A' }], code: 'MANIFEST_MISSING' },
    { name: 'a manifest that is not JSON', manifest: Buffer.from('{"schema":1,'), entries: [], code: 'MANIFEST_INVALID' },
    {
      name: 'a manifest with a zip-slip path',
      manifest: Buffer.from(JSON.stringify({ schema: 1, mtime: 0, entries: [file('../evil', 'x')] })),
      entries: [{ name: '../evil', body: 'x' }],
      code: 'UNSAFE_PATH_TRAVERSAL',
    },
    {
      name: 'a manifest with an unknown schema version',
      manifest: Buffer.from(JSON.stringify({ schema: 2, mtime: 0, entries: [] })),
      entries: [],
      code: 'MANIFEST_INVALID',
    },
    {
      name: 'an entry whose parent is a symlink',
      manifest: manifestOf([{ path: 'l', type: 'symlink', mode: 0o777, target: '/etc' }, file('l/passwd', 'x')]),
      entries: [{ name: 'l', type: 'symlink', linkname: '/etc' }, { name: 'l/passwd', body: 'x' }],
      code: 'UNSAFE_SYMLINK_PARENT',
    },
    {
      name: 'a file whose mode differs from the manifest',
      manifest: manifestOf([file('a.txt', 'A')]),
      entries: [{ name: 'a.txt', body: 'A', mode: 0o755 }],
      code: 'ENTRY_METADATA_MISMATCH',
    },
    {
      name: 'a setuid file',
      manifest: manifestOf([file('a.txt', 'A')]),
      entries: [{ name: 'a.txt', body: 'A', mode: 0o4755 }],
      code: 'UNSAFE_SETUID',
    },
    {
      name: 'a file with a non-root owner',
      manifest: manifestOf([file('a.txt', 'A')]),
      entries: [{ name: 'a.txt', body: 'A', uid: 1000 }],
      code: 'ENTRY_METADATA_MISMATCH',
    },
    {
      name: 'a hard link where the manifest says file',
      manifest: manifestOf([file('a.txt', 'A'), file('b.txt', '')]),
      entries: [{ name: 'a.txt', body: 'A' }, { name: 'b.txt', type: 'link', linkname: 'a.txt' }],
      code: 'UNSAFE_HARDLINK',
    },
    {
      name: 'a symlink whose target differs from the manifest',
      manifest: manifestOf([dir('d'), { path: 'd/l', type: 'symlink', mode: 0o777, target: 'ok' }]),
      entries: [{ name: 'd', type: 'directory' }, { name: 'd/l', type: 'symlink', linkname: '/etc/shadow' }],
      code: 'ENTRY_METADATA_MISMATCH',
    },
    {
      name: 'file content that does not match its hash',
      manifest: manifestOf([file('a.txt', 'A')]),
      entries: [{ name: 'a.txt', body: 'Z' }],
      code: 'ENTRY_DIGEST_MISMATCH',
    },
  ]

  for (const row of table) {
    it(`verifyBundle() fails with ${row.code} for ${row.name}`, async () => {
      const bytes = await craft(row.manifest, row.entries)
      await expect(verifyBytes(bytes)).rejects.toMatchObject({ code: row.code })
    })
  }

  it('verifyBundle() refuses a manifest over the caller\'s limits with BUNDLE_LIMIT_EXCEEDED before reading content', async () => {
    const cases = [
      { limits: { maxEntries: 5 }, what: 'the entry count' },
      { limits: { maxTotalBytes: 1000 }, what: 'the total size' },
      { limits: { maxFileBytes: 1000 }, what: 'a file size' },
      { limits: { maxPathDepth: 1 }, what: 'the path depth' },
    ]
    for (const c of cases) {
      await expect(verifyBundle(Readable.from([good.bytes]), { limits: c.limits }), c.what).rejects.toMatchObject({ code: 'BUNDLE_LIMIT_EXCEEDED', details: { what: c.what } })
    }
  })

  it('verifyBundle() accepts a hand-crafted bundle that is canonical, proving the repack matches tar-stream output', async () => {
    const bytes = await craft(manifestOf([dir('d'), file('d/a.txt', 'A')]), [{ name: 'd', type: 'directory' }, { name: 'd/a.txt', body: 'A' }])
    await expect(verifyBytes(bytes)).resolves.toMatchObject({ size: bytes.length })
  })

  it('verifyBundleFile() takes a file path and fails with FILE_NOT_FOUND for a missing one', async () => {
    const d = await tempDir()
    await writeFile(join(d, 'b.tar'), good.bytes)
    await expect(verifyBundleFile(join(d, 'b.tar'))).resolves.toMatchObject({ digest: good.digest })
    await expect(verifyBundleFile(join(d, 'missing.tar'))).rejects.toMatchObject({ code: 'FILE_NOT_FOUND' })
  })
})
