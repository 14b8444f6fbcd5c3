/**
 * The seeder (origin): content-addressed bundle store with verified, atomic streaming ingest;
 * upload API, BEP 19 web seed with Range, torrent creation and registration with the tracker.
 * Seeding over the peer wire in BEP 16 reveal mode; retention (channels + last K versions).
 */
export { createBundleStore, pieceLengthFor, type BundleStore, type BundleStoreInit, type StoredBundle } from './bundle-store.js'
export { buildSeeder, type BuildSeederOptions } from './build-seeder.js'
export { createOrigin, type Origin, type OriginInit, type BundleFacts, type TrackerLink } from './create-origin.js'
export { createSeeder, type Seeder, type SeederInit } from './create-seeder.js'
export { planRetention } from './plan-retention.js'
export { parseRange } from './parse-range.js'
