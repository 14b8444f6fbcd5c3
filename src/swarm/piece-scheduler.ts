/**
 * Which piece a host asks a peer for next: rarest first, ties broken at random, and in the end
 * game a piece another peer is already fetching (so one slow peer does not hold the last piece).
 *
 * Pure and synchronous, with no I/O and no clock, so that the fetcher, the seeder and the fleet
 * simulator run the same code. Its cost per decision does not depend on the number of peers:
 * availability is kept as a count per piece, updated by one increment per bitfield bit or HAVE,
 * instead of asking every wire on every pick (what makes webtorrent's picker slow in a swarm);
 * and missing pieces are kept in classes by that count, so a pick starts at the rarest and stops
 * at the first piece the peer holds instead of looking at every piece (issue 20).
 */
import { createAvailabilityClasses } from './availability-classes.js'

export interface PieceSchedulerInit {
  pieceCount: number
  /** Uniform in [0, 1); injected so that tests and the simulator are reproducible. */
  random?: () => number
  /** How many peers may fetch one piece at once in the end game (default 2). */
  maxPerPiece?: number
  /** Called after a piece's availability changed (the super-seed keeps its own order by it). */
  onAvailability?: (index: number) => void
}

export interface PickOptions {
  /** In the end game, only pieces this allows may be doubled up. */
  endGame?: (index: number) => boolean
  /**
   * Also pieces no connected peer holds (rarest of all): for a source outside the swarm (a web
   * seed). A peer's pick leaves them out: by the counts, the peer cannot hold them.
   */
  unheld?: boolean
  /** Only pieces at most this many connected peers hold (the origin is asked for rare ones only). */
  maxAvailability?: number
  /** Every piece the peer holds, when known as a list (see AvailabilityClasses.rarest). */
  candidates?: ArrayLike<number>
}

export interface PieceScheduler {
  readonly pieceCount: number
  /** Pieces not yet held. */
  readonly missing: number
  has(index: number): boolean
  /** Verified pieces as a BEP 3 bitfield (high bit first). */
  bitfield(): Uint8Array
  /** A piece passed its hash and is stored. */
  markHave(index: number): void
  /** A peer's whole bitfield appeared (count +1) or left (count -1). */
  addPeer(peerHas: (index: number) => boolean, delta?: 1 | -1): void
  /** A peer announced one piece (HAVE). */
  addAvailability(index: number): void
  availability(index: number): number
  /** How many downloads of the piece are under way. */
  active(index: number): number
  /**
   * Could a peer's pick (held pieces only, any availability) return this piece now, if the peer
   * held it and the pick's own test allowed it? A missing piece nobody fetches, or in the end game
   * one fetched by fewer than maxPerPiece. A pick that found nothing for a peer can find something
   * after the peer's HAVE only if this holds for the new piece: the caller skips the pick otherwise.
   */
  pickable(index: number): boolean
  /**
   * The piece to start fetching from a peer that holds `peerHas`, or undefined when there is
   * nothing (more) to take from it. `busy` lists pieces this peer is already fetching.
   */
  pick(peerHas: (index: number) => boolean, busy?: ReadonlySet<number>, options?: PickOptions): number | undefined
  /** A download of the piece started (pick does not count it; the caller decides). */
  start(index: number): void
  /** A download of the piece ended, whether it succeeded or not. */
  finish(index: number): void
}

/** A BEP 3 bitfield (piece 0 in the high bit of byte 0) from one flag per piece. */
export function encodeBitfield(flags: ArrayLike<number>): Uint8Array {
  const bits = new Uint8Array(Math.ceil(flags.length / 8))
  for (let i = 0; i < flags.length; i++) if (flags[i]) bits[i >> 3]! |= 0x80 >> (i & 7)
  return bits
}

export function createPieceScheduler(init: PieceSchedulerInit): PieceScheduler {
  const { pieceCount, random = Math.random, maxPerPiece = 2, onAvailability } = init
  if (!Number.isInteger(pieceCount) || pieceCount < 1) throw new RangeError(`pieceCount must be a positive integer (current value is ${pieceCount})`)
  const have = new Uint8Array(pieceCount)
  const avail = new Uint32Array(pieceCount)
  const running = new Uint16Array(pieceCount)
  /** Missing pieces nobody is fetching, by availability: what a pick looks at first. */
  const idle = createAvailabilityClasses(pieceCount)
  for (let i = 0; i < pieceCount; i++) idle.put(i, 0)
  /** Missing pieces with downloads under way: the end game's candidates. */
  const inFlight = new Set<number>()
  let missing = pieceCount
  const recount = (i: number): void => {
    if (!have[i] && running[i] === 0) idle.put(i, avail[i]!)
  }
  const counted = (i: number): void => {
    recount(i)
    onAvailability?.(i)
  }

  /**
   * The rarest piece nobody is fetching that the peer holds, rarest class first, from a random
   * place in each class (so hosts with equal counts pick different pieces); failing that, and
   * only once no piece a source holds is left idle, the end-game piece (fewest downloads under
   * way, then rarest). The classes hold only idle missing
   * pieces, so a pick stops at the first of the rarest the peer can serve: it costs what it takes
   * to find one of the peer's pieces among the rarest, not the piece count, unless the peer holds
   * almost nothing we lack. Pieces no connected peer holds (class 0) are looked at only for a
   * source outside the swarm.
   */
  const scan = (peerHas: (i: number) => boolean, busy: ReadonlySet<number> | undefined, endGameOk: ((i: number) => boolean) | undefined, first: number, last: number, candidates?: ArrayLike<number>): number | undefined => {
    const i = idle.rarest((j) => !busy?.has(j) && peerHas(j), random, first, last, candidates)
    if (i !== undefined) return i
    // The end game, over the pieces under way only, once every missing piece a source could send
    // is under way. Not before: a peer with nothing new for us would double up on pieces still
    // arriving elsewhere, and what a deep pipeline has asked for by then mostly arrives in vain
    // (in bench:fleet's racks such doubles were half the bytes moved).
    if (idle.count(first) > 0) return undefined
    let late: number | undefined
    let lateRunning = Infinity
    let lateAvail = Infinity
    for (const i of inFlight) {
      const r = running[i]!
      const a = avail[i]!
      if (r >= maxPerPiece || r > lateRunning || (r === lateRunning && a >= lateAvail) || a < first || a > last) continue
      if (busy?.has(i) || !peerHas(i) || (endGameOk && !endGameOk(i))) continue
      late = i
      lateRunning = r
      lateAvail = a
    }
    return late
  }

  return {
    pieceCount,
    get missing() {
      return missing
    },
    has: (i) => have[i] === 1,
    bitfield: () => encodeBitfield(have),
    markHave(i) {
      if (have[i]) return
      have[i] = 1
      missing--
      idle.remove(i)
      inFlight.delete(i)
    },
    addPeer(peerHas, delta = 1) {
      for (let i = 0; i < pieceCount; i++) {
        if (!peerHas(i)) continue
        avail[i] = Math.max(0, avail[i]! + delta)
        counted(i)
      }
    },
    addAvailability(i) {
      if (i < 0 || i >= pieceCount) return
      avail[i]!++
      counted(i)
    },
    availability: (i) => avail[i]!,
    active: (i) => running[i]!,
    pickable: (i) => have[i] === 0 && (running[i] === 0 || (running[i]! < maxPerPiece && idle.count(1) === 0)),
    pick(peerHas, busy, options) {
      if (missing === 0) return undefined
      return scan(peerHas, busy, options?.endGame, options?.unheld ? 0 : 1, options?.maxAvailability ?? Infinity, options?.candidates)
    },
    start(i) {
      if (running[i]!++ === 0 && !have[i]) {
        idle.remove(i)
        inFlight.add(i)
      }
    },
    finish(i) {
      if (running[i] === 0) return
      if (--running[i]! === 0) {
        inFlight.delete(i)
        recount(i)
      }
    },
  }
}
