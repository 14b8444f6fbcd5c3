import type { Distance } from '../core/index.js'
import type { NearAvailability } from './near-availability.js'
import type { PieceScheduler } from './piece-scheduler.js'

export interface SourcePeer {
  has(index: number): boolean
  /** The origin (seeder): asked only for pieces no other peer holds. */
  origin: boolean
  distance: Distance
  /** Every piece the peer holds, when kept as a list (the simulator does): picks look there. */
  held?: ArrayLike<number>
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
  const candidates = peer.held
  if (peer.origin) {
    const ok = (j: number): boolean => near === undefined || near.allows(d, j)
    return sched.pick((j) => peer.has(j) && ok(j), busy, { endGame: ok, maxAvailability: 1, candidates })
  }
  if (d === 0 || near === undefined) return sched.pick(peer.has, busy, { candidates })
  const ok = (j: number): boolean => near.allows(d, j)
  const i = sched.pick((j) => peer.has(j) && ok(j), busy, { endGame: ok, candidates })
  if (i !== undefined || !idle?.()) return i
  const any = (j: number): boolean => near.allows(d, j, true)
  return sched.pick((j) => peer.has(j) && any(j), busy, { endGame: any, candidates })
}
