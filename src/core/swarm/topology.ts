/**
 * Where a peer sits (region and rack) and what the swarm does with it: the tracker hands a host
 * mostly peers from its own rack, a few from its region and fewer from elsewhere, and a host asks
 * a peer outside its rack only for pieces no peer in its rack holds. Together they make each rack
 * pull the bundle through its (oversubscribed) uplink about once instead of once per host.
 *
 * A host's locality travels in its peer id, which both the tracker (announce) and every peer
 * (handshake) already receive: `-SH0100-` + 3 bytes of region hash + 3 bytes of rack hash +
 * 6 random bytes. A peer id without a locality (all zero, or not a Shoal id) counts as near to
 * everyone, so a fleet without region/rack labels behaves as if it were one rack.
 *
 * Pure and synchronous, like the piece scheduler, so that the fetcher, the tracker and the fleet
 * simulator run the same code.
 */
import { createHash } from 'node:crypto'
import type { PieceScheduler } from './piece-scheduler.js'

export interface Locality {
  region?: string
  rack?: string
}

/** 0: same rack, 1: same region, 2: elsewhere. Unknown localities count as 0. */
export type Distance = 0 | 1 | 2

/** The label names read for a host's place: `region` (or `zone`) and `rack`. */
export function localityFromLabels(labels: Readonly<Record<string, string>>): Locality {
  return { region: labels.region ?? labels.zone, rack: labels.rack }
}

const hash3 = (s: string): Buffer => {
  const h = createHash('sha256').update(s).digest().subarray(0, 3)
  // An all-zero hash would read as "no locality"; nudge it (a 1-in-16M collision with another name).
  if (h[0] === 0 && h[1] === 0 && h[2] === 0) h[2] = 1
  return h
}

/** The 6 locality bytes of a peer id: region hash, then rack hash (a rack is named within its region). */
export function localityTag(loc: Locality): Buffer {
  const tag = Buffer.alloc(6)
  if (loc.region) hash3(`region:${loc.region}`).copy(tag, 0)
  if (loc.rack) hash3(`rack:${loc.region ?? ''}/${loc.rack}`).copy(tag, 3)
  return tag
}

const SHOAL_PREFIXES = ['-SH', '-SO'].map((p) => Buffer.from(p).toString('hex'))

/** A 20-byte peer id (hex) for a Shoal role at a locality. */
export function makeLocalPeerId(prefix: string, loc: Locality, random: Buffer): Buffer {
  return Buffer.concat([Buffer.from(prefix), localityTag(loc), random.subarray(0, 6)])
}

/** The locality tag (12 hex digits) in a Shoal peer id given as hex, or '' when it has none. */
export function tagOfPeerId(peerIdHex: string): string {
  if (peerIdHex.length !== 40 || !SHOAL_PREFIXES.some((p) => peerIdHex.startsWith(p))) return ''
  const tag = peerIdHex.slice(16, 28)
  return /^0+$/.test(tag) ? '' : tag
}

const ZERO3 = '000000'

/**
 * Whether a peer counts as a member of this host's rack: both state a locality and it is the
 * same rack. (A peer without a locality is near, distance 0, but shares no rack duties.)
 */
export function isRackMember(myTag: string, theirTag: string): boolean {
  return myTag !== '' && theirTag !== '' && distanceBetween(myTag, theirTag) === 0
}

/** How far apart two locality tags are (see Distance). */
export function distanceBetween(a: string, b: string): Distance {
  if (!a || !b) return 0
  const ra = a.slice(0, 6)
  const rb = b.slice(0, 6)
  if (ra !== rb && ra !== ZERO3 && rb !== ZERO3) return 2
  const ka = a.slice(6)
  const kb = b.slice(6)
  if (ka === kb || ka === ZERO3 || kb === ZERO3) return 0
  return 1
}

/**
 * Which peers the tracker returns to a host: up to `want`, most from its rack, then its region,
 * then anywhere, keeping `regionShare` and `farShare` of the answer for the wider tiers (rounded
 * up, at least one each) so that every rack stays joined to the rest of the swarm. A tier with
 * too few peers leaves its share to the next. Picks within a tier are random without repeats.
 * `rack` and `region` are the candidates sharing the host's rack and region (the region list
 * includes the rack's); `all` is every peer; `skip` excludes the host itself.
 */
export function selectPeers<T>(
  want: number,
  tiers: { rack: readonly T[]; region: readonly T[]; all: readonly T[] },
  skip: (p: T) => boolean,
  random: () => number = Math.random,
  shares: { regionShare?: number; farShare?: number; inRack?: (p: T) => boolean; inRegion?: (p: T) => boolean } = {},
): T[] {
  const { regionShare = 0.15, farShare = 0.05 } = shares
  const out: T[] = []
  if (want <= 0) return out
  const chosen = new Set<T>()
  const take = (list: readonly T[], upTo: number, also?: (p: T) => boolean): void => {
    const n = list.length
    if (out.length >= upTo || n === 0) return
    const pick = (p: T): void => {
      if (!chosen.has(p) && !skip(p) && !also?.(p)) {
        chosen.add(p)
        out.push(p)
      }
    }
    if (n <= 2 * (upTo - out.length) + chosen.size + 1) {
      // Small list: shuffle a copy of the index range and walk it.
      const order = Array.from({ length: n }, (_, i) => i)
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1))
        ;[order[i], order[j]] = [order[j]!, order[i]!]
      }
      for (const i of order) {
        if (out.length >= upTo) return
        pick(list[i]!)
      }
      return
    }
    // Large list: random probes, bounded so a list of mostly skipped peers cannot spin.
    for (let tries = 0; out.length < upTo && tries < 4 * upTo + 16; tries++) pick(list[Math.floor(random() * n)]!)
  }
  const far = Math.max(1, Math.ceil(want * farShare))
  const region = Math.max(1, Math.ceil(want * regionShare))
  take(tiers.rack, Math.max(0, want - far - region))
  // The region share goes to other racks and the far share to other regions when the caller can
  // tell them apart, then to anyone.
  if (shares.inRack) take(tiers.region, Math.max(0, want - far), shares.inRack)
  take(tiers.region, Math.max(0, want - far))
  if (shares.inRegion) take(tiers.all, want, shares.inRegion)
  take(tiers.all, want)
  return out
}

/**
 * Copies of each piece held by connected peers in the host's rack and in its region (the rack's
 * included), next to the scheduler's count over all peers; and which pieces this host fetches
 * from outside its rack on the rack's behalf.
 *
 * Without that share, every host of a rack that lacks a piece asks a remote peer for it at once
 * and the rack pulls it through its uplink many times. So each piece has one owner per rack by
 * rendezvous hashing over the rack peers a host knows: the owner asks outside, the others wait
 * for it inside. A host that misses some rack peers may own a piece twice over (a duplicate),
 * but the true owner always sees itself as the owner, so no piece is left to nobody.
 */
export interface NearAvailability {
  /** A peer at `distance` holds the pieces in `has` (delta +1), or left (-1). */
  addPeer(distance: Distance, has: (index: number) => boolean, delta?: 1 | -1): void
  /**
   * A peer in the rack that states its locality connected (+1) or left (-1); `key` is its
   * peerKey. Peers without a locality (the origin among them) are not rack members.
   */
  rackPeer(key: number, delta: 1 | -1): void
  /** Connections to rack members (what admitPeer counts against the rack's share of slots). */
  readonly rackPeers: number
  /** A peer at `distance` announced one piece. */
  add(distance: Distance, index: number): void
  /**
   * May a peer at `distance` be asked for the piece? Only if no nearer peer holds it and this host
   * owns it; `anyOwner` drops the second condition (a host with nothing else to do fetches what
   * its rack still lacks, so an owner that is cut off or slow cannot stall the rack).
   */
  allows(distance: Distance, index: number, anyOwner?: boolean): boolean
  /** Does this host fetch the piece from outside the rack on the rack's behalf? */
  owns(index: number): boolean
}

/** A 32-bit key for rendezvous hashing from a peer id (hex): its random tail. */
export function peerKey(peerIdHex: string): number {
  return Number.parseInt(peerIdHex.slice(-8), 16) >>> 0
}

const score = (key: number, i: number): number => {
  let h = Math.imul(key ^ Math.imul(i + 0x9e3779b9, 0x85ebca6b), 0xc2b2ae35)
  h ^= h >>> 16
  h = Math.imul(h, 0x27d4eb2f)
  return (h ^ (h >>> 15)) >>> 0
}

/** `selfKey`: this host's peerKey when it states its locality; without it the host owns every piece. */
export function createNearAvailability(pieceCount: number, selfKey?: number): NearAvailability {
  const rack = new Uint32Array(pieceCount)
  const region = new Uint32Array(pieceCount)
  const members = new Map<number, number>() // rack peer key -> connections
  let connections = 0
  let mine: Uint8Array | undefined
  let myScore: Uint32Array | undefined
  if (selfKey !== undefined) {
    mine = new Uint8Array(pieceCount).fill(1)
    myScore = new Uint32Array(pieceCount)
    for (let i = 0; i < pieceCount; i++) myScore[i] = score(selfKey, i)
  }
  const bump = (d: Distance, i: number, delta: number): void => {
    if (i < 0 || i >= pieceCount || d === 2) return
    if (d === 0) rack[i] = Math.max(0, rack[i]! + delta)
    region[i] = Math.max(0, region[i]! + delta)
  }
  const join = (key: number): void => {
    const n = members.get(key) ?? 0
    members.set(key, n + 1)
    if (n > 0 || !mine) return
    for (let i = 0; i < pieceCount; i++) if (mine[i] && score(key, i) < myScore![i]!) mine[i] = 0
  }
  const leave = (key: number): void => {
    const n = members.get(key) ?? 0
    if (n > 1) return void members.set(key, n - 1)
    members.delete(key)
    if (!mine) return
    for (let i = 0; i < pieceCount; i++) {
      let m = 1
      for (const k of members.keys()) {
        if (score(k, i) < myScore![i]!) {
          m = 0
          break
        }
      }
      mine[i] = m
    }
  }
  return {
    rackPeer(key, delta) {
      connections += delta
      ;(delta > 0 ? join : leave)(key)
    },
    get rackPeers() {
      return connections
    },
    addPeer(d, has, delta = 1) {
      if (d === 2) return
      for (let i = 0; i < pieceCount; i++) if (has(i)) bump(d, i, delta)
    },
    add: (d, i) => bump(d, i, 1),
    allows: (d, i, anyOwner = false) => d === 0 || ((anyOwner || mine === undefined || mine[i] === 1) && (d === 1 ? rack[i] === 0 : region[i] === 0)),
    owns: (i) => mine === undefined || mine[i] === 1,
  }
}

/**
 * Whether to keep one more peer connection. Rack peers may take all but a reserve of the
 * `maxConns` slots, region peers the rest, and peers in other regions (and the origin) may go
 * that reserve beyond `maxConns`, so a host always has links out of its rack and its region:
 * filled by rack peers and incoming dials from its region alone (nearer peers connect first, the
 * RTT being shorter), a region could end up cut off from where the pieces come from.
 * Without localities (no labels anywhere) this is the plain `total < maxConns`.
 */
export function admitPeer(counts: { total: number; rack: number }, peer: { rackMember: boolean; distance: Distance; origin: boolean }, maxConns: number): boolean {
  const reserve = connReserve(maxConns)
  if (peer.rackMember) return counts.total < maxConns && counts.rack < maxConns - reserve
  if (peer.distance === 2 || peer.origin) return counts.total < maxConns + reserve
  return counts.total < maxConns
}

/** The slots kept for links out of the rack (see admitPeer). */
export const connReserve = (maxConns: number): number => Math.max(2, Math.ceil(maxConns / 5))

export interface SourcePeer {
  has(index: number): boolean
  /** The origin (seeder): asked only for pieces no other peer holds. */
  origin: boolean
  distance: Distance
}

/**
 * The next piece to ask `peer` for: the scheduler's rarest-first pick among the pieces this peer
 * may be asked for. The origin is asked only for pieces no other connected peer holds (its uplink
 * is the one every host waits on), also in the end game; a peer outside the rack only for pieces
 * no nearer peer holds and this host owns for its rack (any such piece once the host is idle).
 * `busy` lists the pieces already coming from this peer.
 */
export function choosePiece(
  sched: PieceScheduler,
  near: NearAvailability | undefined,
  peer: SourcePeer,
  busy?: ReadonlySet<number>,
  /** No download under way from any peer: pieces this host does not own may come from outside too. */
  idle?: () => boolean,
): number | undefined {
  const d = peer.distance
  if (peer.origin) {
    const ok = (j: number): boolean => sched.availability(j) <= 1 && (near === undefined || near.allows(d, j))
    return sched.pick((j) => peer.has(j) && ok(j), busy, { endGame: ok })
  }
  if (d === 0 || near === undefined) return sched.pick(peer.has, busy)
  const ok = (j: number): boolean => near.allows(d, j)
  const i = sched.pick((j) => peer.has(j) && ok(j), busy, { endGame: ok })
  if (i !== undefined || !idle?.()) return i
  const any = (j: number): boolean => near.allows(d, j, true)
  return sched.pick((j) => peer.has(j) && any(j), busy, { endGame: any })
}
