import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { packBundle, packBundleToFile, verifyBundleFile } from '../../src/core/index.js'
import { hashFiles } from '../../src/core/hash-files.js'

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

describe('hashFiles(): every file hashed on worker threads (pack\'s first pass for large trees)', () => {
  let dir: string
  const bodies = new Map<string, Buffer>()
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shoal-hash-files-'))
    // sizes around the 1 MiB read size, and empty, over more than one batch per thread
    const sizes = [0, 1, 4095, (1 << 20) - 1, 1 << 20, (1 << 20) + 1, 3 << 20, ...Array.from({ length: 150 }, (_, i) => 100 + i * 37)]
    for (const [i, n] of sizes.entries()) {
      const b = randomBytes(n)
      bodies.set(`f${i}`, b)
      await writeFile(join(dir, `f${i}`), b)
    }
  })
  afterAll(() => rm(dir, { recursive: true, force: true }))
  const files = (): { absPath: string; path: string; size: number }[] => [...bodies].map(([p, b]) => ({ absPath: join(dir, p), path: p, size: b.length }))

  it('gives each file\'s sha256 in the order given, and counts every byte', async () => {
    let bytes = 0
    const got = await hashFiles(files(), { threads: 2, onBytes: (n) => (bytes += n) })
    expect(got).toEqual([...bodies.values()].map(sha))
    expect(bytes).toBe([...bodies.values()].reduce((n, b) => n + b.length, 0))
  })

  it('a file longer or shorter than listed is SOURCE_CHANGED, a missing one FILE_NOT_FOUND, an abort ABORTED', async () => {
    const list = files()
    await expect(hashFiles(list.map((f) => (f.path === 'f5' ? { ...f, size: f.size - 1 } : f)), { threads: 2 })).rejects.toMatchObject({ code: 'SOURCE_CHANGED', details: { path: 'f5' } })
    await expect(hashFiles(list.map((f) => (f.path === 'f6' ? { ...f, size: f.size + 1 } : f)), { threads: 2 })).rejects.toMatchObject({ code: 'SOURCE_CHANGED', message: expect.stringContaining('it ends at') })
    await expect(hashFiles([...list, { absPath: join(dir, 'nope'), path: 'nope', size: 1 }], { threads: 2 })).rejects.toMatchObject({ code: 'FILE_NOT_FOUND' })
    const abort = new AbortController()
    const p = hashFiles(list, { threads: 1, signal: abort.signal, onBytes: () => abort.abort() })
    await expect(p).rejects.toMatchObject({ code: 'ABORTED' })
  })

  it('a hashing thread that dies without answering fails the call (IO_FAILED) instead of leaving pack waiting', async () => {
    const p = hashFiles(files(), { threads: 1, onThreads: ([w]) => void w!.terminate() })
    await expect(p).rejects.toMatchObject({ code: 'IO_FAILED', message: expect.stringContaining('exited') })
  })

  it('a tree large enough for the workers packs to a bundle that verifies, the same bytes as packing it a second time', async () => {
    const tree = await mkdtemp(join(tmpdir(), 'shoal-hash-files-tree-'))
    try {
      await writeFile(join(tree, 'big'), randomBytes(17 << 20))
      await writeFile(join(tree, 'small'), 'x')
      const out = join(tree, '..', `${tree.split('/').pop()}.tar`)
      const packed = await packBundleToFile(tree, out)
      expect(packed.manifest.entries.find((e) => e.path === 'small')).toMatchObject({ sha256: sha(Buffer.from('x')) })
      await expect(verifyBundleFile(out)).resolves.toMatchObject({ digest: packed.digest })
      const again = await packBundle(tree, new Writable({ write: (_c, _e, cb) => cb() }))
      expect(again.digest).toBe(packed.digest)
      await rm(out, { force: true })
    } finally {
      await rm(tree, { recursive: true, force: true })
    }
  })
})
