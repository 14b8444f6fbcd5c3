import { randomBytes } from 'node:crypto'
import type { Socket } from 'node:net'
import type Wire from 'bittorrent-protocol'
import { makeLocalPeerId, type Locality, type Log, type ShoalError } from '../core/index.js'
import { createMessageFramer } from './message-framer.js'

/** A peer whose unparsed input grows past this is dropped (a length prefix of 4 GiB is an attack). */
export const MAX_BUFFERED = 1 << 20

/** An address as peers compare it: IPv4-mapped IPv6 (`::ffff:1.2.3.4`) as plain IPv4. */
export const plainIp = (ip: string): string => (ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip)

/** `host:port` with the host as plainIp says. */
export const addrKey = (hostPort: string): string => {
  const at = hostPort.lastIndexOf(':')
  return `${plainIp(hostPort.slice(0, at))}${hostPort.slice(at)}`
}

/** A node's peer id: Azureus-style `-SO0100-` (origin) or `-SH0100-` (host), then the locality tag. */
export function makePeerId(role: 'origin' | 'host', locality: Locality): Buffer {
  return makeLocalPeerId(role === 'origin' ? '-SO0100-' : '-SH0100-', locality, randomBytes(6))
}

/**
 * Joins a TCP socket and a bittorrent-protocol wire: what arrives goes through a message framer
 * (the codec re-copied its buffer on every TCP read; the framer hands it whole messages and
 * refuses hostile length prefixes), with backpressure both ways, and each side's end ends the other.
 */
export function linkWire(socket: Socket, wire: Wire, log: Log): void {
  socket.setNoDelay(true)
  const framer = createMessageFramer({ maxMessageBytes: MAX_BUFFERED })
  socket.on('data', (chunk: Buffer) => {
    let whole: Uint8Array | undefined
    try {
      whole = framer.push(chunk)
    } catch (err) {
      log('warn', 'dropping peer', { peer: `${socket.remoteAddress}:${socket.remotePort}`, code: (err as ShoalError).code, message: (err as Error).message })
      wire.destroy()
      return void socket.destroy()
    }
    if (whole && !wire.write(whole)) {
      socket.pause()
      wire.once('drain', () => socket.resume())
    }
  })
  wire.pipe(socket)
  socket.on('error', () => wire.destroy())
  socket.on('close', () => wire.destroy())
  wire.on('close', () => socket.destroy())
}
