/**
 * Which piece a host asks a peer for next: rarest first, ties broken at random, and in the end
 * game a piece another peer is already fetching (so one slow peer does not hold the last piece).
 *
 * Pure and synchronous, with no I/O and no clock, so that the fetcher, the seeder and the fleet
 * simulator run the same code. Its cost per decision is O(pieces) and does not depend on the
 * number of peers: availability is kept as a count per piece, updated by one increment per
 * bitfield bit or HAVE, instead of asking every wire on every pick (what makes webtorrent's
 * picker slow in a swarm).
 */
export interface PieceSchedulerInit {
  pieceCount: number
  /** Uniform in [0, 1); injected so that tests and the simulator are reproducible. */
  random?: () => number
  /** How many peers may fetch one piece at once in the end game (default 2). */
  maxPerPiece?: number
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
   * The piece to start fetching from a peer that holds `peerHas`, or undefined when there is
   * nothing (more) to take from it. `busy` lists pieces this peer is already fetching.
   */
  pick(peerHas: (index: number) => boolean, busy?: ReadonlySet<number>, options?: { endGame?: (index: number) => boolean }): number | undefined
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
  const { pieceCount, random = Math.random, maxPerPiece = 2 } = init
  if (!Number.isInteger(pieceCount) || pieceCount < 1) throw new RangeError(`pieceCount must be a positive integer (current value is ${pieceCount})`)
  const have = new Uint8Array(pieceCount)
  const avail = new Uint32Array(pieceCount)
  const running = new Uint16Array(pieceCount)
  let missing = pieceCount

  /**
   * One pass finds both the rarest piece nobody is fetching and, in case there is none, the
   * end-game piece (fewest downloads under way, then rarest). Cheapest tests first: the typed
   * arrays rule out most pieces before the callbacks run.
   */
  const scan = (peerHas: (i: number) => boolean, busy: ReadonlySet<number> | undefined, endGameOk?: (i: number) => boolean): number | undefined => {
    // Start at a random offset so that hosts holding equal counts pick different pieces.
    const offset = Math.floor(random() * pieceCount)
    let best: number | undefined
    let bestAvail = Infinity
    let late: number | undefined
    let lateAvail = Infinity
    let lateRunning = Infinity
    for (let k = 0, i = offset; k < pieceCount; k++, i = i + 1 === pieceCount ? 0 : i + 1) {
      if (have[i]) continue
      const r = running[i]!
      const a = avail[i]!
      if (r === 0) {
        if (a >= bestAvail || busy?.has(i) || !peerHas(i)) continue
        best = i
        bestAvail = a
        if (a <= 1) break // nothing is rarer than a piece one peer holds
      } else if (best === undefined && r < maxPerPiece && (r < lateRunning || (r === lateRunning && a < lateAvail))) {
        if (busy?.has(i) || !peerHas(i) || (endGameOk && !endGameOk(i))) continue
        late = i
        lateAvail = a
        lateRunning = r
      }
    }
    return best ?? late
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
    },
    addPeer(peerHas, delta = 1) {
      for (let i = 0; i < pieceCount; i++) if (peerHas(i)) avail[i] = Math.max(0, avail[i]! + delta)
    },
    addAvailability(i) {
      if (i >= 0 && i < pieceCount) avail[i]!++
    },
    availability: (i) => avail[i]!,
    active: (i) => running[i]!,
    pick(peerHas, busy, options) {
      if (missing === 0) return undefined
      return scan(peerHas, busy, options?.endGame)
    },
    start(i) {
      running[i]!++
    },
    finish(i) {
      if (running[i]! > 0) running[i]!--
    },
  }
}
