import { createReadStream } from 'node:fs'
import { readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { packBundleToFile, type Digest } from '../../src/core/index.js'
import { createLauncher } from '../../src/launcher/index.js'
import { useTempDirs } from '../helpers/temp-dir.js'
import { writeTree } from '../helpers/tree.js'

const tempDir = useTempDirs()

async function bundle(body: string, launch: object | null = { entrypoint: ['true'], env: { A: body } }): Promise<{ path: string; digest: Digest }> {
  const src = await tempDir()
  await writeTree(src, { 'v.txt': body, ...(launch ? { 'shoal.json': JSON.stringify(launch) } : {}) })
  const path = join(await tempDir(), `${body}.tar`)
  return { path, ...(await packBundleToFile(src, path)) }
}
const install = (l: ReturnType<typeof createLauncher>, b: { path: string; digest: Digest }) => l.install(() => createReadStream(b.path), { expectedDigest: b.digest })

describe('createLauncher(): install and activation records', () => {
  it('install() records the image (digest, size, launch config) once; again returns the same record without unpacking', async () => {
    const root = await tempDir()
    const l = createLauncher({ root })
    const b = await bundle('one')
    const { verified, ...meta } = await install(l, b)
    expect(verified).toBe(true)
    expect(meta).toMatchObject({ digest: b.digest, launch: { entrypoint: ['true'], env: { A: 'one' } } })
    expect(meta.size).toBeGreaterThan(0)
    expect(JSON.parse(await readFile(join(root, 'meta', `${b.digest.slice(7)}.json`), 'utf8'))).toEqual(meta)
    expect(await install(l, b)).toEqual({ ...meta, verified: false })
    expect(await l.snapshotter.list()).toEqual({ images: [b.digest.slice(7)], checkouts: [], active: [] })
    const noLaunch = await bundle('bare', null)
    expect((await install(l, noLaunch)).launch).toBeUndefined()
  })

  it('install() with an image but no record installs again; a wrong expected digest leaves nothing', async () => {
    const root = await tempDir()
    const l = createLauncher({ root })
    const b = await bundle('one')
    await install(l, b)
    await rm(join(root, 'meta', `${b.digest.slice(7)}.json`))
    expect(await install(l, b)).toMatchObject({ digest: b.digest })
    expect((await l.snapshotter.list()).active).toEqual([])
    await expect(l.install(() => createReadStream(b.path), { expectedDigest: `sha256:${'0'.repeat(64)}` })).rejects.toMatchObject({ code: 'BUNDLE_DIGEST_MISMATCH' })
    expect(await l.snapshotter.list()).toEqual({ images: [b.digest.slice(7)], checkouts: [], active: [] })
  })

  it('activate() writes an activation record (a fresh checkout of the image) and points current at it', async () => {
    const root = await tempDir()
    const l = createLauncher({ root })
    const b = await bundle('one')
    await install(l, b)
    const a = await l.activate({ release: 'web', version: '1.0', digest: b.digest })
    expect(a).toMatchObject({ release: 'web', version: '1.0', digest: b.digest, snapshotter: 'dir', launch: { entrypoint: ['true'], env: { A: 'one' } }, checkoutKey: a.id })
    expect(a.id.startsWith(`web-${b.digest.slice(7, 19)}-`)).toBe(true)
    expect(a.rootfs).toBe(join(root, 'snapshots', 'checkouts', a.id))
    expect(await readFile(join(a.rootfs, 'v.txt'), 'utf8')).toBe('one')
    expect(await l.current('web')).toEqual(a)
    expect(await l.previous('web')).toBeUndefined()
    expect(await readdir(join(root, 'releases', 'web', 'activations'))).toEqual([`${a.id}.json`])
    await expect(l.activate({ release: 'a/b', version: '1', digest: b.digest })).rejects.toMatchObject({ code: 'NAME_INVALID' })
    await expect(l.activate({ release: 'web', version: '../1', digest: b.digest })).rejects.toMatchObject({ code: 'NAME_INVALID' })
  })

  it('previous is the last other activation: a new version moves it, the same version again does not; rollback swaps and swaps back', async () => {
    const l = createLauncher({ root: await tempDir() })
    const [one, two] = [await bundle('one'), await bundle('two')]
    await install(l, one)
    await install(l, two)
    const a1 = await l.activate({ release: 'web', version: '1', digest: one.digest })
    const a2 = await l.activate({ release: 'web', version: '2', digest: two.digest })
    expect((await l.previous('web'))?.id).toBe(a1.id)
    const a2b = await l.activate({ release: 'web', version: '2', digest: two.digest }) // a relaunch
    expect((await l.current('web'))?.id).toBe(a2b.id)
    expect((await l.previous('web'))?.id).toBe(a1.id)
    expect((await l.rollback('web')).id).toBe(a1.id)
    expect((await l.previous('web'))?.id).toBe(a2b.id)
    expect((await l.rollback('web')).id).toBe(a2b.id)
    expect(a2.id).not.toBe(a2b.id)
  })

  it('current() of a release never activated is undefined; of a damaged record is IO_FAILED naming it', async () => {
    const root = await tempDir()
    const l = createLauncher({ root })
    expect(await l.current('web')).toBeUndefined()
    const b = await bundle('one')
    await install(l, b)
    const a = await l.activate({ release: 'web', version: '1', digest: b.digest })
    await writeFile(join(root, 'releases', 'web', 'activations', `${a.id}.json`), '{not json')
    await expect(l.current('web')).rejects.toMatchObject({ code: 'IO_FAILED' })
  })
})

describe('createLauncher().gc()', () => {
  it('keeps what current, previous and keepDigests need; removes other images (and their records), checkouts, activation records and stray pointers', async () => {
    const root = await tempDir()
    const l = createLauncher({ root })
    const [one, two, three, four] = [await bundle('1'), await bundle('2'), await bundle('3'), await bundle('4')]
    for (const b of [one, two, three, four]) await install(l, b)
    const a1 = await l.activate({ release: 'web', version: '1', digest: one.digest })
    const a2 = await l.activate({ release: 'web', version: '2', digest: two.digest })
    const a3 = await l.activate({ release: 'web', version: '3', digest: three.digest }) // a1 loses its pointer
    await symlink('activations/x.json', join(root, 'releases', 'web', '.current.0badc0de'))
    const { removed, failed } = await l.gc({ keepDigests: [four.digest] })
    expect(failed).toEqual([])
    expect(removed.sort()).toEqual([`checkout ${a1.id}`, `image ${one.digest.slice(7)}`, 'pointer left by a crash web/.current.0badc0de'].sort())
    const { images, checkouts } = await l.snapshotter.list()
    expect(images.sort()).toEqual([two, three, four].map((b) => b.digest.slice(7)).sort())
    expect(checkouts.sort()).toEqual([a2.id, a3.id].sort())
    expect((await readdir(join(root, 'releases', 'web', 'activations'))).sort()).toEqual([`${a2.id}.json`, `${a3.id}.json`].sort())
    expect((await readdir(join(root, 'meta'))).sort()).toEqual([two, three, four].map((b) => `${b.digest.slice(7)}.json`).sort())
    expect((await l.gc({ keepDigests: [four.digest] })).removed).toEqual([])
    expect((await l.gc()).removed).toEqual([`image ${four.digest.slice(7)}`])
  })
})

describe('createLauncher() at the edges (from surviving mutants)', () => {
  it('a bundle without launch config gives an image record and an activation with no launch key at all', async () => {
    const l = createLauncher({ root: await tempDir() })
    const bare = await bundle('bare', null)
    const meta = await install(l, bare)
    expect('launch' in meta).toBe(false)
    const a = await l.activate({ release: 'web', version: '1', digest: bare.digest })
    expect('launch' in a).toBe(false)
  })

  it('activate() refuses an image whose record is there but whose snapshot is gone: RELEASE_NOT_ACTIVE naming the digest', async () => {
    const root = await tempDir()
    const l = createLauncher({ root })
    const b = await bundle('one')
    await install(l, b)
    await l.snapshotter.remove(b.digest.slice(7))
    const err = await l.activate({ release: 'web', version: '1', digest: b.digest }).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'RELEASE_NOT_ACTIVE', details: { digest: b.digest } })
    expect((err as Error).message).toBe(`Cannot activate web@1: image ${b.digest} is not installed`)
  })

  it('the same image under a new version is a new activation: previous moves to the old version', async () => {
    const l = createLauncher({ root: await tempDir() })
    const b = await bundle('one')
    await install(l, b)
    const a1 = await l.activate({ release: 'web', version: '1', digest: b.digest })
    await l.activate({ release: 'web', version: '1-rebuild', digest: b.digest })
    expect((await l.previous('web'))?.id).toBe(a1.id)
  })

  it('rollback() with a current but no previous is RELEASE_NOT_ACTIVE naming the release, and changes nothing', async () => {
    const l = createLauncher({ root: await tempDir() })
    const b = await bundle('one')
    await install(l, b)
    const a = await l.activate({ release: 'web', version: '1', digest: b.digest })
    const err = await l.rollback('web').catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'RELEASE_NOT_ACTIVE', details: { release: 'web' } })
    expect((err as Error).message).toBe('Cannot roll back web: it has no previous activation')
    expect((await l.current('web'))?.id).toBe(a.id)
  })

  it('gc() removes only pointers named exactly like a crash leftover', async () => {
    const root = await tempDir()
    const l = createLauncher({ root })
    const b = await bundle('one')
    await install(l, b)
    await l.activate({ release: 'web', version: '1', digest: b.digest })
    const dir = join(root, 'releases', 'web')
    for (const name of ['.previous.00ff', 'x.current.00ff', '.current.00ff.keep', '.current.xyz']) await symlink('activations/none.json', join(dir, name))
    const { removed } = await l.gc()
    expect(removed).toEqual(['pointer left by a crash web/.previous.00ff'])
    expect((await readdir(dir)).sort()).toEqual(['.current.00ff.keep', '.current.xyz', 'activations', 'current', 'x.current.00ff'].sort())
  })
})
