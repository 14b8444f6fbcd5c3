import { describe, expect, it } from 'vitest'
import { createPieceScheduler, createSuperSeed } from '../../src/swarm/index.js'

const all = () => true
const only = (...xs: number[]) => (i: number) => xs.includes(i)
const seq = (values: number[]) => {
  let k = 0
  return () => values[k++ % values.length]!
}

describe('createPieceScheduler()', () => {
  it('pick() takes the rarest piece the peer holds', () => {
    const s = createPieceScheduler({ pieceCount: 4, random: () => 0 })
    s.addPeer(all)
    s.addPeer(only(0, 1, 3))
    s.addPeer(only(0, 3))
    // availability: 0 -> 3, 1 -> 2, 2 -> 1, 3 -> 3
    expect(s.pick(all)).toBe(2)
    expect(s.pick(only(0, 1, 3))).toBe(1)
  })

  it('pick() breaks ties at random, so hosts spread over pieces', () => {
    const picks = new Set<number>()
    for (let k = 0; k < 8; k++) {
      const s = createPieceScheduler({ pieceCount: 64, random: seq([k / 8]) })
      s.addPeer(all)
      picks.add(s.pick(all)!)
    }
    expect(picks.size).toBe(8)
  })

  it('pick() skips held pieces and pieces under way, then doubles up in the end game', () => {
    const s = createPieceScheduler({ pieceCount: 3, random: () => 0, maxPerPiece: 2 })
    s.addPeer(all)
    s.markHave(0)
    s.start(1)
    expect(s.pick(all)).toBe(2)
    s.start(2)
    // Nothing unstarted is left: the end game shares a piece under way, at most twice.
    const endGame = s.pick(all)
    expect([1, 2]).toContain(endGame)
    s.start(1)
    s.start(2)
    expect(s.pick(all)).toBeUndefined()
    expect(s.pick(all, new Set([1]))).toBeUndefined()
  })

  it('pick() returns undefined when the peer has nothing we lack, and once complete', () => {
    const s = createPieceScheduler({ pieceCount: 2 })
    s.addPeer(only(0))
    s.markHave(0)
    expect(s.pick(only(0))).toBeUndefined()
    s.markHave(1)
    expect(s.missing).toBe(0)
    expect(s.pick(all)).toBeUndefined()
  })

  it('addPeer(-1) undoes a departed peer and bitfield() is BEP 3 order', () => {
    const s = createPieceScheduler({ pieceCount: 10 })
    s.addPeer(only(1, 9))
    s.addPeer(only(1, 9), -1)
    expect(s.availability(1)).toBe(0)
    s.markHave(0)
    s.markHave(9)
    expect([...s.bitfield()]).toEqual([0b1000_0000, 0b0100_0000])
  })

  it('rejects a piece count that is not a positive integer', () => {
    expect(() => createPieceScheduler({ pieceCount: 0 })).toThrow(RangeError)
  })

  it('a pick costs O(pieces) whatever the number of peers: no peer is asked during a pick', () => {
    // Counted, not timed: a peers x pieces loop would show as peer calls.
    const s = createPieceScheduler({ pieceCount: 2000 })
    let peerCalls = 0
    for (let p = 0; p < 1000; p++) {
      s.addPeer((i) => {
        peerCalls++
        return (i + p) % 3 === 0
      })
    }
    expect(peerCalls).toBe(1000 * 2000) // each peer's pieces counted once, when it joins
    peerCalls = 0
    let asked = 0
    for (let k = 0; k < 1000; k++) {
      s.pick(() => {
        asked++
        return true
      })
    }
    expect(peerCalls).toBe(0)
    expect(asked).toBeLessThanOrEqual(1000 * 2000)
  })
})

describe('createPieceScheduler(): availability classes (issue 20)', () => {
  it('a pick asks about the rarest pieces first and stops at the first the peer holds: a few questions, not one per piece', () => {
    let seed = 7
    const s = createPieceScheduler({ pieceCount: 100_000, random: () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) })
    for (let p = 0; p < 3; p++) s.addPeer(all)
    s.addAvailability(77_777) // one piece more common than the rest
    let asked = 0
    const counting = (i: number) => {
      asked++
      return i % 2 === 0
    }
    for (let k = 0; k < 1000; k++) {
      const i = s.pick(counting)!
      expect(i % 2).toBe(0)
      expect(i).not.toBe(77_777)
      s.start(i)
    }
    expect(asked).toBeLessThan(1000 * 20) // a linear scan would ask about 1000 * 50,000 times
  })

  it('a peer is never offered a piece no connected peer holds; a source outside the swarm (unheld) is, rarest first', () => {
    const s = createPieceScheduler({ pieceCount: 4, random: () => 0 })
    s.addPeer(only(0, 1))
    expect([0, 1]).toContain(s.pick(all))
    expect([2, 3]).toContain(s.pick(() => true, undefined, { unheld: true }))
    s.addPeer(only(0, 1), -1) // the peer left: nothing is held by anyone
    expect(s.pick(all)).toBeUndefined()
    expect(s.pick(() => true, undefined, { unheld: true })).toBeDefined()
  })

  it('classes follow every count change: HAVEs, peers leaving, pieces stored', () => {
    const s = createPieceScheduler({ pieceCount: 3, random: () => 0 })
    s.addPeer(all)
    s.addPeer(all)
    s.addAvailability(1)
    s.addPeer(only(0), -1) // 0 -> 1, 1 -> 3, 2 -> 2
    expect(s.pick(all)).toBe(0)
    s.markHave(0)
    expect(s.pick(all)).toBe(2)
    s.start(2)
    expect(s.pick(all)).toBe(1)
  })
})

describe('createSuperSeed()', () => {
  it('reveal() shows each peer different pieces before showing any twice', () => {
    const ss = createSuperSeed({ pieceCount: 8, window: 2, random: () => 0 })
    const seen: number[] = []
    for (let p = 0; p < 4; p++) seen.push(...ss.reveal(`p${p}`, () => false))
    expect(new Set(seen).size).toBe(8)
    const fifth = ss.reveal('p4', () => false)
    expect(fifth).toHaveLength(2)
  })

  it('reveal() prefers pieces with fewer copies among peers and skips what the peer holds', () => {
    const copies = [3, 0, 2, 1]
    const ss = createSuperSeed({ pieceCount: 4, window: 1, random: () => 0, availability: (i) => copies[i]! })
    for (let i = 0; i < 4; i++) ss.recount(i)
    expect(ss.reveal('a', only(1))).toEqual([3])
    copies[3] = 5 // more peers announced 3: 2 is now the least copied after 1
    ss.recount(3)
    expect(ss.reveal('b', only(1))).toEqual([2])
  })

  it('peerHas() frees the slot so the next reveal continues; peerGone() releases its pieces', () => {
    const ss = createSuperSeed({ pieceCount: 4, window: 1, random: () => 0 })
    const [first] = ss.reveal('a', () => false)
    expect(ss.reveal('a', () => false)).toEqual([])
    ss.peerHas('a', first!)
    expect(ss.reveal('a', only(first!))).toHaveLength(1)
    ss.peerGone('a')
    expect(ss.revealedTo('a').size).toBe(0)
  })
})

describe('createSuperSeed() and late bitfields', () => {
  it('reveal() frees slots of pieces the peer turns out to hold (its bitfield came after the first reveal)', () => {
    const ss = createSuperSeed({ pieceCount: 4, window: 2, random: () => 0 })
    const first = ss.reveal('a', () => false)
    expect(first).toHaveLength(2)
    // The bitfield arrives: the peer already has both. Without freeing, the window stays full.
    const rest = [0, 1, 2, 3].filter((i) => !first.includes(i))
    expect(ss.reveal('a', only(...first)).sort()).toEqual(rest)
  })
})

describe('createSuperSeed() and clients that batch HAVEs or request in bursts', () => {
  it('sent() frees the slot at once, keeps the piece counted as a copy until announced, and never shows it to the same peer again', () => {
    const held = new Set<number>()
    const ss = createSuperSeed({ pieceCount: 4, window: 1, random: () => 0, availability: (i) => (held.has(i) ? 1 : 0) })
    const [x] = ss.reveal('a', () => false)
    ss.sent('a', x!) // sent whole; no HAVE yet (transmission sends them about once a second)
    const [y] = ss.reveal('a', () => false)
    expect(y).not.toBe(x)
    // x is on its way to a: b is shown another piece first.
    const [z] = ss.reveal('b', () => false)
    expect([x, y]).not.toContain(z)
    ss.peerHas('a', x!) // the batched HAVE: no double count
    ss.sent('a', y!)
    ss.peerHas('a', y!)
    ss.peerGone('b')
    // Nothing pending anywhere now: x and y held by a (availability 1), z and the fourth by none.
    for (const i of [x!, y!]) {
      held.add(i)
      ss.recount(i)
    }
    expect([x, y]).not.toContain(ss.reveal('c', () => false)[0])
  })

  it('sent() of a piece the peer was not shown changes nothing', () => {
    const ss = createSuperSeed({ pieceCount: 4, window: 1, random: () => 0 })
    ss.reveal('a', () => false)
    ss.sent('a', 3)
    expect(ss.reveal('a', () => false)).toEqual([])
  })

  it('starved() doubles one peer\'s window up to maxWindow; widen() starts it wider; peerGone() forgets it', () => {
    const ss = createSuperSeed({ pieceCount: 64, window: 2, maxWindow: 8, random: () => 0 })
    ss.reveal('a', () => false)
    expect(ss.windowOf('a')).toBe(2)
    ss.starved('a')
    expect(ss.windowOf('a')).toBe(4)
    expect(ss.reveal('a', () => false)).toHaveLength(2)
    ss.starved('a')
    ss.starved('a')
    expect(ss.windowOf('a')).toBe(8)
    expect(ss.windowOf('b')).toBe(2)
    ss.widen('b', 100)
    expect(ss.windowOf('b')).toBe(8)
    ss.peerGone('a')
    expect(ss.windowOf('a')).toBe(2)
  })
})

describe('createPieceScheduler() end game filter', () => {
  it('pick() with an endGame filter doubles up only on pieces it allows (no origin duplicates of pieces peers hold)', () => {
    const s = createPieceScheduler({ pieceCount: 2, random: () => 0 })
    s.addPeer(all) // the origin
    s.addPeer(only(0)) // a peer holding piece 0
    s.start(0)
    s.start(1)
    const fromOrigin = { endGame: (i: number) => s.availability(i) <= 1 }
    expect(s.pick(all, undefined, fromOrigin)).toBe(1)
    s.start(1)
    expect(s.pick(all, undefined, fromOrigin)).toBeUndefined()
  })
})

describe('createSuperSeed() at scale (issue 20)', () => {
  it('a reveal asks about the least-copied pieces first: a few questions, not one per piece; the scheduler reports every count change', () => {
    let seed = 11
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
    const P = 50_000
    const ss = createSuperSeed({ pieceCount: P, window: 4, random, availability: (i) => origin.availability(i) })
    const origin = createPieceScheduler({ pieceCount: P, random, onAvailability: ss.recount })
    origin.addPeer(all) // one peer holds everything, another every even piece
    origin.addPeer((i) => i % 2 === 0)
    let asked = 0
    const holdsNothing = () => {
      asked++
      return false
    }
    const shown = new Set<number>()
    for (let p = 0; p < 200; p++) for (const i of ss.reveal(`p${p}`, holdsNothing)) shown.add(i)
    // All 800 shown are odd (one copy, not two) and different; a linear scan would ask ~800 * 25,000 times.
    expect(shown.size).toBe(800)
    expect([...shown].every((i) => i % 2 === 1)).toBe(true)
    expect(asked).toBeLessThan(800 * 5)
  })
})
