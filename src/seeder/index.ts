/**
 * The seeder (origin). Today: the content-addressed bundle store with verified, atomic
 * streaming ingest, and the piece-length rule. Upload API, torrent creation, seeding and the
 * BEP 19 web seed are to come (issue 4).
 */
export { createBundleStore, pieceLengthFor, type BundleStore, type BundleStoreInit, type StoredBundle } from './bundle-store.js'
