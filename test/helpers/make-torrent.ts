import { createHash, randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import createTorrent from 'create-torrent'
import { parseTorrentInfo, type TorrentInfo } from '../../src/swarm/index.js'

/** A file of random bytes and its torrent, the way the seeder makes them. */
export async function makeTorrentFile(dir: string, size: number, pieceLength = 256 << 10, urlList: string[] = []): Promise<{ path: string; info: TorrentInfo; sha256: string; torrent: Buffer; data: Buffer }> {
  const data = randomBytes(size)
  const path = join(dir, 'bundle.tar')
  await writeFile(path, data)
  const torrent = await new Promise<Buffer>((resolve, reject) =>
    createTorrent(path, { name: 'bundle.tar', private: true, pieceLength, urlList, creationDate: 0 }, (err, buf) => (err ? reject(err) : resolve(Buffer.from(buf)))),
  )
  return { path, info: await parseTorrentInfo(torrent), sha256: createHash('sha256').update(data).digest('hex'), torrent, data }
}

/** A torrent (as the seeder makes them) for a file that exists, with the given web seeds. */
export function torrentFor(path: string, pieceLength: number, urlList: string[]): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) =>
    createTorrent(path, { name: 'bundle.tar', private: true, pieceLength, urlList, creationDate: 0 }, (err, buf) => (err ? reject(err) : resolve(Buffer.from(buf)))),
  )
}
