/**
 * The tracker (control plane): release registry, channels and rollouts, host reports and
 * watches, the BitTorrent tracker (HTTP announce/scrape, UDP), dashboard and metrics, on
 * fastify + level.
 */
export { createTracker, type Tracker, type TrackerInit } from './create-tracker.js'
export { buildTracker, type BuildTrackerOptions } from './build-tracker.js'
export { createTrackerStore, HOST_STATES, RECORD_SCHEMA, type TrackerStore, type TrackerStoreInit } from './tracker-store.js'
export { createPostgresStore, type PostgresStoreInit } from './postgres-store.js'
export type { BundleRecord, VersionRecord, ChannelRecord, RolloutRecord, HostRecord, ReportRecord, HostState, StoreChange } from './tracker-store.js'
export { computeRolloutStatus, type RolloutStatus } from './rollout-status.js'
export { retentionSet } from './retention-set.js'
export { parseTokens, roleAllows, ROLES, type Role, type Principal, type TokenTable } from '../core/index.js'
