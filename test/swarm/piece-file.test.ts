import { createHash } from 'node:crypto'
import { open, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import bencode from 'bencode'
import { describe, expect, it } from 'vitest'
import { openPieceFile, parseTorrentInfo, pieceMatches, pieceSize, type TorrentInfo } from '../../src/swarm/index.js'
import { makeTorrentFile } from '../helpers/make-torrent.js'
import { useTempDirs } from '../helpers/temp-dir.js'

const tempDir = useTempDirs()
const P = 16 << 10

/** A torrent of `data` in pieces of P bytes (the last shorter), parsed as the swarm reads it. */
async function infoOf(data: Buffer, urlList?: string[]): Promise<TorrentInfo> {
  const pieces: Buffer[] = []
  for (let at = 0; at < data.length; at += P) pieces.push(createHash('sha1').update(data.subarray(at, at + P)).digest())
  const torrent: Record<string, unknown> = { info: { name: 'b.tar', 'piece length': P, length: data.length, pieces: Buffer.concat(pieces), private: 1 } }
  if (urlList) torrent['url-list'] = urlList
  return parseTorrentInfo(bencode.encode(torrent))
}
const data = Buffer.from(Array.from({ length: 3 * P + 100 }, (_, i) => (i * 7) % 251))
/** Piece i of `data`. */
const pieceOf = (i: number): Buffer => data.subarray(i * P, (i + 1) * P)

describe('pieceSize() and pieceMatches() (piece verification)', () => {
  it('pieceSize() is the piece length but for a shorter last piece; a length that divides evenly has a full last piece', async () => {
    const info = await infoOf(data)
    expect(info.pieceCount).toBe(4)
    expect([0, 1, 2, 3].map((i) => pieceSize(info, i))).toEqual([P, P, P, 100])
    const even = await infoOf(data.subarray(0, 2 * P))
    expect([0, 1].map((i) => pieceSize(even, i))).toEqual([P, P])
  })

  it('pieceMatches() accepts exactly the bytes of each piece: not a flipped byte, not another piece, not a short or long copy', async () => {
    const info = await infoOf(data)
    for (let i = 0; i < 4; i++) {
      const piece = data.subarray(i * P, i * P + pieceSize(info, i))
      expect(pieceMatches(info, i, piece), `piece ${i}`).toBe(true)
      const flipped = Buffer.from(piece)
      flipped[flipped.length - 1]! ^= 1
      expect(pieceMatches(info, i, flipped)).toBe(false)
      expect(pieceMatches(info, i, piece.subarray(0, piece.length - 1))).toBe(false)
      expect(pieceMatches(info, i, Buffer.concat([piece, Buffer.alloc(1)]))).toBe(false)
    }
    expect(pieceMatches(info, 1, data.subarray(0, P))).toBe(false) // piece 0's bytes are not piece 1
    expect(pieceMatches(info, 0, data.subarray(P, 2 * P))).toBe(false)
  })

  it('parseTorrentInfo() keeps the web seeds, and none is an empty list', async () => {
    expect((await infoOf(data, ['http://seed/x.tar'])).urlList).toEqual(['http://seed/x.tar'])
    expect((await infoOf(data)).urlList).toEqual([])
  })

  it.each([
    ['no name', { name: undefined }],
    ['no length', { length: undefined }],
    ['a zero length', { length: 0 }],
    ['no piece length', { 'piece length': undefined }],
    ['no pieces', { pieces: Buffer.alloc(0) }],
    ['pieces over 64 MiB', { 'piece length': 128 << 20, length: 100, pieces: Buffer.alloc(20) }],
    ['exactly 16 KiB pieces minus one', { 'piece length': (16 << 10) - 1, length: 100, pieces: Buffer.alloc(20) }],
  ])('parseTorrentInfo() refuses a torrent with %s', async (_name, over) => {
    const base: Record<string, unknown> = { name: 'b.tar', 'piece length': P, length: 100, pieces: Buffer.alloc(20), private: 1 }
    for (const [k, v] of Object.entries(over)) {
      if (v === undefined) delete base[k]
      else base[k] = v
    }
    await expect(parseTorrentInfo(bencode.encode({ info: base }))).rejects.toMatchObject({ code: 'TORRENT_INVALID' })
  })

  it('parseTorrentInfo() accepts the extreme piece lengths, 16 KiB and 64 MiB', async () => {
    await expect(parseTorrentInfo(bencode.encode({ info: { name: 'b', 'piece length': 16 << 10, length: 100, pieces: Buffer.alloc(20) } }))).resolves.toMatchObject({ pieceCount: 1 })
    await expect(parseTorrentInfo(bencode.encode({ info: { name: 'b', 'piece length': 64 << 20, length: 100, pieces: Buffer.alloc(20) } }))).resolves.toMatchObject({ pieceCount: 1 })
  })
})

describe('openPieceFile() (resume and storage)', () => {
  it('a new file is created sparse at full size with no piece verified; written pieces read back', async () => {
    const dir = await tempDir()
    const info = await infoOf(data)
    const f = await openPieceFile(join(dir, 'b.tar'), info)
    expect(f.verified).toEqual([false, false, false, false])
    expect((await stat(join(dir, 'b.tar'))).size).toBe(data.length)
    await f.write(3, data.subarray(3 * P))
    await f.write(1, data.subarray(P, 2 * P))
    expect((await f.read(1, 100, 50)).equals(data.subarray(P + 100, P + 150))).toBe(true)
    expect((await f.read(3, 0, 100)).equals(data.subarray(3 * P))).toBe(true)
    // Reading past the end returns what there is.
    expect((await f.read(3, 50, 100)).length).toBe(50)
    await f.sync()
    await f.close()
    const again = await openPieceFile(join(dir, 'b.tar'), info)
    expect(again.verified).toEqual([false, true, false, true])
    await again.close()
  })

  it('the resume scan keeps matching pieces only, trims a longer file, grows a shorter one, and reports each piece scanned', async () => {
    const dir = await tempDir()
    const info = await infoOf(data)
    const torn = Buffer.from(data)
    torn[2 * P + 5]! ^= 0xff
    await writeFile(join(dir, 'b.tar'), Buffer.concat([torn, Buffer.alloc(5000, 1)]))
    const scanned: number[] = []
    const f = await openPieceFile(join(dir, 'b.tar'), info, { onScan: (i) => scanned.push(i) })
    expect(f.verified).toEqual([true, true, false, true])
    expect(scanned).toEqual([0, 1, 2, 3])
    expect((await stat(join(dir, 'b.tar'))).size).toBe(data.length)
    await f.close()
    await writeFile(join(dir, 'c.tar'), data.subarray(0, P + 10))
    const short = await openPieceFile(join(dir, 'c.tar'), info, { onScan: () => {} })
    expect(short.verified).toEqual([true, false, false, false])
    expect((await stat(join(dir, 'c.tar'))).size).toBe(data.length)
    await short.close()
  })

  it('complete: trusts every piece without reading, and opens read-only', async () => {
    const dir = await tempDir()
    const info = await infoOf(data)
    await writeFile(join(dir, 'b.tar'), data)
    const f = await openPieceFile(join(dir, 'b.tar'), info, { complete: true })
    expect(f.verified).toEqual([true, true, true, true])
    await expect(f.write(0, data.subarray(0, P))).rejects.toMatchObject({ code: 'IO_FAILED' })
    await f.close()
    expect((await readFile(join(dir, 'b.tar'))).equals(data)).toBe(true)
  })

  it('writes go to the file one at a time, and a failed write does not hold back the ones after it', async () => {
    const dir = await tempDir()
    const info = await infoOf(data)
    const f = await openPieceFile(join(dir, 'b.tar'), info)
    // Watch the file handle's writes (the real ones still run): how many are under way at once.
    const probe = await open(join(dir, 'probe'), 'w')
    const proto = Object.getPrototypeOf(probe) as { write: (...a: unknown[]) => Promise<unknown> }
    await probe.close()
    const real = proto.write
    let busy = 0
    let most = 0
    let failOnce = true
    proto.write = async function (this: unknown, ...a: unknown[]) {
      most = Math.max(most, ++busy)
      try {
        // The disk fails the first write of piece 2 (as EIO would).
        if (a[3] === 2 * P && failOnce) {
          failOnce = false
          await Promise.resolve()
          throw Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO', errno: -5, syscall: 'write' })
        }
        return await real.apply(this, a)
      } finally {
        busy--
      }
    }
    try {
      const writes = [3, 2, 1, 0].map((i) => f.write(i, pieceOf(i)))
      await expect(writes[1]).rejects.toMatchObject({ code: 'IO_FAILED' })
      await Promise.all([writes[0], writes[2], writes[3]])
      await f.write(2, pieceOf(2))
    } finally {
      proto.write = real
    }
    expect(most).toBe(1)
    await f.close()
    expect((await readFile(join(dir, 'b.tar'))).equals(data)).toBe(true)
  })

  it('sync and close wait for the writes queued before them', async () => {
    const dir = await tempDir()
    const info = await infoOf(data)
    const f = await openPieceFile(join(dir, 'b.tar'), info)
    const writes = [0, 1].map((i) => f.write(i, pieceOf(i)))
    await f.sync()
    await Promise.all(writes) // settled by the time sync returned
    const more = [2, 3].map((i) => f.write(i, pieceOf(i)))
    await f.close() // at once, with both still queued
    await Promise.all(more)
    expect((await readFile(join(dir, 'b.tar'))).equals(data)).toBe(true)
  })

  it('a missing complete file is FILE_NOT_FOUND naming it', async () => {
    const info = await infoOf(data)
    await expect(openPieceFile(join(await tempDir(), 'nope.tar'), info, { complete: true })).rejects.toMatchObject({ code: 'FILE_NOT_FOUND' })
  })

  it('works with the seeder\'s torrents too', async () => {
    const t = await makeTorrentFile(await tempDir(), 200_000, 64 << 10)
    const f = await openPieceFile(t.path, t.info)
    expect(f.verified.every(Boolean)).toBe(true)
    await f.close()
  })
})
