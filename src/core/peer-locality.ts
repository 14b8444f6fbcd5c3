/**
 * Where a peer sits (region and rack): the contract the tracker and the swarm share. The tracker
 * hands a host mostly peers from its own rack, a few from its region and fewer from elsewhere
 * (selectPeers), and the swarm asks a peer outside its rack only for pieces no peer in its rack
 * holds (src/swarm: near-availability, choose-piece, admit-peer). Together they make each rack
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

/** A 32-bit key for rendezvous hashing from a peer id (hex): its random tail. */
export function peerKey(peerIdHex: string): number {
  return Number.parseInt(peerIdHex.slice(-8), 16) >>> 0
}

