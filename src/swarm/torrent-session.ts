import { EventEmitter } from 'node:events'
import type Wire from 'bittorrent-protocol'
import { fromSystemError, peerKey, ShoalError, type Log } from '../core/index.js'
import type { PeerAddress } from './announce.js'
import { createAnnouncer, type Announcer } from './announcer.js'
import { createDownloader } from './downloader.js'
import { bindPeer, revealTo } from './bind-peer.js'
import { createNearAvailability } from './near-availability.js'
import type { PieceFile } from './piece-file.js'
import { createPeerSet, type PeerSet } from './peer-set.js'
import { createPieceScheduler } from './piece-scheduler.js'
import type { RateLimiter } from './rate-limiter.js'
import type { PartialPiece, Peer, SessionContext, SessionCounters } from './session-context.js'
import { createSuperSeed } from './super-seed.js'
import { pieceSize, type TorrentInfo } from './torrent-info.js'
import { createUploader } from './uploader.js'
import { createWebSeedFallback } from './web-seed.js'

export interface AddTorrentOptions {
  /** Announce URLs including the passkey; empty for a torrent that only accepts incoming peers. */
  announceUrls?: string[]
  /** Reveal pieces one peer at a time (the origin; BEP 16). */
  superSeed?: boolean
  /** BEP 19 web seeds to fall back to (default the torrent's url-list). */
  webSeeds?: string[]
  /** Bearer token sent to web seeds (a seeder serves its web seed to host and seeder tokens only). */
  webSeedToken?: string
  /**
   * What the host derived before joining: `bytes` in pieces already adopted into the file, and
   * pieces partly derived (only their missing blocks are asked of peers), and the bytes fetched
   * from the origin to derive them (the manifest), counted as from the origin.
   */
  derived?: { bytes: number; partials: ReadonlyMap<number, PartialPiece>; fromOrigin?: number }
}

export interface SessionStats {
  pieces: number
  piecesDone: number
  bytesDone: number
  bytesFromPeers: number
  bytesFromOrigin: number
  uploaded: number
  peers: number
  hashFailures: number
  /** Pieces sent whole to at least one peer (the origin's progress at seeding the swarm). */
  piecesDelivered: number
  /** Bytes of stored pieces derived from content the host already held (not from the network). */
  bytesDerived: number
  /** Of bytesFromPeers, bytes from peers outside this host's rack (0 without locality). */
  bytesFromOtherRacks: number
  /** Of those, bytes of pieces this host did not own for its rack (fetched while it was idle). */
  bytesFromOtherRacksUnowned: number
  /** Bytes that arrived for a piece already stored or withdrawn (the end game's duplicates). */
  bytesWasted: number
}

export interface TorrentSession extends EventEmitter {
  readonly info: TorrentInfo
  readonly file: PieceFile
  /** Resolves once every piece is stored and synced; rejects on a fatal error (disk full). */
  readonly done: Promise<void>
  stats(): SessionStats
  /**
   * Adds a peer by address (the tracker normally supplies them). `origin: true` vouches for the
   * address as the swarm's origin, as the tracker's `origins` answer does.
   */
  addPeer(peer: PeerAddress & { origin?: boolean }): void
  /** Announces now: the tracker has new peers for this swarm (an origin told of an arrival). */
  reannounce(): void
}

/** What a session is given by its node. */
export interface TorrentSessionInit extends AddTorrentOptions {
  info: TorrentInfo
  file: PieceFile
  peerId: Buffer
  myKey: string
  myTag: string
  /** The node's listening port (for announces). */
  port: () => number
  maxConns: number
  maxConnsPerIp: number
  pipelineBytes: number
  requestTimeoutMs: number
  webSeedAfterMs: number
  pieceCacheBytes: number
  /** The node is stopping: no 'stopped' announce for each torrent. */
  nodeStopping: () => boolean
  onClosed: () => void
}

export interface TorrentSessionComponents {
  limits: { up: RateLimiter | undefined; down: RateLimiter | undefined }
  totals: { uploaded: number; downloaded: number }
  random: () => number
  fetch: typeof fetch
  log: Log
}

export interface TorrentSessionHandle extends TorrentSession {
  /** An incoming wire whose handshake named this torrent. */
  attach(wire: Wire, socket: import('node:net').Socket, remoteId: string, addr: string): void
  close(): Promise<void>
}

/** Linked peers still missing a piece (a scan stops at a downloader's first missing piece). */
function linkedDownloaders(peers: Iterable<Peer>, pieceCount: number): number {
  let n = 0
  for (const p of peers) {
    for (let i = 0; i < pieceCount; i++) {
      if (!p.has(i)) {
        n++
        break
      }
    }
  }
  return n
}

/** At the origin, a piece shown to another client went out whole: show it the next one now. */
function revealNext(ctx: SessionContext, peer: Peer, index: number): void {
  ctx.superSeed?.sent(peer.key, index)
  // Sent whole and nothing more asked for: the client drained what it was shown.
  if (peer.wire.peerRequests.length === 0) ctx.superSeed?.starved(peer.key)
  revealTo(ctx, peer)
}

/**
 * One torrent on a node: its pieces (scheduler, rack availability), its peers (peer set), the
 * fetching (downloader) and serving (uploader) sides, the origin's reveal (BEP 16), the web seed
 * fallback (BEP 19) and the announces, composed around one shared context.
 */
export function createTorrentSession(init: TorrentSessionInit, components: TorrentSessionComponents): TorrentSessionHandle {
  const { info, file, log = () => {} } = { ...init, log: components.log }
  const events = new EventEmitter()
  const timers = new Set<NodeJS.Timeout>()
  const abort = new AbortController()
  let closed = false
  let finished = false
  const counters: SessionCounters = { bytesFromPeers: 0, bytesFromOrigin: init.derived?.fromOrigin ?? 0, uploaded: 0, hashFailures: 0, bytesDone: 0, piecesDelivered: 0, bytesDerived: init.derived?.bytes ?? 0, bytesFromOtherRacks: 0, bytesFromOtherRacksUnowned: 0, bytesWasted: 0 }
  // The origin shows each peer about 512 KiB of pieces at a time (at least 2 pieces), up to
  // 32 MiB for a peer that keeps draining its window (one that requests in bursts).
  const superSeed = init.superSeed
    ? createSuperSeed({
        pieceCount: info.pieceCount,
        random: components.random,
        window: Math.max(2, Math.ceil((512 << 10) / info.pieceLength)),
        maxWindow: Math.max(2, Math.ceil((32 << 20) / info.pieceLength)),
        availability: (i) => sched.availability(i),
      })
    : undefined
  const sched = createPieceScheduler({ pieceCount: info.pieceCount, random: components.random, onAvailability: superSeed?.recount })
  const ctx: SessionContext = {
    info,
    file,
    sched,
    near: createNearAvailability(info.pieceCount, init.myTag ? peerKey(init.myKey) : undefined),
    partials: new Map(init.derived?.partials),
    stored: new Uint8Array(info.pieceCount),
    peers: new Map(),
    counters,
    superSeed,
    totals: components.totals,
    limits: components.limits,
    events,
    log,
    random: components.random,
    closed: () => closed,
    later(ms, fn) {
      const t = setTimeout(() => {
        timers.delete(t)
        if (!closed) fn()
      }, ms)
      timers.add(t)
    },
  }
  const { peers } = ctx

  let resolveDone!: () => void
  let rejectDone!: (err: Error) => void
  const done = new Promise<void>((res, rej) => {
    resolveDone = res
    rejectDone = rej
  })
  done.catch(() => {}) // observed by callers; never an unhandled rejection

  const fail = (err: unknown): void => {
    const e = err instanceof ShoalError ? err : fromSystemError(err, 'store a piece', file.path)
    if (closed) return
    log('warn', 'torrent failed', { infoHash: info.infoHash, code: e.code, message: e.message })
    rejectDone(e)
    events.emit('failed', e)
    void close()
  }
  const complete = (): void => {
    if (finished) return
    finished = true
    file.sync().then(
      () => {
        resolveDone()
        events.emit('done')
        announcer.schedule(0, 'completed')
      },
      (err: unknown) => fail(err),
    )
  }

  const uploader = createUploader(ctx, { cacheBytes: init.pieceCacheBytes, violation: (p, e) => peerSet.violation(p, e), sentWhole: (p, i) => revealNext(ctx, p, i) })
  const downloader = createDownloader(ctx, { pipelineBytes: init.pipelineBytes, violation: (p, e) => peerSet.violation(p, e), complete, fail, stored: (i, d) => uploader.stored(i, d) })

  const onPeer = (peer: Peer): void => bindPeer(ctx, peer, { downloader, uploader, violation: (p, e) => peerSet.violation(p, e) })
  const onGone = (peer: Peer): void => {
    downloader.release(peer)
    // Other peers may hold what this one was sending.
    for (const p of peers.values()) downloader.fill(p)
  }
  const peerSet: PeerSet = createPeerSet(ctx, { myKey: init.myKey, myTag: init.myTag, myPeerId: init.peerId, maxConns: init.maxConns, maxConnsPerIp: init.maxConnsPerIp, requestTimeoutMs: init.requestTimeoutMs, onPeer, onGone }, { log })

  for (const [i, ok] of file.verified.entries()) {
    if (!ok) continue
    sched.markHave(i)
    ctx.stored[i] = 1
    counters.bytesDone += pieceSize(info, i)
  }

  const webSeed = createWebSeedFallback(
    ctx,
    { urls: init.webSeeds ?? info.urlList, token: init.webSeedToken, afterMs: init.webSeedAfterMs, lastProgress: () => downloader.lastProgress, store: (i, d) => downloader.store(i, d) },
    { fetch: components.fetch, log, signal: abort.signal },
  )
  const announcer: Announcer = createAnnouncer(
    {
      urls: init.announceUrls ?? [],
      infoHash: info.infoHash,
      peerId: init.peerId,
      figures: () => ({ port: init.port(), uploaded: counters.uploaded, downloaded: counters.bytesFromPeers + counters.bytesFromOrigin, left: info.length - counters.bytesDone }),
      // A host that is still missing pieces and has few peers asks again soon; so does an origin
      // the tracker counts more downloaders for than it is linked to, and dials the new ones: a
      // client that cannot reach it (transmission 3.00 gives a peer up for 15 min once its uTP
      // attempt fails) is then reached from here within seconds, not at the next interval.
      hungry: (answer) => (init.superSeed ? answer.incomplete > linkedDownloaders(peers.values(), info.pieceCount) && peers.size < init.maxConns : sched.missing > 0 && peers.size < 4),
      hungryMs: init.superSeed ? 2_000 : 5_000,
      onPeers: (list) => list.forEach((p) => peerSet.add(p)),
      onOrigins: (list) => peerSet.vouch(list),
      onError: (err) => events.emit('tracker-error', err),
    },
    { fetch: components.fetch, log },
  )
  if (sched.missing === 0) complete()
  else {
    const tick = setInterval(() => webSeed.tick(), 250)
    tick.unref()
    timers.add(tick)
  }
  announcer.schedule(0, 'started')

  let closing: Promise<void> | undefined
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      await announcer.stop({ quiet: init.nodeStopping() })
      closed = true
      abort.abort()
      for (const t of timers) clearTimeout(t)
      timers.clear()
      peerSet.close()
      uploader.close()
      await file.close().catch(() => {})
      init.onClosed()
    })())

  return Object.assign(events, {
    info,
    file,
    done,
    stats: (): SessionStats => ({ pieces: info.pieceCount, piecesDone: info.pieceCount - sched.missing, ...counters, peers: peers.size }),
    addPeer: (p: PeerAddress & { origin?: boolean }) => peerSet.add(p),
    reannounce: () => announcer.schedule(0),
    attach: (wire: Wire, socket: import('node:net').Socket, remoteId: string, addr: string) => peerSet.attach(wire, socket, remoteId, addr, false),
    close,
  }) as TorrentSessionHandle
}
