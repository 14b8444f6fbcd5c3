import { compactAddress, encodeAnnounce, type AnnounceParams, type AnnounceResult } from './announce-wire.js'
import { selectPeers, tagOfPeerId } from '../core/index.js'

/**
 * The tracker's peer store, as pure code with flat per-announce cost (the HTTP wire format it
 * answers in is announce-wire.ts).
 *
 * Why not bittorrent-tracker's Server here: measured at 1,584 announces/s (opentracker: 12,876)
 * because its swarm is an LRU whose key list is rebuilt and walked on every announce (capped at
 * 1,000 peers, which a fleet outgrows), and each response re-parses every chosen peer's address
 * to build the compact list. This store keeps each peer's compact bytes ready and samples peers
 * in O(numwant).
 */

export { compactAddress, DEFAULT_NUMWANT, MAX_NUMWANT, parseAnnounceQuery, type AnnounceParams, type AnnounceResult } from './announce-wire.js'

interface Peer {
  peerId: string
  /** Who announced it (the passkey's principal, or the address for UDP); see AnnounceSource. */
  source: string
  /** Announced with an origin's (seeder's) credentials: hosts may trust it as the origin. */
  origin: boolean
  compact: Buffer
  v6: boolean
  complete: boolean
  expires: number
  /** Locality tag from the peer id ('' when none) and the keys of its rack and region lists. */
  rack: string
  region: string
  /** Announced to another replica (learned through the swarm sync), not to this one. */
  remote: boolean
  /** The expiry last handed to onChange (a refresh is shared only when it moves this by ttl/3). */
  shared: number
}

/**
 * A peer as replicas share it (see redis-swarm): what another replica needs to hold it as if it
 * had been announced there. `expires` is absolute (ms since the epoch).
 */
export interface PeerRecord {
  peerId: string
  source: string
  origin: boolean
  /** Compact address, base64 (6 bytes IPv4, 18 bytes IPv6). */
  compact: string
  complete: boolean
  expires: number
}

/** What changed in a swarm: `upsert` and `remove` are shared with other replicas, `expire` only dropped from the shared store. */
export type PeerChange = { kind: 'upsert'; peer: PeerRecord } | { kind: 'remove' | 'expire'; peerId: string; source: string }

/** An unordered list with O(1) removal, for sampling. */
class Bag<T> {
  readonly items: T[] = []
  private readonly pos = new Map<T, number>()
  add(x: T): void {
    this.pos.set(x, this.items.length)
    this.items.push(x)
  }
  delete(x: T): void {
    const i = this.pos.get(x)
    if (i === undefined) return
    this.pos.delete(x)
    const last = this.items.pop()!
    if (last !== x) {
      this.items[i] = last
      this.pos.set(last, i)
    }
  }
}

interface Swarm {
  peers: Map<string, Peer>
  list: Bag<Peer>
  /** Peers by locality tag (rack) and by its region half, for topology-aware answers. */
  racks: Map<string, Bag<Peer>>
  regions: Map<string, Bag<Peer>>
  /** Peers that say nothing of where they are (the origin, other clients): near to everyone. */
  untagged: Bag<Peer>
  /** Peers by who announced them, oldest first (a source holds at most its share, see record). */
  bySource: Map<string, Peer[]>
  /** Peers by compact address: one peer per address and port (a restarted client replaces itself). */
  byAddress: Map<string, Peer>
  origins: Bag<Peer>
  complete: number
  incomplete: number
  downloaded: number
}

/**
 * Who is announcing: peers are counted per source, so one token (or one address) flooding
 * announces with made-up peer ids replaces its own entries instead of filling the swarm.
 */
export interface AnnounceSource {
  /** The principal (`host:web-1`, `seeder:origin`) or, without one, `addr:<ip>`. */
  key: string
  /** The source is an origin (a seeder token): hosts are told its address is the origin's. */
  origin?: boolean
}

export interface SwarmStoreInit {
  /** A peer that has not announced for this long is dropped (default 30 min). */
  peerTtlMs?: number
  /** Peers one source may hold in one swarm; its oldest goes when it announces one more (default 4). */
  maxPeersPerSource?: number
  /** The same, for announces without a principal (UDP), counted per address (default 64: hosts behind one NAT). */
  maxPeersPerAddress?: number
  /** Peers one swarm holds at most; announces of new peers beyond it are not recorded (default 100,000). */
  maxPeersPerSwarm?: number
  now?: () => number
  /** Uniform in [0, 1), for sampling peers (injected by the fleet simulator). */
  random?: () => number
  /** Told of every change an announce (or the sweep) makes, for sharing with other replicas. */
  onChange?: (infoHash: string, change: PeerChange) => void
  /** Told when a swarm gains a downloader (announced here or applied from another replica). */
  onArrival?: (infoHash: string) => void
}


export interface SwarmStore {
  /** Records an announce and picks peers for the reply. Without a source, the address is the source. */
  record(params: AnnounceParams, ip: string, source?: AnnounceSource): AnnounceResult
  /**
   * record(), with the reply bencoded for HTTP (BEP 3/23/7), plus `origins` (compact addresses
   * of the swarm's origins, a key other clients ignore) so hosts need not trust a peer id.
   */
  announce(params: AnnounceParams, ip: string, intervalSeconds: number, source?: AnnounceSource): Buffer
  stats(infoHash: string): { complete: number; incomplete: number; downloaded: number }
  /** Drops expired peers; call periodically. */
  sweep(): void
  /** Applies a change another replica made (within the same per-source and per-swarm bounds); never calls onChange. */
  apply(infoHash: string, change: PeerChange): void
  /** The peers announced to this replica, as records (to share them again after the shared store was lost). */
  localPeers(): Iterable<[string, PeerRecord]>
  readonly swarms: number
}


function newSwarm(): Swarm {
  return { peers: new Map(), list: new Bag(), racks: new Map(), regions: new Map(), untagged: new Bag(), bySource: new Map(), byAddress: new Map(), origins: new Bag(), complete: 0, incomplete: 0, downloaded: 0 }
}

function bagOf(m: Map<string, Bag<Peer>>, key: string): Bag<Peer> {
  let b = m.get(key)
  if (!b) m.set(key, (b = new Bag()))
  return b
}

function place(s: Swarm, p: Peer): void {
  if (!p.rack) return s.untagged.add(p)
  bagOf(s.racks, p.rack).add(p)
  bagOf(s.regions, p.region).add(p)
}

function unplace(s: Swarm, p: Peer): void {
  if (!p.rack) return s.untagged.delete(p)
  for (const [m, key] of [[s.racks, p.rack], [s.regions, p.region]] as const) {
    const b = m.get(key)
    b?.delete(p)
    if (b?.items.length === 0) m.delete(key)
  }
}

function removePeer(s: Swarm, p: Peer): void {
  s.peers.delete(p.peerId)
  s.list.delete(p)
  if (p.complete) s.complete--
  else s.incomplete--
  unplace(s, p)
  const mine = s.bySource.get(p.source)
  if (mine) {
    const at = mine.indexOf(p)
    if (at !== -1) mine.splice(at, 1)
    if (mine.length === 0) s.bySource.delete(p.source)
  }
  const addr = p.compact.toString('latin1')
  if (s.byAddress.get(addr) === p) s.byAddress.delete(addr)
  if (p.origin) s.origins.delete(p)
}

/** Adds a peer the swarm has not seen, within its source's share and the swarm's bound; undefined when refused. */
function admitPeer(s: Swarm, params: AnnounceParams, compact: Buffer, source: string, src: AnnounceSource | undefined, limits: { perSource: number; perSwarm: number }): Peer | undefined {
  const addr = compact.toString('latin1')
  const complete = params.left === 0
  // One peer per address: a client that restarted with a new id replaces its old entry.
  const previous = s.byAddress.get(addr)
  if (previous && previous.source === source) removePeer(s, previous)
  const mine = s.bySource.get(source) ?? []
  while (mine.length >= limits.perSource) removePeer(s, mine[0]!)
  if (s.list.items.length >= limits.perSwarm || s.byAddress.has(addr)) return undefined
  const rack = tagOfPeerId(params.peerId)
  const peer: Peer = { peerId: params.peerId, source, origin: src?.origin === true, compact, v6: compact.length === 18, complete, expires: 0, rack, region: rack.slice(0, 6), remote: false, shared: 0 }
  s.peers.set(peer.peerId, peer)
  s.list.add(peer)
  place(s, peer)
  mine.push(peer)
  s.bySource.set(source, mine)
  s.byAddress.set(addr, peer)
  if (peer.origin) s.origins.add(peer)
  if (complete) s.complete++
  else s.incomplete++
  return peer
}

/** A known peer announced again: it may have moved (if the new address is free) or completed. True when something other than its expiry changed. */
function refreshPeer(s: Swarm, peer: Peer, compact: Buffer, complete: boolean): boolean {
  let changed = false
  const addr = compact.toString('latin1')
  const old = peer.compact.toString('latin1')
  if (old !== addr && !s.byAddress.has(addr)) {
    if (s.byAddress.get(old) === peer) s.byAddress.delete(old)
    s.byAddress.set(addr, peer)
    peer.compact = compact
    peer.v6 = compact.length === 18
    changed = true
  }
  if (complete && !peer.complete) {
    s.complete++
    s.incomplete--
    changed = true
  }
  peer.complete = peer.complete || complete
  return changed
}

const recordOf = (p: Peer): PeerRecord => ({ peerId: p.peerId, source: p.source, origin: p.origin, compact: p.compact.toString('base64'), complete: p.complete, expires: p.expires })

const PEER_ID = /^[0-9a-f]{40}$/

/** A shared record checked as anything from outside is: undefined when malformed. */
function validRecord(r: PeerRecord): Buffer | undefined {
  if (typeof r !== 'object' || r === null || typeof r.peerId !== 'string' || !PEER_ID.test(r.peerId)) return undefined
  if (typeof r.source !== 'string' || r.source.length === 0 || r.source.length > 300 || typeof r.compact !== 'string' || r.compact.length > 24) return undefined
  if (typeof r.expires !== 'number' || !Number.isFinite(r.expires) || typeof r.complete !== 'boolean' || typeof r.origin !== 'boolean') return undefined
  const compact = Buffer.from(r.compact, 'base64')
  return compact.length === 6 || compact.length === 18 ? compact : undefined
}

function samplePeers(s: Swarm, numwant: number, self: string, random: () => number): { v4: Buffer[]; v6: Buffer[] } {
  const v4: Buffer[] = []
  const v6: Buffer[] = []
  const n = s.list.items.length
  const push = (p: Peer): void => {
    if (p.peerId !== self) (p.v6 ? v6 : v4).push(p.compact)
  }
  const me = s.peers.get(self)
  if (me?.rack && n > numwant + 1) {
    // A host that says where it is gets mostly its rack, then its region (see topology.ts).
    // Untagged peers (the origin among them) count as near, as distanceBetween says.
    const none: Peer[] = []
    const rack = s.racks.get(me.rack)?.items ?? none
    const tiers = { rack: s.untagged.items.length > 0 ? rack.concat(s.untagged.items) : rack, region: s.regions.get(me.region)?.items ?? none, all: s.list.items }
    for (const p of selectPeers(numwant, tiers, (p) => p.peerId === self, random, { inRack: (p) => p.rack === me.rack, inRegion: (p) => p.region === me.region })) push(p)
  } else if (n <= numwant + 1) {
    for (const p of s.list.items) push(p)
  } else {
    // numwant distinct random picks: rejection sampling is cheap while numwant << n.
    const seen = new Set<number>()
    while (v4.length + v6.length < numwant && seen.size < n) {
      const i = Math.floor(random() * n)
      if (seen.has(i)) continue
      seen.add(i)
      push(s.list.items[i]!)
    }
  }
  return { v4, v6 }
}

export function createSwarmStore(init: SwarmStoreInit = {}): SwarmStore {
  const ttl = init.peerTtlMs ?? 30 * 60 * 1000
  const maxPerSource = init.maxPeersPerSource ?? 4
  const maxPerAddress = init.maxPeersPerAddress ?? 64
  const maxPerSwarm = init.maxPeersPerSwarm ?? 100_000
  const now = init.now ?? Date.now
  const random = init.random ?? Math.random
  const onChange = init.onChange
  const swarms = new Map<string, Swarm>()

  const record = (params: AnnounceParams, ip: string, src?: AnnounceSource): AnnounceResult => {
    const source = src?.key ?? `addr:${ip}`
    let s = swarms.get(params.infoHash)
    if (!s) swarms.set(params.infoHash, (s = newSwarm()))
    let peer = s.peers.get(params.peerId)
    // A peer id belongs to the source that announced it first: another source cannot move or
    // stop it (peer ids are not secret: every peer sees them in handshakes).
    if (peer && peer.source !== source) peer = undefined
    if (params.event === 'stopped') {
      if (peer) {
        removePeer(s, peer)
        onChange?.(params.infoHash, { kind: 'remove', peerId: peer.peerId, source })
      }
    } else {
      const compact = compactAddress(ip, params.port)
      if (compact && !(s.peers.has(params.peerId) && !peer)) {
        let changed = !peer || peer.remote
        if (!peer) {
          peer = admitPeer(s, params, compact, source, src, { perSource: src ? maxPerSource : maxPerAddress, perSwarm: maxPerSwarm })
          if (peer && !peer.complete) init.onArrival?.(params.infoHash)
        } else changed = refreshPeer(s, peer, compact, params.left === 0) || changed
        if (peer) {
          if (params.event === 'completed') s.downloaded++
          peer.expires = now() + ttl
          peer.remote = false
          // Share what others need: new peers, moves, completions; a refresh only when it keeps the shared copy from expiring.
          if (onChange && (changed || peer.expires - peer.shared > ttl / 3)) {
            peer.shared = peer.expires
            onChange(params.infoHash, { kind: 'upsert', peer: recordOf(peer) })
          }
        }
      }
    }
    const { v4, v6 } = params.event === 'stopped' ? { v4: [], v6: [] } : samplePeers(s, params.numwant, params.peerId, random)
    const origins = s.origins.items.slice(0, 8).map((p) => p.compact)
    if (s.list.items.length === 0) swarms.delete(params.infoHash)
    return { complete: s.complete, incomplete: s.incomplete, v4, v6, origins }
  }

  return {
    record,
    announce: (params, ip, intervalSeconds, source) => encodeAnnounce(record(params, ip, source), intervalSeconds),
    stats(infoHash) {
      const s = swarms.get(infoHash)
      return { complete: s?.complete ?? 0, incomplete: s?.incomplete ?? 0, downloaded: s?.downloaded ?? 0 }
    },
    sweep() {
      const t = now()
      for (const [ih, s] of swarms) {
        for (const p of [...s.list.items]) {
          if (p.expires > t) continue
          removePeer(s, p)
          onChange?.(ih, { kind: 'expire', peerId: p.peerId, source: p.source })
        }
        if (s.list.items.length === 0) swarms.delete(ih)
      }
    },
    apply(infoHash, change) {
      let s = swarms.get(infoHash)
      if (change.kind !== 'upsert') {
        const peer = s?.peers.get(change.peerId)
        if (s && peer && peer.source === change.source) removePeer(s, peer)
      } else {
        const r = change.peer
        const compact = validRecord(r)
        if (!compact || r.expires <= now()) return
        if (!s) swarms.set(infoHash, (s = newSwarm()))
        let peer = s.peers.get(r.peerId)
        if (peer && peer.source !== r.source) return
        if (!peer) {
          const params: AnnounceParams = { infoHash, peerId: r.peerId, port: 0, left: r.complete ? 0 : 1, event: 'update', numwant: 0 }
          peer = admitPeer(s, params, compact, r.source, { key: r.source, origin: r.origin }, { perSource: r.source.startsWith('addr:') ? maxPerAddress : maxPerSource, perSwarm: maxPerSwarm })
          if (peer && !peer.complete) init.onArrival?.(infoHash)
        } else refreshPeer(s, peer, compact, r.complete)
        if (peer) {
          peer.expires = Math.min(r.expires, now() + ttl)
          peer.shared = peer.expires
          peer.remote = true
        }
      }
      if (s && s.list.items.length === 0) swarms.delete(infoHash)
    },
    *localPeers() {
      for (const [ih, s] of swarms) for (const p of s.list.items) if (!p.remote) yield [ih, recordOf(p)]
    },
    get swarms() {
      return swarms.size
    },
  }
}
