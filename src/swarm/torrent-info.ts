import { createHash } from 'node:crypto'
import parseTorrent from 'parse-torrent'
import { TorrentInvalidError } from '../core/index.js'

/** What the swarm needs from a .torrent (BEP 3 single-file metainfo). */
export interface TorrentInfo {
  /** 40 hex digits. */
  infoHash: string
  name: string
  length: number
  pieceLength: number
  pieceCount: number
  /** SHA-1 of every piece, 20 bytes each, concatenated. */
  pieceHashes: Buffer
  /** BEP 19 web seeds. */
  urlList: string[]
}

/** Reads a .torrent; anything malformed or not a single-file torrent is TORRENT_INVALID. */
export async function parseTorrentInfo(torrent: Uint8Array): Promise<TorrentInfo> {
  let parsed
  try {
    parsed = await parseTorrent(torrent)
  } catch (err) {
    throw new TorrentInvalidError(`Cannot read torrent: ${(err as Error).message}`, { cause: err })
  }
  const { infoHash, name, length, pieceLength, pieces, files, urlList } = parsed
  if (!infoHash || !name || !length || !pieceLength || !pieces?.length || !files || files.length !== 1) {
    throw new TorrentInvalidError('Cannot read torrent: it must describe exactly one file with pieces')
  }
  const pieceCount = Math.ceil(length / pieceLength)
  if (pieces.length !== pieceCount || pieceLength > 64 << 20 || pieceLength < 16 << 10) {
    throw new TorrentInvalidError(`Cannot read torrent: ${pieces.length} piece hashes for ${pieceCount} pieces of ${pieceLength} bytes`)
  }
  return { infoHash, name, length, pieceLength, pieceCount, pieceHashes: Buffer.from(pieces.join(''), 'hex'), urlList: urlList ?? [] }
}

export function pieceSize(info: TorrentInfo, index: number): number {
  return index === info.pieceCount - 1 ? info.length - index * info.pieceLength : info.pieceLength
}

export function pieceMatches(info: TorrentInfo, index: number, data: Uint8Array): boolean {
  if (data.length !== pieceSize(info, index)) return false
  const digest = createHash('sha1').update(data).digest()
  return digest.equals(info.pieceHashes.subarray(index * 20, index * 20 + 20))
}
