import { PieceHashMismatchError, type ShoalError } from '../core/index.js'
import { choosePiece } from './choose-piece.js'
import { isPending } from './peer-link.js'
import { pipelineBounds, pipelineGauges } from './pipeline-depth.js'
import { holdPieceBuffer, releasePieceBuffer, takePieceBuffer } from './piece-buffers.js'
import { BLOCK, SHOAL_BLOCK, type Download, type Peer, type SessionContext } from './session-context.js'
import { pieceMatches, pieceSize } from './torrent-info.js'

export interface Downloader {
  /** Keeps `peer`'s request pipeline full with the pieces choosePiece gives. */
  fill(peer: Peer): void
  /** A peer announced piece `index`: an origin request for it that has not started is withdrawn. */
  peerHas(peer: Peer, index: number): void
  /** Stores a verified piece (from a peer or a web seed), tells every peer, completes the torrent. */
  store(index: number, data: Uint8Array): Promise<void>
  /**
   * Where a block arriving from `peer` goes: its place in the piece under way, if it is one this
   * side asked the peer for (so it is written where it belongs as it arrives, not copied after).
   */
  target(peer: Peer, index: number, offset: number, length: number): Uint8Array | undefined
  /** A peer left: its pieces under way go back to the scheduler. */
  release(peer: Peer): void
  /** When the last byte from any source arrived (for the web seed fallback). */
  readonly lastProgress: number
}

export interface DownloaderInit {
  /** Bytes asked of one peer at once at first and at least; it grows with the peer's measured rate. */
  pipelineBytes: number
  /** The most asked of one peer at once (default 16 MiB, or pipelineBytes if larger). */
  maxPipelineBytes?: number
  violation: (peer: Peer, err: ShoalError) => void
  /** Every piece is stored (writes finish out of order: only then, not when the last piece verified). */
  complete: () => void
  /** Storing failed for good (a full disk). */
  fail: (err: unknown) => void
  /** A piece was stored (to keep it at hand for serving). */
  stored: (index: number, data: Uint8Array) => void
}

/**
 * The fetching side of a torrent: whole pieces asked of each peer in blocks, up to the pipeline,
 * picked by choosePiece (rarest first, rack-aware, the origin only for what nobody else holds);
 * each piece checked against its SHA-1 before it is stored (a peer whose piece fails is dropped
 * and banned); the download limiter runs into debt rather than refusing.
 */
export function createDownloader(ctx: SessionContext, init: DownloaderInit): Downloader {
  const { info, sched, near, peers, counters } = ctx
  let lastProgress = performance.now()

  const idle = (): boolean => isIdle(peers)
  /**
   * Per peer: how much to keep asked (the connection's bandwidth-delay product, measured), and
   * never less than a whole piece (up to the ceiling): below that, a piece asked of a far peer
   * takes two round trips however idle the link, with no more pieces under way to show for it.
   */
  const gaugeOf = pipelineGauges<Peer>(pipelineBounds(init.pipelineBytes, info.pieceLength, init.maxPipelineBytes))

  const fill = (peer: Peer): void => {
    if (ctx.closed() || sched.missing === 0 || peer.wire.peerChoking || !peer.wire.amInterested || peer.wire.destroyed) return
    const block = peer.shoal ? SHOAL_BLOCK : BLOCK
    const pipelineBytes = gaugeOf(peer).bytes
    const pipeline = Math.max(2, Math.floor(pipelineBytes / block))
    const maxPieces = Math.ceil(pipelineBytes / info.pieceLength) + 1
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
        const i = choosePiece(sched, near, peer, new Set(peer.downloads.keys()), idle)
        if (i === undefined) return
        d = startDownload(ctx, i, block)
        peer.downloads.set(i, d)
        sched.start(i)
      }
      const offset = d.retry.pop() ?? d.next
      if (offset === d.next) d.next += d.block
      const length = Math.min(d.block, d.size - offset)
      // The limiter runs into debt rather than refusing: the bytes are reserved now and the
      // request goes out when the debt is paid.
      const wait = ctx.limits.down?.take(length) ?? 0
      peer.outstanding++
      const dl = d
      const send = (): void => {
        if (dl.cancelled || peer.wire.destroyed) {
          peer.outstanding--
          if (!dl.cancelled) dl.retry.push(offset)
          return
        }
        const at = performance.now()
        peer.wire.request(dl.index, offset, length, (err, b) => onBlock(peer, dl, offset, length, err, b, at))
      }
      if (wait > 0) ctx.later(wait, send)
      else send()
    }
  }

  const onBlock = (peer: Peer, d: Download, offset: number, length: number, err: Error | null, block: Uint8Array | null, askedAt: number): void => {
    peer.outstanding--
    if (d.cancelled || ctx.closed()) return fill(peer)
    if (err || !block || block.length !== length) {
      d.retry.push(offset)
      if (!peer.wire.destroyed) fill(peer)
      return
    }
    // A block streamed into its place (see target) is already there.
    if (block.buffer !== d.data.buffer || block.byteOffset !== d.data.byteOffset + offset) d.data.set(block, offset)
    d.received += length
    const now = performance.now()
    gaugeOf(peer).received(length, now, now - askedAt)
    countBlock(ctx, peer, d.index, length)
    lastProgress = performance.now()
    if (d.received === d.size) {
      peer.downloads.delete(d.index)
      sched.finish(d.index)
      // Every block asked for has arrived, so none is still streaming into d.data: the download
      // lets go of its buffer here (store holds it for the write and the cache), never earlier.
      if (pieceMatches(info, d.index, d.data)) {
        if (d.partial) counters.bytesDerived += d.partial.known
        void store(d.index, d.data)
        releasePieceBuffer(d.data)
      } else if (d.partial && ctx.partials.get(d.index) === d.partial) {
        // The derived bytes or the peer's may be wrong: the piece is fetched whole from now on,
        // and a peer is blamed only for a whole piece that fails.
        ctx.partials.delete(d.index)
        counters.hashFailures++
        ctx.events.emit('derived-mismatch', { index: d.index, addr: peer.addr })
      } else {
        releasePieceBuffer(d.data)
        counters.hashFailures++
        ctx.events.emit('hash-failure', { index: d.index, addr: peer.addr })
        init.violation(peer, new PieceHashMismatchError(`Piece ${d.index} from ${peer.addr} does not match its hash; its data was thrown away`))
        return
      }
      // Nothing coming from anyone: peers outside the rack may now be asked for pieces this
      // host does not own (see choosePiece), so ask them all again.
      if (idle()) {
        for (const p of peers.values()) fill(p)
        return
      }
    }
    fill(peer)
  }

  const store = async (i: number, data: Uint8Array): Promise<void> => {
    if (sched.has(i)) return // another peer's copy won the end game
    sched.markHave(i)
    for (const p of peers.values()) dropDownload(ctx, p, i)
    holdPieceBuffer(data) // for the write, and until the serving cache holds it
    try {
      await ctx.file.write(i, data)
    } catch (err) {
      releasePieceBuffer(data)
      return init.fail(err)
    }
    if (!ctx.closed()) init.stored(i, data)
    releasePieceBuffer(data)
    if (ctx.closed()) return
    ctx.stored[i] = 1
    counters.bytesDone += data.length
    ctx.events.emit('piece', i)
    for (const p of peers.values()) {
      p.wire.have(i)
      if (sched.missing === 0) p.wire.uninterested()
    }
    if (counters.bytesDone === info.length) init.complete()
  }

  return {
    fill,
    peerHas(peer, i) {
      if (!peer.origin) withdrawFromOrigin(ctx, i, fill)
    },
    store,
    target(peer, i, offset, length) {
      const t = blockTarget(peer, i, offset, length)
      if (!t) counters.bytesWasted += length // not asked for, or no longer wanted: read and dropped
      return t
    },
    release: (peer) => releaseDownloads(sched, peer),
    get lastProgress() {
      return lastProgress
    },
  }
}

/** Where a block arriving from `peer` goes (Downloader.target): only a block this side asked it for. */
function blockTarget(peer: Peer, i: number, offset: number, length: number): Uint8Array | undefined {
  const d = peer.downloads.get(i)
  if (!d || d.cancelled || offset + length > d.size) return undefined
  if (!isPending(peer.wire.requests, i, offset, length)) return undefined
  return d.data.subarray(offset, offset + length)
}

/** A peer left: its pieces under way go back to the scheduler (Downloader.release). */
function releaseDownloads(sched: SessionContext['sched'], peer: Peer): void {
  for (const d of peer.downloads.values()) {
    d.cancelled = true
    sched.finish(d.index)
  }
  peer.downloads.clear()
}

/** A new download of piece i: whole, or only the blocks not derived locally. */
function startDownload(ctx: SessionContext, i: number, block: number): Download {
  const size = pieceSize(ctx.info, i)
  const partial = ctx.partials.get(i)
  // A cancelled download keeps its buffer (a block may still be streaming into it): only one
  // that completed lets go of it for reuse.
  if (!partial) return { index: i, size, data: takePieceBuffer(size, ctx.info.pieceLength), received: 0, next: 0, retry: [], cancelled: false, block }
  // Each download fills its own copy: a peer's wrong bytes never reach the derived ones.
  return { index: i, size, data: Buffer.from(partial.data), received: partial.known, next: size, retry: [...partial.missing].reverse(), cancelled: false, block: BLOCK, partial }
}

/** A block's bytes counted by where they came from (the session's figures). */
function countBlock(ctx: SessionContext, peer: Peer, i: number, length: number): void {
  const c = ctx.counters
  ctx.totals.downloaded += length
  if (peer.origin) return void (c.bytesFromOrigin += length)
  c.bytesFromPeers += length
  if (peer.distance === 0) return
  c.bytesFromOtherRacks += length
  if (ctx.near && !ctx.near.owns(i)) c.bytesFromOtherRacksUnowned += length
}

/**
 * Piece i is stored: `peer`'s download of it, if any (the end game asks several), ends, and what
 * is still asked of the peer for it is withdrawn (BEP 3 CANCEL; each request's callback runs with
 * an error, so the pipeline it held is free at once). Without the CANCEL the peer sends the rest
 * of the piece for nothing, through the rack's uplink too.
 */
function dropDownload(ctx: SessionContext, peer: Peer, i: number): void {
  const d = peer.downloads.get(i)
  if (!d) return
  d.cancelled = true
  peer.downloads.delete(i)
  ctx.sched.finish(i)
  if (peer.wire.destroyed) return
  for (const r of peer.wire.requests.filter((q) => q.piece === i)) peer.wire.cancel(i, r.offset, r.length)
}

/** No download under way from any peer. */
function isIdle(peers: Map<string, Peer>): boolean {
  for (const p of peers.values()) if (p.downloads.size > 0) return false
  return true
}

/**
 * A peer now holds piece i: a request for it to the origin that has not started to arrive is
 * cancelled (BEP 3), so the origin's queue carries only pieces nobody else has and the piece is
 * asked of the peer instead (the origin's request keeps it marked as under way till then).
 */
function withdrawFromOrigin(ctx: SessionContext, i: number, fill: (peer: Peer) => void): void {
  // Runs on every HAVE: most pieces announced are not under way here at all.
  if (ctx.sched.active(i) === 0) return
  for (const p of ctx.peers.values()) {
    if (!p.origin) continue
    const d = p.downloads.get(i)
    if (!d || d.received > (d.partial?.known ?? 0)) continue
    d.cancelled = true
    p.downloads.delete(i)
    ctx.sched.finish(i)
    const asked = d.partial ? d.partial.missing.filter((o) => !d.retry.includes(o)) : Array.from({ length: Math.ceil(d.next / d.block) }, (_, k) => k * d.block)
    for (const offset of asked) p.wire.cancel(i, offset, Math.min(d.block, d.size - offset))
    fill(p)
  }
}
