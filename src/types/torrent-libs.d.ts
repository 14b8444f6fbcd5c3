// Minimal declarations for the torrent libraries (they ship no types). Only what Shoal uses;
// extend them as the seeder and fetcher grow.
declare module 'create-torrent' {
  export interface CreateTorrentOptions {
    name?: string
    private?: boolean
    pieceLength?: number
    announceList?: string[][]
    urlList?: string[]
    createdBy?: string
    creationDate?: number | Date
    comment?: string
  }
  export default function createTorrent(
    input: string | string[] | Buffer | Uint8Array,
    opts: CreateTorrentOptions,
    cb: (err: Error | null, torrent: Buffer) => void,
  ): void
}

declare module 'parse-torrent' {
  export interface ParsedTorrent {
    infoHash: string
    name?: string
    length?: number
    pieceLength?: number
    announce?: string[]
    private?: boolean
    /** SHA-1 of each piece, hex. */
    pieces?: string[]
    lastPieceLength?: number
    urlList?: string[]
    files?: { path: string; name: string; length: number; offset: number }[]
  }
  export default function parseTorrent(torrentId: string | Buffer | Uint8Array): Promise<ParsedTorrent>
  export function toTorrentFile(parsed: ParsedTorrent): Uint8Array
}

declare module 'webtorrent' {
  import { EventEmitter } from 'node:events'
  export interface Torrent extends EventEmitter {
    infoHash: string
    done: boolean
    progress: number
    downloaded: number
    uploaded: number
    numPeers: number
    destroy(cb?: () => void): void
  }
  export interface WebTorrentOptions {
    dht?: boolean
    lsd?: boolean
    utp?: boolean
    natUpnp?: boolean
    natPmp?: boolean
    tracker?: boolean | Record<string, unknown>
    torrentPort?: number
    webSeeds?: boolean
  }
  export interface AddOptions {
    path?: string
    strategy?: 'rarest' | 'sequential'
    announce?: string[]
  }
  export default class WebTorrent extends EventEmitter {
    constructor(opts?: WebTorrentOptions)
    add(torrentId: string | Buffer | Uint8Array, opts: AddOptions, onTorrent?: (torrent: Torrent) => void): Torrent
    seed(input: string | Buffer, opts: AddOptions & Record<string, unknown>, onSeed?: (torrent: Torrent) => void): Torrent
    destroy(cb?: (err?: Error) => void): void
    torrents: Torrent[]
  }
}
