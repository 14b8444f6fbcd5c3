import { createSocket, type Socket } from 'node:dgram'
import type { Log } from '../core/index.js'

/** BEP 29 packet types (high nibble of the first byte; the low nibble is the version, 1). */
const ST_RESET = 3
const ST_SYN = 4
const HEADER = 20

/**
 * The ST_RESET that refuses one uTP connection attempt, or undefined when `packet` is not a
 * version-1 ST_SYN. The reset carries the SYN's connection id (the initiator's receive id, which
 * is what the answering side sends with) and acknowledges the SYN's sequence number, so libutp
 * (transmission) and libtorrent both take it as "connection refused" and go to TCP at once.
 */
export function utpResetFor(packet: Uint8Array, random: () => number = Math.random): Buffer | undefined {
  if (packet.length < HEADER || packet[0] !== ((ST_SYN << 4) | 1)) return undefined
  const syn = Buffer.from(packet.buffer, packet.byteOffset, packet.length)
  const out = Buffer.alloc(HEADER)
  out[0] = (ST_RESET << 4) | 1
  out.writeUInt16BE(syn.readUInt16BE(2), 2) // connection id
  out.writeUInt32BE(Math.floor(performance.now() * 1000) >>> 0, 4) // timestamp (µs)
  out.writeUInt32BE(0, 8) // timestamp difference
  out.writeUInt32BE(0, 12) // window
  out.writeUInt16BE(Math.floor(random() * 0x10000), 16) // seq_nr
  out.writeUInt16BE(syn.readUInt16BE(16), 18) // ack_nr = the SYN's seq_nr
  return out
}

export interface UtpRefuser {
  close(): Promise<void>
}

/**
 * Shoal's peers speak TCP only. Clients that try uTP first (libtorrent, transmission) wait seconds
 * (transmission: 30) for a SYN nobody answers before falling back to TCP; so a node also listens
 * on UDP at its peer port and answers each uTP SYN with a reset. At most `perSecond` resets go out
 * (a reset is no bigger than the SYN, so this cannot amplify, only be spent); anything else on the
 * socket is dropped. A port already taken on UDP is not an error: the node runs without it.
 */
export async function refuseUtp(init: { port: number; host?: string; perSecond?: number; log?: Log }): Promise<UtpRefuser | undefined> {
  const { perSecond = 500, log = () => {} } = init
  const socket: Socket = createSocket({ type: init.host?.includes(':') ? 'udp6' : 'udp4', reuseAddr: false })
  let windowStart = 0
  let sent = 0
  socket.on('message', (msg, rinfo) => {
    const reset = utpResetFor(msg)
    if (!reset) return
    const now = performance.now()
    if (now - windowStart >= 1000) {
      windowStart = now
      sent = 0
    }
    if (sent >= perSecond) return
    sent++
    socket.send(reset, rinfo.port, rinfo.address)
  })
  socket.on('error', (err) => log('warn', 'uTP refusal socket error', { message: err.message }))
  const ok = await new Promise<boolean>((resolve) => {
    socket.once('error', () => resolve(false))
    socket.bind(init.port, init.host, () => resolve(true))
  })
  if (!ok) {
    socket.close()
    log('info', 'UDP peer port taken: uTP attempts are not refused here (clients fall back to TCP after their own timeout)', { port: init.port })
    return undefined
  }
  socket.unref()
  return { close: () => new Promise<void>((resolve) => socket.close(() => resolve())) }
}
