/**
 * The tracker (control plane): release registry, channels and rollouts, host reports and
 * watches, on fastify + level. BitTorrent announce/scrape are still to come (issue 3).
 */
export { buildTracker, type BuildTrackerOptions } from './build-tracker.js'
export { createTrackerStore, HOST_STATES, RECORD_SCHEMA, type TrackerStore, type TrackerStoreInit } from './tracker-store.js'
export type { BundleRecord, VersionRecord, ChannelRecord, RolloutRecord, HostRecord, ReportRecord, HostState } from './tracker-store.js'
export { computeRolloutStatus, type RolloutStatus } from './rollout-status.js'
export { parseTokens, roleAllows, ROLES, type Role, type Principal, type TokenTable } from '../core/index.js'
