import { randomBytes } from 'node:crypto'
import {
  createApiClient,
  createTrackerApi,
  createTrustPolicy,
  localityFromLabels,
  NO_LOG,
  type Digest,
  type HandOff,
  type HostReport,
  type Log,
  type PublicKey,
  type Target,
  type TrackerApi,
} from '../core/index.js'
import { createSwarmNode, type SwarmNode, type TorrentSession } from '../swarm/index.js'
import { createBundleCache } from './bundle-cache.js'
import { createTargetRunner, type Job } from './run-target.js'
import { createReporter, type Reporter } from './create-reporter.js'
import { claimHostId, watchTargets } from './watch-targets.js'

export interface FetcherInit {
  /** Holds cache/ (complete bundles and their torrents) and partial/ (downloads under way). */
  dataDir: string
  tracker: { url: string; token: string }
  hostId: string
  /** `release@channel` targets to follow. */
  follows: string[]
  labels?: Record<string, string>
  /** Peer wire port (default 6882; 0 picks one). */
  peerPort?: number
  /** Address peers reach (default all interfaces). */
  listenHost?: string
  downLimit?: number
  upLimit?: number
  maxConns?: number
  /** Bundles kept in the cache besides current targets (default 2). */
  keep?: number
  /** When set, only bundles signed by one of these keys are handed on. */
  trustedKeys?: ReadonlyMap<string, PublicKey>
  /** What runs a fetched bundle (the launcher; none: fetch, verify and seed only). */
  handOff?: HandOff
  /** Shortest and longest wait before retrying a failed target (default 2 s and 60 s). */
  retryMs?: { min: number; max: number }
  /** Web seed fallback after this long without progress from peers (default 4 s). */
  webSeedAfterMs?: number
  /** HTTP client for the tracker, announces and web seeds (one that trusts a private CA). */
  fetch?: typeof fetch
  log?: Log
}

export interface Fetcher {
  start(): Promise<{ peerPort: number }>
  stop(): Promise<void>
  /** What the host holds and is doing, per digest (for status and tests). */
  status(): { digest: Digest; state: HostReport['state']; errorCode?: string }[]
  /** Running totals for /metrics. */
  counters(): FetcherCounters
  readonly swarm: SwarmNode
}

export interface FetcherCounters {
  bytesUploaded: number
  bytesDownloaded: number
  peers: number
  piecesVerified: number
  pieceHashFailures: number
  /** Bytes of the bundles held that were derived from earlier bundles instead of fetched. */
  bytesDerived: number
  /** Bundles whose sha256 or signature did not match (never handed on). */
  verifyFailures: number
  launchFailures: number
}


/**
 * The host daemon: follows channels through the tracker's long-poll (watchTargets), fetches each
 * target from the swarm (web seed as fallback) into a content-addressed cache (fetchBundle,
 * createBundleCache), checks it against the trust policy before a byte is unpacked, hands it on
 * (stage: the launcher verifies the digest while unpacking, so each bundle is hashed once on the
 * host; then activate), keeps seeding, reports at most once a second per target, and evicts what
 * no target needs beyond the last K.
 */
export function createFetcher(init: FetcherInit): Fetcher {
  const { hostId, follows, labels = {}, keep = 2, handOff, log = NO_LOG } = init
  const retry = init.retryMs ?? { min: 2_000, max: 60_000 }
  const trust = createTrustPolicy(init.trustedKeys)
  const cache = createBundleCache(init.dataDir)
  const api: TrackerApi = createTrackerApi(createApiClient({ url: init.tracker.url, token: init.tracker.token, server: 'tracker', fetch: init.fetch }), init.tracker.token)
  const followed = new Set(follows)
  const swarm = createSwarmNode({
    role: 'host',
    port: init.peerPort ?? 6882,
    listenHost: init.listenHost,
    downLimit: init.downLimit,
    upLimit: init.upLimit,
    maxConns: init.maxConns,
    webSeedAfterMs: init.webSeedAfterMs,
    locality: localityFromLabels(labels),
    fetch: init.fetch,
    log,
  })
  const reporter: Reporter = createReporter({ client: api, hostId, log })
  const jobs = new Map<string, Job>()
  const seeding = new Map<string, TorrentSession>() // digest -> session
  const stopping = new AbortController()
  let watching: Promise<void> | undefined
  let targets: Target[] = []
  const failures = { verify: 0, launch: 0 }

  const runner = createTargetRunner(
    { retry, trust, handOff, webSeedToken: init.tracker.token },
    { api, swarm, cache, reporter, seeding, failures, log, evict: () => evict() },
  )
  const seedFromCache = runner.seedFromCache
  const run = runner.run

  /** Drops cached bundles that no target needs, beyond the `keep` most recently used. */
  const evict = async (): Promise<void> => {
    const needed = new Set<string>(targets.map((t) => t.digest))
    for (const j of jobs.values()) needed.add(j.target.digest)
    for (const d of await cache.evictable(needed, keep)) {
      const s = seeding.get(d)
      seeding.delete(d)
      if (s) await swarm.remove(s.info.infoHash)
      await cache.remove(d)
      log('info', 'evicted bundle', { digest: d })
    }
  }

  const onTargets = (answer: Target[]): void => {
    // The tracker's answer is checked against the wire contract by the API client; here, the host
    // acts only on what it was told to follow, whatever else a tracker (or anything between) says.
    const next = answer.filter((t) => followed.has(t.follow))
    if (next.length < answer.length) log('warn', 'ignoring targets this host does not follow', { follows: answer.filter((t) => !followed.has(t.follow)).map((t) => t.follow).slice(0, 8) })
    targets = next
    // A target only to stage comes with the version to keep running meanwhile (`hold`): that one
    // is wanted too, activated (a host that restarted mid-rollout starts it again from its cache).
    const wants: Target[] = []
    for (const t of next) {
      wants.push(t)
      if (t.activate === false && t.hold) {
        const { hold, activate: _, ...rest } = t
        wants.push({ ...rest, version: hold.version, digest: hold.digest, signature: hold.signature })
      }
    }
    const wanted = new Set<string>(wants.map((t) => t.digest))
    for (const [d, job] of jobs) {
      // A target that moved on is abandoned unless it already finished (then it stays cached).
      if (!wanted.has(d) && job.state !== 'running') job.abort.abort()
      if (!wanted.has(d)) jobs.delete(d)
    }
    for (const t of wants) {
      const job = jobs.get(t.digest)
      if (job) {
        // Its wave opened: a staged target is activated (a job still staging reads this when done).
        if (job.target.activate === false && t.activate !== false) {
          job.target = t
          if (job.state === 'staged') job.done = job.done.then(() => run(job))
        }
        continue
      }
      const fresh: Job = { target: t, abort: new AbortController(), state: 'pending', done: Promise.resolve() }
      fresh.done = run(fresh)
      jobs.set(t.digest, fresh)
    }
  }

  return {
    swarm,
    async start() {
      await cache.start()
      await swarm.start()
      // Keep seeding what the cache holds, from before a restart.
      for (const d of await cache.list()) await seedFromCache(d).catch((err: unknown) => log('warn', 'cannot seed cached bundle', { digest: d, message: (err as Error).message }))
      // Two live fetchers never act as one host: the second stops here with HOST_ID_IN_USE.
      const instance = randomBytes(8).toString('hex')
      const registered = await claimHostId({ hostId, labels, follows, instance }, { api, log, signal: stopping.signal }).catch(async (err: unknown) => {
        reporter.stop()
        await swarm.stop()
        throw err
      })
      watching = watchTargets({ hostId, labels, follows, instance, registered, onTargets }, { api, log, signal: stopping.signal })
      return { peerPort: swarm.port }
    },
    async stop() {
      stopping.abort()
      for (const j of jobs.values()) j.abort.abort()
      await watching
      await Promise.all([...jobs.values()].map((j) => j.done))
      await reporter.flush().catch(() => {})
      reporter.stop()
      await swarm.stop()
    },
    counters() {
      const sessions = swarm.list()
      const sum = (f: (s: ReturnType<TorrentSession['stats']>) => number): number => sessions.reduce((a, x) => a + f(x.stats()), 0)
      const t = swarm.totals()
      return {
        bytesUploaded: t.uploaded,
        bytesDownloaded: t.downloaded,
        peers: sum((x) => x.peers),
        piecesVerified: sum((x) => x.piecesDone),
        pieceHashFailures: sum((x) => x.hashFailures),
        bytesDerived: sum((x) => x.bytesDerived),
        verifyFailures: failures.verify,
        launchFailures: failures.launch,
      }
    },
    status: () => [...jobs.values()].map((j) => ({ digest: j.target.digest, state: j.state, ...(j.errorCode ? { errorCode: j.errorCode } : {}) })),
  }
}
