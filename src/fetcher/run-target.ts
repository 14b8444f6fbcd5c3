import { setTimeout as sleep } from 'node:timers/promises'
import { readFile } from 'node:fs/promises'
import { BundleDigestMismatchError, digestFile, ShoalError, type Digest, type HandOff, type HealthChange, type HostReport, type Log, type Target, type TrackerApi, type TrustPolicy } from '../core/index.js'
import { openPieceFile, parseTorrentInfo, type SwarmNode, type TorrentSession } from '../swarm/index.js'
import type { BundleCache } from './bundle-cache.js'
import type { Reporter } from './create-reporter.js'
import { fetchBundle } from './fetch-bundle.js'

/** One target the host is bringing up, and where it stands. */
export interface Job {
  target: Target
  abort: AbortController
  state: HostReport['state']
  errorCode?: string
  done: Promise<void>
}

export interface TargetRunnerInit {
  retry: { min: number; max: number }
  trust: TrustPolicy
  handOff: HandOff | undefined
  webSeedToken: string
}

export interface TargetRunnerComponents {
  api: TrackerApi
  swarm: SwarmNode
  cache: BundleCache
  reporter: Reporter
  /** digest -> the session seeding it */
  seeding: Map<string, TorrentSession>
  failures: { verify: number; launch: number }
  log: Log
  evict: () => Promise<void>
}

/**
 * Brings a target up, retrying with backoff until it runs or is abandoned: fetch (unless cached),
 * trust check before a byte is unpacked, stage (the launcher verifies the digest while unpacking),
 * keep in the cache, activate. Each bundle is hashed once on the host: by the launcher's install,
 * or here when nothing unpacks it (no hand-off, or an image installed before).
 */
export function createTargetRunner(init: TargetRunnerInit, c: TargetRunnerComponents): { run(job: Job): Promise<void>; seedFromCache(d: Digest): Promise<void> } {
  const { trust, handOff, retry } = init
  const { api, swarm, cache, reporter, seeding, failures, log } = c

  const seedFromCache = async (d: Digest): Promise<void> => {
    if (seeding.has(d)) return
      const info = await parseTorrentInfo(await readFile(cache.path(d, 'torrent')))
    const file = await openPieceFile(cache.path(d, 'tar'), info, { complete: true })
    seeding.set(d, swarm.add(info, file, { announceUrls: [...api.announceUrls], webSeeds: [], webSeedToken: init.webSeedToken }))
  }

  /** Sends a target's state with the figures of its swarm session (the one seeding it by default). */
  const reportState = (job: Job, state: HostReport['state'], session = seeding.get(job.target.digest), rate = 0): void => {
    job.state = state
    const st = session?.stats()
    reporter.report({ digest: job.target.digest, state, bytesDone: st?.bytesDone ?? 0, bytesFromPeers: st?.bytesFromPeers ?? 0, bytesFromOrigin: st?.bytesFromOrigin ?? 0, bytesDerived: st?.bytesDerived ?? 0, peers: st?.peers ?? 0, rate })
  }

  /** The whole file's sha256 against the target's digest; a mismatch drops the download. */
  const checkDigest = async (t: Target, signal: AbortSignal): Promise<void> => {
    const { digest } = await digestFile(cache.path(t.digest, 'tar', 'partial'), { signal })
    if (digest === t.digest) return
    const session = seeding.get(t.digest)
    seeding.delete(t.digest)
    if (session) await swarm.remove(session.info.infoHash)
    await cache.dropPartial(t.digest)
    throw new BundleDigestMismatchError(`Cannot accept ${t.follow} ${t.version}: the swarm's bytes hash to ${digest}, the release is ${t.digest}`)
  }

  /**
   * Fetches (unless cached), checks trust, stages (verifying the digest while unpacking), keeps in
   * the cache, activates. Each bundle is hashed once on the host: by the launcher's install, or
   * here when nothing unpacks it (no hand-off, or the image was installed before).
   */
  const bring = async (job: Job, signal: AbortSignal): Promise<'staged' | 'running'> => {
    const t = job.target
    const fact = (state: HostReport['state']): void => reportState(job, state)
    const subject = { path: '', digest: t.digest, release: t.release, version: t.version }
    // Before any byte is unpacked, and before the download: a release the policy refuses is not fetched.
    trust.check({ release: t.release, version: t.version, digest: t.digest }, t.signature)
    if (await cache.has(t.digest)) {
      await seedFromCache(t.digest)
      // Staged before (its wave has opened): the image is there; no `unpacking` flash in the status.
      if (handOff) await handOff.stage({ ...subject, path: cache.path(t.digest, 'tar') }, job.state === 'staged' ? () => {} : fact)
    } else {
      reportState(job, 'pending')
      const session = await fetchBundle(t, (s, rate) => reportState(job, 'downloading', s, rate), { api, swarm, cache, webSeedToken: init.webSeedToken, signal, log })
      seeding.set(t.digest, session)
      fact('verifying')
      let verified = false
      if (handOff) {
        try {
          verified = (await handOff.stage({ ...subject, path: cache.path(t.digest, 'tar', 'partial') }, fact)).verified
        } catch (err) {
          // Bytes that do not verify are never kept: the next try fetches them again.
          if (err instanceof ShoalError && err.kind === 'integrity') await checkDigest(t, signal)
          throw err
        }
      }
      if (!verified) await checkDigest(t, signal)
      await cache.promote(t.digest)
      const st = session.stats()
      log('info', 'bundle verified', { digest: t.digest, bytes: session.info.length, bytesFromPeers: st.bytesFromPeers, bytesFromOrigin: st.bytesFromOrigin, bytesDerived: st.bytesDerived, bytesFromOtherRacks: st.bytesFromOtherRacks, bytesFromOtherRacksUnowned: st.bytesFromOtherRacksUnowned, bytesWasted: st.bytesWasted, hashFailures: st.hashFailures })
    }
    // Staged: ready to start. Under a planned rollout the tracker says when to activate (the
    // job is run again then, see the fetcher's onTargets); the host keeps its version meanwhile.
    if (job.target.activate === false) {
      fact('staged')
      log('info', 'target staged; waiting for its wave', { follow: t.follow, version: t.version, digest: t.digest })
      return 'staged'
    }
    if (handOff) {
      const onHealth = (h: HealthChange): void => {
        // Only the job still in charge of this digest speaks for it.
        if (signal.aborted || job.state === 'staged') return
        if (h.state === 'running') reportState(job, 'running')
        else {
          job.state = h.state
          job.errorCode = h.code
          if (h.state === 'failed') failures.launch++
          reporter.report({ digest: t.digest, state: h.state, bytesDone: 0, errorCode: h.code, message: h.message.slice(0, 2000) })
          log('warn', h.state === 'unhealthy' ? 'release unhealthy' : 'release stopped for good', { follow: t.follow, version: t.version, code: h.code, message: h.message })
        }
      }
      await handOff.activate({ ...subject, path: cache.path(t.digest, 'tar') }, fact, { signal, onHealth }).catch((err: unknown) => {
        failures.launch++
        throw err
      })
    }
    await cache.touch(t.digest) // most recently used, for eviction
    fact('running')
    log('info', 'target running', { follow: t.follow, version: t.version, digest: t.digest })
    return 'running'
  }

  const run = async (job: Job): Promise<void> => {
    const t = job.target
    const { signal } = job.abort
    let delay = retry.min
    while (!signal.aborted) {
      try {
        await bring(job, signal)
        await c.evict().catch((err: unknown) => log('warn', 'eviction failed', { message: (err as Error).message }))
        return
      } catch (err) {
        if (signal.aborted) return
        const e = err instanceof ShoalError ? err : undefined
        if (e?.kind === 'integrity') failures.verify++
        // A release that does not pass its health check is `unhealthy`, not failed: it was staged and started.
        job.state = e?.code === 'UNHEALTHY' ? 'unhealthy' : 'failed'
        job.errorCode = e?.code ?? 'IO_FAILED'
        reporter.report({ digest: t.digest, state: job.state, bytesDone: 0, errorCode: job.errorCode, message: (err as Error).message.slice(0, 2000) })
        log('warn', 'target failed; will retry', { follow: t.follow, digest: t.digest, code: job.errorCode, message: (err as Error).message, retryInMs: delay })
        await sleep(delay, undefined, { signal }).catch(() => {})
        delay = Math.min(retry.max, delay * 2)
      }
    }
  }

  return { run, seedFromCache }
}
