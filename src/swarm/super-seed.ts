/**
 * The origin's side of the swarm: which pieces to show each peer (BEP 16 "super-seeding").
 *
 * The origin sends no bitfield; it reveals a few pieces to each peer with HAVE, choosing the ones
 * with the fewest copies in the swarm (held by connected peers, or revealed and not yet held), and
 * reveals the next when the peer announces one it was shown, or as soon as the origin has sent it
 * whole: clients that batch their HAVEs (transmission: about once a second) would otherwise see
 * their pipeline run dry between batches. A piece sent and not yet announced still counts as a
 * copy on its way. So the origin sends every piece about once before it sends any twice, and the
 * peers do the fan-out. Pure, like the scheduler.
 */
export interface SuperSeedInit {
  pieceCount: number
  /** Pieces revealed to one peer and not yet held by it, at first (default 2). */
  window?: number
  /** The most one peer's window grows to when it keeps running dry (default `window`). */
  maxWindow?: number
  random?: () => number
}

export interface SuperSeed {
  /** Pieces to reveal to the peer now (it holds `peerHas`); `avail` counts copies among peers. */
  reveal(peer: string, peerHas: (index: number) => boolean, avail: (index: number) => number): number[]
  /** The peer announced a piece: if it was one it was shown, a slot frees up. */
  peerHas(peer: string, index: number): void
  /** The origin sent the peer every byte of a piece: if it was shown, a slot frees up (the copy stays counted until announced). */
  sent(peer: string, index: number): void
  /**
   * The peer has fetched everything it was shown and asks for nothing more: its window doubles
   * (up to maxWindow). A client that requests in bursts (transmission: once a second) needs a
   * window of what it can take in one burst interval, or it runs at window per interval.
   */
  starved(peer: string): void
  /** Starts the peer's window at `pieces` at least (up to maxWindow). */
  widen(peer: string, pieces: number): void
  peerGone(peer: string): void
  windowOf(peer: string): number
  revealedTo(peer: string): ReadonlySet<number>
}

export function createSuperSeed(init: SuperSeedInit): SuperSeed {
  const { pieceCount, window = 2, random = Math.random } = init
  const maxWindow = Math.max(window, init.maxWindow ?? window)
  const windows = new Map<string, number>()
  const windowOf = (peer: string): number => windows.get(peer) ?? window
  const pending = new Uint32Array(pieceCount)
  const shown = new Map<string, Set<number>>()
  /** Pieces sent whole to each peer that it has not announced yet. */
  const inFlight = new Map<string, Set<number>>()
  const setOf = (map: Map<string, Set<number>>, peer: string): Set<number> => {
    let s = map.get(peer)
    if (!s) map.set(peer, (s = new Set()))
    return s
  }
  return {
    reveal(peer, peerHas, avail) {
      const s = setOf(shown, peer)
      // A piece shown before the peer's bitfield arrived may turn out to be one it holds: it
      // will never announce it, so free the slot now or the peer stalls with a full window.
      for (const i of s) {
        if (peerHas(i)) {
          s.delete(i)
          pending[i]!--
        }
      }
      const onWay = inFlight.get(peer)
      const out: number[] = []
      const w = windowOf(peer)
      while (s.size < w) {
        const offset = Math.floor(random() * pieceCount)
        let best = -1
        let bestCopies = Infinity
        for (let k = 0; k < pieceCount; k++) {
          const i = (k + offset) % pieceCount
          if (s.has(i) || onWay?.has(i) || peerHas(i)) continue
          const c = avail(i) + pending[i]!
          if (c < bestCopies) {
            best = i
            bestCopies = c
            if (c === 0) break
          }
        }
        if (best < 0) break
        s.add(best)
        pending[best]!++
        out.push(best)
      }
      return out
    },
    peerHas(peer, index) {
      if (shown.get(peer)?.delete(index)) pending[index]!--
      else if (inFlight.get(peer)?.delete(index)) pending[index]!--
    },
    sent(peer, index) {
      if (shown.get(peer)?.delete(index)) setOf(inFlight, peer).add(index)
    },
    starved(peer) {
      if (shown.has(peer)) windows.set(peer, Math.min(maxWindow, windowOf(peer) * 2))
    },
    widen(peer, pieces) {
      windows.set(peer, Math.min(maxWindow, Math.max(windowOf(peer), pieces)))
    },
    windowOf,
    peerGone(peer) {
      windows.delete(peer)
      for (const i of shown.get(peer) ?? []) pending[i]!--
      for (const i of inFlight.get(peer) ?? []) pending[i]!--
      shown.delete(peer)
      inFlight.delete(peer)
    },
    revealedTo: (peer) => shown.get(peer) ?? new Set(),
  }
}
