/**
 * The origin's side of the swarm: which pieces to show each peer (BEP 16 "super-seeding").
 *
 * The origin sends no bitfield; it reveals a few pieces to each peer with HAVE, choosing the ones
 * with the fewest copies in the swarm (held by connected peers, or revealed and not yet held), and
 * reveals the next when the peer announces one it was shown. So the origin sends every piece
 * about once before it sends any twice, and the peers do the fan-out. Pure, like the scheduler.
 */
export interface SuperSeedInit {
  pieceCount: number
  /** Pieces revealed to one peer and not yet held by it (default 2). */
  window?: number
  random?: () => number
}

export interface SuperSeed {
  /** Pieces to reveal to the peer now (it holds `peerHas`); `avail` counts copies among peers. */
  reveal(peer: string, peerHas: (index: number) => boolean, avail: (index: number) => number): number[]
  /** The peer announced a piece: if it was one it was shown, a slot frees up. */
  peerHas(peer: string, index: number): void
  peerGone(peer: string): void
  revealedTo(peer: string): ReadonlySet<number>
}

export function createSuperSeed(init: SuperSeedInit): SuperSeed {
  const { pieceCount, window = 2, random = Math.random } = init
  const pending = new Uint32Array(pieceCount)
  const shown = new Map<string, Set<number>>()
  const setOf = (peer: string): Set<number> => {
    let s = shown.get(peer)
    if (!s) shown.set(peer, (s = new Set()))
    return s
  }
  return {
    reveal(peer, peerHas, avail) {
      const s = setOf(peer)
      // A piece shown before the peer's bitfield arrived may turn out to be one it holds: it
      // will never announce it, so free the slot now or the peer stalls with a full window.
      for (const i of s) {
        if (peerHas(i)) {
          s.delete(i)
          pending[i]!--
        }
      }
      const out: number[] = []
      while (s.size < window) {
        const offset = Math.floor(random() * pieceCount)
        let best = -1
        let bestCopies = Infinity
        for (let k = 0; k < pieceCount; k++) {
          const i = (k + offset) % pieceCount
          if (s.has(i) || peerHas(i)) continue
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
      const s = shown.get(peer)
      if (s?.delete(index)) pending[index]!--
    },
    peerGone(peer) {
      for (const i of shown.get(peer) ?? []) pending[i]!--
      shown.delete(peer)
    },
    revealedTo: (peer) => shown.get(peer) ?? new Set(),
  }
}
