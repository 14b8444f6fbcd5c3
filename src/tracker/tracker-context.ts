import type { HostInstances } from './host-instances.js'
import type { RolloutDriver } from './rollout-driver.js'
import type { EventEmitter } from 'node:events'
import type { FastifyRequest } from 'fastify'
import type { Registry } from 'prom-client'
import { NotFoundError, type Principal, type Role, type RolloutStatus, type TokenTable } from '../core/index.js'
import type { StatusCache } from './status-cache.js'
import type { TrackerStore } from './tracker-store.js'

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal
  }
  interface FastifyInstance {
    /** The bound UDP tracker port, once listening with udpPort set. */
    udpPort?: () => number | undefined
  }
  interface FastifyContextConfig {
    /** Roles allowed on this route; absent means public. */
    roles?: readonly Role[]
  }
}

/**
 * What the tracker's route plugins share: the store, the token table, the change events (a
 * channel `change`, a `report` for a digest), the metrics registry, the shutdown signal, and the
 * shared rollout status (computed at most every statusCacheMs per channel and shared by readers).
 */
export interface TrackerContext {
  store: TrackerStore
  tokens: TokenTable
  changes: EventEmitter
  metrics: Registry
  shuttingDown: AbortSignal
  /** The rollout status of a channel, computed after `notBefore` (ms since epoch) if given. */
  statusOf(release: string, channel: string, notBefore?: number): Promise<RolloutStatus>
  /** Planned rollouts: their hosts' targets, steps and controls. */
  rollouts: RolloutDriver
  /** A channel moved: its cached status is stale at once. */
  invalidate(release: string, channel: string): void
  /** The incremental status views, told of reports and host changes made through this replica. */
  status: Pick<StatusCache, 'reported' | 'hostChanged'>
  limits: { maxHosts: number; maxStreams: number; streamStallMs: number; statusCacheMs: number; maxWatchSeconds: number }
  /** The URL clients reach this tracker at (for announce URLs in served torrents), if configured. */
  publicUrl: string | undefined
  /** Every replica's URL (this one's among them), for the announce-list of served torrents. */
  replicaUrls: string[]
  /** Which fetcher process acts as each host id (two live ones are refused). */
  instances: HostInstances
  /** Whether a host counts as lost now (see HostInstances.isLost and the tracker's --lost-after). */
  isLost(hostId: string): boolean
}

/** Who made a request (the token's name), for the records that say who did what. */
export const who = (req: FastifyRequest): string => req.principal?.name ?? 'anonymous'

/** NOT_FOUND for `what`, as an expression. */
export const notFound = (what: string): never => {
  throw new NotFoundError(`Cannot find ${what}`)
}
