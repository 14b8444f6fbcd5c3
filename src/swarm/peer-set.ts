import { connect, type Socket } from 'node:net'
import Wire from 'bittorrent-protocol'
import { distanceBetween, isRackMember, peerKey, tagOfPeerId, type Log, type ShoalError } from '../core/index.js'
import { admitPeer, connReserve } from './admit-peer.js'
import type { PeerAddress } from './announce.js'
import { addrKey, linkWire, plainIp, reusedReads } from './peer-link.js'
import type { Peer, SessionContext } from './session-context.js'

/** Links treated as the origin's at once per torrent (a few seeders). */
const MAX_ORIGIN_LINKS = 8
const ORIGIN_PREFIX_HEX = Buffer.from('-SO').toString('hex')
const SHOAL_PREFIX_HEX = Buffer.from('-SH').toString('hex')

export interface PeerSetInit {
  /** This node's peer id, hex, and its locality tag ('' when it states none). */
  myKey: string
  myTag: string
  myPeerId: Buffer
  maxConns: number
  maxConnsPerIp: number
  requestTimeoutMs: number
  /** A new peer is linked: bind its wire's events. */
  onPeer(peer: Peer): void
  /** A peer is gone (after its own bookkeeping is undone). */
  onGone(peer: Peer): void
}

export interface PeerSet {
  /** Dials a peer (the tracker's answer, or a caller); `origin` vouches for it as the origin. */
  add(p: PeerAddress & { origin?: boolean }): void
  /** The origins the tracker vouches for (its answer's `origins`). */
  vouch(origins: PeerAddress[]): void
  /** A wire whose handshake is done, dialled by us (`outgoing`) or by the peer. */
  attach(wire: Wire, socket: Socket, remoteId: string, addr: string, outgoing: boolean): void
  /** A peer broke the protocol or sent bad data: dropped and never taken back. */
  violation(peer: Peer, err: ShoalError): void
  drop(peer: Peer): void
  close(): void
}

/**
 * The connections of one torrent: who is dialled (never a banned or known address, never more
 * than the slots allow, never the same address twice in 5 s), who is admitted (rack-aware slots,
 * admitPeer; at most maxConnsPerIp links from one address), which link is kept when both ends
 * dial each other, and who counts as the origin: a `-SO` peer at an address the tracker vouches
 * for, never one whose self-chosen peer id alone says so.
 */
export function createPeerSet(ctx: SessionContext, init: PeerSetInit, components: { log: Log }): PeerSet {
  const { myKey, myTag, maxConns, maxConnsPerIp } = init
  const { peers, sched, near, info } = ctx
  const connecting = new Set<string>()
  const banned = new Set<string>()
  const lastTried = new Map<string, number>()
  const originAddrs = new Set<string>()
  const originIps = new Set<string>()

  const vouchOne = (o: PeerAddress): void => {
    originAddrs.add(addrKey(`${o.host}:${o.port}`))
    originIps.add(plainIp(o.host))
  }

  const forget = (peer: Peer): void => {
    if (peers.get(peer.key) !== peer) return
    peers.delete(peer.key)
    sched.addPeer(peer.has, -1)
    if (!peer.origin) near.addPeer(peer.distance, peer.has, -1)
    if (peer.rackKey !== undefined) near.rackPeer(peer.rackKey, -1)
    ctx.superSeed?.peerGone(peer.key)
    init.onGone(peer)
  }

  const drop = (peer: Peer): void => {
    peer.wire.destroy()
    peer.socket.destroy()
    forget(peer)
  }

  const refuse = (wire: Wire, socket: Socket): void => {
    wire.destroy()
    socket.destroy()
  }

  const attach = (wire: Wire, socket: Socket, remoteId: string, addr: string, outgoing: boolean): void => {
    if (ctx.closed() || remoteId === myKey) {
      if (remoteId === myKey) banned.add(addr) // our own address, listed by the tracker
      return refuse(wire, socket)
    }
    const existing = peers.get(remoteId)
    if (existing) {
      // Both ends dialled each other: keep the connection opened by the lower peer id, which
      // both ends agree on without talking.
      const initiator = (p: { outgoing: boolean }, id: string): string => (p.outgoing ? myKey : id)
      if (initiator({ outgoing }, remoteId) < initiator(existing, remoteId)) drop(existing)
      else return refuse(wire, socket)
    }
    const theirTag = tagOfPeerId(remoteId)
    const distance = distanceBetween(myTag, theirTag)
    const rackMember = isRackMember(myTag, theirTag)
    // The origin: its id says so AND the tracker vouched for where it is (the address we dialled,
    // or for an incoming link the origin's IP), with at most MAX_ORIGIN_LINKS such links.
    const saysOrigin = remoteId.startsWith(ORIGIN_PREFIX_HEX)
    const vouched = outgoing ? originAddrs.has(addrKey(addr)) : originIps.has(plainIp(socket.remoteAddress ?? ''))
    const ip = plainIp(socket.remoteAddress ?? '')
    let originLinks = 0
    let fromIp = 0
    for (const p of peers.values()) {
      if (p.origin) originLinks++
      if (!p.outgoing && p.ip === ip) fromIp++
    }
    const origin = saysOrigin && vouched && originLinks < MAX_ORIGIN_LINKS
    if (!outgoing && !origin && fromIp >= maxConnsPerIp) return refuse(wire, socket)
    if (!admitPeer({ total: peers.size, rack: near.rackPeers }, { rackMember, distance, origin }, maxConns)) return refuse(wire, socket)
    const peer: Peer = {
      key: remoteId,
      addr,
      ip,
      outgoing,
      origin,
      shoal: origin || remoteId.startsWith(SHOAL_PREFIX_HEX),
      wire,
      socket,
      downloads: new Map(),
      outstanding: 0,
      has: (i) => wire.peerPieces.get(i),
      distance,
      rackKey: rackMember ? peerKey(remoteId) : undefined,
    }
    if (peer.rackKey !== undefined) near.rackPeer(peer.rackKey, 1)
    peers.set(remoteId, peer)
    wire.setKeepAlive(true)
    wire.setTimeout(init.requestTimeoutMs, true)
    socket.setTimeout(240_000, () => drop(peer))
    const gone = (): void => forget(peer)
    socket.once('close', gone)
    wire.once('close', gone)
    wire.on('error', () => {})
    init.onPeer(peer)
  }

  return {
    add(p) {
      const addr = `${p.host}:${p.port}`
      if (p.origin) vouchOne(p)
      if (ctx.closed() || banned.has(addr) || connecting.has(addr)) return
      for (const x of peers.values()) if (x.addr === addr) return
      // A host that states its locality may dial past maxConns for links out of its rack (admitPeer).
      if (peers.size + connecting.size >= maxConns + (myTag ? connReserve(maxConns) : 0)) return
      const last = lastTried.get(addr) ?? -Infinity
      if (performance.now() - last < 5_000) return
      lastTried.set(addr, performance.now())
      connecting.add(addr)
      const { onread, reads } = reusedReads()
      const socket = connect({ host: p.host, port: p.port, onread })
      socket.setTimeout(10_000, () => socket.destroy())
      socket.once('connect', () => {
        connecting.delete(addr)
        socket.setTimeout(0)
        const wire = new Wire('tcpOutgoing')
        linkWire(socket, wire, components.log, reads)
        wire.once('handshake', (infoHash: string, remoteId: string) => {
          if (infoHash !== info.infoHash) return wire.destroy()
          attach(wire, socket, remoteId, addr, true)
        })
        wire.handshake(info.infoHash, init.myPeerId)
      })
      socket.once('error', () => {})
      socket.once('close', () => connecting.delete(addr))
    },
    vouch: (origins) => origins.forEach(vouchOne),
    attach,
    violation(peer, err) {
      components.log('warn', 'dropping peer', { peer: peer.addr, code: err.code, message: err.message })
      banned.add(peer.addr)
      ctx.events.emit('peer-violation', { addr: peer.addr, code: err.code })
      drop(peer)
    },
    drop,
    close() {
      for (const p of [...peers.values()]) drop(p)
    },
  }
}
