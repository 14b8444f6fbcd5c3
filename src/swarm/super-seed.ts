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
import { createAvailabilityClasses } from './availability-classes.js'

export interface SuperSeedInit {
  pieceCount: number
  /**
   * Copies of the piece among connected peers (the origin's scheduler's count; call `recount`
   * whenever it changes; read only then, so it may be bound after this is created). Default: none.
   */
  availability?: (index: number) => number
  /** Pieces revealed to one peer and not yet held by it, at first (default 2). */
  window?: number
  /** The most one peer's window grows to when it keeps running dry (default `window`). */
  maxWindow?: number
  random?: () => number
}

export interface SuperSeed {
  /** Pieces to reveal to the peer now (it holds `peerHas`): the fewest copies first. */
  reveal(peer: string, peerHas: (index: number) => boolean): number[]
  /** The piece's availability changed. */
  recount(index: number): void
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
  const { pieceCount, window = 2, random = Math.random, availability = () => 0 } = init
  const maxWindow = Math.max(window, init.maxWindow ?? window)
  const windows = new Map<string, number>()
  const windowOf = (peer: string): number => windows.get(peer) ?? window
  /** Revealed (or sent) to a peer that has not announced the piece yet: a copy on its way. */
  const pending = new Uint32Array(pieceCount)
  /**
   * Pieces by copies (availability + pending), so a reveal looks at the least copied first and
   * stops at the first the peer may be shown, instead of scanning every piece per reveal.
   */
  const byCopies = createAvailabilityClasses(pieceCount)
  const recount = (i: number): void => byCopies.put(i, availability(i) + pending[i]!)
  // Availability starts at 0 (no peers yet): every piece in class 0 until recounted.
  for (let i = 0; i < pieceCount; i++) byCopies.put(i, 0)
  const unpend = (i: number): void => {
    pending[i]!--
    recount(i)
  }
  const shown = new Map<string, Set<number>>()
  /** Pieces sent whole to each peer that it has not announced yet. */
  const inFlight = new Map<string, Set<number>>()
  const setOf = (map: Map<string, Set<number>>, peer: string): Set<number> => {
    let s = map.get(peer)
    if (!s) map.set(peer, (s = new Set()))
    return s
  }
  return {
    reveal(peer, peerHas) {
      const s = setOf(shown, peer)
      // A piece shown before the peer's bitfield arrived may turn out to be one it holds: it
      // will never announce it, so free the slot now or the peer stalls with a full window.
      for (const i of s) {
        if (peerHas(i)) {
          s.delete(i)
          unpend(i)
        }
      }
      const onWay = inFlight.get(peer)
      const out: number[] = []
      const w = windowOf(peer)
      const showable = (i: number): boolean => !s.has(i) && !onWay?.has(i) && !peerHas(i)
      while (s.size < w) {
        const best = byCopies.rarest(showable, random)
        if (best === undefined) break
        s.add(best)
        pending[best]!++
        recount(best)
        out.push(best)
      }
      return out
    },
    recount,
    peerHas(peer, index) {
      if (shown.get(peer)?.delete(index)) unpend(index)
      else if (inFlight.get(peer)?.delete(index)) unpend(index)
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
      for (const i of shown.get(peer) ?? []) unpend(i)
      for (const i of inFlight.get(peer) ?? []) unpend(i)
      shown.delete(peer)
      inFlight.delete(peer)
    },
    revealedTo: (peer) => shown.get(peer) ?? new Set(),
  }
}
