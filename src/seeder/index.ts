/**
 * The seeder (origin): content-addressed bundle store with verified, atomic streaming ingest;
 * upload API, BEP 19 web seed with Range, torrent creation and registration with the tracker.
 * Seeding over the peer wire, the daemon command and retention are to come (issue 4).
 */
export { createBundleStore, pieceLengthFor, type BundleStore, type BundleStoreInit, type StoredBundle } from './bundle-store.js'
export { buildSeeder, type BuildSeederOptions, type BundleFacts, type TrackerLink } from './build-seeder.js'
export { parseRange } from './parse-range.js'
