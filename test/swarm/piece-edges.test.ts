/**
 * Piece verification at its edges: torrents that are not one file with pieces, short reads at the
 * end of the file, and sync() before and after close. Written from the mutants that survived
 * `npm run test:mutation -- --only "piece verification"`.
 */
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import bencode from 'bencode'
import { describe, expect, it } from 'vitest'
import { openPieceFile, parseTorrentInfo } from '../../src/swarm/index.js'
import { useTempDirs } from '../helpers/temp-dir.js'

const tempDir = useTempDirs()
const P = 16 << 10
const sha1 = (b: Buffer) => createHash('sha1').update(b).digest()

describe('parseTorrentInfo() refuses what is not one file with pieces', () => {
  it('a multi-file torrent is TORRENT_INVALID saying so', async () => {
    const files = [
      { path: [Buffer.from('a')], length: 10 },
      { path: [Buffer.from('b')], length: 10 },
    ]
    const torrent = bencode.encode({ info: { name: 'dir', 'piece length': P, files, pieces: sha1(Buffer.alloc(20)) } })
    await expect(parseTorrentInfo(torrent)).rejects.toMatchObject({ code: 'TORRENT_INVALID', message: 'Cannot read torrent: it must describe exactly one file with pieces' })
  })

  it('an empty file (no length, no pieces) is TORRENT_INVALID', async () => {
    const torrent = bencode.encode({ info: { name: 'e.tar', 'piece length': P, length: 0, pieces: Buffer.alloc(0) } })
    await expect(parseTorrentInfo(torrent)).rejects.toMatchObject({ code: 'TORRENT_INVALID' })
  })

  it('a torrent that is not bencode is TORRENT_INVALID with the parser cause', async () => {
    const err = await parseTorrentInfo(Buffer.from('not a torrent')).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'TORRENT_INVALID' })
    expect((err as { cause?: unknown }).cause).toBeInstanceOf(Error)
  })
})

describe('openPieceFile() reads and syncs', () => {
  it('a read past the end returns the bytes there are; sync() works while open and is IO_FAILED naming the file once closed', async () => {
    const data = Buffer.alloc(P + 100, 7)
    const torrent = bencode.encode({ info: { name: 'b.tar', 'piece length': P, length: data.length, pieces: Buffer.concat([sha1(data.subarray(0, P)), sha1(data.subarray(P))]) } })
    const info = await parseTorrentInfo(torrent)
    const path = join(await tempDir(), 'b.tar')
    const f = await openPieceFile(path, info)
    await f.write(1, data.subarray(P))
    expect((await f.read(1, 0, 100)).length).toBe(100)
    expect((await f.read(1, 50, 100)).length).toBe(50)
    await f.sync()
    await f.close()
    const err = await f.sync().catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'IO_FAILED', details: { path } })
  })
})
