import { createReadStream } from 'node:fs'
import { mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { digestHex, type Digest, type Log, type TrackerApi } from '../core/index.js'
import { openPieceFile, parseTorrentInfo, type SwarmNode } from '../swarm/index.js'
import type { BundleStore } from './bundle-store.js'
import type { TorrentOffers } from './create-torrent-offers.js'

export interface MirrorInit {
  store: BundleStore
  offers: TorrentOffers
  swarm: SwarmNode
  tracker: TrackerApi
  /** Holds mirror/<hex>.tar while a bundle comes in. */
  dataDir: string
  /** Versions of each release kept besides channel targets (the retention set's keep). */
  keep: number
  /** How often the tracker's retention set is read for bundles this seeder lacks (default 2 s). */
  intervalMs?: number
  /** Bundles fetched at once (default 2). */
  parallel?: number
  /** The seeder token, for other seeders' web seeds. */
  webSeedToken: string
  log?: Log
}

export interface Mirror {
  /** Digests being fetched now. */
  readonly fetching: ReadonlySet<string>
  stop(): Promise<void>
}

/**
 * Several origins (issue 19): a seeder holds every bundle the fleet keeps, not only those
 * uploaded to it. It reads the tracker's retention set (what the fleet keeps: channel targets and
 * recent versions) and fetches each bundle it lacks through the swarm like any peer (other
 * seeders, hosts, the web seeds), checks its digest as an upload is checked, then stores, offers
 * and registers it under its own name, so the tracker lists its web seed and announces it as an
 * origin. A publish then needs only one seeder to be up, and a seeder that dies mid-rollout
 * leaves the others holding every piece.
 */
export function startMirror(init: MirrorInit): Mirror {
  const { store, offers, swarm, tracker, keep, intervalMs = 2_000, parallel = 2, log = () => {} } = init
  const dir = join(init.dataDir, 'mirror')
  const fetching = new Set<string>()
  const failedAt = new Map<string, number>()
  const abort = new AbortController()
  let pass: Promise<void> | undefined

  const fetchOne = async (digest: Digest): Promise<void> => {
    const torrent = await tracker.torrent(digest, { signal: abort.signal })
    const info = await parseTorrentInfo(torrent)
    await mkdir(dir, { recursive: true })
    const path = join(dir, `${digestHex(digest)}.tar`)
    const file = await openPieceFile(path, info)
    const session = swarm.add(info, file, { announceUrls: [...tracker.announceUrls], webSeedToken: init.webSeedToken })
    try {
      await new Promise<void>((resolve, reject) => {
        session.done.then(resolve, reject)
        abort.signal.addEventListener('abort', () => reject(abort.signal.reason), { once: true })
      })
    } finally {
      // Seeded again below as an origin, from the store, once the digest matched.
      await swarm.remove(info.infoHash)
    }
    try {
      await store.put(createReadStream(path), digest, { signal: abort.signal })
    } finally {
      await rm(path, { force: true })
    }
    await offers.offer(digest, true)
    log('info', 'mirrored bundle from the swarm', { digest })
  }

  const runPass = async (): Promise<void> => {
    const { digests } = await tracker.retention(keep, { signal: abort.signal })
    const held = new Set((await store.list()).map((b) => b.digest))
    for (const d of digests as Digest[]) {
      if (held.has(d) || fetching.has(d) || fetching.size >= parallel) continue
      // A bundle that failed (no peer, bad digest) is tried again after a minute, not every pass.
      if (Date.now() - (failedAt.get(d) ?? 0) < 60_000) continue
      fetching.add(d)
      void fetchOne(d)
        .then(() => failedAt.delete(d))
        .catch((err: Error) => {
          if (abort.signal.aborted) return
          failedAt.set(d, Date.now())
          log('warn', 'mirroring a bundle failed; will retry', { digest: d, message: err.message })
        })
        .finally(() => fetching.delete(d))
    }
  }

  const timer = setInterval(() => {
    pass ??= runPass()
      .catch((err: Error) => {
        if (!abort.signal.aborted) log('warn', 'reading the retention set failed', { message: err.message })
      })
      .finally(() => (pass = undefined))
  }, intervalMs)
  timer.unref()

  return {
    fetching,
    async stop() {
      clearInterval(timer)
      abort.abort(new Error('the seeder is stopping'))
      await pass
    },
  }
}
