import Fastify, { type FastifyInstance } from 'fastify'
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client'
import { CONNECTIONS_CHECK_MS, guardConnections, HEADERS_TIMEOUT_MS } from '../core/index.js'
import type { Fetcher } from '../fetcher/index.js'

/**
 * The fetcher's Prometheus endpoint. Values are read from the fetcher's running totals at
 * scrape time; counters are exposed as gauges of totals so a restart shows as a reset.
 */
export async function serveFetcherMetrics(fetcher: Fetcher, port: number, host: string, tls?: { cert: Buffer; key: Buffer }): Promise<{ url: string; app: FastifyInstance }> {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const gauge = (name: string, help: string, read: () => number): void => {
    new Gauge({ name, help, registers: [registry], collect() { this.set(read()) } })
  }
  gauge('shoal_fetcher_uploaded_bytes_total', 'Bytes sent to peers', () => fetcher.counters().bytesUploaded)
  gauge('shoal_fetcher_downloaded_bytes_total', 'Bytes received from peers and web seeds', () => fetcher.counters().bytesDownloaded)
  gauge('shoal_fetcher_peers', 'Connected peers over all bundles', () => fetcher.counters().peers)
  gauge('shoal_fetcher_pieces_verified', 'Pieces held and verified over all bundles', () => fetcher.counters().piecesVerified)
  gauge('shoal_fetcher_derived_bytes', 'Bytes of the bundles held that were derived from earlier bundles instead of fetched', () => fetcher.counters().bytesDerived)
  gauge('shoal_fetcher_piece_hash_failures_total', 'Pieces that failed their SHA-1 (data thrown away, peer dropped)', () => fetcher.counters().pieceHashFailures)
  gauge('shoal_fetcher_verify_failures_total', 'Bundles refused for digest or signature', () => fetcher.counters().verifyFailures)
  gauge('shoal_fetcher_launch_failures_total', 'Hand-offs to the launcher that failed', () => fetcher.counters().launchFailures)
  const serverOptions = { headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: 10_000, connectionsCheckingInterval: CONNECTIONS_CHECK_MS }
  const app = Fastify({ logger: false, ...(tls ? { https: { ...serverOptions, ...tls } } : { http: serverOptions }) })
  guardConnections(app.server, { maxConnections: 256, maxPerAddress: 32 })
  app.get('/metrics', async (_req, reply) => reply.header('content-type', registry.contentType).send(await registry.metrics()))
  const url = await app.listen({ port, host })
  return { url, app }
}
