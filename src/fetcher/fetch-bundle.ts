import { ShoalError, type Target, type TrackerApi } from '../core/index.js'
import { openPieceFile, parseTorrentInfo, type SwarmNode, type TorrentSession } from '../swarm/index.js'
import type { BundleCache } from './bundle-cache.js'

/**
 * Downloads a target into partial/ from the swarm (the torrent from the registry, resuming what
 * is on disk), calling `progress` once a second with the session and its rate. Resolves with the
 * session (which keeps seeding) when every piece is stored; a full disk removes the partial file.
 */
export async function fetchBundle(
  t: Target,
  progress: (session: TorrentSession, rate: number) => void,
  components: { api: TrackerApi; swarm: SwarmNode; cache: BundleCache; webSeedToken: string; signal: AbortSignal },
): Promise<TorrentSession> {
  const { api, swarm, cache, signal } = components
  const torrent = await api.torrent(t.digest, { signal })
  const info = await parseTorrentInfo(torrent)
  await cache.writeTorrent(t.digest, torrent)
  const file = await openPieceFile(cache.path(t.digest, 'tar', 'partial'), info)
  const session = swarm.add(info, file, { announceUrls: [...api.announceUrls], webSeedToken: components.webSeedToken })
  let last = session.stats()
  let lastAt = performance.now()
  progress(session, 0)
  const ticker = setInterval(() => {
    const now = session.stats()
    const t1 = performance.now()
    const rate = ((now.bytesFromPeers + now.bytesFromOrigin - last.bytesFromPeers - last.bytesFromOrigin) * 1000) / (t1 - lastAt)
    last = now
    lastAt = t1
    progress(session, Math.max(0, rate))
  }, 1000)
  ticker.unref()
  try {
    await new Promise<void>((resolve, reject) => {
      session.done.then(resolve, reject)
      signal.addEventListener('abort', () => reject(signal.reason), { once: true })
    })
    return session
  } catch (err) {
    await swarm.remove(info.infoHash)
    // Nothing half-written stays behind; the retry starts clean once space is back.
    if (err instanceof ShoalError && err.code === 'DISK_FULL') await cache.dropPartial(t.digest)
    throw err
  } finally {
    clearInterval(ticker)
  }
}
