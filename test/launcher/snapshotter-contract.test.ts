import { readFile, readdir, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSnapshotter, type Snapshotter, type SnapshotterName } from '../../src/launcher/index.js'
import { btrfsUnavailable, mountLoopBtrfs, overlayUnavailable } from '../helpers/btrfs-mount.js'
import { useTempDirs } from '../helpers/temp-dir.js'

const tempDir = useTempDirs()

/** One contract, every backend (STYLE.md rule 12). */
function snapshotterContract(name: SnapshotterName, unavailable: string | undefined, rootDir: () => Promise<string>): void {
  const title = unavailable ? `${name} snapshotter (SKIPPED here: ${unavailable})` : `${name} snapshotter`
  describe.skipIf(unavailable !== undefined)(title, () => {
    let snap: Snapshotter
    let root: string
    beforeAll(async () => {
      root = await rootDir()
    })

    async function makeImage(imageName: string, files: Record<string, string>): Promise<string> {
      const active = await snap.prepare(`${imageName}-active`)
      for (const [p, body] of Object.entries(files)) await writeFile(join(active, p), body)
      return snap.commit(imageName, `${imageName}-active`)
    }

    it(`${name}: prepare() gives an empty writable dir and commit() turns it into a named image`, async () => {
      snap = createSnapshotter(name, join(root, `store-${Date.now()}`))
      const active = await snap.prepare('img1-active')
      expect(await readdir(active)).toEqual([])
      expect(await snap.image('img1')).toBeUndefined()
      await writeFile(join(active, 'a.txt'), 'A')
      const image = await snap.commit('img1', 'img1-active')
      expect(await readFile(join(image, 'a.txt'), 'utf8')).toBe('A')
      expect(await snap.image('img1')).toBe(image)
      expect((await snap.list()).images).toContain('img1')
      await expect(stat(active)).rejects.toMatchObject({ code: 'ENOENT' })
    })

    it(`${name}: checkout() gives independent writable views that never change the image`, async () => {
      snap = createSnapshotter(name, join(root, `store-${Date.now()}-b`))
      const image = await makeImage('img2', { 'a.txt': 'original' })
      const c1 = await snap.checkout('c1', 'img2')
      const c2 = await snap.checkout('c2', 'img2')
      await writeFile(join(c1, 'a.txt'), 'changed in c1')
      await writeFile(join(c1, 'new.txt'), 'only in c1')
      expect(await readFile(join(c2, 'a.txt'), 'utf8')).toBe('original')
      expect(await readFile(join(image, 'a.txt'), 'utf8')).toBe('original')
      await expect(stat(join(c2, 'new.txt'))).rejects.toMatchObject({ code: 'ENOENT' })
      expect((await snap.list()).checkouts).toEqual(['c1', 'c2'])
      await snap.remove('c1')
      await snap.remove('c2')
      expect((await snap.list()).checkouts).toEqual([])
      expect(await readFile(join(image, 'a.txt'), 'utf8')).toBe('original')
    })

    it(`${name}: duplicate keys fail with SNAPSHOT_EXISTS and unknown images with SNAPSHOT_NOT_FOUND`, async () => {
      snap = createSnapshotter(name, join(root, `store-${Date.now()}-c`))
      await makeImage('img3', { 'x': 'x' })
      await expect(snap.prepare('img3-active')).resolves.toBeTypeOf('string')
      await expect(snap.prepare('img3-active')).rejects.toMatchObject({ code: 'SNAPSHOT_EXISTS' })
      await expect(snap.commit('img3', 'img3-active')).rejects.toMatchObject({ code: 'SNAPSHOT_EXISTS' })
      await expect(snap.checkout('c', 'nope')).rejects.toMatchObject({ code: 'SNAPSHOT_NOT_FOUND' })
      await expect(snap.commit('other', 'no-such-active')).rejects.toMatchObject({ code: 'SNAPSHOT_NOT_FOUND' })
      await snap.checkout('c', 'img3')
      await expect(snap.checkout('c', 'img3')).rejects.toMatchObject({ code: 'SNAPSHOT_EXISTS' })
      await snap.remove('c')
      await snap.remove('img3')
      await snap.remove('img3-active')
      await snap.remove('never-existed')
      expect(await snap.list()).toEqual({ images: [], checkouts: [], active: [] })
    })

    it(`${name}: keys that could leave the store are refused`, async () => {
      snap = createSnapshotter(name, join(root, `store-${Date.now()}-d`))
      await expect(snap.prepare('../escape')).rejects.toThrow(TypeError)
      await expect(snap.checkout('a/b', 'x')).rejects.toThrow(TypeError)
    })
  })
}

snapshotterContract('dir', undefined, () => tempDir('shoal-snap-dir-'))
snapshotterContract('overlay', overlayUnavailable(), () => tempDir('shoal-snap-overlay-'))

const btrfsWhy = btrfsUnavailable()
let btrfs: { dir: string; cleanup: () => void } | undefined
afterAll(() => btrfs?.cleanup())
snapshotterContract('btrfs', btrfsWhy, async () => {
  btrfs ??= mountLoopBtrfs()
  return btrfs.dir
})

describe('btrfs snapshotter on a non-btrfs directory', () => {
  it.skipIf(process.getuid?.() !== 0)(`createSnapshotter("btrfs") on ext4/tmpfs fails with SNAPSHOTTER_UNAVAILABLE naming the file system${process.getuid?.() !== 0 ? ' (SKIPPED: not root, so it would fail for lack of root instead)' : ''}`, async () => {
    const snap = createSnapshotter('btrfs', await tempDir())
    await expect(snap.prepare('x')).rejects.toMatchObject({ code: 'SNAPSHOTTER_UNAVAILABLE' })
  })
})
