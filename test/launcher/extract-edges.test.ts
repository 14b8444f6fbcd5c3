/**
 * Extraction at its edges: mount points that the bundle already holds, unpacking without mount
 * points, a destination that cannot be created or replaced, the entry writer's error details and
 * its file descriptors. Written from the mutants that survived `npm run test:mutation -- --only
 * extraction`.
 */
import { createHash } from 'node:crypto'
import { createReadStream, readdirSync } from 'node:fs'
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { packBundleToFile, type ManifestEntry } from '../../src/core/index.js'
import { createEntryWriter } from '../../src/launcher/entry-writer.js'
import { extractBundle, unpackInto } from '../../src/launcher/index.js'
import { useTempDirs } from '../helpers/temp-dir.js'
import { writeTree } from '../helpers/tree.js'

const tempDir = useTempDirs()
const sha = (s: string) => createHash('sha256').update(s).digest('hex')

async function packed(spec: Parameters<typeof writeTree>[1]): Promise<{ tar: string; work: string }> {
  const src = await tempDir()
  await writeTree(src, spec)
  const work = await tempDir()
  const tar = join(work, 'b.tar')
  await packBundleToFile(src, tar)
  return { tar, work }
}

async function rejection(p: Promise<unknown>): Promise<{ code: string; message: string; details: Record<string, unknown> }> {
  try {
    await p
  } catch (err) {
    return err as { code: string; message: string; details: Record<string, unknown> }
  }
  throw new Error('expected a rejection')
}

describe('extractBundle() and unpackInto() at the edges', () => {
  it('keeps a mount point the bundle brings (with its content) and adds only the missing ones', async () => {
    const { tar, work } = await packed({ 'proc/keep': 'kept\n', 'app.txt': 'app\n' })
    const root = join(work, 'rootfs')
    await extractBundle(createReadStream(tar), root)
    expect(await readFile(join(root, 'proc/keep'), 'utf8')).toBe('kept\n')
    expect((await stat(join(root, 'dev'))).isDirectory()).toBe(true)
    expect((await stat(join(root, 'sys'))).isDirectory()).toBe(true)
  })

  it('unpackInto(..., { mountPoints: false }) writes exactly the bundle', async () => {
    const { tar, work } = await packed({ 'app.txt': 'app\n' })
    const dir = join(work, 'snap')
    await mkdir(dir)
    await unpackInto(createReadStream(tar), dir, { mountPoints: false })
    expect((await readdir(dir)).sort()).toEqual(['app.txt'])
  })

  it('refuses to replace a destination that already holds something: IO_FAILED naming it, the old content kept, no staging left', async () => {
    const { tar, work } = await packed({ 'app.txt': 'new\n' })
    const root = join(work, 'rootfs')
    await mkdir(root)
    await writeFile(join(root, 'old.txt'), 'old\n')
    const err = await rejection(extractBundle(createReadStream(tar), root))
    expect(err.code).toBe('IO_FAILED')
    expect(err.message).toMatch(/^Cannot activate unpacked bundle: /)
    expect(err.details.path).toBe(root)
    expect(await readdir(root)).toEqual(['old.txt'])
    expect((await readdir(work)).sort()).toEqual(['b.tar', 'rootfs'])
  })

  it('says so when the staging directory cannot be made (the destination sits under a file)', async () => {
    const { tar, work } = await packed({ 'app.txt': 'x\n' })
    await writeFile(join(work, 'file'), 'not a dir\n')
    const err = await rejection(extractBundle(createReadStream(tar), join(work, 'file', 'rootfs')))
    expect(err.code).toBe('IO_FAILED')
    expect(err.message).toMatch(/^Cannot create staging directory: /)
    expect(String(err.details.path)).toMatch(/\/file\/\.rootfs\.staging-/)
  })
})

describe('createEntryWriter() details', () => {
  const file = (path: string, body: string | undefined, mode = 0o644): ManifestEntry => ({ path, type: 'file', mode: mode as 0o644, size: body?.length ?? 0, sha256: sha(body ?? '') })
  const chunks = (...parts: string[]) =>
    (async function* () {
      for (const p of parts) yield Buffer.from(p)
    })()

  it('writes a file with no chunks as an empty file, and many chunks in order', async () => {
    const root = await tempDir()
    const w = createEntryWriter(root)
    await w.write(file('empty', undefined), undefined)
    await w.write(file('many', 'abcdef'), chunks('ab', 'cd', '', 'ef'))
    expect(await readFile(join(root, 'empty'), 'utf8')).toBe('')
    expect(await readFile(join(root, 'many'), 'utf8')).toBe('abcdef')
  })

  it('closes every file it writes, even when the chunks fail', async () => {
    const root = await tempDir()
    const w = createEntryWriter(root)
    const before = readdirSync('/proc/self/fd').length
    for (let i = 0; i < 100; i++) await w.write(file(`f${i}`, 'x'), chunks('x'))
    const failing = (async function* () {
      yield Buffer.from('part')
      throw new Error('the stream broke')
    })()
    await expect(w.write(file('broken', 'part-and-more'), failing)).rejects.toThrow()
    expect(readdirSync('/proc/self/fd').length).toBeLessThanOrEqual(before + 2)
  })

  it('names the path (and mode) in the details of each refusal', async () => {
    const root = await tempDir()
    const w = createEntryWriter(root)
    const parent = await rejection(w.write(file('nodir/x', 'x'), chunks('x')))
    expect(parent).toMatchObject({ code: 'UNSAFE_SYMLINK_PARENT', details: { path: 'nodir/x' } })
    expect(parent.message).toBe('Cannot write "nodir/x": its parent is not a directory this bundle made (a symlink, or not created yet)')
    const setuid = await rejection(w.write(file('s', 'x', 0o4755), chunks('x')))
    expect(setuid).toMatchObject({ code: 'UNSAFE_SETUID', details: { path: 's', mode: 0o4755 } })
    expect(setuid.message).toBe('Cannot write "s": mode 4755 is not 644 or 755')
    await w.write(file('twice', 'x'), chunks('x'))
    const dup = await rejection(w.write(file('twice', 'y'), chunks('y')))
    expect(dup).toMatchObject({ code: 'DUPLICATE_ENTRY', details: { path: 'twice' } })
    expect(dup.message).toBe('Cannot write "twice": something is already there')
  })
})
