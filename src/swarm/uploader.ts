import { PeerProtocolError, type ShoalError } from '../core/index.js'
import { isPending, onWritten, unsentBytes } from './peer-link.js'
import { releasePieceBuffer } from './piece-buffers.js'
import { createPieceCache } from './piece-cache.js'
import { MAX_REQUEST, type Peer, type SessionContext } from './session-context.js'
import { pieceSize } from './torrent-info.js'

/**
 * Bytes of blocks a link may hold unsent (codec and socket buffers, and reads under way) before
 * further requests wait: about 40 ms at 100 Mbit/s, under a millisecond at 10 Gbit/s, where the
 * kernel's own socket buffer (megabytes) keeps the link busy.
 */
const UPLOAD_BACKLOG = 512 << 10

/**
 * Requests one peer may have waiting (the codec keeps each until answered or cancelled): 32 MiB
 * in 16 KiB blocks, twice the most this side ever asks of one peer. More is a protocol violation.
 */
export const MAX_PEER_REQUESTS = 2048

export interface Uploader {
  /** Answers one BEP 3 request; a request out of bounds is a protocol violation (the peer is dropped). */
  serve(peer: Peer, index: number, offset: number, length: number, respond: (err: Error | null, block?: Uint8Array) => void): void
  /** A piece just stored: keep it at hand, peers ask for it next. */
  stored(index: number, data: Uint8Array): void
  close(): void
}

/**
 * The serving side of a torrent: only verified, stored pieces are ever sent on, through the
 * upload limiter, from a cache of recent pieces; and the origin's progress (pieces sent whole at
 * least once) is counted, since a swarm that has every piece can finish without the origin.
 */
export function createUploader(ctx: SessionContext, init: { cacheBytes: number; violation: (peer: Peer, err: ShoalError) => void; sentWhole?: (peer: Peer, index: number) => void }): Uploader {
  const { info } = ctx
  const cache = createPieceCache({ maxBytes: init.cacheBytes, pieceLength: info.pieceLength, sizeOf: (i) => pieceSize(info, i), read: (i, into) => ctx.file.read(i, 0, pieceSize(info, i), into) })
  const delivered = new Set<number>()

  // Counted per peer for pieces not yet delivered once, and at the origin for the pieces it showed
  // another client (its reveal moves on when one has gone out whole; a Shoal host announces each
  // piece at once, and revealing before its HAVE measurably made the origin send more: 1.72-1.78x
  // the bundle instead of 1.22-1.41x in swarm-node's 6-host test); so the map holds at most one
  // entry per piece the peer asked for.
  const countDelivery = (peer: Peer, i: number, length: number): void => {
    const shown = !peer.shoal && (ctx.superSeed?.revealedTo(peer.key).has(i) ?? false)
    if (delivered.has(i) && !shown) return
    const sent = (peer.sent ??= new Map<number, number>())
    const total = (sent.get(i) ?? 0) + length
    if (total < pieceSize(info, i)) return void sent.set(i, total)
    sent.delete(i)
    if (!delivered.has(i)) {
      delivered.add(i)
      ctx.counters.piecesDelivered = delivered.size
    }
    if (shown) init.sentWhole?.(peer, i)
  }

  // Requests beyond what the link should hold wait here, in order, where a CANCEL still reaches
  // them (once in the codec's or the socket's buffer a block goes out whatever the peer says).
  type Backlog = { reading: number; parked: (() => void)[] }
  const backlogs = new WeakMap<Peer, Backlog>()
  /** May the link take another block now (what it holds unsent, reads included, under the backlog)? */
  const room = (peer: Peer, b: Backlog): boolean => unsentBytes(peer.wire, peer.socket) + b.reading < UPLOAD_BACKLOG
  /** Sends what waits while the link has room (or is gone: each parked send then finds it so). */
  const wake = (peer: Peer, b: Backlog): void => {
    while (b.parked.length > 0 && (peer.socket.destroyed || room(peer, b))) b.parked.shift()!()
  }
  const backlogOf = (peer: Peer): Backlog => {
    let b = backlogs.get(peer)
    if (!b) {
      const made: Backlog = { reading: 0, parked: [] }
      backlogs.set(peer, (b = made))
      onWritten(peer.socket, () => wake(peer, made))
    }
    return b
  }

  return {
    serve(peer, i, offset, length, respond) {
      if (peer.socket.destroyed) return // dropped: what it sent in the same read goes unanswered
      if (i >= info.pieceCount || length === 0 || length > MAX_REQUEST || offset + length > pieceSize(info, i)) {
        return init.violation(peer, new PeerProtocolError(`Peer ${peer.addr} asked for ${length} bytes at ${offset} of piece ${i}`))
      }
      if (peer.wire.peerRequests.length > MAX_PEER_REQUESTS) {
        return init.violation(peer, new PeerProtocolError(`Peer ${peer.addr} has more than ${MAX_PEER_REQUESTS} requests waiting`))
      }
      if (!ctx.stored[i]) return respond(new Error('piece not held'))
      const backlog = backlogOf(peer)
      const send = (): void => {
        if (peer.wire.destroyed || !isPending(peer.wire.peerRequests, i, offset, length)) return // cancelled while parked
        backlog.reading += length
        // The piece buffer is held for this block until the socket has written it (peer-link's
        // sendCorked lets go); on every other way out, here.
        const { buf, data } = cache.get(i)
        data.then(
          (piece) => {
            backlog.reading -= length
            if (piece.length < offset + length) {
              releasePieceBuffer(buf)
              respond(new Error('short read'))
              return wake(peer, backlog)
            }
            if (peer.wire.destroyed || !isPending(peer.wire.peerRequests, i, offset, length)) {
              releasePieceBuffer(buf) // cancelled, or the link is gone: the codec would send nothing
              // and no write callback would come: what waited behind this read goes now.
              return wake(peer, backlog)
            }
            ctx.counters.uploaded += length
            ctx.totals.uploaded += length
            respond(null, piece.subarray(offset, offset + length)) // its write callback wakes the rest
            countDelivery(peer, i, length)
          },
          (err: Error) => {
            backlog.reading -= length
            releasePieceBuffer(buf)
            respond(err)
            wake(peer, backlog)
          },
        )
      }
      const go = (): void => {
        if (backlog.parked.length > 0 || !room(peer, backlog)) backlog.parked.push(send)
        else send()
      }
      const wait = ctx.limits.up?.take(length) ?? 0
      if (wait > 0) ctx.later(wait, go)
      else go()
    },
    stored: (i, data) => cache.put(i, data),
    close: () => cache.clear(),
  }
}
