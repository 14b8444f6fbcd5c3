import type { Log, ShoalError } from '../core/index.js'
import { announce, type AnnounceResponse, type PeerAddress } from './announce.js'

export type AnnounceEvent = 'started' | 'completed' | 'stopped'

export interface AnnouncerInit {
  /** Announce URLs with the passkey; tried in order until one answers. */
  urls: string[]
  infoHash: string
  peerId: Uint8Array
  /** Where figures and the listening port come from at each announce. */
  figures: () => { port: number; uploaded: number; downloaded: number; left: number }
  /** Ask again within `hungryMs` (rather than the tracker's interval), given the tracker's answer. */
  hungry: (answer: AnnounceResponse) => boolean
  /** How soon a hungry torrent asks again (default 5 s). */
  hungryMs?: number
  onPeers: (peers: PeerAddress[]) => void
  /** Addresses the tracker vouches for as the swarm's origins. */
  onOrigins: (origins: PeerAddress[]) => void
  onError?: (err: unknown) => void
}

export interface Announcer {
  /** Announces now (after `delayMs`), with `event` if given. */
  schedule(delayMs: number, event?: AnnounceEvent): void
  /** Stops announcing; tells the trackers the torrent left (bounded at 1 s) unless `quiet`. */
  stop(options?: { quiet?: boolean }): Promise<void>
}

/**
 * One torrent's announces (BEP 3): at the tracker's interval, sooner while the torrent is hungry
 * (a host missing pieces with few peers; an origin with downloaders it is not linked to), with backoff (1 s doubling to 30 s) while no tracker
 * answers; an event that failed to reach a tracker is sent again with the next announce.
 */
export function createAnnouncer(init: AnnouncerInit, components: { fetch: typeof fetch; log: Log }): Announcer {
  const { urls, infoHash, peerId } = init
  const { log } = components
  const abort = new AbortController()
  let timer: NodeJS.Timeout | undefined
  let failures = 0
  let stopped = false

  const schedule = (delayMs: number, event?: AnnounceEvent): void => {
    if (!urls.length || stopped) return
    clearTimeout(timer)
    timer = setTimeout(() => void announceNow(event), delayMs)
    timer.unref()
  }

  const announceNow = async (event?: AnnounceEvent): Promise<void> => {
    let next = 60_000
    for (const url of urls) {
      try {
        const r = await announce({ url, infoHash, peerId, ...init.figures(), event, signal: AbortSignal.any([abort.signal, AbortSignal.timeout(10_000)]), fetch: components.fetch })
        init.onOrigins(r.origins)
        failures = 0
        next = Math.min(r.intervalSeconds * 1000, init.hungry(r) ? (init.hungryMs ?? 5_000) : Infinity)
        init.onPeers(r.peers)
        break
      } catch (err) {
        if (stopped) return
        failures++
        next = Math.min(30_000, 1000 * 2 ** Math.min(failures - 1, 5))
        init.onError?.(err)
        log('warn', 'announce failed', { infoHash, code: (err as ShoalError).code, message: (err as Error).message, retryInMs: next })
      }
    }
    // The first announce failing must not lose its event: a tracker that comes back hears it.
    schedule(next, failures > 0 ? event : undefined)
  }

  return {
    schedule,
    async stop(options = {}) {
      if (stopped) return
      if (urls.length && !options.quiet) {
        // Tell the tracker we left, but never wait long for it.
        const f = init.figures()
        await Promise.any(urls.map((url) => announce({ url, infoHash, peerId, ...f, downloaded: 0, event: 'stopped', signal: AbortSignal.timeout(1_000), fetch: components.fetch }))).catch(() => {})
      }
      stopped = true
      abort.abort()
      clearTimeout(timer)
    },
  }
}
