import { createHash, randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import { mkdir, open, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { bundleLayout, packBundleToFile, readBundleManifest, type Digest } from '../../src/core/index.js'
import { createHandOff } from '../../src/launcher/index.js'
import { parseTorrentInfo } from '../../src/swarm/index.js'
import { TOKENS } from '../helpers/fleet.js'
import { torrentFor } from '../helpers/make-torrent.js'
import { useStackHosts } from '../helpers/stack-hosts.js'
import { useTempDirs } from '../helpers/temp-dir.js'

const tempDir = useTempDirs()
const { closers, stack, fetcher, report, runningOn } = useStackHosts(tempDir)
const BLOCK = 16 << 10
const PIECE = 64 << 10 // the seeder's piece length for bundles of a few MiB
const network = (r: { bytesFromPeers: number; bytesFromOrigin: number }) => r.bytesFromPeers + r.bytesFromOrigin

async function writeFiles(root: string, files: Record<string, Buffer>): Promise<void> {
  for (const [path, data] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true })
    await writeFile(join(root, path), data)
  }
}

/** v1 and v2 of a tree: files kept, changed, added, removed, renamed, and bytes inserted into a large one. */
function versions(): { v1: Record<string, Buffer>; v2: Record<string, Buffer>; changed: number; boundaries: number; edits: number } {
  const big = randomBytes(3 << 20)
  const inserted = randomBytes(10_000)
  const kept = { 'lib/a.bin': randomBytes(300_000), 'lib/small.txt': Buffer.from('small and the same\n'), 'share/c.bin': randomBytes(123_457) }
  const renamed = randomBytes(250_000)
  const v1 = { ...kept, 'big.bin': big, 'edit/changed.bin': randomBytes(200_000), 'gone.bin': randomBytes(100_000), 'old-name.bin': renamed }
  const v2 = {
    ...kept,
    'big.bin': Buffer.concat([big.subarray(0, 1_500_000), inserted, big.subarray(1_500_000)]),
    'edit/changed.bin': randomBytes(200_000),
    'added/new.bin': randomBytes(50_000),
    'moved/new-name.bin': renamed,
  }
  // New content: changed.bin and new.bin whole, the bytes inserted into big.bin.
  return { v1, v2, changed: 200_000 + 50_000 + inserted.length, boundaries: 4, edits: 1 }
}

/** A stack and host h1 running v1 of versions(), both trees written under root. */
async function runningV1(extra: Parameters<typeof fetcher>[2] = {}) {
  const s = await stack()
  const root = await tempDir()
  await fetcher(s, 'h1', extra)
  const tree = versions()
  await writeFiles(join(root, 'v1'), tree.v1)
  await writeFiles(join(root, 'v2'), tree.v2)
  const b1 = await s.publish('1', 0, { tree: join(root, 'v1') })
  await runningOn(s, 'h1', b1.digest)
  return { s, root, b1, ...tree }
}

async function sha256(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex')
}

describe('incremental releases (issue 15): a host that holds v1 fetches only what changed in v2', () => {
  it('v1 -> v2 (changed, added, removed, renamed, bytes inserted mid-file): only new content travels; the bundle is the seeder\'s; the launched tree is v2', async () => {
    const handOff = createHandOff({ root: join(await tempDir(), 'launcher'), snapshotter: 'dir' })
    const { s, root, b1, v2, changed, boundaries, edits } = await runningV1({ handOff })
    expect((await report(s, 'h1', b1.digest)).bytesDerived ?? 0).toBe(0)

    const b2 = await s.publish('2', 0, { tree: join(root, 'v2') })
    await runningOn(s, 'h1', b2.digest)
    const r = await report(s, 'h1', b2.digest)
    const cached = join(s.dir, 'h1', 'cache', `${b2.digest.slice(7)}.tar`)
    // The first segment: the manifest's header, its bytes and their padding.
    const first = bundleLayout(await readBundleManifest(cached)).segments[0]!
    const manifestBytes = first.kind === 'bytes' ? first.data.length : 0
    // The manifest (read from the web seed), the new content, a block at each boundary of a
    // changed file, and the pieces around an edit inside a file (its place is not known: up to two).
    const bound = manifestBytes + changed + boundaries * 2 * BLOCK + edits * 2 * PIECE
    expect(network(r)).toBeLessThanOrEqual(bound)
    expect(network(r)).toBeGreaterThanOrEqual(changed)
    expect(r.bytesDerived).toBeGreaterThan(b2.size - bound)
    expect(r.bytesDerived + network(r)).toBeGreaterThanOrEqual(b2.size - manifestBytes)
    expect(await sha256(cached)).toBe(b2.digest.slice(7))
    expect((await readFile(cached)).equals(await readFile(join(s.dir, 'seeder', 'bundles', `${b2.digest.slice(7)}.tar`)))).toBe(true)
    // The launched tree is v2, file for file.
    const current = await handOff.launcher.current('app')
    expect(current?.version).toBe('2')
    for (const [path, data] of Object.entries(v2)) expect((await readFile(join(current!.rootfs, path))).equals(data), path).toBe(true)
    await expect(readFile(join(current!.rootfs, 'gone.bin'))).rejects.toThrow()
    const status = await s.get('/v1/rollouts/app/prod/status')
    expect(status.bytesDerived).toBe(r.bytesDerived)
  }, 90_000)

  it('a local file changed after verify: its pieces fail their hash, come from the swarm, and the bundle is right', async () => {
    const { s, root, b1 } = await runningV1()
    // Flip bytes inside lib/a.bin in the cached v1 bundle (a disk that lies, or a hand that edited it).
    const held = join(s.dir, 'h1', 'cache', `${b1.digest.slice(7)}.tar`)
    const a = bundleLayout(await readBundleManifest(held)).segments.find((x) => x.kind === 'file' && x.path === 'lib/a.bin')!
    const fh = await open(held, 'r+')
    await fh.write(Buffer.alloc(4096, 0xee), 0, 4096, a.offset + 100_000)
    await fh.close()

    const b2 = await s.publish('2', 0, { tree: join(root, 'v2') })
    await runningOn(s, 'h1', b2.digest)
    const r = await report(s, 'h1', b2.digest)
    const cached = join(s.dir, 'h1', 'cache', `${b2.digest.slice(7)}.tar`)
    expect(await sha256(cached)).toBe(b2.digest.slice(7))
    // The corrupt range was fetched (at least the piece it falls in), the rest still derived.
    const clean = versions().changed
    expect(network(r)).toBeGreaterThan(clean + 4096)
    expect(r.bytesDerived).toBeGreaterThan(b2.size / 2)
  }, 90_000)

  it('a web seed whose manifest lies (a new file named as content the host holds) costs bytes, never a wrong bundle', async () => {
    const { s, root, v1, v2 } = await runningV1()
    // v2 served only by this web seed: right bytes for pieces, but the manifest it hands out says
    // edit/changed.bin is v1's content (which the host holds), not the new bytes.
    const bundle = join(root, 'v2.tar')
    const { digest, size } = await packBundleToFile(join(root, 'v2'), bundle)
    const real = await readFile(bundle)
    const hex = (b: Buffer) => createHash('sha256').update(b).digest('hex')
    const lie = Buffer.from(real)
    const at = lie.indexOf(hex(v2['edit/changed.bin']!))
    expect(at).toBeGreaterThan(512)
    lie.write(hex(v1['edit/changed.bin']!), at)
    const manifestRanges: string[] = []
    const seed = createServer((req, res) => {
      const [, a, b] = /bytes=(\d+)-(\d+)/.exec(req.headers.range ?? '') ?? []
      const start = Number(a)
      const end = Number(b) + 1
      // The fetcher's two manifest reads (its header, then its bytes) get the lie; pieces do not.
      const lying = (start === 0 && end === 512) || start === 512
      if (lying) manifestRanges.push(`${start}-${end}`)
      const part = (lying ? lie : real).subarray(start, end)
      res.writeHead(206, { 'content-range': `bytes ${start}-${end - 1}/${real.length}`, 'content-length': part.length })
      res.end(part)
    })
    await new Promise<void>((r) => seed.listen(0, '127.0.0.1', () => r()))
    closers.push(() => new Promise((r) => seed.close(r)))
    const torrent = await torrentFor(bundle, PIECE, [`http://127.0.0.1:${(seed.address() as { port: number }).port}/v2.tar`])
    const info = await parseTorrentInfo(torrent)
    const put = (path: string, token: string, body: unknown) => fetch(`${s.trackerUrl}${path}`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) })
    expect((await put(`/v1/bundles/${digest}`, TOKENS.seeder, { size, infoHash: info.infoHash, pieceLength: PIECE, webSeeds: [], torrent: torrent.toString('base64') })).ok).toBe(true)
    expect((await put('/v1/releases/app/versions/2', TOKENS.publisher, { digest })).ok).toBe(true)
    expect((await put('/v1/channels/app/prod', TOKENS.publisher, { version: '2' })).ok).toBe(true)
    await runningOn(s, 'h1', digest)
    expect(manifestRanges.length).toBe(2) // the header, then the manifest: read once
    expect(manifestRanges[0]).toBe('0-512')
    expect(manifestRanges[1]).toMatch(/^512-\d+$/)
    const cached = join(s.dir, 'h1', 'cache', `${digest.slice(7)}.tar`)
    expect((await readFile(cached)).equals(real)).toBe(true)
    const r = await report(s, 'h1', digest)
    // The file the lie named was fetched (its pieces failed their hash when derived); the rest was still derived.
    expect(network(r)).toBeGreaterThanOrEqual(200_000)
    expect(r.bytesDerived).toBeGreaterThan(size / 2)
  }, 90_000)

  it('a host with no previous version, and one whose previous bundle was evicted, fetch the whole bundle as before', async () => {
    const { s, root } = await runningV1()
    for (const name of await readdir(join(s.dir, 'h1', 'cache'))) await rm(join(s.dir, 'h1', 'cache', name))
    const b2 = await s.publish('2', 0, { tree: join(root, 'v2') })
    await runningOn(s, 'h1', b2.digest)
    await fetcher(s, 'h2')
    await runningOn(s, 'h2', b2.digest)
    for (const host of ['h1', 'h2']) {
      const r = await report(s, host, b2.digest)
      expect(r.bytesDerived ?? 0, host).toBe(0)
      expect(network(r), host).toBe(b2.size)
      expect(await sha256(join(s.dir, host, 'cache', `${b2.digest.slice(7)}.tar`)), host).toBe(b2.digest.slice(7) as Digest)
    }
  }, 90_000)
})
