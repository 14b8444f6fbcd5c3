import { bundleLayout, ShoalError, type Log, type Target, type TrackerApi } from '../core/index.js'
import { openPieceFile, parseTorrentInfo, type PieceFile, type SwarmNode, type TorrentInfo, type TorrentSession } from '../swarm/index.js'
import type { BundleCache } from './bundle-cache.js'
import { deriveBundle, indexLocalContent, readRemoteManifest, type Derivation } from './derive-bundle.js'

interface FetchComponents {
  api: TrackerApi
  swarm: SwarmNode
  cache: BundleCache
  webSeedToken: string
  signal: AbortSignal
  log: Log
  fetch?: typeof fetch
}

/**
 * Derives what it can of the new bundle from the bundles the host holds (see deriveBundle): the
 * new manifest comes from the web seed, and only when there is something to derive from. Any
 * failure here only means fetching more: the download goes on as if nothing were held.
 */
async function deriveFromCache(t: Target, info: TorrentInfo, file: PieceFile, c: FetchComponents): Promise<(Derivation & { fetched: number }) | undefined> {
  if (file.verified.every(Boolean)) return undefined
  const started = performance.now()
  try {
    const local = await indexLocalContent(c.cache, t.digest, c.log)
    if (!local.bySha.size) return undefined
    const { manifest, bytes: fetched } = await readRemoteManifest(info.urlList, c.webSeedToken, c.fetch ?? fetch, c.signal)
    const derived = await deriveBundle(file, info, bundleLayout(manifest), local, c.signal)
    const partial = [...derived.partials.values()].reduce((n, p) => n + p.known, 0)
    c.log('info', 'bundle derived from held content', {
      digest: t.digest,
      from: local.bundles,
      pieces: derived.pieces,
      bytes: derived.bytes,
      partialPieces: derived.partials.size,
      partialBytes: partial,
      manifestBytes: fetched,
      ms: Math.round(performance.now() - started),
    })
    return { ...derived, fetched }
  } catch (err) {
    if (c.signal.aborted) throw err
    c.log('warn', 'nothing derived from held content; fetching the whole bundle', { digest: t.digest, message: (err as Error).message })
    return undefined
  }
}

/**
 * Downloads a target into partial/ from the swarm (the torrent from the registry, resuming what
 * is on disk, deriving what the host's previous bundles hold), calling `progress` once a second with the session and its rate. Resolves with the
 * session (which keeps seeding) when every piece is stored; a full disk removes the partial file.
 */
export async function fetchBundle(
  t: Target,
  progress: (session: TorrentSession, rate: number) => void,
  components: FetchComponents,
): Promise<TorrentSession> {
  const { api, swarm, cache, signal } = components
  const torrent = await api.torrent(t.digest, { signal })
  const info = await parseTorrentInfo(torrent)
  await cache.writeTorrent(t.digest, torrent)
  const file = await openPieceFile(cache.path(t.digest, 'tar', 'partial'), info)
  const derived = await deriveFromCache(t, info, file, components).catch(async (err: unknown) => {
    await file.close().catch(() => {}) // abandoned before the swarm took the file over
    throw err
  })
  const session = swarm.add(info, file, {
    announceUrls: [...api.announceUrls],
    webSeedToken: components.webSeedToken,
    derived: derived && { bytes: derived.bytes, partials: derived.partials, fromOrigin: derived.fetched },
  })
  // Bounded by the peers (one that sends a bad piece is dropped and banned) and the partial pieces.
  session.on('hash-failure', (e: { index: number; addr: string }) => components.log('warn', 'piece failed its hash; thrown away (a peer that sent it is dropped)', { digest: t.digest, piece: e.index, from: e.addr }))
  session.on('derived-mismatch', (e: { index: number; addr: string }) =>
    components.log('warn', 'a partly derived piece failed its hash; fetching it whole', { digest: t.digest, piece: e.index, from: e.addr }),
  )
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
