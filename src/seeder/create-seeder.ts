import { stat } from 'node:fs/promises'
import type { FastifyInstance } from 'fastify'
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client'
import { createApiClient, createTrackerApi, type ConnectionLimits, type Digest, type TokenTable } from '../core/index.js'
import { createSwarmNode, type SwarmNode } from '../swarm/index.js'
import { buildSeederApp } from './build-seeder-app.js'
import { createBundleStore, type BundleStore } from './bundle-store.js'
import { createTorrentOffers, type TorrentOffers } from './create-torrent-offers.js'
import { followArrivals, type ArrivalsFollower } from './dial-arrivals.js'
import { startMirror, type Mirror } from './mirror-bundles.js'
import { planRetention } from './plan-retention.js'

export interface SeederInit {
  dataDir: string
  tokens: TokenTable
  /** The URL hosts reach the web seed at (default http://HOST:PORT). */
  publicUrl?: string
  /** Name this seeder registers bundles under (default origin). */
  name?: string
  /** The tracker: its URL and a seeder-role token (also the passkey the origin announces with). */
  tracker?: { url: string; token: string }
  /** HTTP port (default 7701; 0 picks one). */
  port?: number
  /** Listen address for HTTP and peers (default 127.0.0.1). */
  host?: string
  /** Peer wire port (default 6881; 0 picks one). */
  peerPort?: number
  /** Upload limit over the peer wire, bytes per second (default none). */
  upLimit?: number
  /** Versions of each release kept besides channel targets (default 5). */
  keep?: number
  /** How often the retention sweep runs (default 10 minutes; 0 never). */
  sweepIntervalMs?: number
  /** A bundle younger than this is never swept (default 1 hour). */
  graceMs?: number
  /** Fetch every bundle the fleet keeps that this seeder lacks (from the swarm), so that several seeders each hold all (default true with a tracker). */
  mirror?: boolean
  /** How often the mirror looks for bundles this seeder lacks (default 2 s). */
  mirrorIntervalMs?: number
  /** Request logs on stdout. */
  logger?: boolean | Record<string, unknown>
  /** Serve HTTPS with this certificate and key (PEM). */
  tls?: { cert: string | Buffer; key: string | Buffer }
  /** Bounds on open HTTP connections, in total and per remote address. */
  connections?: ConnectionLimits
  /** HTTP client for the tracker (one that trusts a private CA); default the global fetch. */
  fetch?: typeof fetch
  log?: (level: 'info' | 'warn', message: string, fields?: Record<string, unknown>) => void
}

export interface Seeder {
  start(): Promise<{ url: string; peerPort: number }>
  stop(): Promise<void>
  /** One retention sweep: removes what the tracker's retention set does not list. */
  sweep(): Promise<{ removed: Digest[] }>
  readonly store: BundleStore
  readonly swarm: SwarmNode
  /** The HTTP server once started (for reloading its TLS certificate). */
  readonly server: unknown
}

/**
 * The origin daemon: bundle store, peer wire (BEP 16 reveal), HTTP upload + web seed, and the
 * retention sweep, started in that order and stopped in reverse. After a restart it offers
 * everything it holds again (the torrents are cached, so nothing is rehashed).
 */
export function createSeeder(init: SeederInit): Seeder {
  const { dataDir, tokens, tracker, host = '127.0.0.1', keep = 5, sweepIntervalMs = 600_000, graceMs = 3_600_000, log = () => {} } = init
  const store = createBundleStore({ dataDir })
  const swarm = createSwarmNode({ role: 'origin', port: init.peerPort ?? 6881, listenHost: host, upLimit: init.upLimit, maxConns: 200, fetch: init.fetch, log })
  const metrics = new Registry()
  collectDefaultMetrics({ register: metrics })
  new Counter({ name: 'shoal_seeder_uploaded_bytes_total', help: 'Bytes sent to peers over the peer wire', registers: [metrics], collect() { this.reset(); this.inc(swarm.totals().uploaded) } })
  new Gauge({
    name: 'shoal_seeder_pieces_delivered',
    help: 'Pieces of held bundles sent whole to at least one peer (every piece once = the swarm can finish without the origin)',
    registers: [metrics],
    collect() {
      this.set(swarm.list().reduce((a, s) => a + s.stats().piecesDelivered, 0))
    },
  })
  new Gauge({ name: 'shoal_seeder_peers', help: 'Peers connected over all bundles', registers: [metrics], collect() { this.set(swarm.list().reduce((a, x) => a + x.stats().peers, 0)) } })
  // Both gauges read one listing of the store per scrape (kept for a second).
  let listing: { at: number; held: Promise<{ size: number }[]> } | undefined
  const held = (): Promise<{ size: number }[]> => {
    if (!listing || performance.now() - listing.at > 1000) listing = { at: performance.now(), held: store.list() }
    return listing.held
  }
  new Gauge({ name: 'shoal_seeder_bundles', help: 'Bundles held', registers: [metrics], async collect() { this.set((await held()).length) } })
  new Gauge({ name: 'shoal_seeder_stored_bytes', help: 'Bytes of bundles held', registers: [metrics], async collect() { this.set((await held()).reduce((a, b) => a + b.size, 0)) } })
  let offers: TorrentOffers | undefined
  const trackerApi = tracker ? createTrackerApi(createApiClient({ url: tracker.url, token: tracker.token, server: 'tracker', fetch: init.fetch }), tracker.token) : undefined
  let app: FastifyInstance | undefined
  let sweeper: NodeJS.Timeout | undefined
  let sweeping: Promise<{ removed: Digest[] }> | undefined
  let mirror: Mirror | undefined
  let arrivals: ArrivalsFollower | undefined

  const sweepOnce = async (): Promise<{ removed: Digest[] }> => {
    if (!trackerApi) return { removed: [] }
    const keepSet = new Set<string>((await trackerApi.retention(keep)).digests)
    const stored = await store.list()
    const candidates = await Promise.all(stored.map(async (b) => ({ digest: b.digest, storedAt: (await stat(b.path)).mtimeMs })))
    const removed = planRetention(candidates, keepSet, Date.now(), graceMs)
    for (const d of removed) {
      await offers?.withdraw(d)
      await store.remove(d)
      log('info', 'removed bundle by retention', { digest: d })
    }
    return { removed }
  }

  const self: Seeder = {
    store,
    swarm,
    get server() {
      return app?.server
    },
    async start() {
      await store.start()
      await swarm.start()
      const port = init.port ?? 7701
      // With port 0 the web seed URL needs the port the OS picked: read it once listening.
      let publicUrl = init.publicUrl ?? `${init.tls ? 'https' : 'http'}://${host}:${port}`
      offers = createTorrentOffers({ store, dataDir, publicUrl: () => publicUrl, name: init.name ?? 'origin', tracker: trackerApi, swarm, log })
      const started = await buildSeederApp({ store, tokens, offers, metrics, logger: init.logger, sweep: () => self.sweep(), tls: init.tls, connections: init.connections })
      app = started
      const url = await started.listen({ port, host })
      if (!init.publicUrl) publicUrl = url
      await offers.offerAll()
      if (trackerApi) arrivals = followArrivals({ tracker: trackerApi, swarm, log })
      if (tracker && init.mirror !== false) mirror = startMirror({ store, offers, swarm, tracker: trackerApi!, dataDir, keep, intervalMs: init.mirrorIntervalMs, webSeedToken: tracker.token, log })
      if (sweepIntervalMs > 0 && tracker) {
        sweeper = setInterval(() => {
          sweeping ??= sweepOnce()
            .catch((err: unknown) => {
              log('warn', 'retention sweep failed', { message: (err as Error).message })
              return { removed: [] }
            })
            .finally(() => (sweeping = undefined))
        }, sweepIntervalMs)
        sweeper.unref()
      }
      return { url, peerPort: swarm.port }
    },
    async stop() {
      await arrivals?.stop()
      await mirror?.stop()
      clearInterval(sweeper)
      await sweeping
      offers?.stop()
      await app?.close()
      await swarm.stop()
    },
    sweep: () => (sweeping ??= sweepOnce().finally(() => (sweeping = undefined))),
  }
  return self
}
