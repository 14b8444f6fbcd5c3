import { Server as BitTorrentTracker } from 'bittorrent-tracker'
import type { FastifyInstance, FastifyReply } from 'fastify'
import { Counter, type Registry } from 'prom-client'
import { encodeScrapeResponse, scrapeInfoHashes } from './scrape-response.js'
import type { TokenTable } from './tokens.js'
import type { TrackerStore } from './tracker-store.js'

export interface AnnounceRoutesInit {
  store: TrackerStore
  tokens: TokenTable
  metrics: Registry
}

/** BEP 3 failure: HTTP 200 with a bencoded dictionary holding only "failure reason". */
function bencodedFailure(reply: FastifyReply, reason: string): void {
  const body = `d14:failure reason${Buffer.byteLength(reason)}:${reason}e`
  void reply.status(200).header('content-type', 'text/plain').send(body)
}

/**
 * HTTP announce (BEP 3, compact peers BEP 23) served inside the fastify app by
 * bittorrent-tracker's Server, and scrape (BEP 48) from its swarm counts (see scrape-response). Standard clients cannot send headers, so hosts
 * authenticate private-tracker style with a passkey in the path: /announce/<token>. Only
 * infohashes of registered bundles are tracked; others get a failure reason.
 */
export function registerAnnounceRoutes(app: FastifyInstance, init: AnnounceRoutesInit): BitTorrentTracker {
  const { store, tokens, metrics } = init
  const announces = new Counter({ name: 'shoal_tracker_announces_total', help: 'BitTorrent announces and scrapes by outcome', labelNames: ['action', 'outcome'], registers: [metrics] })
  const server = new BitTorrentTracker({
    http: false,
    udp: false,
    ws: false,
    stats: false,
    trustProxy: false,
    filter: (infoHash: string, _params: unknown, cb: (err: Error | null) => void) => {
      store.digestForInfoHash(infoHash).then(
        (digest) => cb(digest ? null : new Error('unregistered infohash: this tracker only serves bundles registered with it')),
        (err: Error) => cb(err),
      )
    },
  })
  // Client mistakes are warnings, not crashes (the library's own advice).
  server.on('warning', () => announces.inc({ action: 'any', outcome: 'warning' }))
  server.on('error', (err: Error) => app.log.error({ err }, 'bittorrent tracker error'))

  for (const action of ['announce', 'scrape'] as const) {
    app.get<{ Params: { passkey: string } }>(`/${action}/:passkey`, { schema: { hide: true }, logLevel: 'warn' }, async (req, reply) => {
      const principal = tokens.lookup(req.params.passkey)
      if (!principal || !['host', 'seeder', 'admin'].includes(principal.role)) {
        announces.inc({ action, outcome: 'refused' })
        return bencodedFailure(reply, 'unknown passkey')
      }
      announces.inc({ action, outcome: 'ok' })
      if (action === 'scrape') {
        const raw = req.raw.url ?? ''
        const hashes = scrapeInfoHashes(raw.includes('?') ? raw.slice(raw.indexOf('?') + 1) : '')
        const entries = hashes.map((infoHash) => {
          const swarm = server.torrents[infoHash] as { complete?: number; incomplete?: number; downloaded?: number } | undefined
          return { infoHash, complete: swarm?.complete ?? 0, incomplete: swarm?.incomplete ?? 0, downloaded: swarm?.downloaded ?? 0 }
        })
        return reply.status(200).header('content-type', 'text/plain').send(encodeScrapeResponse(entries))
      }
      reply.hijack()
      server.onHttpRequest(req.raw, reply.raw, { action })
    })
  }
  app.addHook('onClose', async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
  return server
}
