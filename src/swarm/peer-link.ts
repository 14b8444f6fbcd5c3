import { randomBytes } from 'node:crypto'
import type { Socket } from 'node:net'
import type Wire from 'bittorrent-protocol'
import { makeLocalPeerId, type Locality, type Log, type ShoalError } from '../core/index.js'
import { createMessageFramer } from './message-framer.js'
import { isHeldPieceBuffer, releasePieceBuffer } from './piece-buffers.js'

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

/** Bytes a socket reads into one buffer per link (net.connect's `onread`), for linkWire. */
export interface ReusedReads {
  push: (chunk: Uint8Array) => void
}

/** Bytes read per call into a link's reused buffer (Node reads 64 KiB into a new buffer each time). */
const READ_BUFFER = 256 << 10

/**
 * `net.connect` options that read a link's bytes into one buffer, reused, and the feed to give
 * linkWire. Fresh 64 KiB buffers per read were half the memory a fetcher allocated per byte, and
 * each few MiB of them cost a full garbage collection (issue #18). Node offers this for outgoing
 * connections only; accepted ones read as before.
 */
export function reusedReads(): { onread: { buffer: Uint8Array; callback: (bytes: number, buf: Uint8Array) => boolean }; reads: ReusedReads } {
  const reads: ReusedReads = { push: () => {} }
  return { onread: { buffer: Buffer.allocUnsafe(READ_BUFFER), callback: (n, buf) => (reads.push(buf.subarray(0, n)), true) }, reads }
}

/** Whether the codec's list (`requests` we sent, `peerRequests` we got) holds this block, as its own lookup matches. */
export const isPending = (requests: readonly { piece: number; offset: number; length: number }[], index: number, offset: number, length: number): boolean =>
  requests.some((r) => r.piece === index && r.offset === offset && r.length === length)

/** Where a link's incoming blocks go: the place of a block this side asked for, or undefined. */
export type BlockTarget = (index: number, offset: number, length: number) => Uint8Array | undefined

/** The codec's own input and piece handler (bittorrent-protocol 5, pinned), driven directly. */
interface WireInput {
  _write(data: Uint8Array, cb: (err?: Error | null) => void): void
  _onPiece(index: number, offset: number, block: Uint8Array): void
}
const targets = new WeakMap<Wire, BlockTarget>()
const noop = (): void => {}
const writtenHooks = new WeakMap<Socket, () => void>()

/** `hook` runs each time the socket has handed a chunk to the kernel (the uploader's cue to send more). */
export function onWritten(socket: Socket, hook: () => void): void {
  writtenHooks.set(socket, hook)
}

/**
 * Bytes handed to a link and not yet written to the kernel: the codec's queue (the pinned
 * bittorrent-protocol 5 is a streamx duplex; its readable state counts what it holds) and the
 * socket's. What waits there can no longer be cancelled.
 */
export function unsentBytes(wire: Wire, socket: Socket): number {
  const state = (wire as unknown as { _readableState?: { buffered?: number } })._readableState
  return socket.writableLength + (state?.buffered ?? 0)
}

/** Blocks of piece messages on this wire go straight to `target`'s answer (see MessageFramer). */
export function setBlockTarget(wire: Wire, target: BlockTarget): void {
  targets.set(wire, target)
}

/**
 * Joins a TCP socket and a bittorrent-protocol wire: what arrives goes through a message framer
 * (the codec re-copied its buffer on every TCP read; the framer hands it whole messages, refuses
 * hostile length prefixes, and copies the blocks this side asked for straight into their pieces),
 * and each side's end ends the other.
 *
 * Input reaches the codec synchronously (its `_write`, not the stream's `write`): the stream
 * queued every message for a microtask and, past its 16 KiB mark, asked for the socket to be
 * paused and resumed for every block; the codec parses whole messages at once and keeps nothing,
 * so there is no queue to bound. That also keeps streamed blocks in order with the messages
 * around them (a choke before a block is seen before the block).
 */
export function linkWire(socket: Socket, wire: Wire, log: Log, reads?: ReusedReads): void {
  socket.setNoDelay(true)
  const input = wire as unknown as WireInput
  // A dropped peer's socket is destroyed at once (the codec's own destroy() only ends the
  // stream): nothing more it sent is parsed.
  const framer = createMessageFramer({
    maxMessageBytes: MAX_BUFFERED,
    transient: reads !== undefined,
    messages: (bytes) => {
      if (!socket.destroyed) input._write(bytes, noop)
    },
    blocks: {
      target: (index, offset, length) => (socket.destroyed ? undefined : targets.get(wire)?.(index, offset, length)),
      arrived: (index, offset, block) => {
        if (!socket.destroyed) input._onPiece(index, offset, block)
      },
    },
  })
  const onData = (chunk: Uint8Array): void => {
    try {
      framer.push(chunk)
    } catch (err) {
      log('warn', 'dropping peer', { peer: `${socket.remoteAddress}:${socket.remotePort}`, code: (err as ShoalError).code, message: (err as Error).message })
      wire.destroy()
      socket.destroy()
    }
  }
  if (reads) reads.push = onData
  else socket.on('data', onData)
  sendCorked(wire, socket)
  socket.on('error', () => wire.destroy())
  socket.on('close', () => wire.destroy())
  wire.on('close', () => socket.destroy())
}

/**
 * The wire's output to the socket, corked for the rest of the tick: the codec pushes every message
 * (and a piece's header and its block) as its own chunk, and piped straight through each was its
 * own write syscall and, with Nagle off, its own TCP segment. Corked, one tick's messages leave in
 * one writev.
 */
function sendCorked(wire: Wire, socket: Socket): void {
  let corked = false
  let waiting = false
  const uncork = (): void => {
    corked = false
    if (!socket.destroyed) socket.uncork()
  }
  wire.on('data', (chunk: Uint8Array) => {
    if (socket.destroyed) return
    if (!corked) {
      corked = true
      socket.cork()
      process.nextTick(uncork)
    }
    // A block of a piece buffer is let go once written (see piece-buffers.ts and the uploader).
    const held = isHeldPieceBuffer(chunk)
    const written = (): void => {
      if (held) releasePieceBuffer(chunk)
      writtenHooks.get(socket)?.()
    }
    if (!socket.write(chunk, written) && !waiting) {
      waiting = true
      wire.pause()
      socket.once('drain', () => {
        waiting = false
        wire.resume()
      })
    }
  })
  wire.on('end', () => socket.end())
}
