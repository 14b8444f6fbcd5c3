import { Type } from '@sinclair/typebox'
import type { FastifyInstance, FastifyReply } from 'fastify'
import { Counter, Gauge, type Registry } from 'prom-client'
import { encodeScrapeResponse, scrapeInfoHashes } from './scrape-response.js'
import { createSwarmStore, parseAnnounceQuery, type SwarmStore } from './swarm-store.js'
import { ArrivalsAnswerSchema, ERROR_RESPONSES, type Principal, type TokenTable } from '../core/index.js'
import { createArrivals } from './arrivals.js'
import type { SwarmSync } from './redis-swarm.js'
import type { TrackerStore } from './tracker-store.js'

export interface AnnounceRoutesInit {
  store: TrackerStore
  tokens: TokenTable
  metrics: Registry
  /** Seconds hosts should wait between announces (default 60). */
  intervalSeconds?: number
  /** Shares the swarms with other replicas (Redis); without it they are this process's alone. */
  sync?: SwarmSync
}

export interface AnnounceService {
  readonly swarms: SwarmStore
}

/** BEP 3 failure: HTTP 200 with a bencoded dictionary holding only "failure reason". */
function bencodedFailure(reply: FastifyReply, reason: string): FastifyReply {
  const body = `d14:failure reason${Buffer.byteLength(reason)}:${reason}e`
  return reply.status(200).header('content-type', 'text/plain').send(body)
}

/**
 * HTTP announce (BEP 3, compact peers BEP 23, peers6 BEP 7) and scrape (BEP 48) inside the
 * fastify app. Standard clients cannot send headers, so hosts authenticate private-tracker
 * style with a passkey in the path: /announce/<token>. Only infohashes of registered bundles
 * are tracked; others get a failure reason. Peers live in memory (see swarm-store for why not
 * bittorrent-tracker's Server), shared with other replicas through Redis when given a sync (see
 * redis-swarm); a restarted single tracker is refilled by the next announces.
 */
export function registerAnnounceRoutes(app: FastifyInstance, init: AnnounceRoutesInit): AnnounceService {
  const { store, tokens, metrics, intervalSeconds = 60, sync } = init
  const arrivals = createArrivals()
  const swarms = createSwarmStore({ peerTtlMs: intervalSeconds * 3 * 1000, onChange: sync ? (ih, change) => sync.publish(ih, change) : undefined, onArrival: (ih) => arrivals.note(ih) })
  sync?.attach(swarms)
  const announces = new Counter({ name: 'shoal_tracker_announces_total', help: 'BitTorrent announces and scrapes by outcome', labelNames: ['action', 'outcome'], registers: [metrics] })
  new Gauge({ name: 'shoal_tracker_swarms', help: 'Swarms with at least one peer', registers: [metrics], collect() { this.set(swarms.swarms) } })
  const sweeper = setInterval(() => swarms.sweep(), intervalSeconds * 1000)
  sweeper.unref()
  app.addHook('onClose', async () => {
    clearInterval(sweeper)
    arrivals.close()
  })

  const query = (url: string | undefined): string => {
    const u = url ?? ''
    const q = u.indexOf('?')
    return q === -1 ? '' : u.slice(q + 1)
  }
  const principalOf = (passkey: string): Principal | undefined => {
    const p = tokens.lookup(passkey)
    return p !== undefined && (p.role === 'host' || p.role === 'seeder' || p.role === 'admin') ? p : undefined
  }
  const allowed = (passkey: string): boolean => principalOf(passkey) !== undefined

  app.get<{ Params: { passkey: string } }>('/announce/:passkey', { schema: { hide: true }, logLevel: 'warn' }, async (req, reply) => {
    const principal = principalOf(req.params.passkey)
    if (!principal) {
      announces.inc({ action: 'announce', outcome: 'refused' })
      return bencodedFailure(reply, 'unknown passkey')
    }
    let params
    try {
      params = parseAnnounceQuery(query(req.raw.url))
    } catch (err) {
      announces.inc({ action: 'announce', outcome: 'invalid' })
      return bencodedFailure(reply, (err as Error).message)
    }
    if (!(await store.digestForInfoHash(params.infoHash))) {
      announces.inc({ action: 'announce', outcome: 'unregistered' })
      return bencodedFailure(reply, 'unregistered infohash: this tracker only serves bundles registered with it')
    }
    announces.inc({ action: 'announce', outcome: 'ok' })
    return reply.status(200).header('content-type', 'text/plain').send(
      // Peers are counted per principal (a flood of made-up peer ids replaces its own entries),
      // and the seeder's are marked as the origin's, which hosts then trust by address.
      swarms.announce(params, req.socket.remoteAddress ?? '', intervalSeconds, { key: `${principal.role}:${principal.name}`, origin: principal.role === 'seeder' }),
    )
  })

  app.get<{ Params: { passkey: string } }>('/scrape/:passkey', { schema: { hide: true }, logLevel: 'warn' }, async (req, reply) => {
    if (!allowed(req.params.passkey)) {
      announces.inc({ action: 'scrape', outcome: 'refused' })
      return bencodedFailure(reply, 'unknown passkey')
    }
    announces.inc({ action: 'scrape', outcome: 'ok' })
    const entries = scrapeInfoHashes(query(req.raw.url)).map((infoHash) => ({ infoHash, ...swarms.stats(infoHash) }))
    return reply.status(200).header('content-type', 'text/plain').send(encodeScrapeResponse(entries))
  })
  app.get<{ Querystring: { after?: number; wait?: number } }>(
    '/v1/swarms/arrivals',
    {
      config: { roles: ['seeder'] },
      schema: {
        description: 'Swarms that gained a downloader after sequence number `after` (long-polls up to `wait` seconds when none): origins re-announce them to dial the newcomers.',
        querystring: Type.Object({ after: Type.Optional(Type.Integer({ minimum: 0 })), wait: Type.Optional(Type.Integer({ minimum: 0, maximum: 30 })) }, { additionalProperties: false }),
        response: { 200: ArrivalsAnswerSchema, ...ERROR_RESPONSES },
      },
    },
    async (req) => arrivals.since(req.query.after ?? 0, (req.query.wait ?? 0) * 1000),
  )
  return { swarms }
}
