import { randomBytes } from 'node:crypto'
import { truncateSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { makeTorrent, parseTorrentInfo } from '../../src/swarm/index.js'
import { torrentFor } from '../helpers/make-torrent.js'
import { useTempDirs } from '../helpers/temp-dir.js'

const tempDir = useTempDirs()
const PIECE = 64 << 10

describe('makeTorrent', () => {
  it.each([
    ['one byte', 1],
    ['under one piece', PIECE - 1],
    ['exactly three pieces', 3 * PIECE],
    ['three pieces and a byte', 3 * PIECE + 1],
  ])('makes the torrent create-torrent made (same info hash, pieces, web seed): %s', async (_name, size) => {
    const dir = await tempDir()
    const path = join(dir, 'bundle.tar')
    await writeFile(path, randomBytes(size))
    const urlList = ['http://origin:7701/bundles/ab.tar']
    const mine = await parseTorrentInfo(await makeTorrent(path, { name: 'bundle.tar', pieceLength: PIECE, urlList }))
    const theirs = await parseTorrentInfo(await torrentFor(path, PIECE, urlList))
    expect(mine).toEqual(theirs)
    expect(mine.pieceCount).toBe(Math.ceil(size / PIECE))
  })

  it('a missing file is FILE_NOT_FOUND; a file cut short while read is SOURCE_CHANGED', async () => {
    const dir = await tempDir()
    await expect(makeTorrent(join(dir, 'nope.tar'), { name: 'x', pieceLength: PIECE, urlList: [] })).rejects.toMatchObject({ code: 'FILE_NOT_FOUND' })
    const path = join(dir, 'bundle.tar')
    await writeFile(path, randomBytes(64 * PIECE))
    const seen: number[] = []
    // Cut to 3 pieces once the first is hashed (the second's read may be under way, the fourth's
    // is not): the fourth read comes back empty.
    const onProgress = (bytes: number) => (seen.push(bytes), bytes === PIECE && truncateSync(path, 3 * PIECE))
    await expect(makeTorrent(path, { name: 'x', pieceLength: PIECE, urlList: [], onProgress })).rejects.toMatchObject({ code: 'SOURCE_CHANGED' })
    expect(seen).toEqual([PIECE, 2 * PIECE, 3 * PIECE])
  })
})
