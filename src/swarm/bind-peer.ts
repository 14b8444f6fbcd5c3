import { PeerProtocolError, type ShoalError } from '../core/index.js'
import type { Downloader } from './downloader.js'
import { setBlockTarget } from './peer-link.js'
import { encodeBitfield } from './piece-scheduler.js'
import type { Peer, SessionContext } from './session-context.js'
import type { Uploader } from './uploader.js'

/**
 * A new peer's wire events, bound to the torrent: what it holds (bitfield, HAVE) feeds the
 * scheduler, the rack counts and the origin's reveal, and keeps requests flowing; its requests go
 * to the uploader. Then it is told what this side holds: the origin reveals a few pieces (BEP 16),
 * a host sends its bitfield.
 */
export function bindPeer(ctx: SessionContext, peer: Peer, parts: { downloader: Downloader; uploader: Uploader; violation: (peer: Peer, err: ShoalError) => void }): void {
  const { wire } = peer
  const { sched, near, info, superSeed } = ctx
  const { downloader, uploader } = parts
  const reveal = (): void => revealTo(ctx, peer)
  const updateInterest = (): void => {
    if (sched.missing === 0) return wire.uninterested()
    for (let i = 0; i < info.pieceCount; i++) {
      if (!sched.has(i) && peer.has(i)) return wire.interested()
    }
    wire.uninterested()
  }
  // What this peer's announcements added to the counts, piece by piece: the codec replaces its
  // view of the peer with every bitfield, and clients send more than one (aria2c does, after
  // HAVEs), so a bitfield counts only what changed. Counting each whole would inflate the counts
  // (which size the scheduler's classes) and leave pieces counted after the peer left.
  const counted = new Uint8Array(info.pieceCount)
  // Dropped (its counts taken back): the codec may still be parsing the rest of one read, whose
  // announcements would be counted again and never taken back.
  const gone = (): boolean => ctx.peers.get(peer.key) !== peer
  wire.on('bitfield', () => {
    if (gone()) return
    const changed = new Uint8Array(info.pieceCount) // 1 gained, 2 lost
    for (let i = 0; i < info.pieceCount; i++) {
      const has = peer.has(i) ? 1 : 0
      if (has !== counted[i]) changed[i] = has ? 1 : 2
      counted[i] = has
    }
    for (const [mark, delta] of [[1, 1], [2, -1]] as const) {
      const which = (i: number): boolean => changed[i] === mark
      sched.addPeer(which, delta)
      if (!peer.origin) near.addPeer(peer.distance, which, delta)
    }
    updateInterest()
    reveal()
    downloader.fill(peer)
  })
  wire.on('have', (i: number) => {
    if (gone()) return
    if (i >= info.pieceCount) return parts.violation(peer, new PeerProtocolError(`Peer ${peer.addr} announced piece ${i} of ${info.pieceCount}`))
    counted[i] = 1 // the codec passes on each piece's first HAVE only
    sched.addAvailability(i)
    // The origin is near to everyone but serves only what no peer holds: its pieces are not
    // copies the rack can fetch from, so they do not count as near.
    if (!peer.origin) near.add(peer.distance, i)
    downloader.peerHas(peer, i)
    superSeed?.peerHas(peer.key, i)
    if (!sched.has(i)) wire.interested()
    reveal()
    downloader.fill(peer)
  })
  setBlockTarget(wire, (i, offset, length) => downloader.target(peer, i, offset, length))
  wire.on('unchoke', () => downloader.fill(peer))
  // Without BEP 6, a choke drops every request in flight; their callbacks requeue them.
  wire.on('interested', () => wire.unchoke())
  wire.on('request', (i: number, offset: number, length: number, respond: (err: Error | null, block?: Uint8Array) => void) => uploader.serve(peer, i, offset, length, respond))
  wire.on('timeout', () => ctx.log('warn', 'peer request timed out', { peer: peer.addr }))
  // Other clients request at their own pulse (transmission: once a second) and announce pieces
  // in batches: they start with 4 MiB shown rather than growing to it one drained window at a time.
  if (superSeed && !peer.shoal) superSeed.widen(peer.key, Math.ceil((4 << 20) / info.pieceLength))
  if (superSeed) reveal()
  else if (ctx.counters.bytesDone > 0) wire.bitfield(encodeBitfield(ctx.stored))
  ctx.events.emit('peer', { addr: peer.addr, origin: peer.origin })
}

/** At the origin: shows the peer the next pieces it may fetch (BEP 16), as slots free up. */
export function revealTo(ctx: SessionContext, peer: Peer): void {
  const { superSeed } = ctx
  if (!superSeed || peer.wire.destroyed) return
  for (const i of superSeed.reveal(peer.key, peer.has)) peer.wire.have(i)
}
