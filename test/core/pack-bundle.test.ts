import { execFileSync, spawnSync } from 'node:child_process'
import { chown, link, mkdir, readFile, readdir, rm, utimes, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { packBundle, packBundleToFile, verifyBundleFile, type PackResult } from '../../src/core/index.js'
import { setUmask } from '../helpers/umask.js'
import { useTempDirs } from '../helpers/temp-dir.js'
import { SAMPLE_TREE, writeTree, type TreeSpec } from '../helpers/tree.js'

const tempDir = useTempDirs()
const isRoot = process.getuid?.() === 0

/** The digest the fixture tree must always pack to. Changing the bundle format changes this:
 * that has to be a deliberate act (bump the manifest schema, note it in the README). */
const GOLDEN_DIGEST = 'sha256:8cd9c580b7baa4f21e056af7c8f194267f0f0a80896201be40c4bc050b470030'

async function packToBuffer(dir: string, mtime = 0): Promise<{ bytes: Buffer; result: PackResult }> {
  const chunks: Buffer[] = []
  const sink = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(chunk)
      cb()
    },
  })
  const result = await packBundle(dir, sink, { mtime })
  return { bytes: Buffer.concat(chunks), result }
}

function reversed(spec: TreeSpec): TreeSpec {
  return Object.fromEntries(Object.entries(spec).reverse())
}

describe('packBundle()', () => {
  it('packBundle() gives byte-identical bundles when mtimes, owners, umask and creation order differ', async () => {
    const a = await tempDir()
    const b = await tempDir()
    const oldMask = setUmask(0o022)
    await writeTree(a, SAMPLE_TREE)
    setUmask(0o077)
    // Reverse creation order: directory iteration order differs on most file systems.
    await writeTree(b, reversed(SAMPLE_TREE))
    setUmask(oldMask)
    await utimes(join(b, 'lib/a.txt'), new Date('2001-01-01'), new Date('2001-01-01'))
    await utimes(join(b, 'bin'), new Date('2030-01-01'), new Date('2030-01-01'))
    if (isRoot) {
      await chown(join(b, 'lib/a.txt'), 1234, 5678)
      await chown(join(b, 'var/empty'), 42, 42)
    }
    const pa = await packToBuffer(a)
    const pb = await packToBuffer(b)
    expect(pb.result.digest).toBe(pa.result.digest)
    expect(pb.bytes.equals(pa.bytes)).toBe(true)
  })

  it('packBundle() matches the golden digest for fixtures/golden-tree', async () => {
    const { result } = await packToBuffer(join(import.meta.dirname, '../../fixtures/golden-tree'))
    expect(result.digest).toBe(GOLDEN_DIGEST)
    expect(result.manifest.launch).toEqual({ entrypoint: ['/bin/hello'], env: { GREETING: 'hi' }, restart: 'on-failure' })
  })

  it('packBundle() changes the digest, and nothing else, when SOURCE_DATE_EPOCH changes', async () => {
    const a = await tempDir()
    await writeTree(a, SAMPLE_TREE)
    const p0 = await packToBuffer(a, 0)
    const p1 = await packToBuffer(a, 1_700_000_000)
    expect(p1.result.digest).not.toBe(p0.result.digest)
    expect(p1.result.manifest.mtime).toBe(1_700_000_000)
    expect(p1.result.manifest.entries).toEqual(p0.result.manifest.entries)
  })

  it('packBundle() keeps relative and absolute symlinks as links and keeps empty directories', async () => {
    const dir = await tempDir()
    await writeTree(dir, SAMPLE_TREE)
    const { result } = await packToBuffer(dir)
    const byPath = new Map(result.manifest.entries.map((e) => [e.path, e]))
    expect(byPath.get('lib/link-rel')).toEqual({ path: 'lib/link-rel', type: 'symlink', mode: 0o777, target: '../etc/config.json' })
    expect(byPath.get('lib/link-abs')).toEqual({ path: 'lib/link-abs', type: 'symlink', mode: 0o777, target: '/etc/hostname' })
    expect(byPath.get('var/empty')).toEqual({ path: 'var/empty', type: 'dir', mode: 0o755 })
    expect(byPath.get('bin/app')).toMatchObject({ type: 'file', mode: 0o755 })
    expect(byPath.get('lib/a.txt')).toMatchObject({ type: 'file', mode: 0o644, size: 6 })
  })

  it('packBundle() orders entries bytewise by UTF-8 path, so "b-c.txt" precedes "b/inner.txt"', async () => {
    const dir = await tempDir()
    await writeTree(dir, SAMPLE_TREE)
    const { result } = await packToBuffer(dir)
    const paths = result.manifest.entries.map((e) => e.path)
    expect(paths.indexOf('lib/b-c.txt')).toBeLessThan(paths.indexOf('lib/b/inner.txt'))
    const sorted = [...paths].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)))
    expect(paths).toEqual(sorted)
  })

  it('packBundle() stores long paths, long link targets and non-ASCII names that GNU tar reads back', async () => {
    const dir = await tempDir()
    const longName = `${'x'.repeat(150)}.txt`
    const deep = Array.from({ length: 12 }, (_, i) => `level-${i}-${'d'.repeat(20)}`).join('/')
    await writeTree(dir, {
      [longName]: 'long\n',
      [`${deep}/file.txt`]: 'deep\n',
      'naïve/日本語.txt': 'unicode\n',
      'link-long': { symlink: `${'t'.repeat(180)}` },
    })
    const out = join(await tempDir(), 'b.tar')
    const packed = await packBundleToFile(dir, out)
    await expect(verifyBundleFile(out)).resolves.toMatchObject({ digest: packed.digest })
    const listed = execFileSync('tar', ['-tf', out], { encoding: 'utf8' }).trim().split('\n').map((p) => p.replace(/\/$/, ''))
    expect(listed).toContain(longName)
    expect(listed).toContain(`${deep}/file.txt`)
    expect(listed).toContain('naïve/日本語.txt')
    const extractTo = await tempDir()
    execFileSync('tar', ['-xf', out, '-C', extractTo])
    expect(await readFile(join(extractTo, longName), 'utf8')).toBe('long\n')
    expect(await readFile(join(extractTo, 'naïve/日本語.txt'), 'utf8')).toBe('unicode\n')
  })

  it('packBundle() rejects a hard-linked file with HARDLINK_NOT_SUPPORTED naming the path', async () => {
    const dir = await tempDir()
    await writeTree(dir, { 'a/orig.txt': 'x' })
    await link(join(dir, 'a/orig.txt'), join(dir, 'a/twin.txt'))
    await expect(packToBuffer(dir)).rejects.toMatchObject({ code: 'HARDLINK_NOT_SUPPORTED', details: { path: 'a/orig.txt' } })
  })

  it('packBundle() rejects a FIFO with UNSUPPORTED_FILE_TYPE naming the path', async () => {
    const dir = await tempDir()
    await mkdir(join(dir, 'run'))
    execFileSync('mkfifo', [join(dir, 'run/pipe')])
    await expect(packToBuffer(dir)).rejects.toMatchObject({ code: 'UNSUPPORTED_FILE_TYPE', details: { path: 'run/pipe' } })
  })

  it('packBundle() rejects a unix socket with UNSUPPORTED_FILE_TYPE naming the path', async () => {
    const dir = await tempDir()
    const server = createServer()
    await new Promise<void>((resolve) => server.listen(join(dir, 'sock'), resolve))
    try {
      await expect(packToBuffer(dir)).rejects.toMatchObject({ code: 'UNSUPPORTED_FILE_TYPE', details: { path: 'sock' } })
    } finally {
      await new Promise((resolve) => server.close(resolve))
    }
  })

  it.runIf(isRoot)('packBundle() rejects a device node with UNSUPPORTED_FILE_TYPE (needs root for mknod)', async () => {
    const dir = await tempDir()
    const made = spawnSync('mknod', [join(dir, 'null'), 'c', '1', '3'])
    expect(made.status).toBe(0)
    await expect(packToBuffer(dir)).rejects.toMatchObject({ code: 'UNSUPPORTED_FILE_TYPE', details: { path: 'null' } })
  })

  it('packBundle() rejects a name that is not valid UTF-8 with UNSUPPORTED_PATH', async () => {
    const dir = await tempDir()
    // Node only creates such names through a Buffer path.
    await writeFile(Buffer.concat([Buffer.from(dir + '/bad-'), Buffer.from([0xff, 0xfe]), Buffer.from('.txt')]), 'x')
    await expect(packToBuffer(dir)).rejects.toMatchObject({ code: 'UNSUPPORTED_PATH' })
  })

  it('packBundle() rejects control characters in names and the reserved .shoal directory', async () => {
    const a = await tempDir()
    await writeTree(a, { 'new\nline.txt': 'x' })
    await expect(packToBuffer(a)).rejects.toMatchObject({ code: 'UNSUPPORTED_PATH' })
    const b = await tempDir()
    await writeTree(b, { '.shoal/manifest.json': '{}' })
    await expect(packToBuffer(b)).rejects.toMatchObject({ code: 'UNSUPPORTED_PATH', details: { path: '.shoal' } })
  })

  it('packBundle() rejects an invalid shoal.json with LAUNCH_CONFIG_INVALID naming the field', async () => {
    const dir = await tempDir()
    await writeTree(dir, { 'shoal.json': JSON.stringify({ entryPoint: ['x'] }) })
    await expect(packToBuffer(dir)).rejects.toMatchObject({ code: 'LAUNCH_CONFIG_INVALID' })
    await writeFile(join(dir, 'shoal.json'), '{ not json')
    await expect(packToBuffer(dir)).rejects.toMatchObject({ code: 'LAUNCH_CONFIG_INVALID' })
  })

  it.each([
    ['a small file rewritten with the same size', 'a.txt', 'original content', `printf 'tampered content' > "$F"`],
    ['a large file rewritten with the same size', 'big.bin', 'x'.repeat(3 << 20), `dd if=/dev/zero of="$F" bs=1M count=3 status=none`],
    ['a large file that grows', 'big.bin', 'x'.repeat(3 << 20), `printf 'more' >> "$F"`],
  ])('packBundle() fails with SOURCE_CHANGED for %s between hashing and writing', async (_name, file, content, change) => {
    const dir = await tempDir()
    await writeTree(dir, { [file]: content })
    const sink = new Writable({ write: (_c, _e, cb) => cb() })
    let changed = false
    const packing = packBundle(dir, sink, {
      onProgress: (p) => {
        if (p.phase === 'writing' && !changed) {
          changed = true
          execFileSync('sh', ['-c', change], { env: { ...process.env, F: join(dir, file) } })
        }
      },
    })
    await expect(packing).rejects.toMatchObject({ code: 'SOURCE_CHANGED', details: { path: file } })
  })

  it('packBundleToFile() leaves no output and no temp file when packing fails', async () => {
    const dir = await tempDir()
    await writeTree(dir, { 'ok.txt': 'x' })
    execFileSync('mkfifo', [join(dir, 'zz-fifo')])
    const outDir = await tempDir()
    await expect(packBundleToFile(dir, join(outDir, 'b.tar'))).rejects.toMatchObject({ code: 'UNSUPPORTED_FILE_TYPE' })
    expect(await readdir(outDir)).toEqual([])
  })

  it('packBundle() fails with SOURCE_NOT_FOUND for a missing directory and for a file', async () => {
    const dir = await tempDir()
    await expect(packToBuffer(join(dir, 'nope'))).rejects.toMatchObject({ code: 'SOURCE_NOT_FOUND' })
    await writeFile(join(dir, 'f'), 'x')
    await expect(packToBuffer(join(dir, 'f'))).rejects.toMatchObject({ code: 'SOURCE_NOT_FOUND' })
    await rm(join(dir, 'f'))
  })
})
