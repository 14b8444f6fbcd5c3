/**
 * Which swarms gained a downloader, for origins to dial newcomers at once. An origin announces
 * at the tracker's interval (60 s); a client that cannot reach the origin itself (transmission
 * 3.00 gives a peer up for 15 minutes once its uTP attempt fails, and its TCP retry is cut by a
 * bug) would wait that long for the origin's next announce to list it. So a seeder long-polls
 * here and re-announces each swarm named, which lists the newcomer, which it dials.
 *
 * In memory and bounded: the last `capacity` arrivals (swarm, sequence number) and at most
 * `maxWaiters` parked requests; a reader that fell behind the ring gets every swarm in it.
 */
export interface Arrivals {
  /** A downloader joined the swarm of `infoHash` (here, or at another replica). */
  note(infoHash: string): void
  /** Swarms with arrivals numbered above `after`; waits up to `waitMs` for one when there are none. */
  since(after: number, waitMs: number): Promise<{ seq: number; infoHashes: string[] }>
  close(): void
}

export function createArrivals(init: { capacity?: number; maxWaiters?: number } = {}): Arrivals {
  const capacity = init.capacity ?? 4096
  const maxWaiters = init.maxWaiters ?? 256
  const ring: { seq: number; infoHash: string }[] = []
  let seq = 0
  const waiters = new Set<() => void>()

  const collect = (after: number): string[] => {
    // A reader ahead of us (the tracker restarted and counts from 0 again) gets everything.
    const from = after > seq ? 0 : after
    const out = new Set<string>()
    for (let i = ring.length - 1; i >= 0 && ring[i]!.seq > from; i--) out.add(ring[i]!.infoHash)
    return [...out]
  }

  return {
    note(infoHash) {
      // The same swarm twice in a row is one entry (a burst of hosts joining one rollout).
      if (ring.at(-1)?.infoHash === infoHash) ring.at(-1)!.seq = ++seq
      else {
        ring.push({ seq: ++seq, infoHash })
        if (ring.length > capacity) ring.shift()
      }
      for (const w of [...waiters]) w()
    },
    async since(after, waitMs) {
      let infoHashes = collect(after)
      if (infoHashes.length === 0 && waitMs > 0 && waiters.size < maxWaiters && after <= seq) {
        await new Promise<void>((resolve) => {
          const done = (): void => {
            clearTimeout(timer)
            waiters.delete(done)
            resolve()
          }
          const timer = setTimeout(done, waitMs)
          timer.unref()
          waiters.add(done)
        })
        infoHashes = collect(after)
      }
      return { seq, infoHashes }
    },
    close() {
      for (const w of [...waiters]) w()
    },
  }
}
