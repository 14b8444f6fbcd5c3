import { setTimeout as sleep } from 'node:timers/promises'
import { NotFoundError, type Log, type Target, type TrackerApi } from '../core/index.js'

/**
 * The host's side of the tracker's long-poll: registers the host (again when the tracker has
 * forgotten it: a 404), then holds a request for its targets until they change, and calls
 * `onTargets` with each new set; on failure it waits 1 s doubling to 30 s. Resolves when `signal`
 * aborts.
 */
export async function watchTargets(
  init: { hostId: string; labels: Record<string, string>; follows: string[]; waitSeconds?: number; onTargets: (targets: Target[]) => void },
  components: { api: TrackerApi; log: Log; signal: AbortSignal },
): Promise<void> {
  const { api, log, signal } = components
  let registered = false
  let etag: string | undefined
  let delay = 1_000
  while (!signal.aborted) {
    try {
      if (!registered) {
        await api.registerHost(init.hostId, { labels: init.labels, follows: init.follows }, { signal })
        registered = true
        etag = undefined // a (re)registration reads the targets afresh
        log('info', 'registered with the tracker', { hostId: init.hostId, follows: init.follows })
      }
      const r = await api.targets(init.hostId, etag, init.waitSeconds ?? 30, { signal })
      etag = r.etag
      delay = 1_000
      init.onTargets(r.targets)
    } catch (err) {
      if (signal.aborted) return
      // A tracker that lost its state no longer knows this host: register again.
      if (err instanceof NotFoundError) registered = false
      log('warn', 'watching targets failed; will retry', { code: (err as { code?: string }).code, message: (err as Error).message, retryInMs: delay })
      await sleep(delay, undefined, { signal }).catch(() => {})
      delay = Math.min(30_000, delay * 2)
    }
  }
}
