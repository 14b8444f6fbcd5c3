import bencode from 'bencode'
import { TrackerRefusedError, TrackerUnreachableError } from '../core/index.js'
import { readBodyLimited } from '../core/index.js'

export interface AnnounceRequest {
  /** The tracker's announce URL with the passkey (http://tracker/announce/<token>). */
  url: string
  infoHash: string
  peerId: Uint8Array
  port: number
  uploaded: number
  downloaded: number
  left: number
  event?: 'started' | 'completed' | 'stopped'
  numwant?: number
  signal?: AbortSignal
  /** The HTTP client (one that trusts the tracker's CA, for HTTPS); default the global fetch. */
  fetch?: typeof fetch
}

export interface PeerAddress {
  host: string
  port: number
}

export interface AnnounceResponse {
  intervalSeconds: number
  peers: PeerAddress[]
  /** Addresses the tracker vouches for as the swarm's origins (Shoal's `origins` key). */
  origins: PeerAddress[]
  /** Peers still downloading, as the tracker counts them (0 when absent or not a sane count). */
  incomplete: number
}

/** Bounds on what a tracker's answer may make a host do (a hostile answer is just a slow one). */
export const MIN_ANNOUNCE_INTERVAL_S = 5
export const MAX_ANNOUNCE_INTERVAL_S = 3600
const MAX_ANSWER_PEERS = 200
const MAX_ANSWER_BYTES = 64 << 10

/** BEP 3 percent-encoding of raw bytes in a query string. */
export function escapeBytes(bytes: Uint8Array): string {
  let out = ''
  for (const b of bytes) {
    const c = String.fromCharCode(b)
    out += /[A-Za-z0-9.\-_~]/.test(c) ? c : `%${b.toString(16).padStart(2, '0')}`
  }
  return out
}

/** Compact peer lists: BEP 23 (6 bytes per IPv4 peer) and BEP 7 (18 bytes per IPv6 peer). */
export function parseCompactPeers(bytes: Uint8Array, family: 4 | 6): PeerAddress[] {
  const size = family === 4 ? 6 : 18
  const out: PeerAddress[] = []
  for (let at = 0; at + size <= bytes.length; at += size) {
    const port = (bytes[at + size - 2]! << 8) | bytes[at + size - 1]!
    let host: string
    if (family === 4) host = `${bytes[at]}.${bytes[at + 1]}.${bytes[at + 2]}.${bytes[at + 3]}`
    else {
      const groups: string[] = []
      for (let g = 0; g < 8; g++) groups.push(((bytes[at + 2 * g]! << 8) | bytes[at + 2 * g + 1]!).toString(16))
      host = groups.join(':')
    }
    if (port > 0) out.push({ host, port })
  }
  return out
}

/** Reads a bencoded announce answer (BEP 3), compact or not. */
export function parseAnnounceResponse(body: Uint8Array): AnnounceResponse {
  let d: Record<string, unknown>
  try {
    d = bencode.decode(body) as Record<string, unknown>
  } catch (err) {
    throw new TrackerRefusedError('Cannot read the announce answer: it is not bencoded', { cause: err })
  }
  if (d === null || typeof d !== 'object') throw new TrackerRefusedError('Cannot read the announce answer: it is not a dictionary')
  const failure = d['failure reason']
  if (failure instanceof Uint8Array) throw new TrackerRefusedError(`The tracker refused the announce: ${Buffer.from(failure).toString()}`)
  // A hostile interval (0, negative, 1e300) would overflow setTimeout into a tight loop.
  const interval = typeof d.interval === 'number' && Number.isFinite(d.interval) ? Math.min(MAX_ANNOUNCE_INTERVAL_S, Math.max(MIN_ANNOUNCE_INTERVAL_S, Math.floor(d.interval))) : 60
  const peers: PeerAddress[] = []
  if (d.peers instanceof Uint8Array) peers.push(...parseCompactPeers(d.peers, 4))
  else if (Array.isArray(d.peers)) {
    for (const p of d.peers as Record<string, unknown>[]) {
      if (p?.ip instanceof Uint8Array && typeof p.port === 'number') peers.push({ host: Buffer.from(p.ip).toString(), port: p.port })
    }
  }
  if (d.peers6 instanceof Uint8Array) peers.push(...parseCompactPeers(d.peers6, 6))
  const origins: PeerAddress[] = []
  if (d.origins instanceof Uint8Array) origins.push(...parseCompactPeers(d.origins, 4))
  if (d.origins6 instanceof Uint8Array) origins.push(...parseCompactPeers(d.origins6, 6))
  const incomplete = typeof d.incomplete === 'number' && Number.isSafeInteger(d.incomplete) && d.incomplete > 0 ? d.incomplete : 0
  return { intervalSeconds: interval, peers: peers.slice(0, MAX_ANSWER_PEERS), origins: origins.slice(0, 8), incomplete }
}

/** One HTTP announce. Network failures and 5xx are TRACKER_UNREACHABLE (worth retrying). */
export async function announce(req: AnnounceRequest): Promise<AnnounceResponse> {
  const q =
    `info_hash=${escapeBytes(Buffer.from(req.infoHash, 'hex'))}&peer_id=${escapeBytes(req.peerId)}&port=${req.port}` +
    `&uploaded=${Math.floor(req.uploaded)}&downloaded=${Math.floor(req.downloaded)}&left=${Math.floor(req.left)}&compact=1&numwant=${req.numwant ?? 50}` +
    (req.event ? `&event=${req.event}` : '')
  let res: Response
  try {
    res = await (req.fetch ?? fetch)(`${req.url}${req.url.includes('?') ? '&' : '?'}${q}`, { signal: req.signal ?? AbortSignal.timeout(15_000) })
  } catch (err) {
    throw new TrackerUnreachableError(`Cannot announce to the tracker: ${(err as Error).message}`, { cause: err })
  }
  if (res.status >= 500) throw new TrackerUnreachableError(`Cannot announce to the tracker: HTTP ${res.status}`)
  return parseAnnounceResponse(await readBodyLimited(res, MAX_ANSWER_BYTES, 'the announce answer'))
}
