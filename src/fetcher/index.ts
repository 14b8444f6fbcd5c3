/**
 * The host daemon: follows release@channel targets, fetches bundles from the swarm with the web
 * seed as fallback, checks them against the trust policy, hands them to the launcher (through the
 * core HandOff contract, composed by the CLI since parts meet only through core), keeps seeding,
 * reports to the tracker, and serves /metrics.
 */
export { createFetcher, type Fetcher, type FetcherInit, type FetcherCounters } from './create-fetcher.js'
export { createReporter, type Reporter, type ReportSink } from './create-reporter.js'
export { createBundleCache, type BundleCache } from './bundle-cache.js'
export { serveFetcherMetrics } from './serve-metrics.js'
