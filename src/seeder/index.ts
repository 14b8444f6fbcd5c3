/**
 * The seeder (origin): content-addressed bundle store with verified, atomic streaming ingest;
 * upload API, BEP 19 web seed with Range, torrent creation and registration with the tracker,
 * seeding over the peer wire in BEP 16 reveal mode; retention (channels + last K versions); and
 * the client side of it, publishBundle (what `shoal publish` and build jobs run).
 */
export { createBundleStore, pieceLengthFor, type BundleStore, type BundleStoreInit, type StoredBundle } from './bundle-store.js'
export { buildSeederApp, type BuildSeederAppOptions } from './build-seeder-app.js'
export { createTorrentOffers, type TorrentOffers, type TorrentOffersInit } from './create-torrent-offers.js'
export { createSeeder, type Seeder, type SeederInit } from './create-seeder.js'
export { publishBundle, type PublishInit, type PublishResult } from './publish-bundle.js'
export { planRetention } from './plan-retention.js'
export { parseRange } from './parse-range.js'
