/**
 * The peer wire engine (Shoal's own, on bittorrent-protocol's codec), shared by the seeder and the
 * fetcher: torrent sessions and peer links, the piece scheduler, the origin's reveal (BEP 16), web
 * seeds (BEP 19), announces, and the rack/region-aware choices. The tracker does not use it: what
 * it shares with the swarm (peer ids and their locality) is in core.
 */
export { createSwarmNode, type SwarmNode, type SwarmNodeInit } from './create-swarm-node.js'
export type { TorrentSession, AddTorrentOptions, SessionStats } from './torrent-session.js'
export type { PartialPiece } from './session-context.js'
export { createPieceScheduler, encodeBitfield, type PieceScheduler, type PieceSchedulerInit } from './piece-scheduler.js'
export { createPipelineGauge, pipelineBounds, type PipelineGauge, type PipelineGaugeInit } from './pipeline-depth.js'
export { createSuperSeed, type SuperSeed, type SuperSeedInit } from './super-seed.js'
export { parseTorrentInfo, pieceSize, pieceMatches, type TorrentInfo } from './torrent-info.js'
export { makeTorrent, type MakeTorrentOptions } from './make-torrent.js'
export { openPieceFile, type PieceFile, type OpenPieceFileOptions } from './piece-file.js'
export { announce, parseAnnounceResponse, parseCompactPeers, escapeBytes, type AnnounceRequest, type AnnounceResponse, type PeerAddress } from './announce.js'
export { createRateLimiter, type RateLimiter } from './rate-limiter.js'
export { createMessageFramer, type BlockSink, type MessageFramer, type MessageFramerInit } from './message-framer.js'
export { createNearAvailability, type NearAvailability } from './near-availability.js'
export { choosePiece, type SourcePeer } from './choose-piece.js'
export { admitPeer, connReserve } from './admit-peer.js'
