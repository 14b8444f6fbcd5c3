/**
 * The host daemon: follows release@channel targets, fetches bundles from the swarm with the web
 * seed as fallback, verifies them, hands them to the launcher (injected by the CLI, since parts
 * meet only through core), keeps seeding and reports to the tracker.
 */
export { createFetcher, type Fetcher, type FetcherInit, type HandOff } from './create-fetcher.js'
export { createReporter, type Reporter } from './create-reporter.js'
export { createTrackerClient, type TrackerClient, type Target, type HostReport } from './tracker-client.js'
