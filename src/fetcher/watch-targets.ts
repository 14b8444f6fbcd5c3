import { setTimeout as sleep } from 'node:timers/promises'
import { HostIdInUseError, NotFoundError, type Log, type Target, type TrackerApi } from '../core/index.js'

/**
 * The host's side of the tracker's long-poll: registers the host (again when the tracker has
 * forgotten it: a 404), then holds a request for its targets until they change, and calls
 * `onTargets` with each new set; on failure it waits 1 s doubling to 30 s. Resolves when `signal`
 * aborts.
 */
export async function watchTargets(
  init: { hostId: string; labels: Record<string, string>; follows: string[]; instance?: string; registered?: boolean; waitSeconds?: number; onTargets: (targets: Target[]) => void },
  components: { api: TrackerApi; log: Log; signal: AbortSignal },
): Promise<void> {
  const { api, log, signal } = components
  const { instance } = init
  let registered = init.registered ?? false
  let etag: string | undefined
  let delay = 1_000
  while (!signal.aborted) {
    try {
      if (!registered) {
        await api.registerHost(init.hostId, { labels: init.labels, follows: init.follows, ...(instance ? { instance } : {}) }, { signal })
        registered = true
        etag = undefined // a (re)registration reads the targets afresh
        log('info', 'registered with the tracker', { hostId: init.hostId, follows: init.follows })
      }
      const r = await api.targets(init.hostId, etag, init.waitSeconds ?? 30, { signal, instance })
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

/**
 * The first registration, at start: a HOST_ID_IN_USE answer (another live fetcher acts as this
 * host id) is tried again for `withinMs` (a predecessor killed moments ago is free after the
 * tracker's grace) and then thrown, so the second fetcher does not start; any other failure is
 * left to watchTargets, which retries (a fetcher starts while its tracker is away). True when
 * registered.
 */
export async function claimHostId(
  init: { hostId: string; labels: Record<string, string>; follows: string[]; instance: string; withinMs?: number },
  components: { api: TrackerApi; log: Log; signal: AbortSignal },
): Promise<boolean> {
  const until = performance.now() + (init.withinMs ?? 12_000)
  for (let logged = false; ; ) {
    try {
      await components.api.registerHost(init.hostId, { labels: init.labels, follows: init.follows, instance: init.instance }, { signal: components.signal })
      return true
    } catch (err) {
      if (!(err instanceof HostIdInUseError)) return false
      if (performance.now() > until) throw err
      if (!logged) components.log('warn', 'another fetcher holds this host id; waiting for it to go', { hostId: init.hostId })
      logged = true
      await sleep(1_000, undefined, { signal: components.signal })
    }
  }
}
