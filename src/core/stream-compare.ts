/**
 * Compares two byte streams that arrive in chunks of any size and at different paces: whichever
 * side is ahead waits in a queue (references to its chunks, not copies) until the other side's
 * bytes arrive to be compared with memcmp. Verify uses it to check that a bundle is byte for byte
 * the canonical re-encoding of what it holds; hashing the re-encoding instead cost a third
 * sha256 pass over every byte.
 *
 * The side that runs ahead is bounded by `maxLag` bytes: past that the streams are taken to
 * differ (the caller picks a bound no honest pair of streams reaches), so a hostile input cannot
 * make the queue hold it all.
 */
export interface StreamComparator {
  /** A chunk of the first stream. */
  left(chunk: Uint8Array): void
  /** A chunk of the second stream. */
  right(chunk: Uint8Array): void
  readonly leftBytes: number
  readonly rightBytes: number
  /** The offset of the first byte that differs (or where one side ran too far ahead), if any. */
  readonly firstDifference: number | undefined
  /** Both streams so far are the same bytes and the same length. */
  equal(): boolean
}

export function createStreamComparator(maxLag: number): StreamComparator {
  /** Chunks of the side that is ahead; `ahead` says which side that is. */
  let queue: Uint8Array[] = []
  let queued = 0
  let ahead: 'left' | 'right' = 'left'
  const total = { left: 0, right: 0 }
  /** Bytes of both streams matched so far. */
  let matched = 0
  let difference: number | undefined

  const differ = (at: number): void => {
    difference = at
    queue = []
    queued = 0
  }

  const take = (side: 'left' | 'right', chunk: Uint8Array): void => {
    total[side] += chunk.length
    if (difference !== undefined || chunk.length === 0) return
    if (queued > 0 && ahead !== side) {
      // Compare against the other side's queued bytes.
      let at = 0
      while (at < chunk.length && queue.length > 0) {
        const head = queue[0]!
        const n = Math.min(head.length, chunk.length - at)
        if (Buffer.compare(head.subarray(0, n), chunk.subarray(at, at + n)) !== 0) {
          const a = head.subarray(0, n)
          const b = chunk.subarray(at, at + n)
          let k = 0
          while (a[k] === b[k]) k++
          return differ(matched + k)
        }
        at += n
        matched += n
        queued -= n
        if (n === head.length) queue.shift()
        else queue[0] = head.subarray(n)
      }
      if (at === chunk.length) return
      chunk = chunk.subarray(at)
    }
    ahead = side
    queue.push(chunk)
    queued += chunk.length
    if (queued > maxLag) differ(matched)
  }

  return {
    left: (chunk) => take('left', chunk),
    right: (chunk) => take('right', chunk),
    get leftBytes() {
      return total.left
    },
    get rightBytes() {
      return total.right
    },
    get firstDifference() {
      if (difference !== undefined) return difference
      return total.left === total.right ? undefined : Math.min(total.left, total.right)
    },
    equal: () => difference === undefined && total.left === total.right,
  }
}
