import { isIPv4 } from 'node:net'
import { percentDecodeBytes } from './scrape-response.js'

/**
 * The HTTP announce wire format (BEP 3, compact peers BEP 23, IPv6 peers6 BEP 7): the query a
 * client sends and the bencoded answer, as pure functions. The swarms themselves are in
 * swarm-store.
 */

export interface AnnounceParams {
  infoHash: string
  peerId: string
  port: number
  left: number
  event: 'started' | 'stopped' | 'completed' | 'update'
  numwant: number
}

export const DEFAULT_NUMWANT = 50
export const MAX_NUMWANT = 200

/** Parses an announce query string (raw, percent-encoded bytes); throws Error with a reason. */
export function parseAnnounceQuery(rawQuery: string): AnnounceParams {
  const fields = new Map<string, string>()
  for (const part of rawQuery.split('&')) {
    const eq = part.indexOf('=')
    if (eq > 0 && !fields.has(part.slice(0, eq))) fields.set(part.slice(0, eq), part.slice(eq + 1))
  }
  const infoHash = percentDecodeBytes(fields.get('info_hash') ?? '')
  if (infoHash.length !== 20) throw new Error('invalid info_hash')
  const peerId = percentDecodeBytes(fields.get('peer_id') ?? '')
  if (peerId.length !== 20) throw new Error('invalid peer_id')
  const port = Number(fields.get('port'))
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new Error('invalid port')
  const leftRaw = fields.get('left')
  const left = leftRaw === undefined ? Number.POSITIVE_INFINITY : Number(leftRaw)
  if (Number.isNaN(left) || left < 0) throw new Error('invalid left')
  const ev = fields.get('event') ?? ''
  const event = ev === 'started' || ev === 'stopped' || ev === 'completed' ? ev : ev === '' || ev === 'empty' ? 'update' : undefined
  if (!event) throw new Error('invalid event')
  const nw = Number(fields.get('numwant') ?? DEFAULT_NUMWANT)
  const numwant = Number.isFinite(nw) && nw >= 0 ? Math.min(Math.floor(nw), MAX_NUMWANT) : DEFAULT_NUMWANT
  return { infoHash: infoHash.toString('hex'), peerId: peerId.toString('hex'), port, left, event, numwant }
}

/** The compact form of an address: 4+2 bytes for IPv4 (BEP 23), 16+2 for IPv6 (BEP 7). */
export function compactAddress(ip: string, port: number): Buffer | undefined {
  const v4 = ip.startsWith('::ffff:') && isIPv4(ip.slice(7)) ? ip.slice(7) : ip
  if (isIPv4(v4)) {
    const b = Buffer.alloc(6)
    v4.split('.').forEach((o, i) => (b[i] = Number(o)))
    b.writeUInt16BE(port, 4)
    return b
  }
  const groups = expandIPv6(ip)
  if (!groups) return undefined
  const b = Buffer.alloc(18)
  groups.forEach((g, i) => b.writeUInt16BE(g, i * 2))
  b.writeUInt16BE(port, 16)
  return b
}

function expandIPv6(ip: string): number[] | undefined {
  const [head, tail, extra] = ip.split('::')
  if (extra !== undefined) return undefined
  const parse = (s: string | undefined): number[] => (s ? s.split(':').map((g) => parseInt(g, 16)) : [])
  const h = parse(head)
  const t = parse(tail)
  const fill = tail === undefined ? 0 : 8 - h.length - t.length
  const groups = [...h, ...Array(fill).fill(0), ...t]
  return groups.length === 8 && groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : undefined
}


export interface AnnounceResult {
  complete: number
  incomplete: number
  /** Compact IPv4 peers (6 bytes each) and IPv6 peers (18 bytes each), never the caller. */
  v4: Buffer[]
  v6: Buffer[]
  /** Compact addresses of the swarm's origins (announced with seeder credentials), at most 8. */
  origins: Buffer[]
}

const bstr = (b: Buffer): Buffer => Buffer.concat([Buffer.from(`${b.length}:`), b])
const bint = (n: number): string => `i${Math.max(0, Math.trunc(n))}e`

/** An announce answer bencoded for HTTP (BEP 3/23/7), with the `origins`/`origins6` keys. */
export function encodeAnnounce(r: AnnounceResult, intervalSeconds: number): Buffer {
  // Keys in bencode's sorted order.
  const parts: Buffer[] = [
    Buffer.from(`d8:complete${bint(r.complete)}10:incomplete${bint(r.incomplete)}8:interval${bint(intervalSeconds)}12:min interval${bint(Math.floor(intervalSeconds / 2))}`),
  ]
  const o4 = r.origins.filter((c) => c.length === 6)
  const o6 = r.origins.filter((c) => c.length === 18)
  if (o4.length > 0) parts.push(Buffer.from('7:origins'), bstr(Buffer.concat(o4)))
  if (o6.length > 0) parts.push(Buffer.from('8:origins6'), bstr(Buffer.concat(o6)))
  parts.push(Buffer.from('5:peers'), bstr(Buffer.concat(r.v4)))
  if (r.v6.length > 0) parts.push(Buffer.from('6:peers6'), bstr(Buffer.concat(r.v6)))
  parts.push(Buffer.from('e'))
  return Buffer.concat(parts)
}
