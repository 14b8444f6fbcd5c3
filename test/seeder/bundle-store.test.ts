import { execFileSync, spawnSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdir, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { afterEach, describe, expect, it } from 'vitest'
import type { Digest } from '../../src/core/index.js'
import { createBundleStore, pieceLengthFor } from '../../src/seeder/index.js'
import { useTempDirs } from '../helpers/temp-dir.js'

const tempDir = useTempDirs()
const digestOf = (b: Buffer): Digest => `sha256:${createHash('sha256').update(b).digest('hex')}`
const chunked = (b: Buffer, size = 64 * 1024) => Readable.from((function* () {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size)
})())
const collect = async (r: Readable): Promise<Buffer> => {
  const parts: Buffer[] = []
  for await (const c of r) parts.push(c as Buffer)
  return Buffer.concat(parts)
}
const mounts: string[] = []
afterEach(() => {
  for (const m of mounts.splice(0)) spawnSync('umount', ['-l', m])
})

describe('createBundleStore()', () => {
  it('put() stores a bundle under its digest, read() serves exact byte ranges, a second put() is a no-op', async () => {
    const store = createBundleStore({ dataDir: await tempDir() })
    await store.start()
    const data = randomBytes(300_000)
    const d = digestOf(data)
    const stored = await store.put(chunked(data), d)
    expect(stored).toMatchObject({ digest: d, size: data.length, created: true })
    expect((await collect(store.read(d))).equals(data)).toBe(true)
    expect((await collect(store.read(d, { start: 1000, end: 1999 }))).equals(data.subarray(1000, 2000))).toBe(true)
    expect((await store.put(chunked(data), d)).created).toBe(false)
    expect((await store.list()).map((b) => b.digest)).toEqual([d])
  })

  it('put() refuses bytes that do not hash to the expected digest with BUNDLE_DIGEST_MISMATCH and keeps nothing', async () => {
    const dataDir = await tempDir()
    const store = createBundleStore({ dataDir })
    await store.start()
    const data = randomBytes(100_000)
    const tampered = Buffer.from(data)
    tampered[500] = tampered[500]! ^ 1
    await expect(store.put(chunked(tampered), digestOf(data))).rejects.toMatchObject({ code: 'BUNDLE_DIGEST_MISMATCH' })
    expect(await readdir(join(dataDir, 'bundles'))).toEqual([])
    // A copy already stored is not replaced by a bad re-upload either.
    await store.put(chunked(data), digestOf(data))
    await expect(store.put(chunked(tampered), digestOf(data))).rejects.toMatchObject({ code: 'BUNDLE_DIGEST_MISMATCH' })
    expect((await collect(store.read(digestOf(data)))).equals(data)).toBe(true)
  })

  it('put() of an upload cut off mid-stream leaves no bundle and no temporary file', async () => {
    const dataDir = await tempDir()
    const store = createBundleStore({ dataDir })
    await store.start()
    const data = randomBytes(200_000)
    const broken = Readable.from((async function* () {
      yield data.subarray(0, 50_000)
      throw new Error('connection reset')
    })())
    await expect(store.put(broken, digestOf(data))).rejects.toMatchObject({ code: 'IO_FAILED' })
    expect(await readdir(join(dataDir, 'bundles'))).toEqual([])
  })

  it.skipIf(process.getuid?.() !== 0)(`put() on a full disk fails with DISK_FULL, leaves nothing, and works once space is back (4 MiB tmpfs)${process.getuid?.() !== 0 ? ' (SKIPPED: needs root to mount a tmpfs)' : ''}`, async () => {
    const dataDir = await tempDir()
    await mkdir(dataDir, { recursive: true })
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', dataDir])
    mounts.push(dataDir)
    const store = createBundleStore({ dataDir })
    await store.start()
    const big = randomBytes(6 * 1024 * 1024)
    await expect(store.put(chunked(big), digestOf(big))).rejects.toMatchObject({ code: 'DISK_FULL' })
    expect(await readdir(join(dataDir, 'bundles'))).toEqual([])
    const small = randomBytes(1024 * 1024)
    await expect(store.put(chunked(small), digestOf(small))).resolves.toMatchObject({ created: true })
  })

  it.each([
    [0, 64 * 1024],
    [32 * 2 ** 20, 64 * 1024],
    [100 * 2 ** 20, 64 * 1024],
    [200 * 2 ** 20, 128 * 1024],
    [1 * 2 ** 30, 1 * 2 ** 20],
    [10 * 2 ** 30, 8 * 2 ** 20],
    [1 * 2 ** 40, 16 * 2 ** 20],
  ])('pieceLengthFor(%d) is %d', (size, piece) => {
    expect(pieceLengthFor(size)).toBe(piece)
  })
})
