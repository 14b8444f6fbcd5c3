import type { Distance } from '../core/index.js'

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

