import type { EventEmitter } from 'node:events'
import type { Socket } from 'node:net'
import type Wire from 'bittorrent-protocol'
import type { Distance, Log } from '../core/index.js'
import type { NearAvailability } from './near-availability.js'
import type { PieceFile } from './piece-file.js'
import type { PieceScheduler } from './piece-scheduler.js'
import type { RateLimiter } from './rate-limiter.js'
import type { SuperSeed } from './super-seed.js'
import type { TorrentInfo } from './torrent-info.js'

/** BEP 3 block size every client asks for, and what we ask of peers we do not know. */
export const BLOCK = 16 << 10
/**
 * What one Shoal host asks of another: a quarter of the messages, callbacks and copies per
 * byte. Other clients (aria2c, libtorrent) refuse requests over 16 KiB, so only peers whose id
 * says Shoal get them.
 */
export const SHOAL_BLOCK = 64 << 10
/** Longest block we serve; longer requests are a protocol violation (common clients cap 128 KiB). */
export const MAX_REQUEST = 128 << 10

/**
 * A piece of which the host derived some bytes itself (from content it already holds): only the
 * BEP 3 blocks in `missing` are asked of peers; the piece is checked against its hash whole, as
 * any piece. Derived bytes that turn out wrong cost a fetch of the whole piece, never a bad piece.
 */
export interface PartialPiece {
  /** The piece with the derived bytes in place (the rest is filled by peers). */
  data: Buffer
  /** Offsets of the BEP 3 blocks (BLOCK bytes, the last one shorter) still to fetch. */
  missing: number[]
  /** Bytes of the piece outside `missing` (derived locally, never asked for). */
  known: number
}

/** A piece being fetched from one peer, block by block. */
export interface Download {
  index: number
  size: number
  data: Buffer
  received: number
  next: number
  retry: number[]
  cancelled: boolean
  /** Bytes asked per request (the peer's block size; BLOCK for a partial piece). */
  block: number
  /** The piece was partly derived locally (its missing blocks only are asked for). */
  partial?: PartialPiece
}

/** One connected peer of one torrent. */
export interface Peer {
  key: string
  addr: string
  /** Remote IP (IPv4-mapped addresses as plain IPv4). */
  ip: string
  outgoing: boolean
  /** The swarm's origin, at an address the tracker vouched for (see peer-set). */
  origin: boolean
  wire: Wire
  socket: Socket
  downloads: Map<number, Download>
  outstanding: number
  /** The peer runs Shoal (its id says so): larger blocks. */
  shoal: boolean
  /** Rack/region distance from its peer id (0 when either side has no locality). */
  distance: Distance
  /** Its peerKey when it is a rack peer that states its locality (shares cross-rack fetching). */
  rackKey: number | undefined
  /** Bytes served per piece not yet sent whole (only counted until each piece is delivered once). */
  sent?: Map<number, number>
  has(index: number): boolean
}

/** The figures a session reports (see SessionStats), kept as they change. */
export interface SessionCounters {
  bytesFromPeers: number
  bytesFromOrigin: number
  uploaded: number
  hashFailures: number
  bytesDone: number
  piecesDelivered: number
  /** Bytes of stored pieces the host derived from content it already held. */
  bytesDerived: number
  /** Of bytesFromPeers, those from peers outside the host's rack (they crossed its uplink). */
  bytesFromOtherRacks: number
  /** Of those, pieces this host did not own for its rack (fetched while idle: see choosePiece). */
  bytesFromOtherRacksUnowned: number
  /** Bytes that arrived for a piece already stored or withdrawn (the end game's duplicates). */
  bytesWasted: number
}

/**
 * What the parts of one torrent session share: the torrent, its file and pieces, its peers and
 * its counters, and the node's collaborators (limiters, log, random). Each part of a session
 * (peer set, downloader, uploader, web seed, announcer) receives this, not the session itself.
 */
export interface SessionContext {
  readonly info: TorrentInfo
  readonly file: PieceFile
  readonly sched: PieceScheduler
  readonly near: NearAvailability
  /** Pieces partly derived locally, by index (dropped once one fails its hash). */
  readonly partials: Map<number, PartialPiece>
  /** 1 for each piece verified and stored (served to peers only then). */
  readonly stored: Uint8Array
  readonly peers: Map<string, Peer>
  readonly counters: SessionCounters
  readonly superSeed: SuperSeed | undefined
  /** Totals over every torrent of the node. */
  readonly totals: { uploaded: number; downloaded: number }
  readonly limits: { up: RateLimiter | undefined; down: RateLimiter | undefined }
  readonly events: EventEmitter
  readonly log: Log
  readonly random: () => number
  closed(): boolean
  /** Runs `fn` after `ms` unless the session has closed by then (the timer is cleared on close). */
  later(ms: number, fn: () => void): void
}
