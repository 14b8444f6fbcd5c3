import { mkdir, readFile, readdir, rename, rm, stat, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { BundleDigestMismatchError, localityFromLabels, digestFile, digestHex, NotFoundError, parseSignature, ShoalError, SignatureMissingError, syncDir, verifyReleaseSignature, type Digest, type PublicKey } from '../core/index.js'
import { createSwarmNode, openPieceFile, parseTorrentInfo, type SwarmNode, type TorrentSession } from '../swarm/index.js'
import { createReporter, type Reporter } from './create-reporter.js'
import { createTrackerClient, type HostReport, type Target, type TrackerClient } from './tracker-client.js'

/** What the host does with a verified bundle: the launcher (install, activate, start). */
export type HandOff = (
  bundle: { path: string; digest: Digest; release: string; version: string },
  onState: (state: 'unpacking' | 'launching') => void,
) => Promise<void>

type Log = (level: 'info' | 'warn', message: string, fields?: Record<string, unknown>) => void

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
  /** Bundles whose sha256 or signature did not match (never handed on). */
  verifyFailures: number
  launchFailures: number
}

interface Job {
  target: Target
  abort: AbortController
  state: HostReport['state']
  errorCode?: string
  done: Promise<void>
}

/**
 * The host daemon: follows channels through the tracker's long-poll, fetches each target from
 * the swarm (web seed as fallback) into a content-addressed cache, verifies the digest (and the
 * signature when keys are trusted), hands the bundle on, keeps seeding, reports at most once a
 * second per target, and evicts what no target needs beyond the last K.
 */
export function createFetcher(init: FetcherInit): Fetcher {
  const { dataDir, hostId, follows, labels = {}, keep = 2, trustedKeys, handOff, log = () => {} } = init
  const retry = init.retryMs ?? { min: 2_000, max: 60_000 }
  const cacheDir = join(dataDir, 'cache')
  const partialDir = join(dataDir, 'partial')
  const client: TrackerClient = createTrackerClient({ url: init.tracker.url, token: init.tracker.token, hostId, fetch: init.fetch })
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
  const reporter: Reporter = createReporter({ client, hostId, log })
  const jobs = new Map<string, Job>()
  const seeding = new Map<string, TorrentSession>() // digest -> session
  const stopping = new AbortController()
  let watching: Promise<void> | undefined
  let targets: Target[] = []
  const failures = { verify: 0, launch: 0 }

  const cachePath = (d: Digest, ext: 'tar' | 'torrent'): string => join(cacheDir, `${digestHex(d)}.${ext}`)
  const partialPath = (d: Digest, ext: 'tar' | 'torrent'): string => join(partialDir, `${digestHex(d)}.${ext}`)
  const exists = (p: string): Promise<boolean> => stat(p).then(
    () => true,
    () => false,
  )

  const seedFromCache = async (d: Digest): Promise<void> => {
    if (seeding.has(d)) return
    const info = await parseTorrentInfo(await readFile(cachePath(d, 'torrent')))
    const file = await openPieceFile(cachePath(d, 'tar'), info, { complete: true })
    seeding.set(d, swarm.add(info, file, { announceUrls: [client.announceUrl], webSeeds: [], webSeedToken: init.tracker.token }))
  }

  /** Sends a target's state with the figures of its swarm session (the one seeding it by default). */
  const reportState = (job: Job, state: HostReport['state'], session = seeding.get(job.target.digest), rate = 0): void => {
    job.state = state
    const st = session?.stats()
    reporter.report({
      digest: job.target.digest,
      state,
      bytesDone: st?.bytesDone ?? 0,
      bytesFromPeers: st?.bytesFromPeers ?? 0,
      bytesFromOrigin: st?.bytesFromOrigin ?? 0,
      peers: st?.peers ?? 0,
      rate,
    })
  }

  /** Downloads a target into partial/, verifies it and moves it into cache/. */
  const download = async (t: Target, job: Job, signal: AbortSignal): Promise<void> => {
    const report = (state: HostReport['state'], s?: TorrentSession, rate = 0): void => reportState(job, state, s, rate)
    report('pending')
    const torrent = await client.torrent(t.digest, signal)
    const info = await parseTorrentInfo(torrent)
    await writeFile(partialPath(t.digest, 'torrent'), torrent)
    const file = await openPieceFile(partialPath(t.digest, 'tar'), info)
    const session = swarm.add(info, file, { announceUrls: [client.announceUrl], webSeedToken: init.tracker.token })
    let last = session.stats()
    let lastAt = performance.now()
    report('downloading', session)
    const ticker = setInterval(() => {
      const now = session.stats()
      const t1 = performance.now()
      const rate = ((now.bytesFromPeers + now.bytesFromOrigin - last.bytesFromPeers - last.bytesFromOrigin) * 1000) / (t1 - lastAt)
      last = now
      lastAt = t1
      report('downloading', session, Math.max(0, rate))
    }, 1000)
    ticker.unref()
    try {
      await new Promise<void>((resolve, reject) => {
        session.done.then(resolve, reject)
        signal.addEventListener('abort', () => reject(signal.reason), { once: true })
      })
    } catch (err) {
      clearInterval(ticker)
      await swarm.remove(info.infoHash)
      if (err instanceof ShoalError && err.code === 'DISK_FULL') {
        // Nothing half-written stays behind; the retry starts clean once space is back.
        await rm(partialPath(t.digest, 'tar'), { force: true })
        await rm(partialPath(t.digest, 'torrent'), { force: true })
      }
      throw err
    }
    clearInterval(ticker)
    report('verifying', session)
    const { digest } = await digestFile(partialPath(t.digest, 'tar'), { signal })
    if (digest !== t.digest) {
      await swarm.remove(info.infoHash)
      await rm(partialPath(t.digest, 'tar'), { force: true })
      throw new BundleDigestMismatchError(`Cannot accept ${t.follow} ${t.version}: the swarm's bytes hash to ${digest}, the release is ${t.digest}`)
    }
    // The open session keeps seeding: rename keeps the inode it reads from.
    await rename(partialPath(t.digest, 'torrent'), cachePath(t.digest, 'torrent'))
    await rename(partialPath(t.digest, 'tar'), cachePath(t.digest, 'tar'))
    await syncDir(cacheDir)
    seeding.set(t.digest, session)
    const st = session.stats()
    log('info', 'bundle verified', { digest: t.digest, bytes: info.length, bytesFromPeers: st.bytesFromPeers, bytesFromOrigin: st.bytesFromOrigin, hashFailures: st.hashFailures })
  }

  const run = async (job: Job): Promise<void> => {
    const t = job.target
    const { signal } = job.abort
    const [release] = t.follow.split('@') as [string]
    let delay = retry.min
    while (!signal.aborted) {
      try {
        if (!(await exists(cachePath(t.digest, 'tar')))) await download(t, job, signal)
        else await seedFromCache(t.digest)
        const fact = (state: HostReport['state']): void => reportState(job, state)
        if (trustedKeys) {
          fact('verifying')
          const v = await client.version(release, t.version, signal)
          if (v.signature === undefined || v.signature === null) throw new SignatureMissingError(`Cannot hand on ${release}@${t.version}: trusted keys are configured and the version is unsigned`)
          verifyReleaseSignature(parseSignature(v.signature), { release, version: t.version, digest: t.digest }, trustedKeys)
        }
        if (handOff) {
          await handOff({ path: cachePath(t.digest, 'tar'), digest: t.digest, release, version: t.version }, (s) => fact(s)).catch((err: unknown) => {
            failures.launch++
            throw err
          })
        }
        await utimes(cachePath(t.digest, 'tar'), new Date(), new Date()) // most recently used, for eviction
        fact('running')
        log('info', 'target running', { follow: t.follow, version: t.version, digest: t.digest })
        await evict().catch((err: unknown) => log('warn', 'eviction failed', { message: (err as Error).message }))
        return
      } catch (err) {
        if (signal.aborted) return
        const e = err instanceof ShoalError ? err : undefined
        if (e?.kind === 'integrity') failures.verify++
        job.state = 'failed'
        job.errorCode = e?.code ?? 'IO_FAILED'
        reporter.report({ digest: t.digest, state: 'failed', bytesDone: 0, errorCode: job.errorCode, message: (err as Error).message.slice(0, 2000) })
        log('warn', 'target failed; will retry', { follow: t.follow, digest: t.digest, code: job.errorCode, message: (err as Error).message, retryInMs: delay })
        await sleep(delay, undefined, { signal }).catch(() => {})
        delay = Math.min(retry.max, delay * 2)
      }
    }
  }

  /** Drops cached bundles that no target needs, beyond the `keep` most recently used. */
  const evict = async (): Promise<void> => {
    const needed = new Set<string>(targets.map((t) => t.digest))
    for (const j of jobs.values()) needed.add(j.target.digest)
    const cached: { d: Digest; mtime: number }[] = []
    for (const name of await readdir(cacheDir)) {
      const m = /^([0-9a-f]{64})\.tar$/.exec(name)
      if (m && !needed.has(`sha256:${m[1]}`)) cached.push({ d: `sha256:${m[1]}`, mtime: (await stat(join(cacheDir, name))).mtimeMs })
    }
    cached.sort((a, b) => b.mtime - a.mtime)
    for (const { d } of cached.slice(keep)) {
      const s = seeding.get(d)
      seeding.delete(d)
      if (s) await swarm.remove(s.info.infoHash)
      await rm(cachePath(d, 'tar'), { force: true })
      await rm(cachePath(d, 'torrent'), { force: true })
      log('info', 'evicted bundle', { digest: d })
    }
  }

  const onTargets = (answer: Target[]): void => {
    // The tracker's answer is checked against the wire contract in the client; here, the host
    // acts only on what it was told to follow, whatever else a tracker (or anything between) says.
    const next = answer.filter((t) => followed.has(t.follow))
    if (next.length < answer.length) log('warn', 'ignoring targets this host does not follow', { follows: answer.filter((t) => !followed.has(t.follow)).map((t) => t.follow).slice(0, 8) })
    targets = next
    const wanted = new Set<string>(next.map((t) => t.digest))
    for (const [d, job] of jobs) {
      // A target that moved on is abandoned unless it already finished (then it stays cached).
      if (!wanted.has(d) && job.state !== 'running') job.abort.abort()
      if (!wanted.has(d)) jobs.delete(d)
    }
    for (const t of next) {
      if (jobs.has(t.digest)) continue
      const job: Job = { target: t, abort: new AbortController(), state: 'pending', done: Promise.resolve() }
      job.done = run(job)
      jobs.set(t.digest, job)
    }
  }

  const watch = async (): Promise<void> => {
    const signal = stopping.signal
    let registered = false
    let etag: string | undefined
    let delay = 1_000
    while (!signal.aborted) {
      try {
        if (!registered) {
          await client.registerHost(labels, follows, signal)
          registered = true
          etag = undefined // a (re)registration reads the targets afresh
          log('info', 'registered with the tracker', { hostId, follows })
        }
        const r = await client.targets(etag, 30, signal)
        etag = r.etag
        delay = 1_000
        onTargets(r.targets)
      } catch (err) {
        if (signal.aborted) return
        // A tracker that lost its state no longer knows this host: register again.
        if (err instanceof NotFoundError) registered = false
        log('warn', 'watching targets failed; will retry', { message: (err as Error).message, retryInMs: delay })
        await sleep(delay, undefined, { signal }).catch(() => {})
        delay = Math.min(30_000, delay * 2)
      }
    }
  }

  return {
    swarm,
    async start() {
      await mkdir(cacheDir, { recursive: true })
      await mkdir(partialDir, { recursive: true })
      await swarm.start()
      // Keep seeding what the cache holds, from before a restart.
      for (const name of await readdir(cacheDir)) {
        const m = /^([0-9a-f]{64})\.tar$/.exec(name)
        if (m) await seedFromCache(`sha256:${m[1]}`).catch((err: unknown) => log('warn', 'cannot seed cached bundle', { name, message: (err as Error).message }))
      }
      watching = watch()
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
        verifyFailures: failures.verify,
        launchFailures: failures.launch,
      }
    },
    status: () => [...jobs.values()].map((j) => ({ digest: j.target.digest, state: j.state, ...(j.errorCode ? { errorCode: j.errorCode } : {}) })),
  }
}
