import type { Distance } from '../core/index.js'

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

