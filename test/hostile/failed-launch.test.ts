import { execFileSync } from 'node:child_process'
import { createReadStream } from 'node:fs'
import { mkdir, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { encodeManifest, LaunchFailedError, packBundleToFile, verifyBundle, type Digest } from '../../src/core/index.js'
import { createHandOff, createLauncher, type Agent } from '../../src/launcher/index.js'
import { craftTar } from '../../scripts/make-hostile-corpus.js'
import { useTempDirs } from '../helpers/temp-dir.js'
import { writeTree } from '../helpers/tree.js'

const tempDir = useTempDirs()

async function bundle(files: Record<string, string>): Promise<{ path: string; digest: Digest }> {
  const src = await tempDir()
  await writeTree(src, { ...files, 'shoal.json': JSON.stringify({ entrypoint: ['/bin/app'] }) })
  const path = join(await tempDir(), 'b.tar')
  return { path, ...(await packBundleToFile(src, path)) }
}

/** An agent whose every start fails, as a release that cannot launch does. */
const failingAgent = (): Agent & { starts: number } => {
  const a = {
    name: 'process' as const,
    starts: 0,
    async start(): Promise<never> {
      a.starts++
      throw new LaunchFailedError('Cannot launch: the entrypoint exits at once')
    },
  }
  return a
}

describe('failed launches leave nothing behind (issue 12, medium 4)', () => {
  it('ten failed hand-offs of one bundle keep one image and one checkout, and the previous release stays collectable', async () => {
    const root = await tempDir()
    const agent = failingAgent()
    const handOff = createHandOff({ root, snapshotter: 'dir', agent })
    const { launcher } = handOff
    const b = await bundle({ 'data.bin': 'x'.repeat(100_000) })
    const ids = new Set<string | undefined>()
    for (let i = 0; i < 10; i++) {
      const bundle = { path: b.path, digest: b.digest, release: 'web', version: '2' }
      await handOff.stage(bundle, () => {})
      await expect(handOff.activate(bundle, () => {})).rejects.toMatchObject({ code: 'LAUNCH_FAILED' })
      ids.add((await launcher.current('web'))?.id)
    }
    expect(agent.starts).toBe(10)
    // The retries reuse the first activation: no new checkout made (and collected) per retry.
    expect(ids.size).toBe(1)
    const { images, checkouts, active } = await launcher.snapshotter.list()
    expect(images).toHaveLength(1)
    expect(checkouts).toHaveLength(1) // not one per retry
    expect(active).toEqual([])
    expect((await launcher.current('web'))?.digest).toBe(b.digest)
  })

  it('gc removes a .partial checkout deeper than PATH_MAX and an unfinished install, and goes past what it cannot remove', async () => {
    const root = await tempDir()
    const launcher = createLauncher({ root })
    const b = await bundle({ 'a.txt': 'a' })
    await launcher.install(() => createReadStream(b.path), { expectedDigest: b.digest })
    // A copy a failed checkout left behind, nested past PATH_MAX (built with relative chdirs).
    const checkouts = join(root, 'snapshots', 'checkouts')
    await mkdir(join(checkouts, 'web-1.partial'), { recursive: true })
    execFileSync('perl', ['-e', `chdir "${join(checkouts, 'web-1.partial')}" or die; for (1..120) { mkdir "d" x 40 or die; chdir "d" x 40 or die } open my $f, ">", "leaf" or die;`])
    await mkdir(join(root, 'snapshots', 'active', 'install-cut-off'))
    await writeFile(join(root, 'snapshots', 'active', 'install-cut-off', 'half'), 'x')
    const { removed, failed } = await launcher.gc()
    expect(failed).toEqual([])
    expect(removed).toEqual(expect.arrayContaining(['unfinished install install-cut-off', 'unfinished install web-1.partial', `image ${b.digest.slice(7)}`]))
    expect(await readdir(checkouts)).toEqual([])
    // And again: nothing left, nothing failing.
    expect(await launcher.gc()).toEqual({ removed: [], failed: [] })
  })

  it('a bundle with a path longer than 3,072 bytes is refused by verify, so it can never reach activation', async () => {
    const deep = Array.from({ length: 80 }, () => 'd'.repeat(40)).join('/')
    const dirs = deep.split('/').map((_, i, all) => all.slice(0, i + 1).join('/'))
    const entries = [...dirs.map((p) => ({ path: p, type: 'dir' as const, mode: 0o755 as const })), { path: `${deep}/f`, type: 'file' as const, mode: 0o644 as const, size: 1, sha256: 'ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb' }]
    const tar = await craftTar(encodeManifest({ schema: 1, mtime: 0, entries }), [...dirs.map((name) => ({ name, type: 'directory' as const })), { name: `${deep}/f`, body: 'a' }])
    await expect(verifyBundle(Readable.from([tar]))).rejects.toMatchObject({ code: expect.stringMatching(/^(UNSAFE_TAR_ENTRY|BUNDLE_LIMIT_EXCEEDED)$/) })
    const launcher = createLauncher({ root: await tempDir() })
    await expect(launcher.install(() => Readable.from([tar]))).rejects.toMatchObject({ kind: 'integrity' })
    expect((await launcher.snapshotter.list()).active).toEqual([])
  })
})
