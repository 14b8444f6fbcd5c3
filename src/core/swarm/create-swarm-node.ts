import { randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { createServer, connect, type Server, type Socket } from 'node:net'
import Wire from 'bittorrent-protocol'
import { PeerProtocolError, PieceHashMismatchError, ShoalError, fromSystemError } from '../errors.js'
import { readBodyLimited } from '../read-body-limited.js'
import { announce, type PeerAddress } from './announce.js'
import { createMessageFramer } from './message-framer.js'
import type { PieceFile } from './piece-file.js'
import { createPieceScheduler, encodeBitfield, type PieceScheduler } from './piece-scheduler.js'
import { createRateLimiter } from './rate-limiter.js'
import { createSuperSeed, type SuperSeed } from './super-seed.js'
import { pieceMatches, pieceSize, type TorrentInfo } from './torrent-info.js'
import { admitPeer, choosePiece, connReserve, createNearAvailability, distanceBetween, isRackMember, makeLocalPeerId, peerKey, tagOfPeerId, type Distance, type Locality, type NearAvailability } from './topology.js'

/** BEP 3 block size every client asks for, and what we ask of peers we do not know. */
const BLOCK = 16 << 10
/**
 * What one Shoal host asks of another: a quarter of the messages, callbacks and copies per
 * byte. Other clients (aria2c, libtorrent) refuse requests over 16 KiB, so only peers whose id
 * says Shoal get them.
 */
const SHOAL_BLOCK = 64 << 10
/** Longest block we serve; longer requests are a protocol violation (common clients cap 128 KiB). */
const MAX_REQUEST = 128 << 10
/** A peer whose unparsed input grows past this is dropped (a length prefix of 4 GiB is an attack). */
const MAX_BUFFERED = 1 << 20
/** Links treated as the origin's at once per torrent (a few seeders). */
const MAX_ORIGIN_LINKS = 8
const ORIGIN_PREFIX_HEX = Buffer.from('-SO').toString('hex')
/** An address as peers compare it: IPv4-mapped IPv6 (`::ffff:1.2.3.4`) as plain IPv4. */
const plainIp = (ip: string): string => (ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip)
const addrKey = (hostPort: string): string => {
  const at = hostPort.lastIndexOf(':')
  return `${plainIp(hostPort.slice(0, at))}${hostPort.slice(at)}`
}
/** A web seed URL for a log line, without a passkey in its path (`/seed/<token>/...`). */
const redactSeedUrl = (url: string): string => url.replace(/\/seed\/[^/]+\//, '/seed/[redacted]/')

export interface SwarmNodeInit {
  /** `origin` marks the peer id so hosts can count bytes from the origin apart from peers. */
  role: 'origin' | 'host'
  /** TCP port for peers (0 picks one). */
  port?: number
  /** Address to listen on (default all). */
  listenHost?: string
  /** Peer connections per torrent (default 50). */
  maxConns?: number
  /**
   * Connections one remote address may open to a torrent here (default 16): a client flooding
   * handshakes from one address takes that many slots, never every slot.
   */
  maxConnsPerIp?: number
  /** Upload limit in bytes per second for all torrents (default none). */
  upLimit?: number
  /** Download limit in bytes per second for all torrents (default none). */
  downLimit?: number
  /** Bytes asked of one peer at once (default 512 KiB). */
  pipelineBytes?: number
  /** A request unanswered this long is asked again elsewhere (default 20 s). */
  requestTimeoutMs?: number
  /** Without progress from peers this long, missing pieces come from the web seed (default 4 s). */
  webSeedAfterMs?: number
  /** Bytes of recently used pieces kept in memory per torrent for serving peers (default 32 MiB). */
  pieceCacheBytes?: number
  /** Where this node sits (region, rack): carried in its peer id for the tracker and peers. */
  locality?: Locality
  random?: () => number
  /** HTTP client for announces and web seeds (one that trusts a private CA); default global fetch. */
  fetch?: typeof fetch
  log?: (level: 'info' | 'warn', message: string, fields?: Record<string, unknown>) => void
}

export interface AddTorrentOptions {
  /** Announce URLs including the passkey; empty for a torrent that only accepts incoming peers. */
  announceUrls?: string[]
  /** Reveal pieces one peer at a time (the origin; BEP 16). */
  superSeed?: boolean
  /** BEP 19 web seeds to fall back to (default the torrent's url-list). */
  webSeeds?: string[]
  /** Bearer token sent to web seeds (a seeder serves its web seed to host and seeder tokens only). */
  webSeedToken?: string
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
}

export interface SwarmNode {
  readonly peerId: Buffer
  readonly port: number
  start(): Promise<void>
  stop(): Promise<void>
  add(info: TorrentInfo, file: PieceFile, options?: AddTorrentOptions): TorrentSession
  get(infoHash: string): TorrentSession | undefined
  list(): TorrentSession[]
  remove(infoHash: string): Promise<void>
  /** Bytes sent and received over all torrents since start. */
  totals(): { uploaded: number; downloaded: number }
}

interface Download {
  index: number
  size: number
  data: Buffer
  received: number
  next: number
  retry: number[]
  cancelled: boolean
}

interface Peer {
  key: string
  addr: string
  /** Remote IP (IPv4-mapped addresses as plain IPv4). */
  ip: string
  outgoing: boolean
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

function makePeerId(role: 'origin' | 'host', locality: Locality): Buffer {
  // Azureus-style: -SO0100- for the origin, -SH0100- for hosts; then the locality tag.
  return makeLocalPeerId(role === 'origin' ? '-SO0100-' : '-SH0100-', locality, randomBytes(6))
}

/**
 * The peer wire engine shared by seeder and fetcher: one TCP listener, any number of torrents,
 * BEP 3 messages through bittorrent-protocol's codec, piece choice by the pure scheduler, BEP 16
 * reveal at the origin, BEP 19 web seed fallback. No MSE: hosts are authenticated by the
 * tracker's passkey and the bundle digest is checked end to end.
 */
export function createSwarmNode(init: SwarmNodeInit): SwarmNode {
  const {
    role,
    maxConns = 50,
    maxConnsPerIp = 16,
    pipelineBytes = 512 << 10,
    requestTimeoutMs = 20_000,
    webSeedAfterMs = 4_000,
    pieceCacheBytes = 32 << 20,
    random = Math.random,
    log = () => {},
  } = init
  const httpFetch = init.fetch ?? fetch
  const peerId = makePeerId(role, init.locality ?? {})
  const myKey = peerId.toString('hex')
  const myTag = tagOfPeerId(myKey)
  const up = createRateLimiter(init.upLimit ?? 0)
  const down = createRateLimiter(init.downLimit ?? 0)
  const sessions = new Map<string, SessionImpl>()
  const totals = { uploaded: 0, downloaded: 0 }
  let server: Server | undefined
  let port = init.port ?? 0
  let stopped = false

  class SessionImpl extends EventEmitter implements TorrentSession {
    readonly info: TorrentInfo
    readonly file: PieceFile
    readonly done: Promise<void>
    private resolveDone!: () => void
    private rejectDone!: (err: Error) => void
    readonly sched: PieceScheduler
    private readonly near: NearAvailability
    private readonly stored: Uint8Array
    private readonly superSeed?: SuperSeed
    readonly peers = new Map<string, Peer>()
    private readonly connecting = new Set<string>()
    private readonly banned = new Set<string>()
    private readonly lastTried = new Map<string, number>()
    private readonly s = { bytesFromPeers: 0, bytesFromOrigin: 0, uploaded: 0, hashFailures: 0, bytesDone: 0, piecesDelivered: 0 }
    private readonly delivered = new Set<number>()
    private readonly timers = new Set<NodeJS.Timeout>()
    private lastProgress = performance.now()
    private webBusy = new Set<number>()
    private webBackoffUntil = 0
    private closed = false
    private finished = false
    private readonly announceUrls: string[]
    private readonly webSeeds: string[]
    private readonly webSeedToken?: string
    /**
     * Where the swarm's origins are, as the tracker vouches (its `origins` answer key): a peer
     * is treated as the origin (reserved slot, asked only for pieces nobody else has) only at
     * such an address, never because its self-chosen peer id says so.
     */
    private readonly originAddrs = new Set<string>()
    private readonly originIps = new Set<string>()
    private announceTimer?: NodeJS.Timeout
    private readonly abort = new AbortController()

    constructor(info: TorrentInfo, file: PieceFile, options: AddTorrentOptions) {
      super()
      this.info = info
      this.file = file
      this.announceUrls = options.announceUrls ?? []
      this.webSeeds = options.webSeeds ?? info.urlList
      this.webSeedToken = options.webSeedToken
      this.sched = createPieceScheduler({ pieceCount: info.pieceCount, random })
      this.near = createNearAvailability(info.pieceCount, myTag ? peerKey(myKey) : undefined)
      this.stored = new Uint8Array(info.pieceCount)
      // The origin shows each peer about 512 KiB of pieces at a time (at least 2 pieces).
      if (options.superSeed) this.superSeed = createSuperSeed({ pieceCount: info.pieceCount, random, window: Math.max(2, Math.ceil((512 << 10) / info.pieceLength)) })
      file.verified.forEach((ok, i) => {
        if (ok) this.storedPiece(i)
      })
      this.done = new Promise((res, rej) => {
        this.resolveDone = res
        this.rejectDone = rej
      })
      this.done.catch(() => {}) // observed by callers; never an unhandled rejection
      if (this.sched.missing === 0) this.complete()
      else {
        const tick = setInterval(() => this.webSeedTick(), 250)
        tick.unref()
        this.timers.add(tick)
      }
      this.scheduleAnnounce(0, 'started')
    }

    private storedPiece(i: number): void {
      this.sched.markHave(i)
      this.stored[i] = 1
      this.s.bytesDone += pieceSize(this.info, i)
    }

    stats(): SessionStats {
      return { pieces: this.info.pieceCount, piecesDone: this.info.pieceCount - this.sched.missing, ...this.s, peers: this.peers.size }
    }

    // ---- tracker ---------------------------------------------------------------------------
    private failures = 0
    private scheduleAnnounce(delayMs: number, event?: 'started' | 'completed' | 'stopped'): void {
      if (!this.announceUrls.length || this.closed) return
      clearTimeout(this.announceTimer)
      this.announceTimer = setTimeout(() => void this.announceNow(event), delayMs)
      this.announceTimer.unref()
    }

    private async announceNow(event?: 'started' | 'completed' | 'stopped'): Promise<void> {
      const left = this.info.length - this.s.bytesDone
      let next = 60_000
      for (const url of this.announceUrls) {
        try {
          const r = await announce({
            url,
            infoHash: this.info.infoHash,
            peerId,
            port,
            uploaded: this.s.uploaded,
            downloaded: this.s.bytesFromPeers + this.s.bytesFromOrigin,
            left,
            event,
            signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(10_000)]),
            fetch: httpFetch,
          })
          for (const o of r.origins) {
            this.originAddrs.add(`${plainIp(o.host)}:${o.port}`)
            this.originIps.add(plainIp(o.host))
          }
          this.failures = 0
          // A host that is still missing pieces and has few peers asks again soon.
          next = Math.min(r.intervalSeconds * 1000, this.sched.missing > 0 && this.peers.size < 4 ? 5_000 : Infinity)
          for (const p of r.peers) this.addPeer(p)
          break
        } catch (err) {
          if (this.closed) return
          this.failures++
          next = Math.min(30_000, 1000 * 2 ** Math.min(this.failures - 1, 5))
          this.emit('tracker-error', err)
          log('warn', 'announce failed', { infoHash: this.info.infoHash, code: (err as ShoalError).code, message: (err as Error).message, retryInMs: next })
        }
      }
      // The first announce failing must not lose its event: a tracker that comes back hears it.
      this.scheduleAnnounce(next, this.failures > 0 ? event : undefined)
    }

    // ---- peers -------------------------------------------------------------------------------
    addPeer(p: PeerAddress & { origin?: boolean }): void {
      const addr = `${p.host}:${p.port}`
      if (p.origin) {
        this.originAddrs.add(addrKey(addr))
        this.originIps.add(plainIp(p.host))
      }
      if (this.closed || this.banned.has(addr) || this.connecting.has(addr)) return
      if ([...this.peers.values()].some((x) => x.addr === addr)) return
      // A host that states its locality may dial past maxConns for links out of its rack (admitPeer).
      if (this.peers.size + this.connecting.size >= maxConns + (myTag ? connReserve(maxConns) : 0)) return
      const last = this.lastTried.get(addr) ?? -Infinity
      if (performance.now() - last < 5_000) return
      this.lastTried.set(addr, performance.now())
      this.connecting.add(addr)
      const socket = connect({ host: p.host, port: p.port })
      socket.setTimeout(10_000, () => socket.destroy())
      socket.once('connect', () => {
        this.connecting.delete(addr)
        socket.setTimeout(0)
        const wire = new Wire('tcpOutgoing')
        pipe(socket, wire)
        wire.once('handshake', (infoHash: string, remoteId: string) => {
          if (infoHash !== this.info.infoHash) return wire.destroy()
          this.attach(wire, socket, remoteId, addr, true)
        })
        wire.handshake(this.info.infoHash, peerId)
      })
      socket.once('error', () => {})
      socket.once('close', () => this.connecting.delete(addr))
    }

    attach(wire: Wire, socket: Socket, remoteId: string, addr: string, outgoing: boolean): void {
      if (this.closed || remoteId === myKey) {
        if (remoteId === myKey) this.banned.add(addr) // our own address, listed by the tracker
        wire.destroy()
        socket.destroy()
        return
      }
      const existing = this.peers.get(remoteId)
      if (existing) {
        // Both ends dialled each other: keep the connection opened by the lower peer id, which
        // both ends agree on without talking.
        const initiator = (p: { outgoing: boolean }, id: string): string => (p.outgoing ? myKey : id)
        if (initiator({ outgoing }, remoteId) < initiator(existing, remoteId)) this.drop(existing, 'duplicate connection')
        else {
          wire.destroy()
          socket.destroy()
          return
        }
      }
      const theirTag = tagOfPeerId(remoteId)
      const distance = distanceBetween(myTag, theirTag)
      const rackMember = isRackMember(myTag, theirTag)
      // The origin: its id says so AND the tracker vouched for where it is (the address we dialled,
      // or for an incoming link the origin's IP), with at most MAX_ORIGIN_LINKS such links.
      const saysOrigin = remoteId.startsWith(ORIGIN_PREFIX_HEX)
      const vouched = outgoing ? this.originAddrs.has(addrKey(addr)) : this.originIps.has(plainIp(socket.remoteAddress ?? ''))
      const ip = plainIp(socket.remoteAddress ?? '')
      let originLinks = 0
      let fromIp = 0
      for (const p of this.peers.values()) {
        if (p.origin) originLinks++
        if (!p.outgoing && p.ip === ip) fromIp++
      }
      const origin = saysOrigin && vouched && originLinks < MAX_ORIGIN_LINKS
      if (!outgoing && !origin && fromIp >= maxConnsPerIp) {
        wire.destroy()
        socket.destroy()
        return
      }
      if (!admitPeer({ total: this.peers.size, rack: this.near.rackPeers }, { rackMember, distance, origin }, maxConns)) {
        wire.destroy()
        socket.destroy()
        return
      }
      const peer: Peer = {
        key: remoteId,
        addr,
        ip,
        outgoing,
        origin,
        shoal: origin || remoteId.startsWith(Buffer.from('-SH').toString('hex')),
        wire,
        socket,
        downloads: new Map(),
        outstanding: 0,
        has: (i) => wire.peerPieces.get(i),
        distance,
        rackKey: rackMember ? peerKey(remoteId) : undefined,
      }
      if (peer.rackKey !== undefined) this.near.rackPeer(peer.rackKey, 1)
      this.peers.set(remoteId, peer)
      wire.setKeepAlive(true)
      wire.setTimeout(requestTimeoutMs, true)
      socket.setTimeout(240_000, () => this.drop(peer, 'idle'))
      const gone = (): void => this.forget(peer)
      socket.once('close', gone)
      wire.once('close', gone)
      wire.on('error', () => {})

      wire.on('bitfield', () => {
        this.sched.addPeer(peer.has, 1)
        if (!peer.origin) this.near.addPeer(peer.distance, peer.has, 1)
        this.updateInterest(peer)
        this.reveal(peer)
        this.fill(peer)
      })
      wire.on('have', (i: number) => {
        if (i >= this.info.pieceCount) return this.violation(peer, new PeerProtocolError(`Peer ${addr} announced piece ${i} of ${this.info.pieceCount}`))
        this.sched.addAvailability(i)
        // The origin is near to everyone but serves only what no peer holds: its pieces are not
        // copies the rack can fetch from, so they do not count as near.
        if (!peer.origin) {
          this.near.add(peer.distance, i)
          this.withdrawFromOrigin(i)
        }
        this.superSeed?.peerHas(peer.key, i)
        if (!this.sched.has(i)) peer.wire.interested()
        this.reveal(peer)
        this.fill(peer)
      })
      wire.on('unchoke', () => this.fill(peer))
      wire.on('choke', () => {
        // Without BEP 6, a choke drops every request in flight; their callbacks requeue them.
      })
      wire.on('interested', () => wire.unchoke())
      wire.on('request', (i: number, offset: number, length: number, respond: (err: Error | null, block?: Uint8Array) => void) =>
        this.serve(peer, i, offset, length, respond),
      )
      wire.on('timeout', () => log('warn', 'peer request timed out', { peer: addr }))

      if (this.superSeed) this.reveal(peer)
      else if (this.s.bytesDone > 0) wire.bitfield(encodeBitfield(this.stored))
      this.emit('peer', { addr, origin: peer.origin })
    }

    private reveal(peer: Peer): void {
      if (!this.superSeed || peer.wire.destroyed) return
      for (const i of this.superSeed.reveal(peer.key, peer.has, (j) => this.sched.availability(j))) peer.wire.have(i)
    }

    private updateInterest(peer: Peer): void {
      if (this.sched.missing === 0) return peer.wire.uninterested()
      for (let i = 0; i < this.info.pieceCount; i++) {
        if (!this.sched.has(i) && peer.has(i)) return peer.wire.interested()
      }
      peer.wire.uninterested()
    }

    private violation(peer: Peer, err: ShoalError): void {
      log('warn', 'dropping peer', { peer: peer.addr, code: err.code, message: err.message })
      this.banned.add(peer.addr)
      this.emit('peer-violation', { addr: peer.addr, code: err.code })
      this.drop(peer, err.message)
    }

    private drop(peer: Peer, _why: string): void {
      peer.wire.destroy()
      peer.socket.destroy()
      this.forget(peer)
    }

    private forget(peer: Peer): void {
      if (this.peers.get(peer.key) !== peer) return
      this.peers.delete(peer.key)
      this.sched.addPeer(peer.has, -1)
      if (!peer.origin) this.near.addPeer(peer.distance, peer.has, -1)
      if (peer.rackKey !== undefined) this.near.rackPeer(peer.rackKey, -1)
      this.superSeed?.peerGone(peer.key)
      for (const d of peer.downloads.values()) {
        d.cancelled = true
        this.sched.finish(d.index)
      }
      peer.downloads.clear()
      // Other peers may hold what this one was sending.
      for (const p of this.peers.values()) this.fill(p)
    }

    // ---- serving -----------------------------------------------------------------------------
    private serve(peer: Peer, i: number, offset: number, length: number, respond: (err: Error | null, block?: Uint8Array) => void): void {
      if (i >= this.info.pieceCount || length === 0 || length > MAX_REQUEST || offset + length > pieceSize(this.info, i)) {
        return this.violation(peer, new PeerProtocolError(`Peer ${peer.addr} asked for ${length} bytes at ${offset} of piece ${i}`))
      }
      // Only verified, stored pieces are ever sent on.
      if (!this.stored[i]) return respond(new Error('piece not held'))
      const send = (): void => {
        this.pieceData(i).then(
          (data) => {
            if (data.length < offset + length) return respond(new Error('short read'))
            this.s.uploaded += length
            totals.uploaded += length
            respond(null, data.subarray(offset, offset + length))
            this.countDelivery(peer, i, length)
          },
          (err: Error) => respond(err),
        )
      }
      const wait = up?.take(length) ?? 0
      if (wait > 0) this.later(wait, send)
      else send()
    }

    /**
     * A stored piece, whole, from a small in-memory cache: in a rollout peers ask for the
     * pieces a host has just announced, 16 KiB at a time, and one read per piece instead of
     * one per block took a fetcher's upload CPU from a third of its time to noise.
     */
    private readonly cache = new Map<number, Promise<Uint8Array>>()
    private cachedBytes = 0
    private pieceData(i: number): Promise<Uint8Array> {
      const hit = this.cache.get(i)
      if (hit) {
        this.cache.delete(i) // refresh its place in the LRU order
        this.cache.set(i, hit)
        return hit
      }
      const read = this.file.read(i, 0, pieceSize(this.info, i))
      read.catch(() => this.uncache(i))
      this.remember(i, read, pieceSize(this.info, i))
      return read
    }

    private remember(i: number, data: Promise<Uint8Array>, size: number): void {
      this.uncache(i)
      this.cache.set(i, data)
      this.cachedBytes += size
      for (const k of this.cache.keys()) {
        if (this.cachedBytes <= pieceCacheBytes || this.cache.size <= 1) break
        this.uncache(k)
      }
    }

    private uncache(i: number): void {
      if (this.cache.delete(i)) this.cachedBytes -= pieceSize(this.info, i)
    }

    private countDelivery(peer: Peer, i: number, length: number): void {
      if (this.delivered.has(i)) return
      const sent = (peer.sent ??= new Map<number, number>())
      const total = (sent.get(i) ?? 0) + length
      if (total < pieceSize(this.info, i)) return void sent.set(i, total)
      sent.delete(i)
      this.delivered.add(i)
      this.s.piecesDelivered = this.delivered.size
    }

    private later(ms: number, fn: () => void): void {
      const t = setTimeout(() => {
        this.timers.delete(t)
        if (!this.closed) fn()
      }, ms)
      this.timers.add(t)
    }

    // ---- downloading -------------------------------------------------------------------------
    fill(peer: Peer): void {
      if (this.closed || this.sched.missing === 0 || peer.wire.peerChoking || !peer.wire.amInterested || peer.wire.destroyed) return
      const block = peer.shoal ? SHOAL_BLOCK : BLOCK
      const pipeline = Math.max(2, Math.floor(pipelineBytes / block))
      const maxPieces = Math.ceil(pipelineBytes / this.info.pieceLength) + 1
      while (peer.outstanding < pipeline) {
        let d: Download | undefined
        for (const x of peer.downloads.values()) {
          if (!x.cancelled && (x.retry.length || x.next < x.size)) {
            d = x
            break
          }
        }
        if (!d) {
          if (peer.downloads.size >= maxPieces) return
          const i = choosePiece(this.sched, this.near, peer, new Set(peer.downloads.keys()), () => this.idle())
          if (i === undefined) return
          const size = pieceSize(this.info, i)
          d = { index: i, size, data: Buffer.allocUnsafe(size), received: 0, next: 0, retry: [], cancelled: false }
          peer.downloads.set(i, d)
          this.sched.start(i)
        }
        const offset = d.retry.pop() ?? d.next
        if (offset === d.next) d.next += block
        const length = Math.min(block, d.size - offset)
        // The limiter runs into debt rather than refusing: the bytes are reserved now and the
        // request goes out when the debt is paid.
        const wait = down?.take(length) ?? 0
        peer.outstanding++
        const dl = d
        const send = (): void => {
          if (dl.cancelled || peer.wire.destroyed) {
            peer.outstanding--
            if (!dl.cancelled) dl.retry.push(offset)
            return
          }
          peer.wire.request(dl.index, offset, length, (err, block) => this.onBlock(peer, dl, offset, length, err, block))
        }
        if (wait > 0) this.later(wait, send)
        else send()
      }
    }

    private onBlock(peer: Peer, d: Download, offset: number, length: number, err: Error | null, block: Uint8Array | null): void {
      peer.outstanding--
      if (d.cancelled || this.closed) return this.fill(peer)
      if (err || !block || block.length !== length) {
        d.retry.push(offset)
        if (!peer.wire.destroyed) this.fill(peer)
        return
      }
      d.data.set(block, offset)
      d.received += length
      totals.downloaded += length
      if (peer.origin) this.s.bytesFromOrigin += length
      else this.s.bytesFromPeers += length
      this.lastProgress = performance.now()
      if (d.received === d.size) {
        peer.downloads.delete(d.index)
        this.sched.finish(d.index)
        if (pieceMatches(this.info, d.index, d.data)) void this.store(d.index, d.data)
        else {
          this.s.hashFailures++
          this.emit('hash-failure', { index: d.index, addr: peer.addr })
          this.violation(peer, new PieceHashMismatchError(`Piece ${d.index} from ${peer.addr} does not match its hash; its data was thrown away`))
          return
        }
        // Nothing coming from anyone: peers outside the rack may now be asked for pieces this
        // host does not own (see choosePiece), so ask them all again.
        if (this.idle()) {
          for (const p of this.peers.values()) this.fill(p)
          return
        }
      }
      this.fill(peer)
    }

    /**
     * A peer now holds piece i: a request for it to the origin that has not started to arrive is
     * cancelled (BEP 3), so the origin's queue carries only pieces nobody else has and the piece
     * is asked of the peer instead (the origin's request keeps it marked as under way till then).
     */
    private withdrawFromOrigin(i: number): void {
      // Runs on every HAVE: most pieces announced are not under way here at all.
      if (this.sched.active(i) === 0) return
      for (const p of this.peers.values()) {
        if (!p.origin) continue
        const d = p.downloads.get(i)
        if (!d || d.received > 0) continue
        d.cancelled = true
        p.downloads.delete(i)
        this.sched.finish(i)
        const block = p.shoal ? SHOAL_BLOCK : BLOCK
        for (let offset = 0; offset < d.next; offset += block) p.wire.cancel(i, offset, Math.min(block, d.size - offset))
        this.fill(p)
      }
    }

    private idle(): boolean {
      for (const p of this.peers.values()) if (p.downloads.size > 0) return false
      return true
    }

    private async store(i: number, data: Uint8Array): Promise<void> {
      if (this.sched.has(i)) return // another peer's copy won the end game
      this.sched.markHave(i)
      for (const p of this.peers.values()) {
        const d = p.downloads.get(i)
        if (d) {
          d.cancelled = true
          p.downloads.delete(i)
          this.sched.finish(i)
        }
      }
      try {
        await this.file.write(i, data)
      } catch (err) {
        return this.fail(err)
      }
      if (this.closed) return
      this.remember(i, Promise.resolve(data), data.length)
      this.stored[i] = 1
      this.s.bytesDone += data.length
      this.emit('piece', i)
      for (const p of this.peers.values()) {
        p.wire.have(i)
        if (this.sched.missing === 0) p.wire.uninterested()
      }
      // Complete once every piece is stored, not merely verified (writes finish out of order).
      if (this.s.bytesDone === this.info.length) this.complete()
    }

    private complete(): void {
      if (this.finished) return
      this.finished = true
      this.file.sync().then(
        () => {
          this.resolveDone()
          this.emit('done')
          if (this.failures === 0) this.scheduleAnnounce(0, 'completed')
        },
        (err: unknown) => this.fail(err),
      )
    }

    fail(err: unknown): void {
      const e = err instanceof ShoalError ? err : fromSystemError(err, 'store a piece', this.file.path)
      if (this.closed) return
      log('warn', 'torrent failed', { infoHash: this.info.infoHash, code: e.code, message: e.message })
      this.rejectDone(e)
      this.emit('failed', e)
      void this.close()
    }

    // ---- web seed (BEP 19) -------------------------------------------------------------------
    private webSeedTick(): void {
      if (this.closed || this.sched.missing === 0 || !this.webSeeds.length) return
      const now = performance.now()
      if (now - this.lastProgress < webSeedAfterMs || now < this.webBackoffUntil || this.webBusy.size >= 2) return
      const i = this.sched.pick(() => true, this.webBusy)
      if (i === undefined) return
      this.webBusy.add(i)
      this.sched.start(i)
      void this.fetchFromWebSeed(i).finally(() => {
        this.webBusy.delete(i)
        this.sched.finish(i)
      })
    }

    private async fetchFromWebSeed(i: number): Promise<void> {
      const url = this.webSeeds[Math.floor(random() * this.webSeeds.length)]!
      const start = i * this.info.pieceLength
      const size = pieceSize(this.info, i)
      try {
        const headers: Record<string, string> = { range: `bytes=${start}-${start + size - 1}` }
        if (this.webSeedToken) headers.authorization = `Bearer ${this.webSeedToken}`
        const res = await httpFetch(url, { headers, signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(30_000)]) })
        if (res.status !== 206) {
          await res.body?.cancel().catch(() => {})
          throw new Error(`web seed answered ${res.status}`)
        }
        // Exactly one piece: a web seed that sends more (or never stops) is cut off there.
        const data = await readBodyLimited(res, size, `piece ${i} from the web seed`)
        const wait = down?.take(data.length) ?? 0
        if (wait > 0) await new Promise<void>((r) => this.later(wait, r))
        if (!pieceMatches(this.info, i, data)) {
          this.s.hashFailures++
          this.emit('hash-failure', { index: i, addr: url })
          throw new Error(`piece ${i} from the web seed does not match its hash`)
        }
        this.s.bytesFromOrigin += data.length
        totals.downloaded += data.length
        await this.store(i, data)
      } catch (err) {
        if (this.closed) return
        this.webBackoffUntil = performance.now() + 2_000
        log('warn', 'web seed failed', { url: redactSeedUrl(url), piece: i, message: (err as Error).message })
      }
    }

    private closing?: Promise<void>
    close(): Promise<void> {
      return (this.closing ??= this.doClose())
    }

    private async doClose(): Promise<void> {
      if (this.announceUrls.length && !stopped) {
        // Tell the tracker we left, but never wait long for it.
        await this.announceNowStopped().catch(() => {})
      }
      this.closed = true
      this.abort.abort()
      clearTimeout(this.announceTimer)
      for (const t of this.timers) clearTimeout(t)
      this.timers.clear()
      for (const p of [...this.peers.values()]) this.drop(p, 'closing')
      this.cache.clear()
      await this.file.close().catch(() => {})
      sessions.delete(this.info.infoHash)
    }

    private async announceNowStopped(): Promise<void> {
      await Promise.any(
        this.announceUrls.map((url) =>
          announce({ url, infoHash: this.info.infoHash, peerId, port, uploaded: this.s.uploaded, downloaded: 0, left: this.info.length - this.s.bytesDone, event: 'stopped', signal: AbortSignal.timeout(1_000), fetch: httpFetch }),
        ),
      )
    }
  }

  function pipe(socket: Socket, wire: Wire): void {
    socket.setNoDelay(true)
    const framer = createMessageFramer({ maxMessageBytes: MAX_BUFFERED })
    socket.on('data', (chunk: Buffer) => {
      let whole: Uint8Array | undefined
      try {
        whole = framer.push(chunk)
      } catch (err) {
        log('warn', 'dropping peer', { peer: `${socket.remoteAddress}:${socket.remotePort}`, code: (err as ShoalError).code, message: (err as Error).message })
        wire.destroy()
        return void socket.destroy()
      }
      if (whole && !wire.write(whole)) {
        socket.pause()
        wire.once('drain', () => socket.resume())
      }
    })
    wire.pipe(socket)
    socket.on('error', () => wire.destroy())
    socket.on('close', () => wire.destroy())
    wire.on('close', () => socket.destroy())
  }

  function onIncoming(socket: Socket): void {
    if (stopped) return void socket.destroy()
    const addr = `${socket.remoteAddress}:${socket.remotePort}`
    const wire = new Wire('tcpIncoming')
    pipe(socket, wire)
    socket.setTimeout(10_000, () => socket.destroy())
    wire.once('handshake', (infoHash: string, remoteId: string) => {
      const s = sessions.get(infoHash)
      if (!s) {
        wire.destroy()
        return void socket.destroy()
      }
      socket.setTimeout(0)
      wire.handshake(infoHash, peerId)
      s.attach(wire, socket, remoteId, addr, false)
    })
  }

  return {
    peerId,
    get port() {
      return port
    },
    async start() {
      if (server) return
      stopped = false
      server = createServer(onIncoming)
      await new Promise<void>((resolve, reject) => {
        server!.once('error', reject)
        server!.listen(init.port ?? 0, init.listenHost, () => resolve())
      }).catch((err: unknown) => {
        throw fromSystemError(err, `listen for peers on port ${init.port ?? 0}`)
      })
      port = (server.address() as { port: number }).port
    },
    async stop() {
      for (const s of [...sessions.values()]) await s.close()
      stopped = true
      if (server) {
        const s = server
        server = undefined
        await new Promise<void>((resolve) => s.close(() => resolve()))
      }
    },
    add(info, file, options = {}) {
      if (sessions.has(info.infoHash)) throw new RangeError(`torrent ${info.infoHash} is already added`)
      const s = new SessionImpl(info, file, options)
      sessions.set(info.infoHash, s)
      return s
    },
    get: (infoHash) => sessions.get(infoHash),
    list: () => [...sessions.values()],
    async remove(infoHash) {
      await sessions.get(infoHash)?.close()
    },
    totals: () => ({ ...totals }),
  }
}
