import { mkdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { digestHex, writeFileAtomically, type BundleFacts, type Digest, type Log, type TrackerApi } from '../core/index.js'
import { makeTorrent, openPieceFile, parseTorrentInfo, type SwarmNode } from '../swarm/index.js'
import type { BundleStore } from './bundle-store.js'
import { pieceLengthFor } from './bundle-store.js'

export interface TorrentOffersInit {
  store: BundleStore
  /** Holds torrents/<hex>.torrent, so a restart does not rehash every bundle. */
  dataDir: string
  /** The URL hosts reach this seeder at; web seed URLs are built from it (read when a torrent is made). */
  publicUrl: string | (() => string)
  /** Name this seeder registers bundles under. */
  name: string
  /** The tracker to register bundles with (its announce URL carries the seeder's passkey). */
  tracker?: TrackerApi
  /** Seeds over the peer wire when given. */
  swarm?: SwarmNode
  log?: Log
}

export interface TorrentOffers {
  /** Makes (or loads) the torrent, registers it with the tracker and starts seeding it. */
  offer(digest: Digest, created: boolean): Promise<BundleFacts>
  /** Offers every stored bundle (at start); registrations that fail are retried in the background. */
  offerAll(): Promise<void>
  /** Stops seeding and forgets a bundle (before the store removes it). */
  withdraw(digest: Digest): Promise<void>
  stop(): void
}

/**
 * What the seeder offers for every bundle it holds: one torrent each (private, no announce URL,
 * the web seed in url-list), registered with the tracker (retried in the background while the
 * tracker is away) and seeded in BEP 16 reveal mode.
 */
export function createTorrentOffers(init: TorrentOffersInit): TorrentOffers {
  const { store, publicUrl, name, tracker, swarm, log = () => {} } = init
  const torrentDir = join(init.dataDir, 'torrents')
  const facts = new Map<string, BundleFacts>()
  const unregistered = new Map<string, { f: BundleFacts; torrent: Buffer }>()
  let retryTimer: NodeJS.Timeout | undefined
  let retryDelay = 1_000
  const webSeedOf = (d: Digest): string => `${(typeof publicUrl === 'string' ? publicUrl : publicUrl()).replace(/\/$/, '')}/bundles/${digestHex(d)}.tar`

  const register = async (f: BundleFacts, torrent: Buffer): Promise<void> => {
    await tracker?.registerBundle(f.digest, { size: f.size, infoHash: f.infoHash, pieceLength: f.pieceLength, webSeeds: [f.webSeed], seeder: name, torrent: torrent.toString('base64') })
  }

  const retryLater = (): void => {
    if (retryTimer || !unregistered.size) return
    retryTimer = setTimeout(() => {
      retryTimer = undefined
      void (async () => {
        for (const [key, { f, torrent }] of unregistered) {
          try {
            await register(f, torrent)
            unregistered.delete(key)
            retryDelay = 1_000
            log('info', 'registered bundle', { digest: f.digest })
          } catch (err) {
            retryDelay = Math.min(30_000, retryDelay * 2)
            log('warn', 'registration failed; will retry', { digest: f.digest, message: (err as Error).message, retryInMs: retryDelay })
            break
          }
        }
        retryLater()
      })()
    }, retryDelay)
    retryTimer.unref()
  }

  const loadTorrent = async (digest: Digest, path: string, size: number): Promise<Buffer> => {
    const file = join(torrentDir, `${digestHex(digest)}.torrent`)
    const cached = await readFile(file).catch(() => undefined)
    if (cached) {
      const info = await parseTorrentInfo(cached).catch(() => undefined)
      if (info && info.length === size && info.urlList.includes(webSeedOf(digest))) return cached
    }
    // No announce URL in the torrent: each host announces with its own passkey.
    const torrent = await makeTorrent(path, { name: `${digestHex(digest)}.tar`, pieceLength: pieceLengthFor(size), urlList: [webSeedOf(digest)] })
    await mkdir(torrentDir, { recursive: true })
    await writeFileAtomically(file, (w) => new Promise<void>((resolve) => w.end(torrent, resolve)))
    return torrent
  }

  const offer = async (digest: Digest, created: boolean, background = false): Promise<BundleFacts> => {
    const cached = facts.get(digest)
    if (cached) return { ...cached, created }
    const stored = await store.get(digest)
    if (!stored) throw new RangeError(`bundle ${digest} is not stored`)
    const torrent = await loadTorrent(digest, stored.path, stored.size)
    const info = await parseTorrentInfo(torrent)
    const f: BundleFacts = { digest, size: stored.size, infoHash: info.infoHash, pieceLength: info.pieceLength, webSeed: webSeedOf(digest), created }
    try {
      await register(f, torrent)
    } catch (err) {
      if (!background) throw err
      unregistered.set(digest, { f, torrent })
      log('warn', 'registration failed; will retry', { digest, message: (err as Error).message })
      retryLater()
    }
    if (swarm && !swarm.get(info.infoHash)) {
      const file = await openPieceFile(stored.path, info, { complete: true })
      swarm.add(info, file, { superSeed: true, webSeeds: [], announceUrls: tracker ? [...tracker.announceUrls] : [] })
    }
    facts.set(digest, f)
    return f
  }

  // Two uploads of one bundle at once (two publishes of the same build) must make one offer: the
  // second waits for the first instead of racing it into the swarm (it was a 500 on the loser).
  const inflight = new Map<Digest, Promise<BundleFacts>>()
  const offerOnce = (digest: Digest, created: boolean, background = false): Promise<BundleFacts> => {
    let p = inflight.get(digest)
    if (!p) {
      p = offer(digest, created, background).finally(() => inflight.delete(digest))
      inflight.set(digest, p)
    }
    return p.then((f) => ({ ...f, created }))
  }

  return {
    offer: (digest, created) => offerOnce(digest, created),
    async offerAll() {
      for (const b of await store.list()) await offerOnce(b.digest, false, true)
    },
    async withdraw(digest) {
      const f = facts.get(digest)
      facts.delete(digest)
      unregistered.delete(digest)
      if (f && swarm) await swarm.remove(f.infoHash)
      await rm(join(torrentDir, `${digestHex(digest)}.torrent`), { force: true })
    },
    stop() {
      clearTimeout(retryTimer)
      retryTimer = undefined
    },
  }
}
