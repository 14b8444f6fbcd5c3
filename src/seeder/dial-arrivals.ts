import { setTimeout as sleep } from 'node:timers/promises'
import type { Log, TrackerApi } from '../core/index.js'
import type { SwarmNode } from '../swarm/index.js'

export interface ArrivalsFollower {
  stop(): Promise<void>
}

/**
 * The origin's side of the tracker's arrivals (see tracker/arrivals.ts): long-polls which swarms
 * gained a downloader and re-announces each one it serves, so the tracker's answer lists the
 * newcomer and the origin dials it within about a second, whether or not the newcomer can reach
 * the origin itself. One poll per `minGapMs` at most (a rollout of thousands of hosts is one
 * re-announce a second per swarm, not one per host); tracker errors back off 1 s doubling to 30 s.
 */
export function followArrivals(init: { tracker: TrackerApi; swarm: SwarmNode; log?: Log; minGapMs?: number; waitSeconds?: number }): ArrivalsFollower {
  const { tracker, swarm, log = () => {}, minGapMs = 1_000, waitSeconds = 25 } = init
  const abort = new AbortController()
  const pause = (ms: number): Promise<void> => sleep(Math.max(0, ms), undefined, { signal: abort.signal }).catch(() => {})

  const loop = async (): Promise<void> => {
    let after: number | undefined
    let failures = 0
    while (!abort.signal.aborted) {
      const started = performance.now()
      try {
        // The first poll only learns where the tracker's count stands: every torrent announced at start.
        const r = await tracker.arrivals(after ?? 0, after === undefined ? 0 : waitSeconds, { signal: abort.signal })
        if (after !== undefined) for (const ih of r.infoHashes) swarm.get(ih)?.reannounce()
        after = r.seq
        failures = 0
        await pause(minGapMs - (performance.now() - started))
      } catch (err) {
        if (abort.signal.aborted) return
        failures++
        const retryInMs = Math.min(30_000, 1000 * 2 ** Math.min(failures - 1, 5))
        if (failures === 1 || failures % 10 === 0) log('warn', 'cannot follow the tracker\'s swarm arrivals', { message: (err as Error).message, retryInMs })
        await pause(retryInMs)
      }
    }
  }
  const running = loop()
  return {
    async stop() {
      abort.abort()
      await running
    },
  }
}
