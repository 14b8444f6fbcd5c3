import { createHmac, randomBytes } from 'node:crypto'
import { createSocket, type Socket } from 'node:dgram'
import type { AnnounceParams, SwarmStore } from './swarm-store.js'

/** BEP 15 magic constant of a connect request. */
const PROTOCOL_ID = 0x41727101980n
const ACTION = { connect: 0, announce: 1, scrape: 2, error: 3 } as const
const EVENTS: Record<number, AnnounceParams['event']> = { 0: 'update', 1: 'completed', 2: 'started', 3: 'stopped' }
/** A connection id is good for two minutes (BEP 15), checked without any per-client state. */
const CONNECTION_WINDOW_MS = 60_000

export interface UdpTrackerInit {
  swarms: SwarmStore
  /** Whether an infohash is a registered bundle's. */
  isRegistered: (infoHash: string) => Promise<boolean>
  intervalSeconds: number
  now?: () => number
  onRequest?: (action: 'connect' | 'announce' | 'scrape' | 'error') => void
}

export interface UdpTracker {
  listen(port: number, host: string): Promise<number>
  close(): Promise<void>
  /** Handles one datagram; returns the reply, or undefined to stay silent. Exposed for tests. */
  handle(msg: Buffer, ip: string): Promise<Buffer | undefined>
}

function errorReply(tx: number, message: string): Buffer {
  const b = Buffer.alloc(8)
  b.writeUInt32BE(ACTION.error, 0)
  b.writeUInt32BE(tx, 4)
  return Buffer.concat([b, Buffer.from(message)])
}

/**
 * The UDP tracker protocol (BEP 15), off unless `--udp-port` is given. UDP carries no path, so
 * there is no passkey: it serves registered infohashes to anyone who can reach it. Connection
 * ids are an HMAC of the client address and a time window, so spoofed sources cannot announce.
 */
export function createUdpTracker(init: UdpTrackerInit): UdpTracker {
  const { swarms, isRegistered, intervalSeconds, now = Date.now, onRequest } = init
  const secret = randomBytes(32)
  let socket: Socket | undefined

  const connectionId = (ip: string, window: number): Buffer => createHmac('sha256', secret).update(`${ip}|${window}`).digest().subarray(0, 8)
  const validConnection = (id: Buffer, ip: string): boolean => {
    const w = Math.floor(now() / CONNECTION_WINDOW_MS)
    return id.equals(connectionId(ip, w)) || id.equals(connectionId(ip, w - 1))
  }

  const handle = async (msg: Buffer, ip: string): Promise<Buffer | undefined> => {
    if (msg.length < 16) return undefined
    const action = msg.readUInt32BE(8)
    const tx = msg.readUInt32BE(12)
    if (action === ACTION.connect) {
      if (msg.readBigUInt64BE(0) !== PROTOCOL_ID) return undefined
      onRequest?.('connect')
      const b = Buffer.alloc(16)
      b.writeUInt32BE(ACTION.connect, 0)
      b.writeUInt32BE(tx, 4)
      connectionId(ip, Math.floor(now() / CONNECTION_WINDOW_MS)).copy(b, 8)
      return b
    }
    if (!validConnection(msg.subarray(0, 8), ip)) {
      onRequest?.('error')
      return errorReply(tx, 'invalid connection id')
    }
    if (action === ACTION.announce) {
      if (msg.length < 98) return errorReply(tx, 'announce too short')
      const infoHash = msg.subarray(16, 36).toString('hex')
      if (!(await isRegistered(infoHash))) {
        onRequest?.('error')
        return errorReply(tx, 'unregistered infohash')
      }
      const event = EVENTS[msg.readUInt32BE(80)]
      if (!event) return errorReply(tx, 'invalid event')
      const numwant = msg.readInt32BE(92)
      const port = msg.readUInt16BE(96)
      if (port === 0) return errorReply(tx, 'invalid port')
      const left = Number(msg.readBigUInt64BE(64))
      onRequest?.('announce')
      const r = swarms.record({ infoHash, peerId: msg.subarray(36, 56).toString('hex'), port, left, event, numwant: numwant < 0 ? 50 : Math.min(numwant, 200) }, ip)
      const head = Buffer.alloc(20)
      head.writeUInt32BE(ACTION.announce, 0)
      head.writeUInt32BE(tx, 4)
      head.writeUInt32BE(intervalSeconds, 8)
      head.writeUInt32BE(r.incomplete, 12)
      head.writeUInt32BE(r.complete, 16)
      // BEP 15: IPv4 peers over IPv4, IPv6 peers over IPv6.
      return Buffer.concat([head, ...(ip.includes(':') && !ip.startsWith('::ffff:') ? r.v6 : r.v4)])
    }
    if (action === ACTION.scrape) {
      onRequest?.('scrape')
      const parts: Buffer[] = []
      const head = Buffer.alloc(8)
      head.writeUInt32BE(ACTION.scrape, 0)
      head.writeUInt32BE(tx, 4)
      parts.push(head)
      for (let off = 16; off + 20 <= msg.length && parts.length <= 74; off += 20) {
        const st = swarms.stats(msg.subarray(off, off + 20).toString('hex'))
        const e = Buffer.alloc(12)
        e.writeUInt32BE(st.complete, 0)
        e.writeUInt32BE(st.downloaded, 4)
        e.writeUInt32BE(st.incomplete, 8)
        parts.push(e)
      }
      return Buffer.concat(parts)
    }
    return errorReply(tx, 'unknown action')
  }

  return {
    handle,
    listen(port, host) {
      return new Promise((resolve, reject) => {
        const s = createSocket(host.includes(':') ? 'udp6' : 'udp4')
        s.on('message', (msg, rinfo) => {
          handle(msg, rinfo.address).then(
            (reply) => reply && s.send(reply, rinfo.port, rinfo.address),
            () => {},
          )
        })
        s.once('error', reject)
        s.bind(port, host, () => {
          socket = s
          resolve(s.address().port)
        })
      })
    },
    close() {
      const s = socket
      socket = undefined
      return new Promise((resolve) => (s ? s.close(() => resolve()) : resolve()))
    },
  }
}
