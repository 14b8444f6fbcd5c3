export { createPieceScheduler, type PieceScheduler, type PieceSchedulerInit } from './piece-scheduler.js'
export { createSuperSeed, type SuperSeed, type SuperSeedInit } from './super-seed.js'
export { parseTorrentInfo, pieceSize, pieceMatches, type TorrentInfo } from './torrent-info.js'
export { openPieceFile, type PieceFile, type OpenPieceFileOptions } from './piece-file.js'
export { announce, parseAnnounceResponse, parseCompactPeers, escapeBytes, type AnnounceRequest, type AnnounceResponse, type PeerAddress } from './announce.js'
export { createRateLimiter, parseRate, type RateLimiter } from './rate-limiter.js'
export { createMessageFramer, type MessageFramer } from './message-framer.js'
export { createSwarmNode, type SwarmNode, type SwarmNodeInit, type TorrentSession, type AddTorrentOptions, type SessionStats } from './create-swarm-node.js'
export {
  admitPeer,
  choosePiece,
  connReserve,
  createNearAvailability,
  distanceBetween,
  isRackMember,
  localityFromLabels,
  localityTag,
  makeLocalPeerId,
  peerKey,
  selectPeers,
  tagOfPeerId,
  type Distance,
  type Locality,
  type NearAvailability,
  type SourcePeer,
} from './topology.js'
