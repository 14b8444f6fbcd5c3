/**
 * Pieces grouped by a small count (how many copies the swarm holds), each group an unordered list
 * with every piece's place in it: a count that changes moves its piece in O(1), and "the rarest
 * piece that passes a test" looks at the lowest groups first and stops at the first match, from a
 * random place in each group so that hosts with equal counts choose different pieces. What the
 * scheduler (rarest missing piece) and the super-seed (least-copied piece to reveal) share.
 */
export interface AvailabilityClasses {
  /** Puts the piece in class `count` (moving it out of the one it was in). */
  put(index: number, count: number): void
  /** Takes the piece out of every class. */
  remove(index: number): void
  /**
   * The first piece passing `ok` in the lowest class from `from` to `to`, or undefined. Given
   * `candidates` (every piece `ok` can pass, e.g. a peer's own pieces) that are fewer than the
   * pieces in those classes, it looks at those instead: a peer holding few pieces is then not
   * scanned for against a large rarest class (the simulator's picks were O(pieces) early on).
   */
  rarest(ok: (index: number) => boolean, random: () => number, from?: number, to?: number, candidates?: ArrayLike<number>): number | undefined
  /** How many pieces are in classes `from` and up. */
  count(from?: number): number
}

export function createAvailabilityClasses(pieceCount: number): AvailabilityClasses {
  const classes: number[][] = []
  const cls = new Int32Array(pieceCount).fill(-1)
  /** The lowest-class candidate passing `ok`, ties broken uniformly at random (reservoir). */
  const rarestOf = (candidates: ArrayLike<number>, ok: (index: number) => boolean, random: () => number, from: number, end: number): number | undefined => {
    let best: number | undefined
    let bestClass = Infinity
    let ties = 0
    for (let k = 0; k < candidates.length; k++) {
      const i = candidates[k]!
      const c = cls[i]! // -1: in no class (held, or being fetched)
      if (c < from || c > end || c > bestClass || !ok(i)) continue
      if (c < bestClass) {
        bestClass = c
        best = i
        ties = 1
      } else if (random() * ++ties < 1) best = i
    }
    return best
  }
  const pos = new Int32Array(pieceCount)
  let size = 0
  const remove = (i: number): void => {
    const c = cls[i]!
    if (c < 0) return
    size--
    const list = classes[c]!
    const last = list.pop()!
    if (last !== i) {
      list[pos[i]!] = last
      pos[last] = pos[i]!
    }
    cls[i] = -1
  }
  const count = (from = 0): number => {
    let n = size
    for (let c = 0; c < from && c < classes.length; c++) n -= classes[c]!.length
    return n
  }
  return {
    remove,
    count,
    put(i, c) {
      if (cls[i] === c) return
      remove(i)
      while (classes.length <= c) classes.push([])
      pos[i] = classes[c]!.length
      classes[c]!.push(i)
      cls[i] = c
      size++
    },
    rarest(ok, random, from = 0, to = Infinity, candidates) {
      const end = Math.min(classes.length - 1, to)
      if (candidates !== undefined) {
        // Open-ended ranges (every pick but the origin's) count by what lies below `from`, so
        // this does not walk up to one class per connected peer on every pick.
        let inRange = 0
        if (end === classes.length - 1) inRange = count(from)
        else for (let c = from; c <= end && inRange <= candidates.length; c++) inRange += classes[c]!.length
        if (candidates.length < inRange) return rarestOf(candidates, ok, random, from, end)
      }
      for (let c = from; c <= end; c++) {
        const list = classes[c]!
        const n = list.length
        if (n === 0) continue
        const offset = Math.floor(random() * n)
        for (let k = 0, j = offset; k < n; k++, j = j + 1 === n ? 0 : j + 1) {
          const i = list[j]!
          if (ok(i)) return i
        }
      }
      return undefined
    },
  }
}
