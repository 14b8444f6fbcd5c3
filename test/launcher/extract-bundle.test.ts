import { createReadStream, readFileSync } from 'node:fs'
import { lstat, readdir, readFile, readlink, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { packBundleToFile } from '../../src/core/index.js'
import { extractBundle } from '../../src/launcher/index.js'
import { setUmask } from '../helpers/umask.js'
import { useTempDirs } from '../helpers/temp-dir.js'
import { SAMPLE_TREE, writeTree } from '../helpers/tree.js'

const tempDir = useTempDirs()
const hostileDir = new URL('../../fixtures/hostile/', import.meta.url)
const hostile: Record<string, { code: string }> = JSON.parse(readFileSync(new URL('index.json', hostileDir), 'utf8'))

describe('extractBundle()', () => {
  it('extractBundle() reproduces the packed tree: content, modes, symlinks, empty dirs, plus mount points', async () => {
    const src = await tempDir()
    await writeTree(src, SAMPLE_TREE)
    const work = await tempDir()
    const packed = await packBundleToFile(src, join(work, 'b.tar'))
    const oldMask = setUmask(0o077) // must not leak into the rootfs
    let result
    try {
      result = await extractBundle(createReadStream(join(work, 'b.tar')), join(work, 'rootfs'), { expectedDigest: packed.digest })
    } finally {
      setUmask(oldMask)
    }
    expect(result.digest).toBe(packed.digest)
    const root = join(work, 'rootfs')
    expect(await readFile(join(root, 'lib/b/inner.txt'), 'utf8')).toBe('inner\n')
    expect((await readFile(join(root, 'data.bin'))).equals(SAMPLE_TREE['data.bin'] as Buffer)).toBe(true)
    expect((await stat(join(root, 'bin/app'))).mode & 0o7777).toBe(0o755)
    expect((await stat(join(root, 'lib/a.txt'))).mode & 0o7777).toBe(0o644)
    expect((await stat(join(root, 'lib/b'))).mode & 0o7777).toBe(0o755)
    expect(await readlink(join(root, 'lib/link-abs'))).toBe('/etc/hostname')
    expect(await readlink(join(root, 'lib/link-rel'))).toBe('../etc/config.json')
    expect(await readdir(join(root, 'var/empty'))).toEqual([])
    for (const mp of ['proc', 'dev', 'sys']) expect((await lstat(join(root, mp))).isDirectory()).toBe(true)
    expect((await readdir(work)).sort()).toEqual(['b.tar', 'rootfs'])
  })

  for (const [name, { code }] of Object.entries(hostile)) {
    it(`extractBundle() refuses fixtures/hostile/${name}.tar with ${code} and leaves nothing behind`, async () => {
      // dest sits three levels down so that '../../' escapes would land inside `outer`.
      const outer = await tempDir()
      const dest = join(outer, 'a', 'b', 'rootfs')
      await expect(extractBundle(createReadStream(new URL(`${name}.tar`, hostileDir)), dest)).rejects.toMatchObject({ code })
      expect(await readdir(join(outer, 'a', 'b'))).toEqual([])
      expect(await readdir(join(outer, 'a'))).toEqual(['b'])
      expect(await readdir(outer)).toEqual(['a'])
    })
  }

  it('extractBundle() refuses a bundle whose digest is not the expected one, leaving no rootfs', async () => {
    const src = await tempDir()
    await writeTree(src, { 'a.txt': 'A' })
    const work = await tempDir()
    await packBundleToFile(src, join(work, 'b.tar'))
    await expect(
      extractBundle(createReadStream(join(work, 'b.tar')), join(work, 'rootfs'), { expectedDigest: `sha256:${'0'.repeat(64)}` }),
    ).rejects.toMatchObject({ code: 'BUNDLE_DIGEST_MISMATCH' })
    expect(await readdir(work)).toEqual(['b.tar'])
  })
})
