import { createServer, type Server, type Socket } from 'node:net'
import Wire from 'bittorrent-protocol'
import { fromSystemError, tagOfPeerId, type Locality, type Log } from '../core/index.js'
import { linkWire, makePeerId } from './peer-link.js'
import type { PieceFile } from './piece-file.js'
import { createRateLimiter } from './rate-limiter.js'
import { refuseUtp, type UtpRefuser } from './refuse-utp.js'
import type { TorrentInfo } from './torrent-info.js'
import { createTorrentSession, type AddTorrentOptions, type TorrentSession, type TorrentSessionHandle } from './torrent-session.js'

export type { AddTorrentOptions, SessionStats, TorrentSession } from './torrent-session.js'

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
  log?: Log
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

/**
 * The peer wire engine shared by seeder and fetcher: one TCP listener, any number of torrents
 * (createTorrentSession), BEP 3 messages through bittorrent-protocol's codec, piece choice by the
 * pure scheduler, BEP 16 reveal at the origin, BEP 19 web seed fallback. No MSE: hosts are
 * authenticated by the tracker's passkey and the bundle digest is checked end to end.
 */
export function createSwarmNode(init: SwarmNodeInit): SwarmNode {
  const { role, random = Math.random, log = () => {} } = init
  const peerId = makePeerId(role, init.locality ?? {})
  const myKey = peerId.toString('hex')
  const sessions = new Map<string, TorrentSessionHandle>()
  const totals = { uploaded: 0, downloaded: 0 }
  const limits = { up: createRateLimiter(init.upLimit ?? 0), down: createRateLimiter(init.downLimit ?? 0) }
  const components = { limits, totals, random, fetch: init.fetch ?? fetch, log }
  let server: Server | undefined
  let utp: UtpRefuser | undefined
  let port = init.port ?? 0
  let stopped = false

  /** An incoming link: answered only for a torrent held here, within 10 s of connecting. */
  const onIncoming = (socket: Socket): void => {
    if (stopped) return void socket.destroy()
    const addr = `${socket.remoteAddress}:${socket.remotePort}`
    const wire = new Wire('tcpIncoming')
    linkWire(socket, wire, log)
    socket.setTimeout(10_000, () => socket.destroy())
    wire.once('handshake', (infoHash: string, remoteId: string) => {
      const s = sessions.get(infoHash)
      if (!s) {
        wire.destroy()
        return void socket.destroy()
      }
      socket.setTimeout(0)
      wire.handshake(infoHash, peerId)
      s.attach(wire, socket, remoteId, addr)
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
      utp = await refuseUtp({ port, host: init.listenHost, log })
    },
    async stop() {
      for (const s of [...sessions.values()]) await s.close()
      stopped = true
      await utp?.close()
      utp = undefined
      if (server) {
        const s = server
        server = undefined
        await new Promise<void>((resolve) => s.close(() => resolve()))
      }
    },
    add(info, file, options = {}) {
      if (sessions.has(info.infoHash)) throw new RangeError(`torrent ${info.infoHash} is already added`)
      const s = createTorrentSession(
        {
          ...options,
          info,
          file,
          peerId,
          myKey,
          myTag: tagOfPeerId(myKey),
          port: () => port,
          maxConns: init.maxConns ?? 50,
          maxConnsPerIp: init.maxConnsPerIp ?? 16,
          pipelineBytes: init.pipelineBytes ?? 512 << 10,
          requestTimeoutMs: init.requestTimeoutMs ?? 20_000,
          webSeedAfterMs: init.webSeedAfterMs ?? 4_000,
          pieceCacheBytes: init.pieceCacheBytes ?? 32 << 20,
          nodeStopping: () => stopped,
          onClosed: () => sessions.delete(info.infoHash),
        },
        components,
      )
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
