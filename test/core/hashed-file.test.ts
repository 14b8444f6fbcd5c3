import { createHash, randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openHashedFile, packBundleToFile, verifyBundle } from '../../src/core/index.js'
import { hashedElsewhere, readerThread } from '../../src/core/hashed-file.js'
import { createStreamComparator } from '../../src/core/stream-compare.js'

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
/** `b` cut at the given offsets. */
const cut = (b: Buffer, at: number[]): Buffer[] => [0, ...at, b.length].slice(1).map((end, i) => b.subarray([0, ...at][i], end))
/** Small chunks and no size threshold, so every file here goes through the worker. */
const WORKER = { minBytes: 0, chunkBytes: 64 << 10, ahead: 2 }

describe('createStreamComparator(): byte streams compared as they arrive, whichever side is ahead', () => {
  it('equal bytes in different chunks are equal; one differing byte is found at its offset whatever the chunking', () => {
    const a = randomBytes(5000)
    const splits = [[1], [100, 101, 4000], [2500], [4999]]
    for (const l of splits) {
      for (const r of splits) {
        const c = createStreamComparator(1 << 20)
        const left = cut(a, l)
        const right = cut(Buffer.from(a), r)
        // interleaved: the left side runs ahead for a while, then the right
        for (let i = 0; i < Math.max(left.length, right.length); i++) {
          if (left[i]) c.left(left[i]!)
          if (right[i]) c.right(right[i]!)
        }
        expect(c.equal(), `${l} / ${r}`).toBe(true)
        const b = Buffer.from(a)
        b[3210] = b[3210]! ^ 1
        const d = createStreamComparator(1 << 20)
        for (const x of cut(a, l)) d.left(x)
        for (const x of cut(b, r)) d.right(x)
        expect(d.equal()).toBe(false)
        expect(d.firstDifference).toBe(3210)
      }
    }
  })

  it('a longer stream is not equal (the difference is where the shorter ends), and a side past maxLag ahead counts as different', () => {
    const a = randomBytes(1000)
    const c = createStreamComparator(1 << 20)
    c.left(a)
    c.right(Buffer.concat([a, Buffer.alloc(512)]))
    expect(c.equal()).toBe(false)
    expect(c.firstDifference).toBe(1000)
    const far = createStreamComparator(4096)
    far.left(randomBytes(3000))
    far.left(randomBytes(3000))
    expect(far.equal()).toBe(false)
    expect(far.firstDifference).toBe(0)
  })
})

describe('openHashedFile(): read with the sha256 taken on a worker thread', () => {
  let dir: string
  let bundle: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shoal-hashed-'))
    await mkdir(join(dir, 'tree'))
    await writeFile(join(dir, 'tree', 'big.bin'), randomBytes(700_000))
    await writeFile(join(dir, 'tree', 'small.txt'), 'hello\n')
    bundle = join(dir, 'b.tar')
    await packBundleToFile(join(dir, 'tree'), bundle)
  })
  afterAll(() => rm(dir, { recursive: true, force: true }))

  const drain = async (s: Readable): Promise<Buffer> => {
    const parts: Buffer[] = []
    for await (const c of s) parts.push(c as Buffer)
    return Buffer.concat(parts)
  }

  it('gives exactly the file and its sha256; verifyBundle takes that digest and finds what it would on its own', async () => {
    const bytes = await readFile(bundle)
    const s = openHashedFile(bundle, WORKER)
    const digest = hashedElsewhere(s)
    expect(digest).toBeDefined()
    expect((await drain(s)).equals(bytes)).toBe(true)
    await expect(digest).resolves.toEqual({ sha256: sha(bytes), size: bytes.length })
    const here = await verifyBundle((await import('node:stream')).Readable.from([bytes]))
    await expect(verifyBundle(openHashedFile(bundle, WORKER))).resolves.toMatchObject({ digest: here.digest, size: bytes.length })
    // A file under minBytes is a plain stream, hashed by verify itself.
    const plain = openHashedFile(bundle)
    expect(hashedElsewhere(plain)).toBeUndefined()
    await expect(verifyBundle(plain)).resolves.toMatchObject({ digest: here.digest })
  })

  it('a tampered byte, bytes after the end, or a wrong expected digest fail through the worker as they do in memory', async () => {
    const bytes = await readFile(bundle)
    const tampered = Buffer.from(bytes)
    const at = tampered.length - 1024 - 600_000 // inside big.bin's content
    tampered[at] = tampered[at]! ^ 0xff
    const f1 = join(dir, 'tampered.tar')
    await writeFile(f1, tampered)
    await expect(verifyBundle(openHashedFile(f1, WORKER))).rejects.toMatchObject({ code: 'ENTRY_DIGEST_MISMATCH', details: { path: 'big.bin' } })
    const f2 = join(dir, 'longer.tar')
    await writeFile(f2, Buffer.concat([bytes, Buffer.alloc(512)]))
    await expect(verifyBundle(openHashedFile(f2, WORKER))).rejects.toMatchObject({ code: 'BUNDLE_NOT_CANONICAL', details: { bytes: bytes.length + 512, canonicalBytes: bytes.length } })
    const other = `sha256:${'0'.repeat(64)}` as const
    await expect(verifyBundle(openHashedFile(bundle, WORKER), { expectedDigest: other })).rejects.toMatchObject({
      code: 'BUNDLE_DIGEST_MISMATCH',
      details: { digest: `sha256:${sha(bytes)}`, expected: other },
    })
  })

  it('a missing file is FILE_NOT_FOUND at once; a stream destroyed half-way stops the worker and its digest never resolves', async () => {
    expect(() => openHashedFile(join(dir, 'nope.tar'), WORKER)).toThrow(expect.objectContaining({ code: 'FILE_NOT_FOUND' }))
    const s = openHashedFile(bundle, WORKER)
    const digest = hashedElsewhere(s)!
    for await (const _ of s) break // for-await's break destroys the stream
    await expect(digest).rejects.toThrow()
  })

  it('a reading thread that dies mid-file fails the stream (IO_FAILED) instead of leaving verify waiting', async () => {
    const s = openHashedFile(bundle, WORKER)
    const failed = new Promise<unknown>((resolve) => s.once('error', resolve))
    s.once('data', () => {
      s.pause()
      // Stopped from outside, as a crash would: no error event, no last message.
      void readerThread(s)!.terminate()
    })
    await expect(failed).resolves.toMatchObject({ code: 'IO_FAILED', message: expect.stringContaining('exited') })
  })

  it('the reader stays at most `ahead` chunks in front of a consumer that stops reading', async () => {
    const s = openHashedFile(bundle, WORKER)
    const first = await new Promise<Buffer>((resolve) => s.once('data', (c: Buffer) => (s.pause(), resolve(c))))
    expect(first.length).toBe(WORKER.chunkBytes)
    // Nothing should come: wait for it with a bound (the worker without its credit check sends
    // the whole 0.7 MiB within milliseconds).
    const limit = (WORKER.ahead + 2) * WORKER.chunkBytes
    const until = Date.now() + 300
    while (Date.now() < until && s.readableLength <= limit) await new Promise((r) => setImmediate(r))
    expect(s.readableLength).toBeLessThanOrEqual(limit)
    s.destroy()
  })
})
