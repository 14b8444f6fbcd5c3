/**
 * The piece scheduler's bookkeeping and tie rules, one at a time: written from the mutants that
 * survived `npm run test:mutation -- --only scheduler` (the behavioural tests next door reach
 * them only through whole downloads).
 */
import { describe, expect, it } from 'vitest'
import { createPieceScheduler, encodeBitfield } from '../../src/swarm/index.js'

const all = () => true

describe('createPieceScheduler() bookkeeping', () => {
  it('refuses a piece count that is not a positive integer; one piece is fine', () => {
    for (const n of [0, -1, 1.5, Number.NaN]) expect(() => createPieceScheduler({ pieceCount: n }), String(n)).toThrow(RangeError)
    expect(createPieceScheduler({ pieceCount: 1 }).missing).toBe(1)
  })

  it('has(), markHave() (once per piece), missing and the bitfield agree', () => {
    const s = createPieceScheduler({ pieceCount: 10 })
    expect(s.has(3)).toBe(false)
    s.markHave(3)
    s.markHave(3)
    s.markHave(9)
    expect([s.has(3), s.has(9), s.has(4)]).toEqual([true, true, false])
    expect(s.missing).toBe(8)
    expect([...s.bitfield()]).toEqual([0b0001_0000, 0b0100_0000])
    expect([...encodeBitfield([1, 0, 0, 0, 0, 0, 0, 1, 1])]).toEqual([0b1000_0001, 0b1000_0000])
  })

  it('addAvailability() counts HAVEs for pieces in range only; addPeer() adds and removes a bitfield, never below zero', () => {
    const s = createPieceScheduler({ pieceCount: 4 })
    s.addAvailability(0)
    s.addAvailability(0)
    s.addAvailability(3)
    s.addAvailability(-1)
    s.addAvailability(4)
    expect([0, 1, 2, 3].map((i) => s.availability(i))).toEqual([2, 0, 0, 1])
    s.addPeer((i) => i === 1 || i === 3)
    s.addPeer((i) => i < 2, -1)
    expect([0, 1, 2, 3].map((i) => s.availability(i))).toEqual([1, 0, 0, 2])
  })

  it('start() and finish() count downloads under way; finish() never goes below zero', () => {
    const s = createPieceScheduler({ pieceCount: 2 })
    s.start(1)
    s.start(1)
    expect(s.active(1)).toBe(2)
    s.finish(1)
    expect(s.active(1)).toBe(1)
    s.finish(0)
    expect(s.active(0)).toBe(0)
    s.finish(1)
    s.finish(1)
    expect(s.active(1)).toBe(0)
  })
})

describe('createPieceScheduler().pickable()', () => {
  it('holds for a missing piece nobody fetches; for one under way only in the end game and below maxPerPiece; never for a held one', () => {
    const s = createPieceScheduler({ pieceCount: 3 })
    for (let i = 0; i < 3; i++) s.addAvailability(i)
    expect([0, 1, 2].map((i) => s.pickable(i))).toEqual([true, true, true])
    s.start(0)
    expect(s.pickable(0)).toBe(false) // pieces 1 and 2 are still idle: no end game
    s.start(1)
    s.markHave(2)
    expect([0, 1, 2].map((i) => s.pickable(i))).toEqual([true, true, false]) // the end game
    s.start(0)
    expect(s.pickable(0)).toBe(false) // maxPerPiece (2) downloads under way
  })

  it('agrees with pick() for a peer holding only that piece, over random states', () => {
    let seed = 7
    const random = (): number => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646
    for (let round = 0; round < 300; round++) {
      const n = 1 + Math.floor(random() * 6)
      const s = createPieceScheduler({ pieceCount: n, random })
      for (let i = 0; i < n; i++) {
        for (let k = Math.floor(random() * 3); k > 0; k--) s.addAvailability(i)
        const r = random()
        if (r < 0.2) s.markHave(i)
        else if (r < 0.5) s.start(i)
        else if (r < 0.6) {
          s.start(i) // two downloads under way: at maxPerPiece
          s.start(i)
        }
      }
      for (let i = 0; i < n; i++) {
        if (s.availability(i) === 0) continue // a peer holding it would have counted
        const picked = s.pick((j) => j === i)
        expect(picked === i, `round ${round} piece ${i}`).toBe(s.pickable(i))
      }
    }
  })
})

describe('createPieceScheduler().pick()', () => {
  it('takes the rarest piece the peer has; among equals, the first from the random offset', () => {
    const rare = createPieceScheduler({ pieceCount: 3, random: () => 0 })
    for (const [i, n] of [[0, 3], [1, 2], [2, 4]] as const) for (let k = 0; k < n; k++) rare.addAvailability(i)
    expect(rare.pick(all)).toBe(1)
    expect(rare.pick((i) => i !== 1)).toBe(0)
    const ties = (r: number) => {
      const s = createPieceScheduler({ pieceCount: 4, random: () => r })
      s.addPeer(all)
      return s.pick(all)
    }
    expect([ties(0), ties(0.5), ties(0.99)]).toEqual([0, 2, 3])
  })

  it('stops at a piece one peer holds: nothing is rarer', () => {
    const s = createPieceScheduler({ pieceCount: 3, random: () => 0 })
    s.addAvailability(0)
    s.addAvailability(2)
    s.addAvailability(2)
    expect(s.pick(all)).toBe(0) // piece 1 counts no holder (a stale count) and is not preferred over a sure one
  })

  it('skips what the host has, what this peer is busy with and what it does not hold', () => {
    const s = createPieceScheduler({ pieceCount: 4, random: () => 0 })
    s.addPeer(all)
    s.markHave(0)
    expect([2, 3]).toContain(s.pick(all, new Set([1]))) // equals: either of the two left
    expect(s.pick((i) => i === 3)).toBe(3)
    expect(s.pick((i) => i === 0)).toBeUndefined()
  })

  it('end game: only when nothing is idle, the piece with the fewest downloads, then the rarest, at most maxPerPiece each', () => {
    const s = createPieceScheduler({ pieceCount: 3, random: () => 0, maxPerPiece: 2 })
    s.addPeer(all)
    s.addAvailability(2) // piece 2 is more common
    s.start(0)
    expect(s.pick(all)).toBe(1) // an idle piece first
    s.start(1)
    s.start(2)
    s.start(0) // 0 now has two under way: full
    expect(s.pick(all)).toBe(1) // 1 and 2 have one each; 1 is rarer
    expect([2, 3]).toContain(s.pick(all, new Set([1]))) // equals: either of the two left
    expect(s.pick(all, undefined, { endGame: (i) => i !== 1 })).toBe(2)
    s.start(1)
    s.start(2)
    expect(s.pick(all)).toBeUndefined() // every piece at maxPerPiece
  })

  it('no end game while a piece some peer holds is idle: a peer with nothing new does not double up', () => {
    const s = createPieceScheduler({ pieceCount: 4, random: () => 0, maxPerPiece: 2 })
    const a = (i: number) => i < 2 // peer A holds 0 and 1
    s.addPeer(all)
    s.addPeer(a)
    s.start(0)
    s.start(1)
    // A has nothing idle left; pieces 2 and 3 (another peer's) are idle: A waits.
    expect(s.pick(a)).toBeUndefined()
    s.start(2)
    expect(s.pick(a)).toBeUndefined()
    s.start(3) // every piece a source holds is under way: now the end game
    expect([0, 1]).toContain(s.pick(a))
    // Pieces nobody holds (class 0) do not hold the end game back for peers...
    const t = createPieceScheduler({ pieceCount: 3, random: () => 0 })
    t.addPeer(a)
    t.start(0)
    t.start(1)
    expect([0, 1]).toContain(t.pick(a))
    // ...but do for a source outside the swarm (the web seed asks for unheld pieces).
    expect(t.pick(all, new Set([0, 1]), { unheld: true })).toBe(2)
  })

  it('has nothing to pick once every piece is held', () => {
    const s = createPieceScheduler({ pieceCount: 2 })
    s.addPeer(all)
    s.markHave(0)
    s.markHave(1)
    expect(s.missing).toBe(0)
    expect(s.pick(all)).toBeUndefined()
  })
})

describe('pick() from a peer whose pieces are given as a list (candidates)', () => {
  /** 1,000 pieces, all held by one other peer (class 1); the peer asked holds 6 of them, 3 also held by a third peer. */
  function setup(seed = 1) {
    let x = seed
    const random = () => ((x = (x * 1103515245 + 12345) & 0x7fffffff) / 0x80000000)
    const s = createPieceScheduler({ pieceCount: 1000, random })
    s.addPeer(() => true)
    const held = [10, 500, 999, 20, 600, 700]
    for (const i of [20, 600, 700]) s.addAvailability(i) // class 2: not the rarest
    const has = (i: number) => held.includes(i)
    return { s, held, has }
  }

  it('picks the same rarest class as the scan, every rarest piece at random, none busy, held or under way', () => {
    const seen = new Set<number>()
    for (let seed = 1; seed <= 60; seed++) {
      const { s, held, has } = setup(seed)
      const scanned = s.pick(has)
      const listed = s.pick(has, undefined, { candidates: held })
      expect([10, 500, 999]).toContain(scanned)
      expect([10, 500, 999]).toContain(listed)
      seen.add(listed!)
    }
    expect([...seen].sort((a, b) => a - b)).toEqual([10, 500, 999])
    const { s, held, has } = setup()
    s.markHave(10)
    s.start(500)
    expect(s.pick(has, new Set([999]), { candidates: held })).toBeOneOf([20, 600, 700])
    // Only class-2 pieces left idle: still found through the list, with maxAvailability respected.
    expect(s.pick(has, new Set([999]), { candidates: held, maxAvailability: 1 })).toBeUndefined()
  })
})
