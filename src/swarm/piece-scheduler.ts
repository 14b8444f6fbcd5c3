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
export interface PieceSchedulerInit {
  pieceCount: number
  /** Uniform in [0, 1); injected so that tests and the simulator are reproducible. */
  random?: () => number
  /** How many peers may fetch one piece at once in the end game (default 2). */
  maxPerPiece?: number
}

export interface PickOptions {
  /** In the end game, only pieces this allows may be doubled up. */
  endGame?: (index: number) => boolean
  /**
   * Also pieces no connected peer holds (rarest of all): for a source outside the swarm (a web
   * seed). A peer's pick leaves them out: by the counts, the peer cannot hold them.
   */
  unheld?: boolean
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

/**
 * Missing pieces grouped by availability (class k: held by k connected peers), each class an
 * unordered list with every piece's position in it, so a count that changes moves its piece in
 * O(1) and a pick looks at the rarest class first.
 */
function createAvailabilityClasses(pieceCount: number) {
  const classes: number[][] = []
  const cls = new Int32Array(pieceCount).fill(-1)
  const pos = new Int32Array(pieceCount)
  const remove = (i: number): void => {
    const c = cls[i]!
    if (c < 0) return
    const list = classes[c]!
    const last = list.pop()!
    if (last !== i) {
      list[pos[i]!] = last
      pos[last] = pos[i]!
    }
    cls[i] = -1
  }
  const put = (i: number, c: number): void => {
    if (cls[i] === c) return
    remove(i)
    while (classes.length <= c) classes.push([])
    pos[i] = classes[c]!.length
    classes[c]!.push(i)
    cls[i] = c
  }
  return { classes, put, remove }
}

export function createPieceScheduler(init: PieceSchedulerInit): PieceScheduler {
  const { pieceCount, random = Math.random, maxPerPiece = 2 } = init
  if (!Number.isInteger(pieceCount) || pieceCount < 1) throw new RangeError(`pieceCount must be a positive integer (current value is ${pieceCount})`)
  const have = new Uint8Array(pieceCount)
  const avail = new Uint32Array(pieceCount)
  const running = new Uint16Array(pieceCount)
  const byAvail = createAvailabilityClasses(pieceCount)
  for (let i = 0; i < pieceCount; i++) byAvail.put(i, 0)
  let missing = pieceCount
  const recount = (i: number): void => {
    if (!have[i]) byAvail.put(i, avail[i]!)
  }

  /**
   * The rarest piece nobody is fetching that the peer holds, rarest class first, from a random
   * place in each class (so hosts with equal counts pick different pieces); failing that, the
   * end-game piece (fewest downloads under way, then rarest). A pick stops at the first match in
   * the rarest class the peer can serve: it costs what it takes to find one of the peer's pieces
   * among the rarest, not the piece count, unless the peer holds almost nothing we lack. Pieces
   * no connected peer holds (class 0) are looked at only for a source outside the swarm.
   */
  const scan = (peerHas: (i: number) => boolean, busy: ReadonlySet<number> | undefined, endGameOk: ((i: number) => boolean) | undefined, first: number): number | undefined => {
    const { classes } = byAvail
    for (let c = first; c < classes.length; c++) {
      const list = classes[c]!
      const n = list.length
      if (n === 0) continue
      const offset = Math.floor(random() * n)
      for (let k = 0, j = offset; k < n; k++, j = j + 1 === n ? 0 : j + 1) {
        const i = list[j]!
        if (running[i] === 0 && !busy?.has(i) && peerHas(i)) return i
      }
    }
    // Nothing idle: the end game, in a second pass (rare: only when the first found nothing).
    let late: number | undefined
    let lateRunning = Infinity
    for (let c = first; c < classes.length && lateRunning > 1; c++) {
      for (const i of classes[c]!) {
        const r = running[i]!
        if (r === 0 || r >= maxPerPiece || r >= lateRunning) continue
        if (busy?.has(i) || !peerHas(i) || (endGameOk && !endGameOk(i))) continue
        late = i
        lateRunning = r
      }
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
      byAvail.remove(i)
    },
    addPeer(peerHas, delta = 1) {
      for (let i = 0; i < pieceCount; i++) {
        if (!peerHas(i)) continue
        avail[i] = Math.max(0, avail[i]! + delta)
        recount(i)
      }
    },
    addAvailability(i) {
      if (i < 0 || i >= pieceCount) return
      avail[i]!++
      recount(i)
    },
    availability: (i) => avail[i]!,
    active: (i) => running[i]!,
    pick(peerHas, busy, options) {
      if (missing === 0) return undefined
      return scan(peerHas, busy, options?.endGame, options?.unheld ? 0 : 1)
    },
    start(i) {
      running[i]!++
    },
    finish(i) {
      if (running[i]! > 0) running[i]!--
    },
  }
}
