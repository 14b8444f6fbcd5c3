import bencode from 'bencode'
import { TorrentInvalidError } from '../core/index.js'

/**
 * The registry's .torrent as one caller should use it: `announce` is this tracker's announce URL
 * with the caller's own passkey (and `announce-list` every replica's, when there are several), and each web seed (BEP 19 url-list) `…/bundles/<hex>.tar` becomes
 * the seeder's passkey form `…/seed/<passkey>/<hex>.tar`, so a BitTorrent client that can send no
 * header still authenticates to both. Only keys outside `info` change: the infohash stays.
 */
export function personalizeTorrent(torrent: Uint8Array, init: { announceUrl: string; passkey: string; otherAnnounceUrls?: string[]; webSeeds?: string[] }): Buffer {
  let d: Record<string, unknown>
  try {
    d = bencode.decode(torrent) as Record<string, unknown>
  } catch (err) {
    throw new TorrentInvalidError('Cannot serve the torrent: the stored copy is not bencoded', { cause: err })
  }
  if (!d || typeof d !== 'object' || !d.info) throw new TorrentInvalidError('Cannot serve the torrent: the stored copy has no info dictionary')
  const out: Record<string, unknown> = { ...d, announce: Buffer.from(init.announceUrl) }
  delete out['announce-list']
  // Every replica in one tier (BEP 12): a client shuffles the tier, uses the first that answers and
  // moves on when it stops answering; `announce` (this replica) is for clients without BEP 12.
  const others = (init.otherAnnounceUrls ?? []).filter((u) => u !== init.announceUrl)
  if (others.length > 0) out['announce-list'] = [[init.announceUrl, ...others].map((u) => Buffer.from(u))]
  // Every seeder's web seed when the registry knows them (several origins), else the stored list.
  const raw = d['url-list']
  const list = init.webSeeds && init.webSeeds.length > 0 ? init.webSeeds.map((u) => Buffer.from(u)) : Array.isArray(raw) ? raw : raw instanceof Uint8Array ? [raw] : []
  if (list.length > 0) {
    out['url-list'] = list.map((u) => {
      const url = Buffer.from(u as Uint8Array).toString()
      return Buffer.from(url.replace(/\/bundles\/([0-9a-f]{64}\.tar)$/, `/seed/${encodeURIComponent(init.passkey)}/$1`))
    })
  }
  return Buffer.from(bencode.encode(out))
}
